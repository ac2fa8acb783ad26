"""Utility accounts, bills and outage notices (water, power, gas, heating), linked to places.

An account belongs to a house (keyed by its 不动产单元号, or matched from a postal address when
the utility does not keep the code); its bills say what was charged and paid; a bill past its due
date and not paid in full is in arrears. Outage notices name the places they affect.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

from graph.errors import InvalidInput, StoreError
from graph.model import Page, Provenance
from graph.scope import Scope


class Utility(enum.Enum):
    WATER = "water"  # 水
    POWER = "power"  # 电
    GAS = "gas"  # 燃气
    HEATING = "heating"  # 供热


@dataclass(frozen=True, slots=True)
class UtilityAccount:
    """A utility's account for a house (户号), keyed by (utility, account_no)."""

    utility: Utility
    account_no: str
    house_code: str
    provenance: Provenance | None = None


@dataclass(frozen=True, slots=True)
class Bill:
    """One billing period of an account, keyed by (utility, account_no, period 'YYYY-MM').

    Money is whole fen (分, integers): what was charged (`amount_fen`) and what has been paid
    (`paid_fen`), so every sum and comparison is exact. `fen_of` reads a source's decimal yuan
    text into fen; `yuan_text` shows fen as yuan again."""

    utility: Utility
    account_no: str
    period: str
    amount_fen: int
    paid_fen: int
    due: dt.date
    provenance: Provenance | None = None

    def owed_on(self, day: dt.date) -> int:
        """What is overdue on `day`, in fen (0 on or before the due date, or when paid in full)."""
        return max(self.amount_fen - self.paid_fen, 0) if day > self.due else 0

    def overdue_on(self, day: dt.date) -> bool:
        """Whether the bill counts in arrears on `day`: past its due date (the due day itself
        is not) with at least one fen unpaid."""
        return day > self.due and self.amount_fen > self.paid_fen


PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
"""A billing period: 'YYYY-MM'."""

MAX_FEN = 2**53 - 1
"""The largest amount a bill may hold, in fen (about 90 trillion yuan): exact on every backend
(SQL BIGINT, the graph's 64-bit integers) and in every JSON reader."""

_CENT = Decimal("0.01")


