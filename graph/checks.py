"""What every store checks of a record before writing it, whatever its backend: the rules of the
national codes and of the spans, with errors naming the record and the field."""

from __future__ import annotations

import datetime as dt
import re

from graph.codes import CreditCode, ResidentId, place_code
from graph.errors import CodeError, StoreError
from graph.model import Owner, OwnerKind, Place, PropertyFirm
from graph.utilities import Bill, Outage, UtilityAccount


def check_place(place: Place) -> None:
    code, level = place_code(place.code, field=f"place {place.code!r} code")
    if code != place.code:
        raise CodeError(f"place {place.code!r} code", place.code, f"must be written as {code!r}")
    if level != place.level:
        raise StoreError(f"place {place.code}: the code is a {level.name.lower()} code, not {place.level.name.lower()}")
    if (place.parent_code is None) != (place.level.name == "CITY"):
        raise StoreError(f"place {place.code}: only a city has no parent")
    if not place.name.strip():
        raise StoreError(f"place {place.code}: name is empty")


def check_firm(firm: PropertyFirm) -> None:
    code = CreditCode.parse(firm.code, field=f"firm {firm.code!r} code")
    if code != firm.code:
        raise CodeError(f"firm {firm.code!r} code", firm.code, f"must be written as {str(code)!r}")


def check_owner(owner: Owner) -> None:
    field = f"owner {owner.id} id_number"
    if owner.kind is OwnerKind.PERSON:
        ResidentId.parse(owner.id_number, field=field)
    else:
        CreditCode.parse(owner.id_number, field=field)
    if not owner.name.strip():
        raise StoreError(f"owner {owner.id}: name is empty")


def check_span(what: str, since: dt.date, until: dt.date | None) -> None:
    if until is not None and until < since:
        raise StoreError(f"{what}: until {until} is before since {since}")


def check_share(what: str, share: float) -> None:
    if not 0 < share <= 1:
        raise StoreError(f"{what}: share {share} must be above 0 and at most 1")


def missing(kind: str, value: str, what: str) -> StoreError:
    return StoreError(f"{kind}: {what} {value} is not in the store")


# -- utilities (graph.utilities): the same rules on every backend --------------------------

PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
"""A bill's period: 'YYYY-MM'."""


def check_account(account: UtilityAccount) -> None:
    if not account.account_no.strip() or len(account.account_no) > 64:
        raise StoreError(f"{account.utility.value} account {account.account_no!r}: the number must be 1 to 64 characters")


def check_bill(bill: Bill) -> None:
    what = f"{bill.utility.value} bill {bill.account_no}|{bill.period}"
    if not PERIOD.fullmatch(bill.period):
        raise StoreError(f"{what}: period must be YYYY-MM")
    if bill.amount < 0 or bill.paid < 0:
        raise StoreError(f"{what}: amount and paid must not be negative")


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc) if moment.utcoffset() is None else moment


def check_outage(outage: Outage) -> None:
    what = f"{outage.utility.value} outage {outage.notice_id!r}"
    if not outage.notice_id.strip() or len(outage.notice_id) > 64:
        raise StoreError(f"{what}: the notice id must be 1 to 64 characters")
    if not outage.place_codes:
        raise StoreError(f"{what}: it names no place")
    if outage.ends_at is not None and _utc(outage.ends_at) < _utc(outage.starts_at):
        raise StoreError(f"{what}: ends {outage.ends_at} before it starts {outage.starts_at}")
    if len(outage.reason) > 400:
        raise StoreError(f"{what}: the reason is longer than 400 characters")
