"""Entering staff through the API (`saveStaffMember`): a property firm its own staff, at the estates
it manages today; the admin any firm's or maintenance contractor's (contractors have no token
role, so the admin enters theirs). Every other role is refused.

The member is stored by `StaffStore.save_staff`, which seals name, ID number and phone with SM4
and indexes them by blind index (as the demo's staff are). A firm naming an estate it does not
manage is answered exactly as for an estate that does not exist; a firm may not take an id that
another employer's member holds. Replacing a member keeps its last reported position.

The records hold no leaving day, so there is no `endStaffMember`: that needs a migration.
"""

from __future__ import annotations

import datetime as dt
import enum as enums
from dataclasses import replace
from typing import TypeVar

import strawberry

from graph.codes import CreditCode, ResidentId
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.scope import Scope
from graph.security import Role
from graph.staff import records
from schema.context import Info
from schema.errors import require_role
from schema.fields import field
from schema.staff.types import StaffMember

EVERYTHING = Scope.everything()
ENTERING = frozenset({Role.ADMIN, Role.PROPERTY_FIRM})
MAX_ESTATES = 100
MAX_CERTIFICATES = 50
MAX_SHIFTS = 200
MAX_NAME = 64
PHONE_CHARACTERS = frozenset("0123456789+- ")
Choice = TypeVar("Choice", bound=enums.Enum)


@strawberry.input(description="A certificate (证书): kind (low_voltage, high_voltage, elevator_repair, elevator_safety, plumbing, fire_facilities, boiler), number, issue day and last valid day.")
class StaffCertificateInput:
    kind: str
    number: str
    issued: dt.date
    expiry: dt.date = strawberry.field(description="有效期至: its last valid day.")


@strawberry.input(description="A shift: weekly (weekday 1–7, startTime and endTime HH:MM[:SS] China Standard Time; an end at or before the start runs past midnight) or dated (startsAt, endsAt with a time zone), not both.")
class StaffShiftInput:
    weekday: int | None = None
    start_time: str | None = None
    end_time: str | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None


@strawberry.input(description="A member of staff to create, or to replace whole (by id).")
class StaffMemberInput:
    id: str = strawberry.field(description="Its staff id: 1 to 64 printable characters without '/'.")
    employer: str | None = strawberry.field(default=None, description="The employer's credit code; a property firm's own (may be left out).")
    post: str = strawberry.field(description="岗位: project_manager, customer_service, electrician, plumber, elevator_safety_officer, elevator_mechanic, security_guard, cleaner, steward.")
    name: str
    id_number: str = strawberry.field(description="公民身份号码 (18 characters with its check digit).")
    phone: str | None = None
    estates: list[str] = strawberry.field(default_factory=list, description="The estates it works in (a firm: estates it manages today, at least one).")
    certificates: list[StaffCertificateInput] = strawberry.field(default_factory=list)
    shifts: list[StaffShiftInput] = strawberry.field(default_factory=list)


def _choice(enum: type[Choice], value: str, name: str) -> Choice:
    try:
        return enum(value.strip().lower())
    except ValueError:
        raise InvalidInput(name, value, f"must be one of {', '.join(item.value for item in enum)}") from None


def _time(value: str | None, name: str) -> dt.time:
    if value is None:
        raise InvalidInput(name, None, "is needed for a weekly shift")
    try:
        found = dt.time.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(name, value, "must be a time HH:MM or HH:MM:SS") from None
    if found.tzinfo is not None:
        raise InvalidInput(name, value, "is China Standard Time: give no zone")
    return found


def _shift(shift: StaffShiftInput, name: str) -> records.Shift:
    weekly = shift.weekday is not None or shift.start_time is not None or shift.end_time is not None
    dated = shift.starts_at is not None or shift.ends_at is not None
    if weekly == dated:
        raise InvalidInput(name, "", "must be either weekly (weekday, startTime, endTime) or dated (startsAt, endsAt)")
    if weekly:
        if shift.weekday is None:
            raise InvalidInput(f"{name}.weekday", None, "is needed for a weekly shift")
        return records.WeeklyShift(shift.weekday, _time(shift.start_time, f"{name}.startTime"), _time(shift.end_time, f"{name}.endTime"))
    if shift.starts_at is None or shift.ends_at is None:
        missing = "startsAt" if shift.starts_at is None else "endsAt"
        raise InvalidInput(f"{name}.{missing}", None, "is needed for a dated shift")
    return records.DatedShift(shift.starts_at, shift.ends_at)


