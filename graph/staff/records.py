"""Staff of property firms and maintenance contractors (物业从业人员), and the store port that
keeps them (`StaffStore`, mixed into `graph.store.Store`).

A member of staff works for one employer (a credit code of a firm the hub knows: a property
firm or a maintenance contractor), holds a post (岗位), certificates (证书: kind, number, issued,
expiry), works in estates, on shifts (a weekly pattern or dated shifts, in China Standard Time),
and last reported a position (point and time). Names, ID numbers and phones are personal data:
sealed with SM4 and found by blind index exactly as owners' are (`graph.ciphers.sealing`), under
the holder `staff/<id>` so a sealed value of one member never opens as another's or an owner's.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from graph.cases import Point
from graph.codes import CreditCode
from graph.errors import InvalidInput
from graph.scope import Scope


class Post(enum.Enum):
    """岗位."""

    PROJECT_MANAGER = "project_manager"  # 项目经理
    CUSTOMER_SERVICE = "customer_service"  # 客服
    ELECTRICIAN = "electrician"  # 电工
    PLUMBER = "plumber"  # 水暖工
    ELEVATOR_SAFETY_OFFICER = "elevator_safety_officer"  # 电梯安全管理员
    ELEVATOR_MECHANIC = "elevator_mechanic"  # 电梯维修工
    SECURITY_GUARD = "security_guard"  # 保安
    CLEANER = "cleaner"  # 保洁
    STEWARD = "steward"  # 物业管家

    @property
    def label(self) -> str:
        return _POST_LABELS[self]


_POST_LABELS = {
    Post.PROJECT_MANAGER: "项目经理",
    Post.CUSTOMER_SERVICE: "客服",
    Post.ELECTRICIAN: "电工",
    Post.PLUMBER: "水暖工",
    Post.ELEVATOR_SAFETY_OFFICER: "电梯安全管理员",
    Post.ELEVATOR_MECHANIC: "电梯维修工",
    Post.SECURITY_GUARD: "保安",
    Post.CLEANER: "保洁",
    Post.STEWARD: "物业管家",
}


class CertificateKind(enum.Enum):
    """Certificates a post may need (特种作业操作证 from 应急管理部门; 特种设备作业人员证 from
    市场监管部门; 职业技能等级证书)."""

    LOW_VOLTAGE = "low_voltage"  # 特种作业操作证 低压电工作业
    HIGH_VOLTAGE = "high_voltage"  # 特种作业操作证 高压电工作业
    ELEVATOR_REPAIR = "elevator_repair"  # 特种设备作业人员证 电梯修理 (T)
    ELEVATOR_SAFETY = "elevator_safety"  # 特种设备作业人员证 电梯安全管理 (A)
    PLUMBING = "plumbing"  # 职业技能等级证书 管工 (水暖)
    FIRE_FACILITIES = "fire_facilities"  # 消防设施操作员
    BOILER = "boiler"  # 特种设备作业人员证 工业锅炉司炉 (G1)

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    CertificateKind.LOW_VOLTAGE: "特种作业操作证（低压电工作业）",
    CertificateKind.HIGH_VOLTAGE: "特种作业操作证（高压电工作业）",
    CertificateKind.ELEVATOR_REPAIR: "特种设备作业人员证（电梯修理 T）",
    CertificateKind.ELEVATOR_SAFETY: "特种设备作业人员证（电梯安全管理 A）",
    CertificateKind.PLUMBING: "职业技能等级证书（管工）",
    CertificateKind.FIRE_FACILITIES: "消防设施操作员证",
    CertificateKind.BOILER: "特种设备作业人员证（工业锅炉司炉 G1）",
}


@dataclass(frozen=True, slots=True)
class Certificate:
    kind: CertificateKind
    number: str
    issued: dt.date
    expiry: dt.date
    """The last day it is valid."""

    def valid_on(self, day: dt.date) -> bool:
        return self.issued <= day <= self.expiry


@dataclass(frozen=True, slots=True)
class WeeklyShift:
    """A shift every week: ISO weekday (1 Monday … 7 Sunday) from `start` to `end`, China
    Standard Time; an `end` at or before `start` runs past midnight into the next day."""

    weekday: int
    start: dt.time
    end: dt.time


@dataclass(frozen=True, slots=True)
class DatedShift:
    """A shift on given times: [start, end), aware."""

    start: dt.datetime
    end: dt.datetime


Shift = WeeklyShift | DatedShift


@dataclass(frozen=True, slots=True)
class Position:
    """Where a member of staff last said it was, and when."""

    point: Point
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A member of a firm's staff. `name`, `id_number` and `phone` are personal data (sealed at
    rest; empty when read without them: `StaffStore.staff_of(..., personal=False)`)."""

    id: str
    employer: str
    post: Post
    name: str
    id_number: str
    phone: str | None = None
    estates: tuple[str, ...] = ()
    certificates: tuple[Certificate, ...] = ()
    shifts: tuple[Shift, ...] = ()
    position: Position | None = None


