"""Roll-ups of the place tree: what a city dashboard colours its districts and streets by."""

from __future__ import annotations

import strawberry

from graph import model
from schema.places.types import Place, place_type


@strawberry.type(description="The roll-up of a place's subtree, kept by `refresh_stats`.")
class Stats:
    houses: int
    floor_area: float = strawberry.field(description="Total floor area in m² (建筑面积).")
    owners: int = strawberry.field(description="Distinct owners holding a house today.")
    estates: int
    buildings: int

    @classmethod
    def of(cls, row: model.Stats) -> Stats:
        return cls(
            houses=row.houses,
            floor_area=row.floor_area,
            owners=row.owners,
            estates=row.estates,
            buildings=row.buildings,
        )


@strawberry.type(description="One row of `stats`: a place and its roll-up.")
class StatsRow(Stats):
    record: strawberry.Private[model.Place]

    @classmethod
    def of_row(cls, row: model.Stats) -> StatsRow:
        return cls(
            record=row.place,
            houses=row.houses,
            floor_area=row.floor_area,
            owners=row.owners,
            estates=row.estates,
            buildings=row.buildings,
        )

    @strawberry.field
    def place(self) -> Place:
        return place_type(self.record)