def _sized(values: list[object], most: int, name: str) -> None:
    if len(values) > most:
        raise InvalidInput(name, len(values), f"must be at most {most}")


def member_of(given: StaffMemberInput, employer: str) -> records.StaffMember:
    """The record the input describes (InvalidInput naming `member.<field>`), before scope."""
    _sized(list(given.estates), MAX_ESTATES, "member.estates")
    _sized(list(given.certificates), MAX_CERTIFICATES, "member.certificates")
    _sized(list(given.shifts), MAX_SHIFTS, "member.shifts")
    name = given.name.strip()
    if len(name) > MAX_NAME:
        raise InvalidInput("member.name", name[:20] + "…", f"must be at most {MAX_NAME} characters")
    number = str(ResidentId.parse(given.id_number.strip().upper(), field="member.idNumber"))
    phone = (given.phone or "").strip() or None
    if phone is not None and not (5 <= len(phone) <= 20 and set(phone) <= PHONE_CHARACTERS and any(c.isdigit() for c in phone)):
        raise InvalidInput("member.phone", phone, "must be 5 to 20 digits, spaces, '+' or '-'")
    certificates = tuple(
        records.Certificate(
            _choice(records.CertificateKind, item.kind, f"member.certificates[{index}].kind"), item.number.strip(), item.issued, item.expiry,
        )
        for index, item in enumerate(given.certificates)
    )
    estates: list[str] = []
    for index, code in enumerate(given.estates):
        code = code.strip()
        if code in estates:
            raise InvalidInput(f"member.estates[{index}]", code, "is named twice")
        estates.append(code)
    member = records.StaffMember(
        id=given.id.strip(), employer=employer, post=_choice(records.Post, given.post, "member.post"),
        name=name, id_number=number, phone=phone, estates=tuple(estates), certificates=certificates,
        shifts=tuple(_shift(shift, f"member.shifts[{index}]") for index, shift in enumerate(given.shifts)),
    )
    records.check_member(member, "member")
    return member


async def _employer(info: Info, given: str | None) -> str:
    principal = info.context.principal
    if principal.role is Role.PROPERTY_FIRM:
        if given is not None and given.strip().upper() != principal.scope:
            raise InvalidInput("member.employer", given, "a property firm enters its own staff only")
        return principal.scope
    if given is None:
        raise InvalidInput("member.employer", None, "is needed: the credit code of a firm or maintenance contractor")
    code = str(CreditCode.parse(given.strip().upper(), field="member.employer"))
    [firm] = await info.context.store.firms([code], EVERYTHING)
    if firm is None:
        raise InvalidInput("member.employer", code, "is not a firm the hub knows")
    return code


async def _check_estates(info: Info, member: records.StaffMember) -> None:
    """Each estate must be an estate the caller reads (a firm: manages today); one answer for
    outside the scope and not there at all."""
    if info.context.principal.role is Role.PROPERTY_FIRM and not member.estates:
        raise InvalidInput("member.estates", "", "must name at least one estate you manage")
    found = await info.context.store.places(list(member.estates), info.context.scope)
    for index, (code, place) in enumerate(zip(member.estates, found)):
        if place is None or place.level is not Level.ESTATE:
            raise InvalidInput(f"member.estates[{index}]", code, "is not an estate you can see")


@strawberry.type
class StaffEntryMutations:
    @field(
        description="Enter a member of staff, or replace one whole by its id (its last position is kept): a property firm "
        "its own, at estates it manages; the admin any firm's or maintenance contractor's. Name, ID number and phone are "
        "sealed at rest; the answer masks them as `staffMember` does."
    )
    async def save_staff_member(self, info: Info, member: StaffMemberInput) -> StaffMember:
        principal = info.context.principal
        require_role(principal, ENTERING, "enter staff (a property firm its own, the admin any firm's)")
        record = member_of(member, await _employer(info, member.employer))
        await _check_estates(info, record)
        store = info.context.store
        [stored] = await store.staff([record.id], EVERYTHING)
        if stored is not None:
            if principal.role is Role.PROPERTY_FIRM and stored.employer != record.employer:
                # staff ids are one namespace: say only that this one cannot be used
                raise InvalidInput("member.id", record.id, "is not an id you can use: another employer's member holds it")
            record = replace(record, position=stored.position)
        await store.save_staff([record])
        [saved] = await store.staff([record.id], info.context.scope)
        if saved is None:  # a firm's member works in one of its estates; the admin reads all
            raise StoreError(f"staff {record.id}: saved but not read back")
        return StaffMember(record=saved)
