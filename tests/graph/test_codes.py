"""Tests of the national code types in `graph.codes`.

Published vectors are used where they exist (GB 11643-1999's own examples, GB 32100-2015's
example and real credit codes of well-known companies). Every credit code used here is checked
against an independent implementation written below from the standards' literal tables, not
imported from the code under test, so a wrong table in `graph.codes` cannot agree with itself.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from graph.codes import (
    BuildingCode,
    CommunityCode,
    CreditCode,
    DivisionCode,
    EntranceCode,
    EstateCode,
    HouseCode,
    ParcelCode,
    ResidentId,
    StreetCode,
    credit_check_character,
    organisation_check_character,
    place_code,
    resident_id_check_digit,
)
from graph.errors import CodeError, HubError, InvalidInput
from graph.levels import Level

# --------------------------------------------------------------------------------------------
# Independent reference implementations, written from the standards' tables.
# --------------------------------------------------------------------------------------------

# GB 32100-2015, table of the 31 code characters and the 17 position weights.
REF_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
REF_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB 11714-1997: weights of the 8 body characters; letters count A=10 ... Z=35.
REF_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# GB 11643-1999: weights Wi = 2^(i-1) mod 11 for positions 18..2, and the check table.
REF_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
REF_ID_CHECKS = ("1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2")


def ref_credit_check(first17: str) -> str:
    total = sum(REF_CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, REF_CREDIT_WEIGHTS))
    c18 = 31 - total % 31
    return REF_CREDIT_ALPHABET[0 if c18 == 31 else c18]


def ref_org_value(char: str) -> int:
    return int(char) if char.isdigit() else ord(char) - ord("A") + 10


def ref_org_check(first8: str) -> str:
    total = sum(ref_org_value(c) * w for c, w in zip(first8, REF_ORG_WEIGHTS))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


def ref_id_check(first17: str) -> str:
    return REF_ID_CHECKS[sum(int(c) * w for c, w in zip(first17, REF_ID_WEIGHTS)) % 11]


def raises_code_error(kind: type, value: object, field: str = "code") -> CodeError:
    with pytest.raises(CodeError) as info:
        kind.parse(value, field=field)
    return info.value


# --------------------------------------------------------------------------------------------
# GB 11643-1999 公民身份号码
# --------------------------------------------------------------------------------------------

STANDARD_ID = "11010519491231002X"  # GB 11643-1999 example: Beijing Chaoyang, 1949-12-31, female
STANDARD_ID_1880 = "440524188001010014"  # GB 11643-1999 example: Guangdong, 1880-01-01, male


def test_reference_id_check_agrees_with_the_standard_examples() -> None:
    # Guards the independent implementation itself against the published vectors.
    assert ref_id_check(STANDARD_ID[:17]) == "X"
    assert ref_id_check(STANDARD_ID_1880[:17]) == "4"


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        # Σ(ai·Wi) = 167, 167 mod 11 = 2 -> 'X' (the standard's own worked example)
        ("11010519491231002", "X"),
        # Σ = 195, 195 mod 11 = 8 -> '4' (the standard's 1880 example)
        ("44052418800101001", "4"),
        # 3702021990030700k: Σ = 229 + 8·a15 + 4·a16 + 2·a17, hand-computed
        ("37020219900307000", "3"),  # 229 mod 11 = 9 -> '3'
        ("37020219900307001", "1"),  # 231 mod 11 = 0 -> '1'
        ("37020219900307007", "0"),  # 243 mod 11 = 1 -> '0'
        ("37020219900307002", "X"),  # 233 mod 11 = 2 -> 'X'
        ("37020219900307006", "2"),  # 241 mod 11 = 10 -> '2'
        ("37020219900307009", "7"),  # 247 mod 11 = 5 -> '7'
        ("37020219900307018", "5"),  # 249 mod 11 = 7 -> '5'
        ("00000000000000000", "1"),  # Σ = 0 -> '1'
    ],
)
def test_resident_id_check_digit_hand_computed(first17: str, check: str) -> None:
    assert resident_id_check_digit(first17) == check
    assert ref_id_check(first17) == check


def test_resident_id_check_digit_agrees_with_reference_on_random_inputs() -> None:
    rng = random.Random(11643)
    for _ in range(2000):
        first17 = "".join(rng.choice("0123456789") for _ in range(17))
        assert resident_id_check_digit(first17) == ref_id_check(first17), first17


@pytest.mark.parametrize(
    ("number", "born", "sex"),
    [
        (STANDARD_ID, dt.date(1949, 12, 31), "female"),  # 17th digit 2: even
        ("370202199003070011", dt.date(1990, 3, 7), "male"),  # 17th digit 1: odd
        ("37020219900307002X", dt.date(1990, 3, 7), "female"),
        ("370202199003070070", dt.date(1990, 3, 7), "male"),  # check digit '0'
        ("370202199003070062", dt.date(1990, 3, 7), "female"),
        ("370202199003070097", dt.date(1990, 3, 7), "male"),
    ],
)
def test_resident_id_valid(number: str, born: dt.date, sex: str) -> None:
    assert ref_id_check(number[:17]) == number[17]  # the vector itself is right
    code = ResidentId(number)
    assert code == number
    assert isinstance(code, str) and isinstance(code, ResidentId)
    assert code.birth_date == born
    assert code.sex == sex
    assert ResidentId.is_valid(number)


@pytest.mark.parametrize("sequence", range(10))
def test_resident_id_sex_follows_parity_of_17th_digit(sequence: int) -> None:
    first17 = f"3702021990030700{sequence}"
    code = ResidentId(first17 + ref_id_check(first17))
    assert code.sex == ("male" if sequence % 2 else "female")


def test_resident_id_lower_case_x_is_accepted_and_upper_cased() -> None:
    code = ResidentId("11010519491231002x")
    assert code == STANDARD_ID
    assert str(code)[-1] == "X"
    assert ResidentId.parse(" 11010519491231002x ") == STANDARD_ID


def test_resident_id_leap_day_2000_is_a_real_date() -> None:
    first17 = "37028120000229123"
    code = ResidentId(first17 + ref_id_check(first17))
    assert code.birth_date == dt.date(2000, 2, 29)


def test_resident_id_1900_is_the_earliest_year_accepted() -> None:
    first17 = "11010519000101002"
    assert ResidentId(first17 + ref_id_check(first17)).birth_date == dt.date(1900, 1, 1)


def test_resident_id_standard_1880_example_rejected_as_before_1900() -> None:
    # The check digit is right (see above); only the 1900 floor rejects it.
    assert ref_id_check(STANDARD_ID_1880[:17]) == STANDARD_ID_1880[17]
    error = raises_code_error(ResidentId, STANDARD_ID_1880, field="owner.id")
    assert "cannot be before 1900" in str(error)
    assert "'18800101'" in str(error)
    assert "owner.id" in str(error)
    assert not ResidentId.is_valid(STANDARD_ID_1880)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("110105194912310020", "X"),  # standard example with the wrong check
        ("110105194912310021", "X"),
        ("370202199003070013", "1"),
        ("440524188001010015", None),  # pre-1900 is reported before the check digit
    ],
)
def test_resident_id_wrong_check_digit_names_the_expected_one(
    number: str, expected: str | None
) -> None:
    error = raises_code_error(ResidentId, number)
    if expected is None:
        assert "before 1900" in error.rule
    else:
        assert f"check digit 18 should be {expected!r}, got {number[17]!r}" in str(error)


def test_resident_id_wrong_check_x_where_a_digit_is_expected() -> None:
    error = raises_code_error(ResidentId, "37020219900307000X")
    assert "should be '3', got 'X'" in str(error)


@pytest.mark.parametrize(
    ("first17", "date"),
    [
        ("11010519490231002", "19490231"),  # 31 February
        ("11010519491301002", "19491301"),  # month 13
        ("11010519490001002", "19490001"),  # month 0
        ("11010519491200002", "19491200"),  # day 0
        ("11010519000229002", "19000229"),  # 1900 is not a leap year
        ("11010519490431002", "19490431"),  # 31 April
    ],
)
def test_resident_id_impossible_birth_date(first17: str, date: str) -> None:
    # Whatever the check digit, the date is reported.
    error = raises_code_error(ResidentId, first17 + ref_id_check(first17), field="person.id")
    assert f"characters 7-14 must be a birth date YYYYMMDD, got {date!r}" in str(error)
    assert str(error).startswith("person.id: ")


@pytest.mark.parametrize(
    "number",
    ["1101051949123100AX", "A1010519491231002X", "11010519491231 02X", "1101O519491231002X"],
)
def test_resident_id_letters_in_first_17(number: str) -> None:
    error = raises_code_error(ResidentId, number)
    assert "characters 1-17 (address, birth date and sequence) must be digits" in str(error)


@pytest.mark.parametrize("number", ["99010519491231002X", "00010519491231002X"])
def test_resident_id_unknown_province(number: str) -> None:
    error = raises_code_error(ResidentId, number)
    assert f"must be a GB/T 2260 province code, got {number[:2]!r}" in str(error)


@pytest.mark.parametrize(
    ("number", "length"),
    [
        ("11010519491231002", 17),
        ("11010519491231002X0", 19),
        ("110105491231002", 15),  # the old 15-digit form is not accepted
        ("", 0),
    ],
)
def test_resident_id_wrong_length(number: str, length: int) -> None:
    error = raises_code_error(ResidentId, number)
    assert f"must be 18 characters (公民身份号码, GB 11643-1999), not {length}" in str(error)


@pytest.mark.parametrize("value", [11010519491231002, None, b"11010519491231002X", 1.5])
def test_resident_id_non_string(value: object) -> None:
    error = raises_code_error(ResidentId, value, field="person.id")
    assert "must be a string" in str(error)
    assert error.value is value
    assert not ResidentId.is_valid(value)


# --------------------------------------------------------------------------------------------
# GB 32100-2015 统一社会信用代码 and the GB 11714 organisation code inside it
# --------------------------------------------------------------------------------------------

# Published / real codes. Each one also carries a valid GB 11714 organisation code in
# characters 9-17, which the tests check too: two independent checks agreeing by chance on a
# mistyped code is a ~1 in 341 event.
REAL_CREDIT_CODES = [
    "91350100M000100Y43",  # GB 32100-2015's own example
    "914403001922038216",  # 华为技术有限公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91110108551385082Q",  # 北京小米科技有限责任公司
    "91110000802100433B",  # 北京百度网讯科技有限公司
    "91330100716105852F",
    "91110000710925462X",
    "91110000710935732K",
    "12100000400000624D",  # a public institution (事业单位, authority 1, category 2)
]


@pytest.mark.parametrize("code", REAL_CREDIT_CODES)
def test_credit_code_published_examples(code: str) -> None:
    assert ref_credit_check(code[:17]) == code[17]
    assert ref_org_check(code[8:16]) == code[16]
    parsed = CreditCode(code)
    assert parsed == code
    assert parsed.check == code[17]
    assert parsed.division == code[2:8]
    assert parsed.organisation == code[8:17]
    assert credit_check_character(code[:17]) == code[17]
    assert CreditCode.is_valid(code)


def test_credit_code_standard_example_parts() -> None:
    code = CreditCode("91350100M000100Y43")
    assert code.check == "3"
    assert code.division == "350100"
    assert code.organisation == "M000100Y4"


def test_credit_code_lower_case_and_spaces_are_normalised() -> None:
    code = CreditCode.parse("  91350100m000100y43 ")
    assert code == "91350100M000100Y43"
    assert type(code) is CreditCode


def test_credit_check_character_agrees_with_reference_on_random_inputs() -> None:
    rng = random.Random(32100)
    for _ in range(2000):
        first17 = "".join(rng.choice(REF_CREDIT_ALPHABET) for _ in range(17))
        assert credit_check_character(first17) == ref_credit_check(first17), first17


def test_credit_check_character_can_be_zero() -> None:
    # Σ ≡ 0 (mod 31) gives 31, which the standard writes as '0'.
    assert credit_check_character("00000000000000000") == "0"
    first17 = next(
        f"9135010000000{n:04d}" for n in range(10000) if ref_credit_check(f"9135010000000{n:04d}") == "0"
    )
    assert CreditCode(first17 + "0").check == "0"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("91350100M000100Y44", "3"),
        ("91350100M000100Y4Y", "3"),
        ("914403001922038210", "6"),
        ("91440300708461136U", "T"),
    ],
)
def test_credit_code_wrong_check_character(code: str, expected: str) -> None:
    assert ref_credit_check(code[:17]) == expected
    error = raises_code_error(CreditCode, code, field="company.credit")
    assert f"check character 18 should be {expected!r}, got {code[17]!r}" in str(error)
    assert str(error).startswith(f"company.credit: {code!r}")


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V", "i", "o", "z", "s", "v"])
def test_credit_code_forbidden_letters(letter: str) -> None:
    code = "91350100" + letter + "000100Y43"
    error = raises_code_error(CreditCode, code)
    assert (
        f"may use only digits and letters except I, O, Z, S, V; found {letter.upper()!r}"
        in str(error)
    )


@pytest.mark.parametrize("char", ["-", "*", "#"])
def test_credit_code_other_characters(char: str) -> None:
    error = raises_code_error(CreditCode, "91350100M000100Y4" + char)
    assert f"found {char!r}" in str(error)


def test_credit_code_non_ascii_is_refused_before_anything_else() -> None:
    error = raises_code_error(CreditCode, "91350100M000100Y4中")
    assert "may use only ASCII digits and letters" in str(error)


def test_credit_code_division_must_be_digits() -> None:
    # Letters from the credit alphabet pass the character check but not the division rule.
    code = "913501A0M000100Y4"
    code += ref_credit_check(code)
    error = raises_code_error(CreditCode, code)
    assert "characters 3-8 (administrative division) must be digits, got '3501A0'" in str(error)


@pytest.mark.parametrize(
    ("code", "length"),
    [
        ("91350100M000100Y4", 17),
        ("91350100M000100Y433", 19),
        ("M000100Y4", 9),  # a bare organisation code is not a credit code
    ],
)
def test_credit_code_wrong_length(code: str, length: int) -> None:
    error = raises_code_error(CreditCode, code)
    assert f"must be 18 characters (统一社会信用代码, GB 32100-2015), not {length}" in str(error)


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("M000100Y", "4"),  # from GB 32100's example 91350100M000100Y43
        ("19220382", "1"),  # 华为 192203821
        ("70846113", "6"),  # 腾讯 708461136
        ("55138508", "2"),  # 小米 551385082
        ("80210043", "3"),  # 百度 802100433
        ("40000062", "4"),  # from 12100000400000624D
        ("71092546", "2"),
        # Hand-computed edge cases of the mod-11 rule:
        ("00000000", "0"),  # Σ = 0, 11 - 0 = 11 -> '0'
        ("00000006", "X"),  # Σ = 6·2 = 12, 12 mod 11 = 1, 11 - 1 = 10 -> 'X'
        ("00000001", "9"),  # Σ = 2, 11 - 2 = 9
        ("10000000", "8"),  # Σ = 3, 11 - 3 = 8
        ("A0000000", "3"),  # A = 10, Σ = 30, 30 mod 11 = 8, 11 - 8 = 3
        ("0000000Z", "7"),  # Z = 35, Σ = 70, 70 mod 11 = 4, 11 - 4 = 7
    ],
)
def test_organisation_check_character(body: str, check: str) -> None:
    assert ref_org_check(body) == check
    assert organisation_check_character(body) == check


def test_organisation_check_character_agrees_with_reference_on_random_inputs() -> None:
    rng = random.Random(11714)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for _ in range(2000):
        body = "".join(rng.choice(alphabet) for _ in range(8))
        assert organisation_check_character(body) == ref_org_check(body), body


# --------------------------------------------------------------------------------------------
# GB/T 2260 divisions and the statistical street / community codes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("370200", Level.CITY),  # 青岛市
        ("370202", Level.DISTRICT),  # 市南区
        ("370281", Level.DISTRICT),  # 胶州市: a county-level city is a DISTRICT
        ("110105", Level.DISTRICT),  # 北京市朝阳区
        ("440300", Level.CITY),  # 深圳市
        ("650102", Level.DISTRICT),  # 乌鲁木齐市天山区
        ("429004", Level.DISTRICT),  # 仙桃市: directly administered county-level city
    ],
)
def test_division_code_levels(code: str, level: Level) -> None:
    division = DivisionCode(code)
    assert division == code
    assert division.level is level
    assert division.province == code[:2] + "0000"
    assert division.prefecture == code[:4] + "00"


def test_division_code_province_parses_but_has_no_level() -> None:
    division = DivisionCode("370000")
    assert division.province == "370000"
    with pytest.raises(CodeError) as info:
        division.level
    assert "is a province; the hub's tree starts at cities" in str(info.value)
    assert "'370000'" in str(info.value)


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("990202", "characters 1-2 must be a GB/T 2260 province code, got '99'"),
        ("000000", "characters 1-2 must be a GB/T 2260 province code, got '00'"),
        ("390202", "characters 1-2 must be a GB/T 2260 province code, got '39'"),
        ("37A202", "characters 1-6 (administrative division) must be digits, got '37A202'"),
        ("37020 ", "must be 6 characters"),  # stripped to 5
        ("370002", "a county code cannot sit under prefecture '00', got '370002'"),
        ("3702020", "must be 6 characters (GB/T 2260 division code), not 7"),
        ("37020", "must be 6 characters (GB/T 2260 division code), not 5"),
    ],
)
def test_division_code_invalid(code: str, phrase: str) -> None:
    error = raises_code_error(DivisionCode, code, field="district.code")
    assert phrase in str(error)
    assert "district.code" in str(error)
    assert not DivisionCode.is_valid(code)


def test_street_code_valid() -> None:
    street = StreetCode("370202001")
    assert street == "370202001"
    assert street.district == "370202"
    assert StreetCode("370281100").district == "370281"  # a town (镇) in 胶州市
    # 东莞市 has no districts: its towns' codes and its parcels start with the city's own code
    assert StreetCode("441900003").district == "441900"
    assert place_code("441900101001") == ("441900101001", Level.COMMUNITY)
    assert ParcelCode("441900101001GB00001").county == "441900"


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("370200001", "characters 1-6 must be a county-level code, got '370200'"),
        ("370000001", "characters 1-6 must be a county-level code, got '370000'"),
        ("370202000", "characters 7-9 (street number) cannot be 000"),
        ("37020200A", "characters 7-9 (street number) must be digits, got '00A'"),
        ("990202001", "province code, got '99'"),
        ("3702020011", "must be 9 characters (9-digit street code), not 10"),
        ("370002001", "a county code cannot sit under prefecture '00'"),
    ],
)
def test_street_code_invalid(code: str, phrase: str) -> None:
    error = raises_code_error(StreetCode, code)
    assert phrase in str(error)
    assert "(9-digit street code)" in str(error)


def test_community_code_valid() -> None:
    community = CommunityCode("370202001001")
    assert community.street == "370202001"


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("370202001000", "characters 10-12 (community number) cannot be 000"),
        ("370202000001", "characters 7-9 (street number) cannot be 000"),
        ("37020200100A", "characters 10-12 (community number) must be digits, got '00A'"),
        ("370200001001", "must be a county-level code"),
        ("37020200100", "must be 12 characters (12-digit community code), not 11"),
    ],
)
def test_community_code_invalid(code: str, phrase: str) -> None:
    error = raises_code_error(CommunityCode, code)
    assert phrase in str(error)
    assert "(12-digit community code)" in str(error)


def test_estate_code_valid() -> None:
    estate = EstateCode("370202001001E001")
    assert estate.community == "370202001001"
    assert EstateCode("370202001001e999") == "370202001001E999"


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("370202001001X001", "character 13 must be 'E', got 'X'"),
        ("3702020010010001", "character 13 must be 'E', got '0'"),
        ("370202001001E000", "characters 14-16 (estate number) cannot be 000"),
        ("370202001001E00A", "characters 14-16 (estate number) must be digits, got '00A'"),
        ("370202001000E001", "characters 10-12 (community number) cannot be 000"),
        ("370202001001E0001", "must be 16 characters"),
    ],
)
def test_estate_code_invalid(code: str, phrase: str) -> None:
    error = raises_code_error(EstateCode, code)
    assert phrase in str(error)


# --------------------------------------------------------------------------------------------
# GB/T 37346-2019 宗地代码, buildings, entrances and 不动产单元号
# --------------------------------------------------------------------------------------------

PARCEL = "370202001001GB00001"
BUILDING = PARCEL + "F0001"
HOUSE = BUILDING + "0001"  # DESIGN example: 370202001001GB00001F00010001


def test_parcel_code_valid() -> None:
    parcel = ParcelCode(PARCEL)
    assert parcel.county == "370202"
    assert parcel.feature == "GB"


@pytest.mark.parametrize("owner", ["G", "J", "Z"])
@pytest.mark.parametrize("right", list("BSXCDEFLNHGWY"))
def test_parcel_ownership_and_rights(owner: str, right: str) -> None:
    code = f"370202001001{owner}{right}00001"
    assert ParcelCode(code).feature == owner + right


def test_parcel_collective_ownership_right_needs_j() -> None:
    assert ParcelCode("370202001001JA00001").feature == "JA"
    for owner in "GZ":
        error = raises_code_error(ParcelCode, f"370202001001{owner}A00001")
        assert "right 'A' (collective ownership) needs ownership 'J'" in str(error)


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("370202001001XB00001", "character 13 (land ownership) must be one of G, J, Z, got 'X'"),
        ("370202001001GK00001", "character 14 (parcel right) must be one of A, B, S, X, C"),
        ("370202001001GB00000", "characters 15-19 (parcel number) cannot be 00000"),
        ("370202001001GB0000A", "characters 15-19 (parcel number) must be digits, got '0000A'"),
        ("370200001001GB00001", "characters 1-6 must be a county-level code, got '370200'"),
        ("370002001001GB00001", "a county code cannot sit under prefecture '00'"),
        ("3702020A1001GB00001", "characters 7-9 (地籍区 cadastral district) must be digits"),
        ("370202001A01GB00001", "characters 10-12 (地籍子区 cadastral subdistrict) must be digits"),
        ("990202001001GB00001", "province code, got '99'"),
        ("370202001001GB0001", "must be 19 characters (宗地代码, GB/T 37346-2019), not 18"),
    ],
)
def test_parcel_code_invalid(code: str, phrase: str) -> None:
    error = raises_code_error(ParcelCode, code, field="parcel.code")
    assert phrase in str(error)
    assert str(error).startswith(f"parcel.code: {code!r}")


def test_building_code_valid() -> None:
    building = BuildingCode(BUILDING)
    assert building.parcel == PARCEL
    assert building.number == 1
    assert BuildingCode(PARCEL + "F9999").number == 9999


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (PARCEL + "L0001", "character 20 must be 'F' (building), got 'L'"),
        (PARCEL + "F0000", "characters 21-24 (building number) cannot be 0000"),
        (PARCEL + "F000A", "characters 21-24 (building number) must be digits, got '000A'"),
        ("370202001001XB00001F0001", "character 13 (land ownership) must be one of G, J, Z"),
        (PARCEL + "F001", "must be 24 characters"),
    ],
)
def test_building_code_invalid(code: str, phrase: str) -> None:
    error = raises_code_error(BuildingCode, code)
    assert phrase in str(error)


def test_entrance_code_valid() -> None:
    entrance = EntranceCode(BUILDING + "02")
    assert entrance.building == BUILDING
    assert entrance.number == 2


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (BUILDING + "00", "characters 25-26 (entrance number) cannot be 00"),
        (BUILDING + "0A", "characters 25-26 (entrance) must be digits, got '0A'"),
        (PARCEL + "F000001", "characters 21-24 (building number) cannot be 0000"),
        (BUILDING + "001", "must be 26 characters"),
    ],
)
def test_entrance_code_invalid(code: str, phrase: str) -> None:
    error = raises_code_error(EntranceCode, code)
    assert phrase in str(error)


def test_house_code_design_example() -> None:
    house = HouseCode("370202001001GB00001F00010001")
    assert house == "370202001001GB00001F00010001"
    assert house.parcel == "370202001001GB00001"
    assert house.fixture == "F"
    assert house.building == "370202001001GB00001F0001"
    assert BuildingCode(house.building).parcel == house.parcel
    assert ParcelCode(house.parcel).feature == "GB"


@pytest.mark.parametrize(
    ("code", "fixture"),
    [
        (PARCEL + "W00000000", "W"),  # no fixture: the land alone
        (PARCEL + "L00000001", "L"),  # forest
        (PARCEL + "Q00000001", "Q"),  # other fixture
        ("370202001001JC00012F00030102", "F"),  # homestead house
        ("370202001001JA00001W00000000", "W"),  # collectively owned land
        ("370202001001GS00001F00010001", "F"),  # above-ground construction right
    ],
)
def test_house_code_other_fixtures(code: str, fixture: str) -> None:
    house = HouseCode(code)
    assert house.fixture == fixture
    assert house.parcel == code[:19]
    assert house.building == (code[:24] if fixture == "F" else None)


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (PARCEL + "W00000001", "with fixture 'W' (none) characters 21-28 must be 00000000"),
        (PARCEL + "W00010001", "with fixture 'W' (none) characters 21-28 must be 00000000"),
        (PARCEL + "L00000000", "with fixture 'L' characters 21-28 cannot be 00000000"),
        (PARCEL + "Q00000000", "with fixture 'Q' characters 21-28 cannot be 00000000"),
        (PARCEL + "X00010001", "character 20 (fixture feature) must be one of F, L, Q, W, got 'X'"),
        (PARCEL + "F00000001", "the building (21-24) and house (25-28) numbers cannot be 0"),
        (PARCEL + "F00010000", "the building (21-24) and house (25-28) numbers cannot be 0"),
        (PARCEL + "F0001000A", "characters 21-28 (fixture unit number) must be digits"),
        ("370202001001XB00001F00010001", "character 13 (land ownership) must be one of G, J, Z, got 'X'"),
        ("370202001001GA00001F00010001", "right 'A' (collective ownership) needs ownership 'J'"),
        ("370202001001GB00000F00010001", "characters 15-19 (parcel number) cannot be 00000"),
        ("370200001001GB00001F00010001", "must be a county-level code"),
        (HOUSE[:-1], "must be 28 characters (不动产单元号, GB/T 37346-2019), not 27"),
        (HOUSE + "1", "must be 28 characters (不动产单元号, GB/T 37346-2019), not 29"),
    ],
)
def test_house_code_invalid(code: str, phrase: str) -> None:
    error = raises_code_error(HouseCode, code, field="house.code")
    assert phrase in str(error)
    assert str(error).startswith(f"house.code: {code!r}")
    assert not HouseCode.is_valid(code)


def test_house_code_docstring_example_message() -> None:
    error = raises_code_error(HouseCode, "370202001001GB00001F0001000", field="house")
    assert str(error) == (
        "house: '370202001001GB00001F0001000' must be 28 characters "
        "(不动产单元号, GB/T 37346-2019), not 27"
    )


# --------------------------------------------------------------------------------------------
# place_code(): any level by its length
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("370200", Level.CITY),
        ("370202", Level.DISTRICT),
        ("370281", Level.DISTRICT),
        ("370202001", Level.STREET),
        ("370202001001", Level.COMMUNITY),
        ("370202001001E001", Level.ESTATE),
        (BUILDING, Level.BUILDING),
        (BUILDING + "01", Level.ENTRANCE),
        (HOUSE, Level.HOUSE),
    ],
)
def test_place_code_levels(code: str, level: Level) -> None:
    text, found = place_code(code)
    assert text == code
    assert type(text) is str  # a plain string, not the code subclass
    assert found is level


def test_place_code_normalises_case_and_space() -> None:
    assert place_code(" 370202001001e001 ") == ("370202001001E001", Level.ESTATE)


def test_place_code_rejects_a_province() -> None:
    with pytest.raises(CodeError) as info:
        place_code("370000", field="parent")
    error = info.value
    assert "is a province; the hub's tree starts at cities" in str(error)
    assert error.field == "parent"
    assert error.value == "370000"


@pytest.mark.parametrize(
    "code", ["", "37020", "3702020", "3702020010", "370202001001GB00001", "37020200100E001", HOUSE + "0"]
)
def test_place_code_unknown_length_lists_the_accepted_lengths(code: str) -> None:
    with pytest.raises(CodeError) as info:
        place_code(code, field="place")
    message = str(info.value)
    assert message.startswith(f"place: {code!r} is not a place code")
    for accepted in ("6 (city, district)", "9 (street)", "12 (community)", "16 (estate)",
                     "24 (building)", "26 (entrance)", "28 (house, 不动产单元号)"):
        assert accepted in message
    assert message.endswith(f"got {len(code)}")


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("990202", "province code, got '99'"),
        ("370202000", "street number) cannot be 000"),
        ("370202001001X001", "character 13 must be 'E'"),
        (PARCEL + "F0000", "building number) cannot be 0000"),
        (BUILDING + "00", "entrance number) cannot be 00"),
        (PARCEL + "W00000001", "must be 00000000"),
    ],
)
def test_place_code_checks_the_code_of_its_length(code: str, phrase: str) -> None:
    with pytest.raises(CodeError) as info:
        place_code(code, field="place")
    assert phrase in str(info.value)
    assert info.value.field == "place"


@pytest.mark.parametrize("value", [370202, None, ["370202"]])
def test_place_code_non_string(value: object) -> None:
    with pytest.raises(CodeError) as info:
        place_code(value, field="place")
    assert "must be a string (place code)" in str(info.value)
    assert info.value.value is value


# --------------------------------------------------------------------------------------------
# CodeError: every rejection names the field, the value and the rule
# --------------------------------------------------------------------------------------------

BAD_VALUES = [
    (DivisionCode, "990202", "GB/T 2260 province code"),
    (DivisionCode, "3702", "must be 6 characters"),
    (StreetCode, "370202000", "cannot be 000"),
    (CommunityCode, "370202001000", "cannot be 000"),
    (EstateCode, "370202001001X001", "must be 'E'"),
    (ParcelCode, "370202001001XB00001", "land ownership"),
    (BuildingCode, PARCEL + "F0000", "cannot be 0000"),
    (EntranceCode, BUILDING + "00", "cannot be 00"),
    (HouseCode, "370202001001XB00001F00010001", "land ownership"),
    (HouseCode, HOUSE[:-1], "must be 28 characters"),
    (HouseCode, 370202001001, "must be a string"),
    (CreditCode, "91350100M000100Y44", "should be '3'"),
    (CreditCode, "91350100I000100Y43", "except I, O, Z, S, V"),
    (ResidentId, "110105194912310021", "should be 'X'"),
    (ResidentId, "11010519490231002X", "birth date"),
    (ResidentId, " 440524188001010014 ", "before 1900"),
]


@pytest.mark.parametrize(("kind", "value", "phrase"), BAD_VALUES)
def test_code_error_names_field_value_and_rule(kind: type, value: object, phrase: str) -> None:
    error = raises_code_error(kind, value, field="house.code")
    message = str(error)
    assert "house.code" in message
    assert repr(str(value)) in message
    assert phrase in message
    assert message == f"house.code: {str(value)!r} {error.rule}"
    assert error.field == "house.code"
    assert error.value == value  # the caller's value, not the normalised one
    assert phrase in error.rule
    assert kind.what in error.rule
    assert isinstance(error, ValueError)
    assert isinstance(error, InvalidInput) and isinstance(error, HubError)
    assert not kind.is_valid(value)


@pytest.mark.parametrize(("kind", "value", "_phrase"), BAD_VALUES)
def test_code_error_from_constructor_uses_default_field(
    kind: type, value: object, _phrase: str
) -> None:
    with pytest.raises(ValueError) as info:
        kind(value)
    assert isinstance(info.value, CodeError)
    assert info.value.field == "code"
    assert str(info.value).startswith("code: ")


def test_code_error_is_catchable_as_value_error() -> None:
    with pytest.raises(ValueError, match=r"^x: '37A202' characters 1-6"):
        DivisionCode.parse("37A202", field="x")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (DivisionCode, "370202"),
        (StreetCode, "370202001"),
        (CommunityCode, "370202001001"),
        (EstateCode, "370202001001E001"),
        (ParcelCode, PARCEL),
        (BuildingCode, BUILDING),
        (EntranceCode, BUILDING + "01"),
        (HouseCode, HOUSE),
        (CreditCode, "91350100M000100Y43"),
        (ResidentId, STANDARD_ID),
    ],
)
def test_codes_are_strings_of_their_type(kind: type, value: str) -> None:
    code = kind(value)
    assert type(code) is kind
    assert isinstance(code, str)
    assert code == value and hash(code) == hash(value)
    assert kind(code) == code  # re-parsing a parsed code is a no-op
    assert kind.parse(value.lower(), field="f") == value
    assert kind.is_valid(value)


# --------------------------------------------------------------------------------------------
# Defects found by these tests, fixed
# --------------------------------------------------------------------------------------------


def test_non_ascii_letter_that_upper_cases_to_ascii_is_rejected() -> None:
    # GB/T 37346 codes are ASCII; 'ſ' (LATIN SMALL LETTER LONG S) is not the right 'S'.
    assert not HouseCode.is_valid("370202001001Gſ00001F00010001")


def test_place_code_error_keeps_the_callers_value() -> None:
    with pytest.raises(CodeError) as info:
        place_code(" 37a202 ", field="place")
    assert info.value.value == " 37a202 "


def test_birth_date_in_the_future_is_rejected() -> None:
    with pytest.raises(CodeError, match="cannot be in the future"):
        ResidentId.parse("370202" + "20991231" + "001" + resident_id_check_digit("37020220991231001"), field="id")
