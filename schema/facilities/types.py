"""Facilities' life records in GraphQL: the record, its events, and a place's figures.

A record read by an owner is the public view (schema.facilities.access): the fields it may not
see answer null, and so do an event's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graph.devices import DeviceType
from graph.facilities import records
from graph.facilities.records import EventKind, InspectionResult
from graph.facilities.service import FacilityFigures as Figures
from graph.scope import Scope
from schema.arguments import cursor_argument, page_argument
from schema.context import Info
from schema.fields import field
from schema.places.types import After, First
from schema.relay import Connection, connection, count_pages
from schema.votes.types import fraction_text

strawberry.enum(EventKind, name="FacilityEventKind", description="What happened in a facility's life (安装、使用登记、维保合同、维护保养、定期检验、维修、更换部件、报废注销).")
strawberry.enum(InspectionResult, description="A periodic inspection's conclusion: 合格, 不合格, 复检合格, 复检不合格.")


@strawberry.type(description="An event of a facility's life, newest first. Fields an owner may not see are null.")
class FacilityEvent:
    record: strawberry.Private[records.FacilityEvent]
    public: strawberry.Private[bool]

    @strawberry.field
    def seq(self) -> int:
        return self.record.seq

    @strawberry.field
    def kind(self) -> EventKind:
        return self.record.kind

    @field(description="The kind in Chinese.")
    def kind_label(self) -> str:
        return self.record.kind.label

    @strawberry.field
    def at(self) -> dt.datetime:
        return self.record.at

    @field(description="An inspection's result.")
    def result(self) -> InspectionResult | None:
        value = self.record.data.get("result")
        return None if value is None else InspectionResult(value)

    @field(description="An inspection's next due date.")
    def next_due(self) -> dt.date | None:
        value = self.record.data.get("next_due")
        return None if value is None else dt.date.fromisoformat(value)

    @field(description="A replaced part's name.")
    def part(self) -> str | None:
        return self.record.data.get("part")

    @field(description="Who booked it (role:scope, or a connector run); null for owners.")
    def recorded_by(self) -> str | None:
        return None if self.public else self.record.recorded_by

    @field(description="The organisation that did it (GB 32100 credit code); null for owners.")
    def by_org(self) -> str | None:
        return None if self.public else self.record.by_org

    @field(description="The person, by its organisation's staff id; null for owners.")
    def by_staff(self) -> str | None:
        return None if self.public else self.record.by_staff

    @field(description="Where it was booked (WGS-84); null for owners.")
    def lon(self) -> float | None:
        return None if self.public or self.record.point is None else self.record.point.lon

    @strawberry.field
    def lat(self) -> float | None:
        return None if self.public or self.record.point is None else self.record.point.lat

    @field(description="A repair's or part's case; null for owners.")
    def case_id(self) -> str | None:
        return None if self.public else self.record.data.get("case_id")

    @field(description="The maintenance-fund repair project that paid a repair; null for owners.")
    def project_id(self) -> str | None:
        return None if self.public else self.record.data.get("project_id")

    @field(description="The source's own record id (booked once); null for owners.")
    def key(self) -> str | None:
        return None if self.public else self.record.key

    @field(description="Everything the event carries, as name/value pairs; empty for owners.")
    def details(self) -> list[FacilityDetail]:
        if self.public:
            return []
        return [FacilityDetail(name=name, value=value) for name, value in sorted(self.record.data.items())]

    @field(description="A note; empty for owners.")
    def note(self) -> str:
        return "" if self.public else self.record.note


@strawberry.type(description="One name/value of an event.")
class FacilityDetail:
    name: str
    value: str


@strawberry.type(description="A facility's life record (设施设备全生命周期档案) under its device code. Fields an owner may not see are null.")
class Facility:
    record: strawberry.Private[records.Facility]
    public: strawberry.Private[bool]
    scope: strawberry.Private[Scope]

    @classmethod
    def of(cls, record: records.Facility, scope: Scope, *, public: bool = False) -> Facility:
        return cls(record=record, public=public, scope=scope)

    @field(description="The device's registry code.")
    def code(self) -> str:
        return self.record.code

    @strawberry.field
    def type(self) -> DeviceType:
        return self.record.device_type

    @field(description="The estate, building or entrance it is installed at.")
    def place_code(self) -> str:
        return self.record.place_code

    @strawberry.field
    def version(self) -> int:
        return self.record.version

    @strawberry.field
    def installed_at(self) -> dt.datetime | None:
        return self.record.installed_at

    @field(description="Who installed it; null for owners.")
    def installed_by(self) -> str | None:
        return None if self.public else self.record.installed_by

    @field(description="使用登记证编号.")
    def registration_number(self) -> str | None:
        return self.record.registration_number

    @field(description="救援识别码 (the code on the car's 96333 sticker).")
    def rescue_code(self) -> str | None:
        return self.record.rescue_code

    @field(description="The maintenance contractor's name (维保单位).")
    def contractor_name(self) -> str | None:
        return self.record.contractor_name

    @field(description="The contractor's GB 32100 credit code; null for owners.")
    def contractor_code(self) -> str | None:
        return None if self.public else self.record.contractor_code

    @field(description="The maintenance contract's number; null for owners.")
    def contract_number(self) -> str | None:
        return None if self.public else self.record.contract_number

    @field(description="The contract's first day; null for owners.")
    def contract_start(self) -> dt.date | None:
        return None if self.public else self.record.contract_start

    @field(description="The contract's last day; null for owners.")
    def contract_end(self) -> dt.date | None:
        return None if self.public else self.record.contract_end

    @field(description="The maintenance interval (days) the next due time was set with.")
    def maintenance_days(self) -> int | None:
        return self.record.maintenance_days

    @strawberry.field
    def last_maintained_at(self) -> dt.datetime | None:
        return self.record.last_maintained_at

    @strawberry.field
    def maintenance_due_at(self) -> dt.datetime | None:
        return self.record.maintenance_due_at

    @field(description="Whether the maintenance is overdue now.")
    def maintenance_overdue(self) -> bool:
        return _overdue(self.record, self.record.maintenance_due_at)

    @strawberry.field
    def last_inspected_at(self) -> dt.datetime | None:
        return self.record.last_inspected_at

    @strawberry.field
    def inspection_result(self) -> InspectionResult | None:
        return self.record.inspection_result

    @field(description="The moment the next inspection is overdue (the day after its due date begins, Beijing time).")
    def inspection_due_at(self) -> dt.datetime | None:
        return self.record.inspection_due_at

    @field(description="Whether the inspection is overdue now.")
    def inspection_overdue(self) -> bool:
        return _overdue(self.record, self.record.inspection_due_at)

    @field(description="Repairs booked; null for owners.")
    def repairs(self) -> int | None:
        return None if self.public else self.record.repairs

    @field(description="When it was retired (报废); its record only reads from then on.")
    def retired_at(self) -> dt.datetime | None:
        return self.record.retired_at

    @field(description="Its events, newest first.")
    async def events(
        self,
        info: Info,
        kinds: Annotated[list[EventKind] | None, strawberry.argument(description="Only these kinds.")] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[FacilityEvent]:
        size, cursor = page_argument(first), cursor_argument(after)
        store, code, scope, public = info.context.store, self.record.code, self.scope, self.public
        page = await store.facility_events(code, scope, size, cursor, kinds=kinds)

        async def count() -> int:
            if kinds is None:
                return self.record.version
            return await count_pages(lambda at: store.facility_events(code, scope, 500, at, kinds=kinds))

        return connection(page, key=lambda e: str(e.seq), wrap=lambda e: FacilityEvent(record=e, public=public), counter=count, after=cursor)


def _overdue(record: records.Facility, due: dt.datetime | None) -> bool:
    return record.retired_at is None and due is not None and due < dt.datetime.now(dt.timezone.utc)


@strawberry.type(description="A place's facilities (设施设备): how many, what falls due this week, what is overdue, how inspections went, repairs per elevator this year.")
class FacilityFigures:
    figures: strawberry.Private[Figures]

    @field(description="The place's code.")
    def code(self) -> str:
        return self.figures.code

    @field(description="Facilities with a life record in service (retired ones left out).")
    def facilities(self) -> int:
        return self.figures.tally.facilities

    @strawberry.field
    def retired(self) -> int:
        return self.figures.tally.retired

    @field(description="Maintenance or inspection falling due in the coming 7 days.")
    def due_this_week(self) -> int:
        return self.figures.tally.due_soon

    @field(description="Maintenance or inspection overdue.")
    def overdue(self) -> int:
        return self.figures.tally.overdue

    @strawberry.field
    def maintenance_overdue(self) -> int:
        return self.figures.tally.maintenance_overdue

    @strawberry.field
    def inspection_overdue(self) -> int:
        return self.figures.tally.inspection_overdue

    @field(description="Facilities with an inspection result.")
    def inspected(self) -> int:
        return self.figures.tally.inspected

    @field(description="Of them, whose latest result is 合格 or 复检合格.")
    def passed(self) -> int:
        return self.figures.tally.passed

    @field(description="passed / inspected as an exact fraction (`2/3`); null when none was inspected.")
    def pass_rate(self) -> str | None:
        rate = self.figures.pass_rate
        return None if rate is None else fraction_text(rate)

    @strawberry.field
    def elevators(self) -> int:
        return self.figures.tally.elevators

    @field(description="Repairs of elevators booked this calendar year (Beijing time).")
    def elevator_repairs(self) -> int:
        return self.figures.tally.elevator_repairs

    @field(description="elevatorRepairs / elevators as an exact fraction; null without elevators.")
    def repairs_per_elevator(self) -> str | None:
        rate = self.figures.repairs_per_elevator
        return None if rate is None else fraction_text(rate)

    @field(description="The year of `elevatorRepairs`.")
    def year(self) -> int:
        return self.figures.year
