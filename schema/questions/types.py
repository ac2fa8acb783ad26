"""The answers of the graph questions (graph.questions) as GraphQL types.

Houses, owners, cases and places are shown through the request's loaders and the types of their
own folders, so an owner reached by an impact is masked by the caller's role and audited when
shown whole, exactly as when it is read from its house.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph import model, questions
from graph.cursors import encode_cursor
from graph.levels import Level
from schema.cases.types import Case
from schema.context import Info
from schema.fields import field
from schema.owners.types import Owner
from schema.places.types import District, Estate, House, Place, place_type
from schema.relay import Connection, Edge, PageInfo

strawberry.enum(questions.Struck, name="ImpactKind", description="What an impact starts from: a place, a device or an outage notice.")


@strawberry.type(description="A house an impact reaches, with the owners holding it today.")
class ImpactedHouse:
    record: strawberry.Private[model.Place]
    holder_ids: strawberry.Private[tuple[str, ...]]

    @strawberry.field
    def house(self) -> House:
        return House(record=self.record)

    @field(description="Its owners today, by id; names, ID numbers and phones masked unless your role may see them.")
    async def owners(self, info: Info) -> list[Owner]:
        found = await info.context.owners.by_id.load_many(list(self.holder_ids))
        return [Owner.of(record) for record in found if record is not None]


@strawberry.type(
    description="What a place, a device or an outage touches in your scope: the houses under it, "
    "their owners today and the open cases at or under it."
)
class Impact:
    found: strawberry.Private[questions.Impact]
    after: strawberry.Private[str | None]

    @field(description="What the code named.")
    def kind(self) -> questions.Struck:
        return self.found.kind

    @field(description="The code asked about, as the hub spells it (`water:SW-TZ-1` for a notice).")
    def code(self) -> str:
        return self.found.code

    @field(description="Where it strikes: the place itself, the device's place, or the notice's places you may see.")
    async def places(self, info: Info) -> list[Place]:
        found = await info.context.places.by_code.load_many(list(self.found.reached.places))
        return [place_type(place) for place in found if place is not None]

    @field(description="How many houses lie under those places.")
    def house_count(self) -> int:
        return self.found.reached.house_count

    @field(description="How many owners (each once) hold one of those houses today.")
    def owner_count(self) -> int:
        return self.found.reached.owner_count

    @field(description="How many open cases (not yet resolved) lie at or under those places.")
    def open_case_count(self) -> int:
        return self.found.reached.open_case_count

    @field(description="A page of the houses under those places, by code, each with its owners today.")
    def houses(self) -> Connection[ImpactedHouse]:
        reached = self.found.reached
        edges = [
            Edge(cursor=encode_cursor(place.code), node=ImpactedHouse(record=place, holder_ids=reached.holders.get(place.code, ())))
            for place in reached.houses.items
        ]
        info_ = PageInfo(
            has_next_page=reached.houses.has_next,
            has_previous_page=self.after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )

        async def count() -> int:
            return reached.house_count

        return Connection(edges=edges, page_info=info_, counter=count)

    @field(
        description="The newest open cases at or under those places (newest report first), as many as "
        "`first` asked; `openCaseCount` says how many there are in all."
    )
    async def open_cases(self, info: Info) -> list[Case]:
        found = await info.context.devices.cases.load_many(list(self.found.reached.open_cases))
        return [Case.of(record) for record in found if record is not None]


@strawberry.type(description="The way between two places through the tree, over the places you may see.")
class PlacePath:
    found: strawberry.Private[questions.PlacePath]

    @field(description="The place it starts from.")
    def source(self) -> Place:
        return place_type(self.found.source)

    @field(description="The place it ends at.")
    def target(self) -> Place:
        return place_type(self.found.target)

    @field(description="The lowest place above (or at) both ends; null when you may not see it.")
    def common(self) -> Place | None:
        common = self.found.common
        return None if common is None else place_type(common)

    @field(
        description="From the start up to `common`, then down to the end, each place once; places "
        "you may not see are left out."
    )
    def places(self) -> list[Place]:
        return [place_type(place) for place in self.found.places]

    @field(description="Steps up from the start to `common`; null without it.")
    def up(self) -> int | None:
        return self.found.up

    @field(description="Steps down from `common` to the end; null without it.")
    def down(self) -> int | None:
        return self.found.down


@strawberry.type(description="A property firm's work in one district on a day, over the estates you may see.")
class DistrictFootprint:
    row: strawberry.Private[questions.DistrictFootprint]

    @field(description="The district; null when you may not see it (the estates are shown all the same).")
    def district(self) -> District | None:
        found = self.row.district
        return None if found is None or found.level != Level.DISTRICT else District(record=found)

    @field(description="The estates it manages there on the day, by code.")
    async def estates(self, info: Info) -> list[Estate]:
        found = await info.context.places.by_code.load_many(list(self.row.estates))
        return [Estate(record=place) for place in found if place is not None]

    @field(description="How many estates it manages there.")
    def estate_count(self) -> int:
        return len(self.row.estates)

    @field(description="Houses in those estates.")
    def houses(self) -> int:
        return self.row.houses

    @field(description="Their floor area in m², from the estates' roll-ups, for display (exact hundredths over 100).")
    def floor_area(self) -> float:
        return self.row.floor_area_centi_m2 / 100

    @field(description="Their floor area in m² as exact decimal text with two decimals, summed in integers.")
    def floor_area_text(self) -> str:
        return model.m2_text(self.row.floor_area_centi_m2)

    @field(description="Owners (each once) holding a house there on the day.")
    def owners(self) -> int:
        return self.row.owners

    @field(description="Open cases at or under those estates.")
    def open_cases(self) -> int:
        return self.row.open_cases


Code = Annotated[
    str,
    strawberry.argument(
        description="A place code (any level), a device code, or an outage notice as utility:notice (water:SW-TZ-1)."
    ),
]

__all__ = ["Code", "DistrictFootprint", "Impact", "ImpactedHouse", "PlacePath"]
