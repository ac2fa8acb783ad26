"""What every store checks of a record before writing it, whatever its backend: the rules of the
national codes and of the spans, with errors naming the record and the field."""

from __future__ import annotations

import datetime as dt

from graph.codes import CreditCode, ResidentId, place_code
from graph.errors import CodeError, StoreError
from graph.model import Owner, OwnerKind, Place, PropertyFirm


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
