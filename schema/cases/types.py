"""The GraphQL types of cases: Case, its history, the enums of the 12345 lifecycle and the
escalation ladder, and what `openCase` takes."""

from __future__ import annotations

import datetime as dt
import enum

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from graph import cases as domain
from graph.cases import CaseCategory, CaseSource, CaseStatus, Escalation
from graph.errors import InvalidInput
from graph.scope import Scope
from graph.security import Role
from schema.context import Info
from schema.fields import field
from schema.firms.types import PropertyFirm
from schema.places.types import Place, maybe_place

strawberry.enum(CaseStatus, description="A step of the 12345 lifecycle: 受理 派单 签收 办理 办结 回访 归档, or 退单.")
strawberry.enum(CaseSource, description="Where a case came from: owners, the 12345 hotline, city operations, devices, patrols, Open311.")
strawberry.enum(CaseCategory, description="What a case is: 报修 repair, 投诉 complaint, 咨询 consultation, 建议 suggestion, 紧急 emergency.")
strawberry.enum(Escalation, name="CaseEscalation", description="A rung of the escalation ladder: 物业管家 STEWARD, 业委会 COMMITTEE, 街道 STREET.")


def case_scope(info: Info, record: domain.Case) -> Scope:
    """The scope to read more of a case the caller was shown: its own scope, or everything for
    the member of staff the case is assigned to (whose scope holds no place)."""
    principal = info.context.principal
    if principal.role is Role.STAFF and record.assignee == principal.scope:
        return Scope.everything()
    return info.context.scope


def case_id(value: str, *, field: str = "id") -> str:
    """A case id as given, trimmed; refused when it cannot be one (empty or over 64 characters)."""
    key = str(value).strip()
    if not 1 <= len(key) <= 64:
        raise InvalidInput(field, value, "is not a case id")
    return key


@strawberry.enum(description="How grave a case is; CRITICAL and MAJOR shorten its deadlines.")
class CaseSeverity(enum.Enum):
    CRITICAL = "critical"  # 紧急
    MAJOR = "major"  # 重要
    MINOR = "minor"  # 次要
    WARNING = "warning"  # 提示


@strawberry.input(description="A WGS-84 position (longitude, latitude).")
class GeoPointInput:
    lon: float
    lat: float


@strawberry.input(description="A case reported by a person: where (a place code, a point or both, and an address) and what.")
class OpenCaseInput:
    title: str = strawberry.field(description="标题, at most 400 characters.")
    category: CaseCategory
    description: str = strawberry.field(default="", description="诉求内容.")
    source: CaseSource | None = strawberry.field(
        default=None, description="OWNER, PATROL or HOTLINE (a call taken down); owners and committees report as OWNER."
    )
    place: str | None = strawberry.field(default=None, description="The house, entrance, building or estate code.")
    point: GeoPointInput | None = strawberry.field(default=None, description="Where, when no place code is known (or besides it).")
    address: str | None = strawberry.field(default=None, description="The address as told, at most 400 characters.")
    severity: CaseSeverity | None = None


@strawberry.type(name="GeoPoint", description="A WGS-84 position (GeoJSON order: longitude, latitude).")
class GeoPoint:
    lon: float
    lat: float


@strawberry.type(description="One step of a case's history: who moved it, from what to what, when and why.")
class CaseEvent:
    seq: int
    from_status: CaseStatus | None
    to_status: CaseStatus
    at: dt.datetime
    actor: str
    note: str

    @classmethod
    def of(cls, event: domain.CaseEvent) -> CaseEvent:
        return cls(seq=event.seq, from_status=event.from_status, to_status=event.to_status, at=event.at, actor=event.actor, note=event.note)