def fen_of(value: object) -> int:
    """A sum of money in yuan as a source writes it (decimal text like '123.45', an int, a
    Decimal, or a float taken as the shortest decimal that reads back as it) in whole fen,
    exactly: nothing is rounded. ValueError saying why for anything else: text that is not a
    decimal number, a fraction of a fen ('12.345'), a boolean, NaN or infinity.

    >>> fen_of("123.45"), fen_of("0.1"), fen_of(7), fen_of(Decimal("12.50")), fen_of(19.99), fen_of("1e2")
    (12345, 10, 700, 1250, 1999, 10000)
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a sum of money")
    if isinstance(value, int):
        return value * 100
    if isinstance(value, float):
        number = Decimal(repr(value))  # the decimal the source wrote (Python prints the shortest that reads back)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value[:40]!r} is not a decimal number of yuan (like 123.45)") from None
    else:
        raise ValueError(f"{type(value).__name__} {str(value)[:40]!r} is not a sum of money")
    if not number.is_finite():
        raise ValueError(f"{str(value)[:40]!r} is not a finite sum of money")
    if abs(number) > Decimal(MAX_FEN) / 100:
        raise ValueError(f"{str(value)[:40]!r} is more than a bill may hold ({yuan_text(MAX_FEN)} yuan)")
    whole = number.scaleb(2)
    if whole != whole.to_integral_value():
        raise ValueError(f"{str(value)[:40]!r} is not a whole number of fen (at most 2 decimals)")
    return int(whole)


def yuan_text(fen: int) -> str:
    """Whole fen as yuan text with two decimals, computed from the integer (no float on the way).

    >>> yuan_text(12345), yuan_text(5), yuan_text(0), yuan_text(-250)
    ('123.45', '0.05', '0.00', '-2.50')
    """
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


@dataclass(frozen=True, slots=True)
class Arrears:
    """What an account owes on a day: the overdue total in fen, how many bills, the oldest period."""

    utility: Utility
    account_no: str
    house_code: str
    amount_fen: int
    bills: int
    oldest_period: str


@dataclass(frozen=True, slots=True)
class Outage:
    """A planned or unplanned outage (停水/停电/停气/停暖) affecting places, keyed by
    (utility, notice_id)."""

    utility: Utility
    notice_id: str
    place_codes: tuple[str, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    reason: str
    planned: bool = True
    provenance: Provenance | None = None



def check_account(account: UtilityAccount) -> None:
    """Refuse an account a store must not write (StoreError naming it): its number must be 1 to
    64 characters, not blank."""
    if not account.account_no.strip() or len(account.account_no) > 64:
        raise StoreError(f"{account.utility.value} account {account.account_no!r}: the number must be 1 to 64 characters")


def check_bill(bill: Bill) -> None:
    """Refuse a bill a store must not write: a period that is not YYYY-MM, an amount or payment
    that is not whole fen (an int), negative, or above `MAX_FEN`."""
    what = f"{bill.utility.value} bill {bill.account_no}|{bill.period}"
    if not PERIOD.fullmatch(bill.period):
        raise StoreError(f"{what}: period must be YYYY-MM")
    for name, value in (("amount_fen", bill.amount_fen), ("paid_fen", bill.paid_fen)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise StoreError(f"{what}: {name} must be whole fen (an int), not {type(value).__name__} {value!r}")
    if bill.amount_fen < 0 or bill.paid_fen < 0:
        raise StoreError(f"{what}: amount and paid must not be negative")
    if bill.amount_fen > MAX_FEN or bill.paid_fen > MAX_FEN:
        raise StoreError(f"{what}: amount and paid must be at most {MAX_FEN} fen")


def check_outage(outage: Outage) -> None:
    """Refuse an outage a store must not write: a blank or over-long notice id, no place, an end
    before its start, a reason over 400 characters."""
    what = f"{outage.utility.value} outage {outage.notice_id!r}"
    if not outage.notice_id.strip() or len(outage.notice_id) > 64:
        raise StoreError(f"{what}: the notice id must be 1 to 64 characters")
    if not outage.place_codes:
        raise StoreError(f"{what}: it names no place")
    if outage.ends_at is not None and _utc(outage.ends_at) < _utc(outage.starts_at):
        raise StoreError(f"{what}: ends {outage.ends_at} before it starts {outage.starts_at}")
    if len(outage.reason) > 400:
        raise StoreError(f"{what}: the reason is longer than 400 characters")


def check_utilities(accounts: Iterable[UtilityAccount], bills: Iterable[Bill], outages: Iterable[Outage]) -> None:
    """Every record's own rules, checked before a store writes any of the batch."""
    for account in accounts:
        check_account(account)
    for bill in bills:
        check_bill(bill)
    for outage in outages:
        check_outage(outage)


def arrears_of(account: UtilityAccount, bills: Iterable[Bill], as_of: dt.date) -> Arrears | None:
    """What `account` owes on `as_of` from its `bills` (the rule `UtilityStore.arrears` answers
    by): the overdue total in fen, how many bills, the oldest period; None when no bill is
    overdue."""
    overdue = [bill for bill in bills if bill.overdue_on(as_of)]
    if not overdue:
        return None
    owed = sum(bill.amount_fen - bill.paid_fen for bill in overdue)
    return Arrears(account.utility, account.account_no, account.house_code, owed, len(overdue), min(b.period for b in overdue))


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc) if moment.utcoffset() is None else moment


_OUTAGE_CURSOR = "outage:"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MAX_CURSOR = 256


