"""The place tree in GraphQL: the `Place` interface and one type per level.

Each type wraps the domain record (`graph.model.Place`) and reads relations through the
request's loaders, so a page of places that all ask for their parent, ancestors or owners costs
one store call per relation, not one per place. Owners, firms and stats live in their own
folders and import this module; this module reaches them lazily to keep imports one-way.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from graph import model
from graph.codes import place_code
from graph.errors import InvalidInput
from graph.levels import Level
from graph.model import Usage
from graph.store import MAX_PAGE
from schema import enums as _enums  # noqa: F401  (registers the enums)
from schema.arguments import cursor_argument, page_argument
from schema.context import Info
from schema.fields import field
from schema.relay import Connection, Node, connection, empty_connection
from schema.scalars import GeoJSON

if TYPE_CHECKING:
    from schema.facilities.types import FacilityFigures
    from schema.firms.types import Management, PropertyFirm
    from schema.owners.types import Ownership
    from schema.stats.types import Stats
    from schema.utilities.types import Arrears, UtilityAccount

AsOf = Annotated[
    dt.date | None,
    strawberry.argument(description="The day to ask about; today (Beijing time) if omitted."),
]
First = Annotated[
    int | None, strawberry.argument(description=f"Page size, 1 to {MAX_PAGE}; 50 if omitted.")
]
After = Annotated[
    str | None, strawberry.argument(description="Continue after this cursor (`endCursor`).")
]


CODE_KEY = Key(fields=FieldSet("code"))
"""The Apollo Federation key of every place type (and of devices and firms): its code."""


@strawberry.interface(description="A node of the place tree, from the city (市) to the house (户).")
class Place(Node):
    record: strawberry.Private[model.Place]

    @classmethod
    async def resolve_reference(cls, info: Info, code: str) -> Place | None:
        """The place a federation gateway names (`{"__typename": "Estate", "code": …}`), read
        through the request's loader: null when absent or outside the caller's scope."""
        checked, level = place_code(code, field="representations")
        if PLACE_TYPES[level] is not cls:
            raise InvalidInput("representations", code, f"names a {cls.__name__} but holds a {level.name} code")
        return maybe_place(await info.context.places.by_code.load(checked))

    def node_key(self) -> str:
        return self.record.code

    @field(description="The national code: GB/T 2260, statistical, or 不动产单元号.")
    def code(self) -> str:
        return self.record.code

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def level(self) -> Level:
        return self.record.level

    @field(description="The Chinese name of the level (市, 区(县级市), 街道(镇), …).")
    def level_name(self) -> str:
        return self.record.level.label

    @field(description="The shape (RFC 7946 geometry, WGS-84), if the place has one.")
    def geometry(self) -> GeoJSON | None:
        return None if self.record.geometry is None else GeoJSON(self.record.geometry)

    @field(description="The place just above; null for the city or outside your scope.")
    async def parent(self, info: Info) -> Place | None:
        if self.record.parent_code is None:
            return None
        return maybe_place(await info.context.places.by_code.load(self.record.parent_code))

    @field(description="Every place above this one that you may see, from the top down.")
    async def ancestors(self, info: Info) -> list[Place]:
        line = await info.context.places.ancestors.load(self.record.code)
        return [place_type(place) for place in line]

    @field(description="The places just below, by code.")
    async def children(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Place]:
        size, cursor = page_argument(first), cursor_argument(after)
        below = self.record.level.child
        if below is None:
            return empty_connection()
        page = await info.context.places.children.load((self.record.code, (size, cursor)))
        code = self.record.code

        async def count() -> int:
            return await info.context.places.counts.load((below, code))

        return connection(
            page, key=lambda place: place.code, wrap=place_type, counter=count, after=cursor
        )

    @field(description="The roll-up of everything under this place.")
    async def stats(
        self, info: Info
    ) -> Annotated[Stats, strawberry.lazy("schema.stats.types")] | None:
        from schema.stats.types import Stats

        row = await info.context.stats.of_place.load(self.record.code)
        return None if row is None else Stats.of(row)

    @field(description="The facilities at or under this place (设施设备): due this week, overdue, inspection pass rate, repairs per elevator.")
    async def facilities(
        self, info: Info
    ) -> Annotated[FacilityFigures, strawberry.lazy("schema.facilities.types")] | None:
        from schema.facilities.types import FacilityFigures

        found = await info.context.facilities.figures.load(self.record.code)
        return None if found is None else FacilityFigures(figures=found)


@strawberry.type(description="A city (地级市), GB/T 2260 code such as 370200.", directives=[CODE_KEY])
class City(Place):
    pass


@strawberry.type(description="A district or county-level city (区 / 县级市), GB/T 2260 code.", directives=[CODE_KEY])
class District(Place):
    pass


@strawberry.type(description="A street (街道) or town (镇), 9-digit statistical code.", directives=[CODE_KEY])
class Street(Place):
    pass


@strawberry.type(description="A community (社区居委会) or village, 12-digit statistical code.", directives=[CODE_KEY])
class Community(Place):
    pass


@strawberry.type(description="An estate (小区): the unit a property firm manages.", directives=[CODE_KEY])
class Estate(Place):
    @field(description="The land parcels (宗地代码, GB/T 37346-2019) it stands on.")
    def parcel_codes(self) -> list[str]:
        return list(self.record.parcel_codes)

    @field(description="The firms managing it on the day (today if omitted).")
    async def managers(
        self, info: Info, as_of: AsOf = None
    ) -> list[Annotated[Management, strawberry.lazy("schema.firms.types")]]:
        return await _managements(info, self.record.code, as_of or info.context.today)

    @field(description="Every firm that ever managed it, with since and until.")
    async def management_history(
        self, info: Info
    ) -> list[Annotated[Management, strawberry.lazy("schema.firms.types")]]:
        return await _managements(info, self.record.code, None)

    @field(description="The firm managing it today; the latest if several.")
    async def current_firm(
        self, info: Info
    ) -> Annotated[PropertyFirm, strawberry.lazy("schema.firms.types")] | None:
        from schema.firms.types import PropertyFirm

        records = await info.context.firms.of_estate.load((self.record.code, info.context.today))
        if not records:
            return None
        latest = max(records, key=lambda management: management.since)
        firm = await info.context.firms.by_code.load(latest.firm_code)
        return None if firm is None else PropertyFirm.of(firm)


async def _managements(info: Info, estate: str, as_of: dt.date | None) -> list[Management]:
    from schema.firms.types import Management

    records = await info.context.firms.of_estate.load((estate, as_of))
    return [Management.of(record) for record in records]


@strawberry.type(description="A building (自然幢): 宗地代码 + F + 4-digit building number.", directives=[CODE_KEY])
class Building(Place):
    @field(description="Floors above ground.")
    def floors(self) -> int | None:
        return self.record.floors

    @field(description="Its entrances (单元), by code.")
    async def entrances(self, info: Info) -> list[Entrance]:
        page = await info.context.places.children.load((self.record.code, (MAX_PAGE, None)))
        return [Entrance(record=place) for place in page.items if place.level == Level.ENTRANCE]


@strawberry.type(description="An entrance (单元) of a building; elevators hang here.", directives=[CODE_KEY])
class Entrance(Place):
    pass


@strawberry.type(description="A house (户 / 房屋), coded by its 28-character 不动产单元号.", directives=[CODE_KEY])
class House(Place):
    @field(
        description="Floor area in m² (建筑面积), for display: the stored whole hundredths of a m² over 100, "
        "so it reads exactly (80.25); `areaCentiM2` is the exact integer."
    )
    def area(self) -> float | None:
        centi = self.record.area_centi_m2
        return None if centi is None else centi / 100

    @field(description="Floor area (建筑面积) in whole hundredths of a m², exact: 8025 is 80.25 m².")
    def area_centi_m2(self) -> int | None:
        return self.record.area_centi_m2

    @strawberry.field
    def floor(self) -> int | None:
        return self.record.floor

    @strawberry.field
    def usage(self) -> Usage | None:
        return self.record.usage

    async def _above(self, info: Info, level: Level) -> model.Place | None:
        line = await info.context.places.ancestors.load(self.record.code)
        return next((place for place in line if place.level == level), None)

    @strawberry.field
    async def entrance(self, info: Info) -> Entrance | None:
        found = await self._above(info, Level.ENTRANCE)
        return None if found is None else Entrance(record=found)

    @strawberry.field
    async def building(self, info: Info) -> Building | None:
        found = await self._above(info, Level.BUILDING)
        return None if found is None else Building(record=found)

    @strawberry.field
    async def estate(self, info: Info) -> Estate | None:
        found = await self._above(info, Level.ESTATE)
        return None if found is None else Estate(record=found)

    @strawberry.field
    async def community(self, info: Info) -> Community | None:
        found = await self._above(info, Level.COMMUNITY)
        return None if found is None else Community(record=found)

    @strawberry.field
    async def street(self, info: Info) -> Street | None:
        found = await self._above(info, Level.STREET)
        return None if found is None else Street(record=found)

    @strawberry.field
    async def district(self, info: Info) -> District | None:
        found = await self._above(info, Level.DISTRICT)
        return None if found is None else District(record=found)

    @field(description="Who holds it on the day (today if omitted), with shares.")
    async def owners(
        self, info: Info, as_of: AsOf = None
    ) -> list[Annotated[Ownership, strawberry.lazy("schema.owners.types")]]:
        return await _ownerships(info, self.record.code, as_of or info.context.today)

    @field(description="Every ownership ever registered, past and present.")
    async def ownership_history(
        self, info: Info
    ) -> list[Annotated[Ownership, strawberry.lazy("schema.owners.types")]]:
        return await _ownerships(info, self.record.code, None)

    @field(description="Its utility accounts (户号): water, power, gas, heating.")
    async def utility_accounts(
        self, info: Info
    ) -> list[Annotated[UtilityAccount, strawberry.lazy("schema.utilities.types")]]:
        from schema.utilities.types import UtilityAccount

        records = await info.context.utilities.accounts.load(self.record.code)
        return [UtilityAccount.of(record) for record in records]

    @field(description="Its accounts in arrears (欠费) on the day (today if omitted).")
    async def arrears(
        self, info: Info, as_of: AsOf = None
    ) -> list[Annotated[Arrears, strawberry.lazy("schema.utilities.types")]]:
        from schema.utilities.types import Arrears

        day = as_of or info.context.today
        records = await info.context.utilities.arrears.load((self.record.code, day))
        return [Arrears.of(record) for record in records]


async def _ownerships(info: Info, house: str, as_of: dt.date | None) -> list[Ownership]:
    from schema.owners.types import Ownership

    records = await info.context.owners.of_house.load((house, as_of))
    return [Ownership.of(record) for record in records]


PLACE_TYPES: dict[Level, type[Place]] = {
    Level.CITY: City,
    Level.DISTRICT: District,
    Level.STREET: Street,
    Level.COMMUNITY: Community,
    Level.ESTATE: Estate,
    Level.BUILDING: Building,
    Level.ENTRANCE: Entrance,
    Level.HOUSE: House,
}
"""The GraphQL type of each level; `node(id:)` reads type names from it too."""


def place_type(record: model.Place) -> Place:
    """The record as the GraphQL type of its level."""
    return PLACE_TYPES[record.level](record=record)


def maybe_place(record: model.Place | None) -> Place | None:
    return None if record is None else place_type(record)
