"""Identity numbers for synthetic owners and firms: valid, unique, and found without a lookup.

The city preset makes about three million owners, too many to remember every ID number issued.
Uniqueness is built into the numbers instead: of the 500 sequence numbers (digits 15-17, the
last one's parity giving the sex) for a birthplace, birth date and sex, each district (slot 0-9)
owns its own 50, handed out by a small counter per (birthplace, birth date, sex). Credit codes do
the same with the district's slot inside the organisation code.
"""

from __future__ import annotations

import datetime as dt
import random

from graph.codes import CREDIT_ALPHABET, credit_check_character, organisation_check_character
from graph.codes import resident_id_check_digit

FIRST_BIRTH = dt.date(1940, 1, 1)
LAST_BIRTH = dt.date(2000, 12, 31)
_DAYS = (LAST_BIRTH - FIRST_BIRTH).days + 1
FIRST_BIRTH_ORDINAL = FIRST_BIRTH.toordinal()
LAST_BIRTH_ORDINAL = LAST_BIRTH.toordinal()
_DAY_TEXT = tuple(f"{FIRST_BIRTH + dt.timedelta(days=day):%Y%m%d}" for day in range(_DAYS))
_SLOTS = 50
"""ID numbers per (birthplace, birth date, sex) one district can issue: a tenth of the 500."""

# Birthplaces outside Qingdao: real Shandong county-level codes (济南历下, 烟台芝罘, 潍坊潍城,
# 威海环翠, 临沂兰山, 日照东港, 淄博张店, 济宁任城, 泰安泰山, 德州德城, 聊城东昌府, 菏泽牡丹).
SHANDONG_ELSEWHERE = (
    "370102", "370602", "370702", "371002", "371302", "371102",
    "370303", "370811", "370902", "371402", "371502", "371702",
)

PHONE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "170", "173", "176", "177", "178",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
    "191", "193", "195", "196", "197", "198", "199",
)


def mobile_phone(rng: random.Random) -> str:
    """An 11-digit mainland mobile number with a real carrier prefix."""
    prefix = PHONE_PREFIXES[int(rng.random() * len(PHONE_PREFIXES))]
    return f"{prefix}{int(rng.random() * 100_000_000):08d}"


def landline(rng: random.Random) -> str:
    """A Qingdao landline (area code 0532, 8 digits starting 5-8)."""
    return f"0532-{rng.randrange(5, 9)}{rng.randrange(10_000_000):07d}"


class ResidentIds:
    """Issues unique 18-digit resident ID numbers (GB 11643) for one district's owners."""

    def __init__(self, slot: int, birthplaces: tuple[str, ...]) -> None:
        if not 0 <= slot <= 9:
            raise ValueError(f"district slot must be 0-9, got {slot}")
        self.slot = slot
        self.birthplaces = birthplaces
        self._index = {code: index for index, code in enumerate(birthplaces)}
        self._issued = bytearray(len(birthplaces) * _DAYS * 2)

    def issue(self, birthplace: str, born: int, male: bool) -> str:
        """A new ID number for someone born at `birthplace` on the proleptic ordinal day `born`
        (or the next day with a number left)."""
        day = min(max(born - FIRST_BIRTH_ORDINAL, 0), _DAYS - 1)
        region = self._index[birthplace]
        for step in range(_DAYS):
            index = ((region * _DAYS + (day + step) % _DAYS) << 1) | male
            used = self._issued[index]
            if used < _SLOTS:
                self._issued[index] = used + 1
                break
        else:
            raise RuntimeError(f"no ID numbers left for birthplace {birthplace}")
        # Spread this district's 50 numbers over the 500 of each sex, scrambled per birthplace
        # and day so that numbers look drawn at random; the map is one-to-one for a given
        # (birthplace, day), so no two districts or people ever share a number.
        offset = day + step
        rank = (self.slot * _SLOTS + used) * 317 + region * 7_919 + offset * 104_729
        sequence = f"{2 * (rank % 500) + (1 if male else 0):03d}"
        first17 = f"{birthplace}{_DAY_TEXT[offset % _DAYS]}{sequence}"
        return first17 + resident_id_check_digit(first17)


class CreditCodes:
    """Issues unique unified social credit codes (GB 32100) for one district's companies.

    The organisation code is 'MA' (as for companies registered since 2015), the district's slot,
    five characters from a counter scrambled by an invertible affine map, and the GB 11714 check.
    """

    _SPACE = len(CREDIT_ALPHABET) ** 5

    def __init__(self, slot: int, division: str, rng: random.Random) -> None:
        self.slot = slot
        self.division = division
        self._count = 0
        multiplier = rng.randrange(1, self._SPACE)
        while multiplier % len(CREDIT_ALPHABET) == 0:
            multiplier += 1
        self._multiplier = multiplier
        self._offset = rng.randrange(self._SPACE)

    def issue(self) -> str:
        number = (self._count * self._multiplier + self._offset) % self._SPACE
        self._count += 1
        if self._count > self._SPACE:
            raise RuntimeError("credit codes exhausted for this district")
        chars = []
        for _ in range(5):
            number, digit = divmod(number, len(CREDIT_ALPHABET))
            chars.append(CREDIT_ALPHABET[digit])
        organisation = f"MA{self.slot}" + "".join(chars)
        first17 = "91" + self.division + organisation + organisation_check_character(organisation)
        return first17 + credit_check_character(first17)