def outage_cursor(outage: Outage) -> str:
    """The page cursor just after `outage` in the order of `UtilityStore.outages` (newest
    start first, then utility and notice id, both descending).

    It is made from the notice's natural key, not from a row id, so every adapter reads the
    same cursors and a connection can give each edge its own cursor from the record alone.
    A naive `starts_at` is taken as UTC, as the SQL adapter stores it.

    >>> notice = Outage(Utility.WATER, "SW-TZ-1", ("370202001001E001",), dt.datetime(2024, 6, 1, 8, tzinfo=dt.timezone.utc), None, "检修")
    >>> outage_position(outage_cursor(notice))
    (datetime.datetime(2024, 6, 1, 8, 0, tzinfo=datetime.timezone.utc), <Utility.WATER: 'water'>, 'SW-TZ-1')
    """
    starts = outage.starts_at
    starts = starts.replace(tzinfo=dt.timezone.utc) if starts.utcoffset() is None else starts
    micros = (starts - _EPOCH) // dt.timedelta(microseconds=1)
    text = f"{_OUTAGE_CURSOR}{micros}#{outage.utility.value}#{outage.notice_id}"
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def outage_position(cursor: str | None, *, field: str = "after") -> tuple[dt.datetime, Utility, str] | None:
    """(starts_at in UTC, utility, notice id) of the outage a cursor points after; None for
    no cursor. A cursor `outage_cursor` did not make is refused, naming `field`."""
    if cursor is None:
        return None
    text = ""
    if len(cursor) <= _MAX_CURSOR:
        try:
            text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")).decode()
        except (binascii.Error, UnicodeError, ValueError):
            text = ""
    micros, _, rest = text.removeprefix(_OUTAGE_CURSOR).partition("#")
    utility, _, notice = rest.partition("#")
    known = {member.value for member in Utility}
    if text.startswith(_OUTAGE_CURSOR) and micros.lstrip("-").isdigit() and utility in known and notice:
        try:
            return _EPOCH + dt.timedelta(microseconds=int(micros)), Utility(utility), notice
        except OverflowError:
            pass
    raise InvalidInput(field, cursor, "is not a cursor from this list of outages; pass a pageInfo.endCursor")

class UtilityStore(Protocol):
    """The utility part of the store port; accounts, bills and outages are written in bulk
    through `Store.write` (`Batch.accounts`, `Batch.bills`, `Batch.outages`): upserted by their
    natural keys, the last record of a key in a batch winning, provenance alone no change;
    every record checked first by `check_utilities`, and a reference to a house, account or
    place the store does not hold a StoreError naming it — the whole batch refused, nothing
    stored.

    Reads take the caller's scope: an account (and its bills) is in scope with its house, an
    outage with any of its places; what is out of scope behaves as absent."""

    async def utility_accounts(self, house_codes: Sequence[str], scope: Scope) -> list[list[UtilityAccount]]:
        """For each house, in key order (repeats answered again), its accounts by utility and
        number; [] for a house unknown or out of scope."""

    async def accounts(self, keys: Sequence[tuple[Utility, str]], scope: Scope) -> list[UtilityAccount | None]:
        """The accounts with these (utility, account_no) keys, in key order; None where missing
        or where the house is out of scope. A bills stream asks it whether a bill's account is
        known before it hands the bill to `write`."""

    async def arrears(self, house_codes: Sequence[str], as_of: dt.date, scope: Scope) -> list[list[Arrears]]:
        """For each house in key order, its accounts in arrears on `as_of` (`arrears_of` is the
        rule: bills `overdue_on` that day, summed in fen), by utility and number; [] for a
        house unknown, out of scope or owing nothing."""

    async def outages(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        active_at: dt.datetime | None = None,
        utility: Utility | None = None,
    ) -> Page[Outage]:
        """Outages affecting a place under `within` or above it (an estate's outage reaches its
        buildings), or anywhere, in scope; newest start first, then utility and notice id
        descending, `first` clamped to 1..MAX_PAGE, paged with `outage_cursor` (anything else is
        InvalidInput naming `after`); with `active_at`, only those under way then (started, not
        yet ended: the end instant is not under way); with `utility`, only its own. Affected
        places outside the caller's scope are left out of `place_codes` (sorted); an unknown
        `within` has none."""

    async def arrears_counts(self, codes: Sequence[str], as_of: dt.date, scope: Scope) -> list[int | None]:
        """For each place in key order, how many houses under it (a house: itself) in scope are
        in arrears on `as_of`; None where missing or out of scope."""
