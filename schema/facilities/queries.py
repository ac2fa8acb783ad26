"""Facilities' life records in GraphQL (设施设备全生命周期).

| field                                   | roles (schema.facilities.access)                          |
|-----------------------------------------|-----------------------------------------------------------|
| facility, facilities, Place.facilities  | every role in its scope; owners the public view of the estates they hold a house in |
| recordInstallation, recordRegistration, recordContract, recordInspection, recordRepair, recordPart, retireFacility | admin, city, district, street, community, property firm (in scope) |
| recordMaintenance                       | the contractor's or the managing firm's property_firm token or a staff token of its staff; the admin naming `byOrg` |
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graph.cases import Point
from graph.devices import device_code
from graph.errors import InvalidInput
from graph.facilities.records import InspectionResult
from graph.facilities.service import Recorded
from graph.scope import Scope
from graph.security import Role
from schema.arguments import place_argument
from schema.context import Info
from schema.errors import Forbidden
from schema.facilities.access import (
    MAINTAINERS,
    actor_name,
    maintenance_scope,
    read_scope,
    recorder_of,
    require_writer,
    service,
)
from schema.facilities.types import Facility, FacilityFigures
from schema.fields import field

Code = Annotated[str, strawberry.argument(description="The device's registry code.")]
At = Annotated[dt.datetime, strawberry.argument(description="When it happened (with its offset).")]
Key = Annotated[str | None, strawberry.argument(description="Your own record id: a record sent twice is booked once.")]
Note = Annotated[str, strawberry.argument(description="A note (at most 400 characters).")]


def _code(code: str) -> str:
    return device_code(code.strip())


def _answer(info: Info, recorded: Recorded) -> Facility:
    return Facility.of(recorded.facility, info.context.scope)


@strawberry.type
class FacilityQueries:
    @field(description="A facility's life record by its device code; null if it has none or you may not see it.")
    async def facility(self, info: Info, code: Code) -> Facility | None:
        scope, public = await read_scope(info)
        found = await service(info).life(_code(code), scope)
        return None if found is None else Facility.of(found, scope, public=public)

    @field(description="The facility figures of a place of any level in your scope: due this week, overdue, inspection pass rate, repairs per elevator; null if you may not see it.")
    async def facilities(self, info: Info, place: str) -> FacilityFigures | None:
        code, _ = place_argument(place.strip(), field="place")
        scope, _ = await read_scope(info)
        [found] = await service(info).figures([code], scope)
        return None if found is None else FacilityFigures(figures=found)


@strawberry.type
class FacilityMutations:
    @field(description="Book a facility's installation (安装): when and by whom.")
    async def record_installation(
        self, info: Info, code: Code, at: At, installed_by: str | None = None, key: Key = None, note: Note = ""
    ) -> Facility:
        require_writer(info, "book facilities' installations")
        done = await service(info).record_installation(
            _code(code), at=at, installed_by=installed_by, scope=info.context.scope, recorded_by=actor_name(info), key=key, note=note
        )
        return _answer(info, done)

    @field(description="Book a facility's registration (使用登记): its certificate number and, for an elevator, its 救援识别码.")
    async def record_registration(
        self, info: Info, code: Code, at: At, number: str, rescue_code: str | None = None, key: Key = None, note: Note = ""
    ) -> Facility:
        require_writer(info, "book facilities' registrations")
        done = await service(info).record_registration(
            _code(code), at=at, number=number, rescue_code=rescue_code, scope=info.context.scope, recorded_by=actor_name(info),
            key=key, note=note,
        )
        return _answer(info, done)

    @field(description="Book a facility's maintenance contract (维保合同): the contractor (GB 32100 credit code, name), the contract's number and dates.")
    async def record_contract(
        self, info: Info, code: Code, at: At, contractor_code: str, contractor_name: str, number: str, start: dt.date, end: dt.date,
        key: Key = None, note: Note = "",
    ) -> Facility:
        require_writer(info, "book facilities' contracts")
        done = await service(info).record_contract(
            _code(code), at=at, contractor_code=contractor_code.strip(), contractor_name=contractor_name, number=number,
            start=start, end=end, scope=info.context.scope, recorded_by=actor_name(info), key=key, note=note,
        )
        return _answer(info, done)

    @field(description="Book a maintenance (维护保养) done by your firm — the facility's contractor, or the firm managing its estate — or, with a staff token, by you for your employer, at a point at or near the facility.")
    async def record_maintenance(
        self,
        info: Info,
        code: Code,
        at: At,
        lon: float | None = None,
        lat: float | None = None,
        by_org: Annotated[str | None, strawberry.argument(description="The admin only: the organisation that did it (credit code).")] = None,
        by_staff: Annotated[str | None, strawberry.argument(description="The person, by your staff id (a staff token: itself, whatever is given here must be its own id).")] = None,
        items: str | None = None,
        key: Key = None,
        note: Note = "",
    ) -> Facility:
        principal = info.context.principal
        if principal.role not in MAINTAINERS:
            raise Forbidden(f"forbidden: the {principal.role.value} role may not book maintenance")
        recorder = await recorder_of(info.context.store, principal, by_org=by_org, by_staff=by_staff)
        if recorder is None and principal.role is Role.STAFF:
            raise Forbidden("forbidden: the staff token names no staff record")
        if recorder is None:
            raise InvalidInput("byOrg", by_org, "is needed: the organisation that did the maintenance")
        if (lon is None) != (lat is None):
            raise InvalidInput("lon", lon, "and lat go together: give both or neither")
        point = None if lon is None or lat is None else Point(lon, lat)
        checked = _code(code)
        facilities = service(info)
        scope = await maintenance_scope(info, recorder, await facilities.life(checked, Scope.everything()))
        done = await facilities.record_maintenance(
            checked, at=at, by_org=recorder.org, by_staff=recorder.staff, point=point, scope=scope,
            recorded_by=actor_name(info), items=items, key=key, note=note,
        )
        return Facility.of(done.facility, scope)

    @field(description="Book a periodic inspection (定期检验): its result and the next due date (a year on when omitted).")
    async def record_inspection(
        self, info: Info, code: Code, at: At, result: InspectionResult, next_due: dt.date | None = None,
        inspector: str | None = None, report: str | None = None, key: Key = None, note: Note = "",
    ) -> Facility:
        require_writer(info, "book inspections")
        done = await service(info).record_inspection(
            _code(code), at=at, result=result, next_due=next_due, inspector=inspector, report=report,
            scope=info.context.scope, recorded_by=actor_name(info), key=key, note=note,
        )
        return _answer(info, done)

    @field(description="Book a repair (维修) done for a case you can see, optionally paid by a maintenance-fund repair project you can see.")
    async def record_repair(
        self, info: Info, code: Code, at: At, case_id: str, project_id: str | None = None, key: Key = None, note: Note = ""
    ) -> Facility:
        require_writer(info, "book repairs")
        done = await service(info).record_repair(
            _code(code), at=at, case_id=case_id.strip(), project_id=project_id, scope=info.context.scope,
            recorded_by=actor_name(info), key=key, note=note,
        )
        return _answer(info, done)

    @field(description="Book a part replaced (更换部件).")
    async def record_part(
        self, info: Info, code: Code, at: At, part: str, serial: str | None = None, case_id: str | None = None,
        key: Key = None, note: Note = "",
    ) -> Facility:
        require_writer(info, "book parts")
        done = await service(info).record_part(
            _code(code), at=at, part=part, serial=serial, case_id=case_id, scope=info.context.scope,
            recorded_by=actor_name(info), key=key, note=note,
        )
        return _answer(info, done)

    @field(description="Retire a facility (报废注销): its record only reads from then on.")
    async def retire_facility(self, info: Info, code: Code, at: At, reason: str | None = None, note: Note = "") -> Facility:
        require_writer(info, "retire facilities")
        done = await service(info).record_retirement(
            _code(code), at=at, reason=reason, scope=info.context.scope, recorded_by=actor_name(info), note=note
        )
        return _answer(info, done)
