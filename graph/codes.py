"""National codes that validate themselves.

Each code type is a `str` that can only be made valid: `HouseCode("370202001001GB00001F00010001")`
returns the code, a malformed one raises `CodeError` naming the field, the value and the rule
broken. `parse(value, field=...)` says which input field the value came from.

>>> HouseCode("370202001001GB00001F00010001").building
'370202001001GB00001F0001'
>>> HouseCode.parse("370202001001GB00001F0001000", field="house")
Traceback (most recent call last):
...
graph.errors.CodeError: house: '370202001001GB00001F0001000' must be 28 characters (不动产单元号, GB/T 37346-2019), not 27

Standards: GB/T 2260 (divisions), the 9- and 12-digit statistical division codes (streets,
communities), GB/T 37346-2019 (不动产单元号 and 宗地代码), GB 32100-2015 (统一社会信用代码, with
the GB 11714 organisation code inside it) and GB 11643-1999 (公民身份号码).
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from typing import ClassVar, Self

from graph.errors import CodeError
from graph.levels import Level

# GB/T 2260 province-level codes (the first two digits of every division code).
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37}
    | {41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)

# GB/T 37346-2019: first letter of the parcel feature code is who owns the land, the second
# what right the parcel carries.
PARCEL_OWNERSHIP = {"G": "国家土地所有权", "J": "集体土地所有权", "Z": "土地所有权未确定或有争议"}
PARCEL_RIGHT = {
    "A": "集体土地所有权",
    "B": "建设用地使用权(地表)",
    "S": "建设用地使用权(地上)",
    "X": "建设用地使用权(地下)",
    "C": "宅基地使用权",
    "D": "土地承包经营权",
    "E": "林地使用权",
    "F": "草原使用权",
    "L": "林地承包经营权",
    "N": "农用地使用权",
    "H": "海域使用权",
    "G": "无居民海岛使用权",
    "W": "使用权未确定或有争议",
    "Y": "其他使用权",
}
FIXTURE_KIND = {"F": "房屋等建筑物、构筑物", "L": "森林、林木", "Q": "其他", "W": "无定着物"}
CITIES_WITHOUT_DISTRICTS = frozenset({"441900", "442000", "460400"})
"""Prefecture-level cities that have no districts (不设区的地级市: 东莞, 中山, 儋州): their towns'
statistical codes and their parcels' 宗地代码 start with the city's own code, which stands for a
county there."""

_DIGITS = re.compile(r"[0-9]+")


class Code(str):
    """Base of the code types: subclasses set `what` and implement `_check`."""

    what: ClassVar[str] = "code"
    length: ClassVar[int] = 0

    def __new__(cls, value: str) -> Self:
        return cls.parse(value)

    @classmethod
    def parse(cls, value: object, *, field: str = "code") -> Self:
        """The code, checked; `field` names the input in the error if it is malformed."""
        if not isinstance(value, str):
            raise CodeError(field, value, f"must be a string ({cls.what})")
        if not value.isascii():
            raise CodeError(field, value, f"may use only ASCII digits and letters ({cls.what})")
        text = value.strip().upper()
        if len(text) != cls.length:
            raise CodeError(
                field, value, f"must be {cls.length} characters ({cls.what}), not {len(text)}"
            )
        problem = cls._check(text)
        if problem is not None:
            raise CodeError(field, value, f"{problem} ({cls.what})")
        return str.__new__(cls, text)

    @classmethod
    def is_valid(cls, value: object) -> bool:
        """True when `parse` would accept the value."""
        try:
            cls.parse(value)
        except CodeError:
            return False
        return True

    @classmethod
    def _check(cls, text: str) -> str | None:
        """None if `text` (already upper-cased, right length) is valid, else the rule broken."""
        raise TypeError(f"{cls.__name__} is abstract: use a concrete code type")


def _digits_problem(text: str, start: int, end: int, what: str) -> str | None:
    part = text[start:end]
    if not _DIGITS.fullmatch(part):
        return f"characters {start + 1}-{end} ({what}) must be digits, got {part!r}"
    return None


def _division_problem(text: str) -> str | None:
    problem = _digits_problem(text, 0, 6, "administrative division")
    if problem:
        return problem
    if int(text[:2]) not in PROVINCES:
        return f"characters 1-2 must be a GB/T 2260 province code, got {text[:2]!r}"
    if text[2:4] == "00" and text[4:6] != "00":
        return f"a county code cannot sit under prefecture '00', got {text[:6]!r}"
    return None


class DivisionCode(Code):
    """A 6-digit GB/T 2260 administrative division code: province, prefecture or county.

    >>> DivisionCode("370202").level
    <Level.DISTRICT: 2>
    """

    what = "GB/T 2260 division code"
    length = 6

    @classmethod
    def _check(cls, text: str) -> str | None:
        return _division_problem(text)

    @property
    def level(self) -> Level:
        """CITY for a prefecture (`370200`), DISTRICT for a county-level unit (`370202`)."""
        if self.endswith("0000"):
            raise CodeError("code", str(self), "is a province; the hub's tree starts at cities")
        return Level.CITY if self.endswith("00") else Level.DISTRICT

    @property
    def province(self) -> str:
        return self[:2] + "0000"

    @property
    def prefecture(self) -> str:
        return self[:4] + "00"


class StreetCode(Code):
    """A 9-digit statistical code of a street (街道) or town (镇): county + 3 digits (the city's
    own code in a city without districts: 东莞市东城街道 441900003)."""

    what = "9-digit street code"
    length = 9

    @classmethod
    def _check(cls, text: str) -> str | None:
        problem = _division_problem(text) or _digits_problem(text, 6, 9, "street number")
        if problem:
            return problem
        if text[4:6] == "00" and text[:6] not in CITIES_WITHOUT_DISTRICTS:
            return f"characters 1-6 must be a county-level code, got {text[:6]!r}"
        if text[6:9] == "000":
            return "characters 7-9 (street number) cannot be 000"
        return None

    @property
    def district(self) -> str:
        return self[:6]


class CommunityCode(Code):
    """A 12-digit statistical code of a community (社区居委会) or village: street + 3 digits."""

    what = "12-digit community code"
    length = 12

    @classmethod
    def _check(cls, text: str) -> str | None:
        problem = StreetCode._check(text[:9]) or _digits_problem(text, 9, 12, "community number")
        if problem:
            return problem
        if text[9:12] == "000":
            return "characters 10-12 (community number) cannot be 000"
        return None

    @property
    def street(self) -> str:
        return self[:9]


class EstateCode(Code):
    """The hub's code of an estate (小区): community code + `E` + 3-digit estate number.

    >>> EstateCode("370202001001E001").community
    '370202001001'
    """

    what = "estate code: community code + E + 3 digits"
    length = 16

    @classmethod
    def _check(cls, text: str) -> str | None:
        problem = CommunityCode._check(text[:12])
        if problem:
            return problem
        if text[12] != "E":
            return f"character 13 must be 'E', got {text[12]!r}"
        problem = _digits_problem(text, 13, 16, "estate number")
        if problem:
            return problem
        if text[13:] == "000":
            return "characters 14-16 (estate number) cannot be 000"
        return None

    @property
    def community(self) -> str:
        return self[:12]


def _parcel_problem(text: str) -> str | None:
    problem = (
        _division_problem(text[:6])
        or _digits_problem(text, 6, 9, "地籍区 cadastral district")
        or _digits_problem(text, 9, 12, "地籍子区 cadastral subdistrict")
    )
    if problem:
        return problem
    if text[2:4] == "00" or (text[4:6] == "00" and text[:6] not in CITIES_WITHOUT_DISTRICTS):
        return f"characters 1-6 must be a county-level code, got {text[:6]!r}"
    owner, right = text[12], text[13]
    if owner not in PARCEL_OWNERSHIP:
        return f"character 13 (land ownership) must be one of G, J, Z, got {owner!r}"
    if right not in PARCEL_RIGHT:
        allowed = ", ".join(PARCEL_RIGHT)
        return f"character 14 (parcel right) must be one of {allowed}, got {right!r}"
    if right == "A" and owner != "J":
        return "right 'A' (collective ownership) needs ownership 'J'"
    problem = _digits_problem(text, 14, 19, "parcel number")
    if problem:
        return problem
    if text[14:19] == "00000":
        return "characters 15-19 (parcel number) cannot be 00000"
    return None


class ParcelCode(Code):
    """A 19-character 宗地代码 (GB/T 37346-2019): county, 地籍区, 地籍子区, feature, number."""

    what = "宗地代码, GB/T 37346-2019"
    length = 19

    @classmethod
    def _check(cls, text: str) -> str | None:
        return _parcel_problem(text)

    @property
    def county(self) -> str:
        return self[:6]

    @property
    def feature(self) -> str:
        """The two letters: land ownership and the right on the parcel (e.g. `GB`)."""
        return self[12:14]


class BuildingCode(Code):
    """A building (自然幢): parcel code + `F` + 4-digit building number (24 characters)."""

    what = "building code: 宗地代码 + F + 4-digit building number"
    length = 24

    @classmethod
    def _check(cls, text: str) -> str | None:
        problem = _parcel_problem(text[:19])
        if problem:
            return problem
        if text[19] != "F":
            return f"character 20 must be 'F' (building), got {text[19]!r}"
        problem = _digits_problem(text, 20, 24, "building number")
        if problem:
            return problem
        if text[20:24] == "0000":
            return "characters 21-24 (building number) cannot be 0000"
        return None

    @property
    def parcel(self) -> str:
        return self[:19]

    @property
    def number(self) -> int:
        return int(self[20:24])


class EntranceCode(Code):
    """An entrance (单元) of a building: building code + 2-digit entrance number."""

    what = "entrance code: building code + 2-digit entrance number"
    length = 26

    @classmethod
    def _check(cls, text: str) -> str | None:
        problem = BuildingCode._check(text[:24]) or _digits_problem(text, 24, 26, "entrance")
        if problem:
            return problem
        if text[24:26] == "00":
            return "characters 25-26 (entrance number) cannot be 00"
        return None

    @property
    def building(self) -> str:
        return self[:24]

    @property
    def number(self) -> int:
        return int(self[24:26])


class HouseCode(Code):
    """A 28-character 不动产单元号 (GB/T 37346-2019).

    Parcel code (19) + fixture feature (F building, L trees, Q other, W none) + 8-digit fixture
    unit number; for `F` the hub reads it as building number (4) + house number (4).
    """

    what = "不动产单元号, GB/T 37346-2019"
    length = 28

    @classmethod
    def _check(cls, text: str) -> str | None:
        problem = _parcel_problem(text[:19])
        if problem:
            return problem
        kind = text[19]
        if kind not in FIXTURE_KIND:
            return f"character 20 (fixture feature) must be one of F, L, Q, W, got {kind!r}"
        problem = _digits_problem(text, 20, 28, "fixture unit number")
        if problem:
            return problem
        if kind == "W" and text[20:] != "00000000":
            return "with fixture 'W' (none) characters 21-28 must be 00000000"
        if kind == "F" and (text[20:24] == "0000" or text[24:28] == "0000"):
            return "with fixture 'F' the building (21-24) and house (25-28) numbers cannot be 0"
        if kind in "LQ" and text[20:] == "00000000":
            return f"with fixture {kind!r} characters 21-28 cannot be 00000000"
        return None

    @property
    def parcel(self) -> str:
        return self[:19]

    @property
    def fixture(self) -> str:
        return self[19]

    @property
    def building(self) -> str | None:
        """The building code for a house in a building (fixture `F`), else None."""
        return self[:24] if self.fixture == "F" else None


# GB 32100-2015: 31 characters (no I, O, Z, S, V) and the weights 3^i mod 31.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {char: index for index, char in enumerate(CREDIT_ALPHABET)}
_CREDIT_WEIGHTS = tuple(pow(3, index, 31) for index in range(17))
# GB 11714-1997: organisation code of 8 characters plus a check, weights below, mod 11.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def credit_check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    total = sum(_CREDIT_VALUE[char] * weight for char, weight in zip(first17, _CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def organisation_check_character(first8: str) -> str:
    """The GB 11714 check character for an 8-character organisation code."""
    total = sum(_ORG_ALPHABET.index(char) * weight for char, weight in zip(first8, _ORG_WEIGHTS))
    remainder = 11 - total % 11
    return "X" if remainder == 10 else "0" if remainder == 11 else str(remainder)


class CreditCode(Code):
    """An 18-character unified social credit code (统一社会信用代码, GB 32100-2015).

    >>> CreditCode("91350100M000100Y43").check
    '3'
    """

    what = "统一社会信用代码, GB 32100-2015"
    length = 18

    @classmethod
    def _check(cls, text: str) -> str | None:
        bad = [char for char in text if char not in _CREDIT_VALUE]
        if bad:
            return f"may use only digits and letters except I, O, Z, S, V; found {bad[0]!r}"
        problem = _digits_problem(text, 2, 8, "administrative division")
        if problem:
            return problem
        # The GB 11714 check inside (character 17) is not enforced: codes issued to individual
        # businesses (个体工商户) carry organisation codes that do not satisfy it.
        expected = credit_check_character(text[:17])
        if text[17] != expected:
            return f"check character 18 should be {expected!r}, got {text[17]!r}"
        return None

    @property
    def check(self) -> str:
        return self[17]

    @property
    def division(self) -> str:
        return self[2:8]

    @property
    def organisation(self) -> str:
        """The 9-character organisation code (GB 11714) embedded at characters 9-17."""
        return self[8:17]


_ID_WEIGHTS = tuple(pow(2, 17 - index, 11) for index in range(17))
_ID_CHECKS = "10X98765432"
_ID_ZERO = ord("0") * sum(_ID_WEIGHTS)


def resident_id_check_digit(first17: str) -> str:
    """The GB 11643 check digit (0-9 or X) for the first 17 digits of an ID number."""
    # on the ASCII bytes, so the loop runs in C: every owner written passes through here
    total = sum(map(operator.mul, first17.encode("ascii"), _ID_WEIGHTS)) - _ID_ZERO
    return _ID_CHECKS[total % 11]


class ResidentId(Code):
    """An 18-digit citizen ID number (公民身份号码, GB 11643-1999) with its check digit.

    >>> ResidentId("11010519491231002X").birth_date
    datetime.date(1949, 12, 31)
    """

    what = "公民身份号码, GB 11643-1999"
    length = 18

    @classmethod
    def _check(cls, text: str) -> str | None:
        problem = _digits_problem(text, 0, 17, "address, birth date and sequence")
        if problem:
            return problem
        if int(text[:2]) not in PROVINCES:
            return f"characters 1-2 must be a GB/T 2260 province code, got {text[:2]!r}"
        try:
            born = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
        except ValueError:
            return f"characters 7-14 must be a birth date YYYYMMDD, got {text[6:14]!r}"
        if born.year < 1900:
            return f"characters 7-14 (birth date) cannot be before 1900, got {text[6:14]!r}"
        if born > dt.date.today():
            return f"characters 7-14 (birth date) cannot be in the future, got {text[6:14]!r}"
        expected = resident_id_check_digit(text[:17])
        if text[17] != expected:
            return f"check digit 18 should be {expected!r}, got {text[17]!r}"
        return None

    @property
    def birth_date(self) -> dt.date:
        return dt.date(int(self[6:10]), int(self[10:12]), int(self[12:14]))

    @property
    def sex(self) -> str:
        """`male` or `female`, from the parity of the 17th digit."""
        return "male" if int(self[16]) % 2 else "female"


_BY_LENGTH: dict[int, type[Code]] = {
    9: StreetCode,
    12: CommunityCode,
    16: EstateCode,
    24: BuildingCode,
    26: EntranceCode,
    28: HouseCode,
}
_LEVEL_OF: dict[type[Code], Level] = {
    StreetCode: Level.STREET,
    CommunityCode: Level.COMMUNITY,
    EstateCode: Level.ESTATE,
    BuildingCode: Level.BUILDING,
    EntranceCode: Level.ENTRANCE,
    HouseCode: Level.HOUSE,
}


def place_code(value: object, *, field: str = "code") -> tuple[str, Level]:
    """A place code of any level, checked, with the level its shape says it is.

    >>> place_code("370202001")
    ('370202001', <Level.STREET: 3>)
    """
    if not isinstance(value, str):
        raise CodeError(field, value, "must be a string (place code)")
    text = value.strip().upper()
    if len(text) == 6:
        division = DivisionCode.parse(value, field=field)
        if division.endswith("0000"):
            raise CodeError(field, value, "is a province; the hub's tree starts at cities")
        return str(division), division.level
    kind = _BY_LENGTH.get(len(text))
    if kind is None:
        raise CodeError(
            field,
            value,
            "is not a place code: expected 6 (city, district), 9 (street), 12 (community), "
            "16 (estate), 24 (building), 26 (entrance) or 28 (house, 不动产单元号) characters, "
            f"got {len(text)}",
        )
    return str(kind.parse(value, field=field)), _LEVEL_OF[kind]