@strawberry.type(
    description="A work order (工单): a repair, complaint or question from owners, 12345, city operations or devices.",
    directives=[Key(fields=FieldSet("id"))],
)
class Case:
    record: strawberry.Private[domain.Case]
    events: strawberry.Private[list[domain.CaseEvent] | None] = None

    @classmethod
    def of(cls, record: domain.Case, events: list[domain.CaseEvent] | None = None) -> Case:
        return cls(record=record, events=events)

    @classmethod
    async def resolve_reference(cls, info: Info, id: str) -> Case | None:
        """The case a federation gateway names, batched with the others of its request; null
        when absent or outside the caller's scope."""
        found = await info.context.devices.cases.load(case_id(id, field="representations"))
        return None if found is None else cls.of(found)

    @field(description="The hub's case id: GD + day + sequence for its own, connector:number for a source's.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @field(description="Where the case came from.")
    def source(self) -> CaseSource:
        return self.record.source

    @field(description="What kind of matter it is.")
    def category(self) -> CaseCategory:
        return self.record.category

    @field(description="Its step in the 12345 lifecycle.")
    def status(self) -> CaseStatus:
        return self.record.status

    @field(description="The step in Chinese (受理, 派单, …).")
    def status_label(self) -> str:
        return self.record.status.label

    @field(description="True once the work is done (办结, 回访, 归档): Open311's `closed`.")
    def closed(self) -> bool:
        return self.record.status.closed

    @field(description="标题.")
    def title(self) -> str:
        return self.record.title

    @field(description="诉求内容: what was reported.")
    def description(self) -> str:
        return self.record.description

    @field(description="The place it is linked to (house, building, estate or community); null if none is seen.")
    async def place(self, info: Info) -> Place | None:
        if self.record.place_code is None:
            return None
        return maybe_place(await info.context.places.by_code.load(self.record.place_code))

    @field(description="Where it was reported, in WGS-84, when a position was given.")
    def point(self) -> GeoPoint | None:
        point = self.record.point
        return None if point is None else GeoPoint(lon=point.lon, lat=point.lat)

    @field(description="The address as reported.")
    def address(self) -> str | None:
        return self.record.address

    @field(description="The source system's number (工单编号), when it has one.")
    def external_id(self) -> str | None:
        return self.record.external_id

    @field(description="The property firm it is dispatched to; null if none or not seen.")
    async def firm(self, info: Info) -> PropertyFirm | None:
        if self.record.firm_code is None:
            return None
        found = await info.context.firms.by_code.load(self.record.firm_code)
        return None if found is None else PropertyFirm.of(found)

    @field(description="受理时间.")
    def reported_at(self) -> dt.datetime:
        return self.record.reported_at

    @field(description="The last change.")
    def updated_at(self) -> dt.datetime:
        return self.record.updated_at

    @field(description="办结时限: when it must be resolved.")
    def deadline(self) -> dt.datetime | None:
        return self.record.deadline

    @field(description="满意度 at follow-up: 1 (very unsatisfied) to 5 (very satisfied).")
    def rating(self) -> int | None:
        return self.record.rating

    @field(description="How grave it is (critical, major, minor, warning), when known.")
    def severity(self) -> str | None:
        return self.record.severity

    @field(description="派单时间: the last dispatch.")
    def dispatched_at(self) -> dt.datetime | None:
        return self.record.dispatched_at

    @field(description="签收时限: when the firm must have signed for the last dispatch.")
    def sign_by(self) -> dt.datetime | None:
        return self.record.sign_by

    @field(description="签收时间.")
    def signed_at(self) -> dt.datetime | None:
        return self.record.signed_at

    @field(description="办结时间.")
    def resolved_at(self) -> dt.datetime | None:
        return self.record.resolved_at

    @field(description="The highest rung of the escalation ladder reached; null if never escalated.")
    def escalation(self) -> Escalation | None:
        return self.record.escalation

    @field(description="That rung in Chinese (物业管家, 业委会, 街道).")
    def escalation_label(self) -> str | None:
        return None if self.record.escalation is None else self.record.escalation.label

    @field(description="When it reached that rung.")
    def escalated_at(self) -> dt.datetime | None:
        return self.record.escalated_at

    @field(description="True while unsigned past 签收时限 or open past 办结时限.")
    def overdue(self) -> bool:
        return self.record.overdue(dt.datetime.now(dt.timezone.utc))

    @field(description="The member of the firm's staff it is assigned to (智能派单: on shift, certified, nearest, least loaded).")
    def assignee(self) -> str | None:
        return self.record.assignee

    @field(description="到场时限: when someone must be on site (emergencies: 20 minutes from dispatch).")
    def arrive_by(self) -> dt.datetime | None:
        return self.record.arrive_by

    @field(description="到场时间: when the assignee reported arriving on site.")
    def arrived_at(self) -> dt.datetime | None:
        return self.record.arrived_at

    @field(description="Every step so far, oldest first.")
    async def history(self, info: Info) -> list[CaseEvent]:
        events = self.events
        if events is None:
            [events] = await info.context.store.case_events([self.record.id], case_scope(info, self.record))
        return [CaseEvent.of(event) for event in events]