MAX_STAFF_ID = 64


def holder(staff_id: str) -> str:
    """Whom a member's personal values are sealed under in both adapters (never an owner's id:
    owners' ids hold no '/', and a staff id may not either)."""
    return f"staff/{staff_id}"


def _aware(value: dt.datetime, field: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, value.isoformat(), "must carry a time zone")


def check_member(member: StaffMember, where: str | None = None) -> None:
    """InvalidInput naming the field, under `where` (default `staff '<id>'`; the API passes
    `member`): `member.certificates[1].expiry`, when it cannot be stored as it is."""
    where = where if where is not None else f"staff {member.id!r}"
    if not member.id.strip() or len(member.id) > MAX_STAFF_ID or not member.id.isprintable() or "/" in member.id:
        raise InvalidInput(f"{where}.id", member.id, f"must be 1 to {MAX_STAFF_ID} printable characters without '/'")
    CreditCode.parse(member.employer, field=f"{where}.employer")
    if not member.name.strip():
        raise InvalidInput(f"{where}.name", member.name, "must not be empty")
    if not member.id_number.strip():
        raise InvalidInput(f"{where}.idNumber", member.id_number, "must not be empty")
    for index, certificate in enumerate(member.certificates):
        named = f"{where}.certificates[{index}]"
        if not certificate.number.strip() or len(certificate.number) > 64:
            raise InvalidInput(f"{named}.number", certificate.number, "must be 1 to 64 characters")
        if certificate.expiry < certificate.issued:
            raise InvalidInput(f"{named}.expiry", certificate.expiry.isoformat(), "is before it was issued")
    for index, shift in enumerate(member.shifts):
        named = f"{where}.shifts[{index}]"
        if isinstance(shift, WeeklyShift):
            if not 1 <= shift.weekday <= 7:
                raise InvalidInput(f"{named}.weekday", shift.weekday, "must be 1 (Monday) to 7 (Sunday)")
        else:
            _aware(shift.start, f"{named}.startsAt")
            _aware(shift.end, f"{named}.endsAt")
            if shift.end <= shift.start:
                raise InvalidInput(f"{named}.endsAt", shift.end.isoformat(), "must be after its start")
    if member.position is not None:
        check_position(member.position, where)


def check_position(position: Position, where: str = "") -> None:
    """InvalidInput naming `position` (after `where`) for a point off the WGS-84 ranges or a
    time without a zone: every adapter checks a reported position with it."""
    named = f"{where}.position" if where else "position"
    point = position.point
    if not (-180 <= point.lon <= 180 and -90 <= point.lat <= 90):
        raise InvalidInput(named, f"{point.lon},{point.lat}", "is not a WGS-84 longitude, latitude")
    _aware(position.at, f"{named}.at")


class StaffStore(Protocol):
    """The staff part of the store port: storage primitives only (the rules — shifts, skills,
    distances, standing of certificates — are `graph.staff`'s).

    Scope: a member of staff is in a caller's scope when one of its estates is (an unlimited
    scope sees all); out of scope behaves as absent. Personal fields are sealed at rest with the
    store's sealer (holder `staff/<id>`) and indexed by blind index, as owners' are.
    """

    async def save_staff(self, members: Sequence[StaffMember]) -> None:
        """Upsert members by id (`check_member` on each), atomically: InvalidInput for a member
        that cannot be stored, StoreError naming it when its employer is not a firm in the
        store or one of its estates is not a place of the estate level; nothing stored then."""

    async def staff(self, ids: Sequence[str], scope: Scope) -> list[StaffMember | None]:
        """The members with these ids, in key order; None where missing or out of scope."""

    async def staff_of(self, employers: Sequence[str], scope: Scope, *, personal: bool = True) -> list[list[StaffMember]]:
        """For each employer's credit code, its members in scope, by id; `personal=False`
        opens no sealed value (name and ID number empty, phone None): the dispatch needs none."""

    async def staff_by(self, field: str, value: str, scope: Scope) -> list[StaffMember]:
        """Members whose personal `field` (name, id_number, phone) equals `value` as the blind
        index normalises it, in scope, by id, at most MAX_PAGE. InvalidInput naming `field` for
        a field that is not personal."""

    async def report_position(self, staff_id: str, position: Position) -> bool:
        """Keep `position` as the member's last reported one, unless the stored one is newer;
        False when no member has this id. Unscoped (the member itself reports)."""
