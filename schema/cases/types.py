"""The GraphQL types of cases: Case, its history, and the enums of the 12345 lifecycle."""

from __future__ import annotations

import datetime as dt

import strawberry

from graph import cases as domain
from graph.cases import CaseCategory, CaseSource, CaseStatus
from schema.context import Info
from schema.fields import field
from schema.firms.types import PropertyFirm
from schema.places.types import Place, maybe_place

strawberry.enum(CaseStatus, description="A step of the 12345 lifecycle: 受理 派单 签收 办理 办结 回访 归档, or 退单.")
strawberry.enum(CaseSource, description="Where a case came from: owners, the 12345 hotline, city operations, devices, patrols, Open311.")
strawberry.enum(CaseCategory, description="What a case is: 报修 repair, 投诉 complaint, 咨询 consultation, 建议 suggestion, 紧急 emergency.")


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


@strawberry.type(description="A work order (工单): a repair, complaint or question from owners, 12345, city operations or devices.")
class Case:
    record: strawberry.Private[domain.Case]
    events: strawberry.Private[list[domain.CaseEvent] | None] = None

    @classmethod
    def of(cls, record: domain.Case, events: list[domain.CaseEvent] | None = None) -> Case:
        return cls(record=record, events=events)

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

    @field(description="Every step so far, oldest first.")
    async def history(self, info: Info) -> list[CaseEvent]:
        events = self.events
        if events is None:
            [events] = await info.context.store.case_events([self.record.id], info.context.scope)
        return [CaseEvent.of(event) for event in events]
