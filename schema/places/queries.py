"""Entry points into the place tree: by code, by level under a place, and by search."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.codes import HouseCode
from graph.levels import Level
from schema.arguments import (
    cursor_argument,
    level_under,
    optional_place,
    page_argument,
    place_argument,
    search_text,
)
from schema.context import Info
from schema.fields import field
from schema.places.types import After, First, House, Place, maybe_place, place_type
from schema.relay import Connection, connection

Within = Annotated[
    str | None,
    strawberry.argument(description="Only places under this place code (anywhere if omitted)."),
]


@strawberry.type(description="A level of the tree with its Chinese name.")
class LevelInfo:
    level: Level
    level_name: str


@strawberry.type
class PlaceQueries:
    @field(description="The place with this code, of any level; null if none is seen.")
    async def place(self, info: Info, code: str) -> Place | None:
        checked, _ = place_argument(code, field="code")
        return maybe_place(await info.context.places.by_code.load(checked))

    @field(description="The house with this 不动产单元号; null if none is seen.")
    async def house(self, info: Info, code: str) -> House | None:
        checked = HouseCode.parse(code, field="code")
        record = await info.context.places.by_code.load(str(checked))
        return None if record is None or record.level != Level.HOUSE else House(record=record)

    @field(description="The places of `level` under `within`, by code, in pages.")
    async def places(
        self,
        info: Info,
        level: Level,
        within: Within = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Place]:
        under = optional_place(within, field="within")
        if under is not None:
            level_under(level, under[1], field="level", top_field="within")
        root = None if under is None else under[0]
        size, cursor = page_argument(first), cursor_argument(after)
        context = info.context
        page = await context.store.subtree(level, root, context.scope, size, cursor)
        context.places.seen(page.items)

        async def count() -> int:
            return await context.places.counts.load((level, root))

        return connection(
            page, key=lambda place: place.code, wrap=place_type, counter=count, after=cursor
        )

    @field(
        description="Places and houses whose code starts with `text` or whose name contains it."
    )
    async def search(
        self,
        info: Info,
        text: Annotated[str, strawberry.argument(description="1 to 64 characters.")],
        within: Within = None,
        first: Annotated[
            int | None, strawberry.argument(description="How many hits, 1 to 500; 20 if omitted.")
        ] = None,
    ) -> list[Place]:
        wanted = search_text(text)
        under = optional_place(within, field="within")
        size = page_argument(first, default=20)
        context = info.context
        hits = await context.store.search(
            wanted, None if under is None else under[0], context.scope, size
        )
        context.places.seen(hits)
        return [place_type(place) for place in hits]

    @field(description="The levels of the tree, from the city down.")
    def levels(self) -> list[LevelInfo]:
        return [LevelInfo(level=level, level_name=level.label) for level in Level]
