"""Case metrics in GraphQL (响应率, 解决率, 满意率, overdue, median time to resolve): the figures
of `graph.cases.CaseMetrics`, on `caseMetrics` rows, on `stats` rows and on property firms.

Rates are null when nothing is counted under them (no response due, no case, no rating), so a
dashboard can tell "no data" from 0 %.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graph import cases as domain
from graph.errors import InvalidInput
from schema.context import Info
from schema.fields import field
from schema.places.types import Place, maybe_place

Since = Annotated[
    dt.datetime | None, strawberry.argument(description="Only cases reported at or after this time.")
]
Until = Annotated[dt.datetime | None, strawberry.argument(description="Only cases reported before this time.")]


def period(since: dt.datetime | None, until: dt.datetime | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The period arguments as aware times, checked to run forwards."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.timezone.utc)
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=dt.timezone.utc)
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until", until.isoformat(), f"must be after since ({since.isoformat()})")
    return since, until


@strawberry.type(
    description="Case figures over the cases reported in a period: at a place's subtree, or dispatched to a firm."
)
class CaseMetrics:
    record: strawberry.Private[domain.CaseMetrics]

    @classmethod
    def of(cls, record: domain.CaseMetrics) -> CaseMetrics:
        return cls(record=record)

    @field(description="Cases reported in the period.")
    def cases(self) -> int:
        return self.record.cases

    @field(description="Dispatched cases whose response is due: signed for, or past their 签收时限.")
    def due(self) -> int:
        return self.record.due

    @field(description="Of those, signed for at or before their 签收时限.")
    def signed_in_time(self) -> int:
        return self.record.signed_in_time

    @field(description="Cases whose work is done (办结, 回访 or 归档).")
    def resolved(self) -> int:
        return self.record.resolved

    @field(description="Cases with a rating at follow-up.")
    def rated(self) -> int:
        return self.record.rated

    @field(description="Cases rated 4 or 5.")
    def satisfied(self) -> int:
        return self.record.satisfied

    @field(description="Cases overdue now: unsigned past 签收时限, or open past 办结时限.")
    def overdue(self) -> int:
        return self.record.overdue

    @field(description="响应率: signedInTime / due; null when no response is due.")
    def response_rate(self) -> float | None:
        return self.record.response_rate

    @field(description="解决率: resolved / cases; null without cases.")
    def resolution_rate(self) -> float | None:
        return self.record.resolution_rate

    @field(description="满意率: satisfied / rated; null without ratings.")
    def satisfaction_rate(self) -> float | None:
        return self.record.satisfaction_rate

    @field(description="The median time from report to 办结, in seconds, over resolved cases; null if none.")
    def median_resolve_seconds(self) -> float | None:
        return self.record.median_resolve_seconds

    @field(description="Cases with an on-site deadline (到场时限: emergencies, 20 minutes from dispatch) that are arrived or past it.")
    def on_site_due(self) -> int:
        return self.record.on_site_due

    @field(description="Of those, arrived on site at or before the deadline.")
    def on_site_in_time(self) -> int:
        return self.record.on_site_in_time

    @field(description="到场及时率 (the 96139-style 20-minute target): onSiteInTime / onSiteDue; null when none is due.")
    def on_site_rate(self) -> float | None:
        rate = self.record.on_site_rate
        return None if rate is None else float(rate)


@strawberry.type(description="One row of `caseMetrics`: a place and the figures of its subtree.")
class CaseMetricsRow(CaseMetrics):
    @classmethod
    def of_row(cls, record: domain.CaseMetrics) -> CaseMetricsRow:
        return cls(record=record)

    @field(description="The place the row sums up.")
    async def place(self, info: Info) -> Place | None:
        return maybe_place(await info.context.places.by_code.load(self.record.key))
