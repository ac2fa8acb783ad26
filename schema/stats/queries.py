"""Dashboard queries: `stats` (rows per place) and `geo` (the same numbers on shapes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import strawberry

from graph.credit.records import CreditScore
from graph.errors import InvalidInput
from graph.model import Place
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


MAX_ROWS = 5000
"""The most rows `stats` or features `geo` returns: a street's buildings fit, a city's houses
do not (that is an export, not a dashboard query)."""


async def bounded_rows(info: Info, level: Level, within: str, *, field: str) -> None:
    """Refuse, before reading them, more rows than a dashboard answer may carry."""
    rows = await info.context.store.count(level, within, info.context.scope)
    if rows > MAX_ROWS:
        raise InvalidInput(
            field,
            level.name,
            f"would give {rows:,} rows under {within} (at most {MAX_ROWS:,}); "
            "choose a higher level or a smaller scope",
        )


@strawberry.type
class StatsQueries:
    @field(description="One roll-up row per place of `groupBy` under `scope`, by code.")
    async def stats(self, info: Info, scope: ScopeCode, group_by: Level) -> list[StatsRow]:
        code, level = place_argument(scope, field="scope")
        level_under(group_by, level, field="groupBy", top_field="scope")
        await bounded_rows(info, group_by, code, field="groupBy")
        rows = await info.context.store.stats(code, group_by, info.context.scope)
        info.context.places.seen([row.place for row in rows])
        return [StatsRow.of_row(row) for row in rows]

    @field(
        description="A GeoJSON FeatureCollection of the shapes of `level` under `scope`; each "
        "Feature's id is the place code and its properties carry the roll-up and, read live, "
        "`housesInArrears`, `openCases`, `overdueCases`, `activeAlarms`, `satisfactionRate`, "
        "`fundBalance` (维修资金余额, integer fen) and `fundLowAccounts` (accounts under 30% of their "
        "first deposit; both null where no house has an account), and for estates `firmCredit` (the managing "
        "firm's latest monthly credit score in hundredths of a point, with `firmCreditPeriod` and `firmCode`) "
        "(null for a place outside your scope)."
    )
    async def geo(self, info: Info, scope: ScopeCode, level: Level) -> GeoJSON:
        code, top = place_argument(scope, field="scope")
        level_under(level, top, field="level", top_field="scope")
        context = info.context
        await bounded_rows(info, level, code, field="level")
        shapes = await context.store.shapes(level, code, context.scope)
        rows = await context.store.stats(code, level, context.scope) if shapes else []
        counts = await context.utilities.arrears_counts.load_many([(shape.code, context.today) for shape in shapes])
        arrears = {shape.code: count for shape, count in zip(shapes, counts)}
        # every case ever reported (no period): what is open or overdue now, and 满意率 overall
        figures = await context.stats.case_metrics.load_many([(shape.code, (None, None)) for shape in shapes])
        summaries = await context.devices.summaries.load_many([shape.code for shape in shapes])
        # the balances are now; the year (today's, CST) only picks yearly rows no property uses
        totals = await context.stats.funds.load_many([(shape.code, context.today.year) for shape in shapes])
        cases = {shape.code: found for shape, found in zip(shapes, figures)}
        devices = {shape.code: found for shape, found in zip(shapes, summaries)}
        funds = {shape.code: found for shape, found in zip(shapes, totals)}
        credit = await estate_credit(info, shapes) if level is Level.ESTATE else {}
        return GeoJSON(feature_collection(shapes, rows, arrears, cases, devices, funds, credit))


async def estate_credit(info: Info, shapes: Sequence[Place]) -> dict[str, CreditScore | None]:
    """Each estate's managing firm today and that firm's latest monthly credit score (two
    batched reads whatever the number of estates); an estate managed by two firms on one day
    (a handover) shows the first by code."""
    context = info.context
    managed = await context.firms.of_estate.load_many([(shape.code, context.today) for shape in shapes])
    firm_of = {shape.code: min((m.firm_code for m in spans), default=None) for shape, spans in zip(shapes, managed)}
    firms = sorted({code for code in firm_of.values() if code is not None})
    scores = dict(zip(firms, await context.credit_scores.latest.load_many(firms)))
    return {code: (scores.get(firm) if firm is not None else None) for code, firm in firm_of.items()}
