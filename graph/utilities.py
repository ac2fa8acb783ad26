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
    """One billing period of an account, keyed by (utility, account_no, period 'YYYY-MM')."""

    utility: Utility
    account_no: str
    period: str
    amount: float
    paid: float
    due: dt.date
    provenance: Provenance | None = None

    def owed_on(self, day: dt.date) -> float:
        """What is overdue on `day` (0 before the due date or when paid in full)."""
        return round(max(self.amount - self.paid, 0.0), 2) if day > self.due else 0.0

    def overdue_on(self, day: dt.date) -> bool:
        """Whether the bill counts in arrears on `day`: past its due date (the due day itself
        is not) with more than `OWED_ABOVE` unpaid."""
        return day > self.due and self.amount - self.paid > OWED_ABOVE


OWED_ABOVE = 0.005
"""A bill owes something when amount − paid exceeds half a fen (rounding of paid amounts)."""

PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
"""A billing period: 'YYYY-MM'."""


def fen(amount: float) -> int:
    """An amount in yuan as whole fen (分), rounded as `round(amount, 2)` rounds it: what a
    store keeps of a bill's amount and payment (integers, so sums never drift).

    >>> fen(32.5), fen(39.999), fen(0.1 + 0.2)
    (3250, 4000, 30)
    """
    return int(round(round(amount, 2) * 100))


def yuan(fen: int) -> float:
    """Whole fen back as yuan (exact to the fen: a float of two decimals)."""
    return round(fen / 100, 2)


@dataclass(frozen=True, slots=True)
class Arrears:
    """What an account owes on a day: the overdue total, how many bills, the oldest period."""

    utility: Utility
    account_no: str
    house_code: str
    amount: float
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
    """Refuse a bill a store must not write: a period that is not YYYY-MM, a negative amount or
    payment."""
    what = f"{bill.utility.value} bill {bill.account_no}|{bill.period}"
    if not PERIOD.fullmatch(bill.period):
        raise StoreError(f"{what}: period must be YYYY-MM")
    if bill.amount < 0 or bill.paid < 0:
        raise StoreError(f"{what}: amount and paid must not be negative")


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
    by): the overdue total rounded to the fen, how many bills, the oldest period; None when no
    bill is overdue."""
    overdue = [bill for bill in bills if bill.overdue_on(as_of)]
    if not overdue:
        return None
    owed = round(sum(bill.amount - bill.paid for bill in overdue), 2)
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
        rule: bills `overdue_on` that day, summed to the fen), by utility and number; [] for a
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
