"""Reading devices and alarms under a place in the caller's scope; registering devices and
acknowledging alarms.

Who may change what: the administrations (admin, city, district, street, community) and the
property firms register devices and acknowledge alarms, each inside its own scope; owners,
owners' committees and dashboards read.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graph import devices as domain
from graph.cases import Point
from graph.devices import DeviceStatus, DeviceType, device_code
from graph.errors import InvalidInput
from graph.levels import Level
from graph.reach import Reach
from graph.events import Event, Topic
from graph.rules import check_thresholds
from graph.scope import Scope
from graph.security import Role
from schema.arguments import cursor_argument, page_argument, place_argument
from schema.context import Info
from schema.errors import require_role
from schema.devices.types import Alarm, Device
from schema.fields import field
from schema.places.types import After, First
from schema.relay import Connection, connection

OPERATORS = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET, Role.COMMUNITY, Role.PROPERTY_FIRM})
"""Roles that register devices and acknowledge alarms (in their scope)."""

INSTALLED_AT = (Level.ESTATE, Level.BUILDING, Level.ENTRANCE)

ScopeCode = Annotated[str, strawberry.argument(description="A place code: what is at it or under it.")]


@strawberry.input(description="A rule parameter set for one device (see `Device.thresholds` for the names).")
class ThresholdInput:
    name: str
    value: float


@strawberry.input(description="A device to register (or update, by code); its state is kept.")
class DeviceInput:
    code: str = strawberry.field(description="Unique: 3–64 ASCII letters, digits, _ . -; it names the device's MQTT topics.")
    type: DeviceType
    model: str
    place: str = strawberry.field(description="The estate, building or entrance code it is installed at.")
    interval: int = strawberry.field(description="Seconds between its reports (1–86400).")
    lon: float | None = None
    lat: float | None = None
    name: str = ""
    thresholds: list[ThresholdInput] | None = strawberry.field(default=None, description="Overrides of its type's rule parameters.")


@strawberry.type
class DeviceQueries:
    @field(description="Devices at or under a place in your scope, by code, filtered by type and status.")
    async def devices(
        self,
        info: Info,
        scope: ScopeCode,
        type: Annotated[list[DeviceType] | None, strawberry.argument(description="Only these types.")] = None,
        status: Annotated[list[DeviceStatus] | None, strawberry.argument(description="Only these states.")] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Device]:
        within, _ = place_argument(scope, field="scope")
        size, cursor = page_argument(first), cursor_argument(after)
        context = info.context
        page = await context.store.device_page(context.scope, size, cursor, within=within, types=type, statuses=status)

        async def count() -> int:
            return await context.store.device_count(context.scope, within=within, types=type, statuses=status)

        return connection(page, key=lambda device: device.code, wrap=Device.of, counter=count, after=cursor)

    @field(description="The device with this code; null if none is seen.")
    async def device(self, info: Info, code: str) -> Device | None:
        found = await info.context.devices.by_code.load(device_code(code.strip()))
        return None if found is None else Device.of(found)

    @field(description="Alarms of devices at or under a place in your scope, newest first; `active` true for those not cleared, false for cleared ones.")
    async def alarms(
        self,
        info: Info,
        scope: ScopeCode,
        active: Annotated[bool | None, strawberry.argument(description="true: only active; false: only cleared; omitted: both.")] = None,
        since: Annotated[dt.datetime | None, strawberry.argument(description="Only alarms raised at or after this moment.")] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Alarm]:
        within, _ = place_argument(scope, field="scope")
        size, cursor = page_argument(first), cursor_argument(after)
        context = info.context
        page = await context.store.alarm_page(context.scope, size, cursor, within=within, active=active, since=since)

        async def count() -> int:
            return await context.store.alarm_count(context.scope, within=within, active=active, since=since)

        return connection(page, key=lambda alarm: alarm.id, wrap=Alarm.of, counter=count, after=cursor)

    @field(description="The alarm with this id; null if none is seen.")
    async def alarm(self, info: Info, id: strawberry.ID) -> Alarm | None:
        key = str(id).strip()
        if not 1 <= len(key) <= 64:
            raise InvalidInput("id", id, "is not an alarm id")
        [found] = await info.context.store.alarms([key], info.context.scope)
        return None if found is None else Alarm.of(found)


@strawberry.type
class DeviceMutations:
    @field(description="Register a device at an estate, building or entrance in your scope (or update it by code).")
    async def register_device(self, info: Info, input: DeviceInput) -> Device:
        require_role(info.context.principal, OPERATORS, "register devices")
        context = info.context
        code = device_code(input.code.strip(), field_name="input.code")
        place, level = place_argument(input.place, field="input.place")
        if level not in INSTALLED_AT:
            raise InvalidInput("input.place", input.place, "must be an estate, building or entrance: devices are installed there")
        if (input.lon is None) != (input.lat is None):
            raise InvalidInput("input.lon", input.lon, "and input.lat go together: give both or neither")
        point = None if input.lon is None or input.lat is None else Point(input.lon, input.lat)
        # the place and the point by the one rule of writes (graph.reach)
        await Reach(context.store, context.scope).landing(code=place, point=point, code_field="input.place", point_field="input.lon,lat")
        overrides = {item.name: item.value for item in input.thresholds or []}
        if input.thresholds and len(overrides) != len(input.thresholds):
            raise InvalidInput("input.thresholds", sorted(item.name for item in input.thresholds), "names a parameter twice")
        record = domain.Device(
            code=code,
            type=input.type,
            model=input.model.strip(),
            place_code=place,
            interval=input.interval,
            point=point,
            name=input.name.strip(),
            thresholds=check_thresholds(input.type, overrides),
        )
        existing = await context.store.devices([code], Scope.everything())
        if existing[0] is not None:
            # updating someone else's device would move it into your scope: only in your scope
            [mine] = await context.store.devices([code], context.scope)
            if mine is None:
                raise InvalidInput("input.code", code, "is taken by a device outside your scope")
        await context.store.register_devices([record])
        [stored] = await context.store.devices([code], context.scope)
        if stored is None:
            raise LookupError(f"device {code} was registered but cannot be read back")
        return Device.of(stored)

    @field(description="Acknowledge an alarm in your scope (确认): someone is on it. It stays active until it clears.")
    async def ack_alarm(self, info: Info, id: strawberry.ID) -> Alarm:
        require_role(info.context.principal, OPERATORS, "acknowledge alarms")
        context = info.context
        acknowledged = await context.store.acknowledge_alarm(
            str(id).strip(), actor=context.principal.name, at=dt.datetime.now(dt.timezone.utc), scope=context.scope
        )
        if context.bus is not None:
            context.bus.publish(Event(Topic.ALARMS, acknowledged.id, "acknowledged", acknowledged.place_code))
        return Alarm.of(acknowledged)
