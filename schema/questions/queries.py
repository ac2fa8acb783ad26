"""`impact(code)` and `path(from, to)`: graph questions from the root, scoped like every read.

A firm's footprint is a field of the firm (`PropertyFirm.footprint`), read the same way.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph import questions
from schema.arguments import cursor_argument, page_argument
from schema.context import Info
from schema.fields import field
from schema.places.types import After, First
from schema.questions.types import Code, Impact, PlacePath

End = Annotated[str, strawberry.argument(name="to", description="The place code it ends at.")]
Start = Annotated[str, strawberry.argument(name="from", description="The place code it starts from.")]


@strawberry.type
class QuestionQueries:
    @field(
        description="What a place, a device or an outage notice touches in your scope: the houses "
        "under it (in pages of `first`, 50 if omitted), their owners today and the open cases at "
        "or under it; null when you see no such thing."
    )
    async def impact(self, info: Info, code: Code, first: First = None, after: After = None) -> Impact | None:
        size, cursor = page_argument(first), cursor_argument(after)
        context = info.context
        found = await questions.impact(context.store, code, context.scope, size, cursor, as_of=context.today)
        if found is None:
            return None
        context.places.seen(found.reached.houses.items)
        return Impact(found=found, after=cursor)

    @field(
        description="The way between two places through the tree: up to the lowest place above both, "
        "then down; null when you see either end nowhere."
    )
    async def path(self, info: Info, source: Start, target: End) -> PlacePath | None:
        context = info.context
        found = await questions.path(context.store, source, target, context.scope)
        if found is None:
            return None
        context.places.seen([*found.places, found.source, found.target])
        return PlacePath(found=found)
