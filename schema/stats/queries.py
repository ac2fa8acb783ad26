"""Dashboard queries: `stats` (rows per place) and `geo` (the same numbers on shapes)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.levels import Level
from schema.arguments import level_under, place_argument
from schema.context import Info
from schema.fields import field
from schema.scalars import GeoJSON
from schema.stats.geo import feature_collection
from schema.stats.types import StatsRow

ScopeCode = Annotated[
    str, strawberry.argument(description="The place whose subtree is summed (a place code).")
]


@strawberry.type
class StatsQueries:
    @field(description="One roll-up row per place of `groupBy` under `scope`, by code.")
    async def stats(self, info: Info, scope: ScopeCode, group_by: Level) -> list[StatsRow]:
        code, level = place_argument(scope, field="scope")
        level_under(group_by, level, field="groupBy", top_field="scope")
        rows = await info.context.store.stats(code, group_by, info.context.scope)
        info.context.places.seen([row.place for row in rows])
        return [StatsRow.of_row(row) for row in rows]

    @field(
        description="A GeoJSON FeatureCollection of the shapes of `level` under `scope`; each "
        "Feature's id is the place code and its properties carry the roll-up."
    )
    async def geo(self, info: Info, scope: ScopeCode, level: Level) -> GeoJSON:
        code, top = place_argument(scope, field="scope")
        level_under(level, top, field="level", top_field="scope")
        context = info.context
        shapes = await context.store.shapes(level, code, context.scope)
        rows = await context.store.stats(code, level, context.scope) if shapes else []
        return GeoJSON(feature_collection(shapes, rows))
