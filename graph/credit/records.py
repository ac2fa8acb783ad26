"""What the hub keeps of firms' credit (物业服务企业信用评价), and the port that keeps and feeds it.

A `CreditScore` is one firm's score for one period (`graph.credit.periods.Period`: a month or a
year, China Standard Time), with every part shown (`CreditPart`: raw figures, exact rate,
weight, points). Scores are computed by `graph.credit.service`, never entered.

History: scores are versioned. Computing a period again never overwrites what was stored: it
adds the next version (1, 2, …) for that firm and period, and every read answers the latest
version unless it asks for versions. A firm's history is its latest score of each period.

Also here: the grouped reads the computation needs that the rest of the port does not answer
(management spans overlapping a period, cases escalated and ratings summed per firm, cases of a
source and category per estate, votes closed in a period). They are unscoped: computing every
firm's score is the hub's work, not a caller's read. Reads of scores are unscoped too; the
service shows a caller only the firms `Store.firms` sees in its scope (graph.credit.service).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from graph.cases import CaseCategory, CaseSource
from graph.model import Management


@dataclass(frozen=True, slots=True)
class CreditPart:
    """One part of a score.

    - `name`: the part's key (graph.credit.weights.PARTS);
    - `figures`: its raw figures, (name, integer) pairs in a fixed order;
    - `rate`: its quality from 0 to 1 exactly, None when the part has no data (no data is not
      a bad rate: its weight goes to the parts that have data, graph.credit.engine);
    - `weight`: the configured weight (points out of the weights' sum);
    - `points_centi`: the points it earned, in hundredths of a point (0 without data).
    """

    name: str
    figures: tuple[tuple[str, int], ...]
    rate: Fraction | None
    weight: int
    points_centi: int

    @property
    def has_data(self) -> bool:
        return self.rate is not None


@dataclass(frozen=True, slots=True)
class CreditScore:
    """A firm's score for a period: `total_centi` 0..10000 (hundredths of a point, the sum of
    its parts' points), `estates` and `houses` it managed in the period, the rule that scored
    parts without data (`no_data`), when it was computed and its `version` (set by the store:
    1 for a period's first computation, one more at each recomputation)."""

    firm_code: str
    period: str
    total_centi: int
    parts: tuple[CreditPart, ...]
    estates: int
    houses: int
    computed_at: dt.datetime
    no_data: str = "redistribute"
    version: int = 0

    def part(self, name: str) -> CreditPart | None:
        return next((part for part in self.parts if part.name == name), None)


@dataclass(frozen=True, slots=True)
class FirmCaseCounts:
    """What `CaseStore.case_tallies` does not count for a firm, over the cases dispatched to it
    reported in a period: those that reached a rung of the escalation ladder, and the ratings'
    count and sum (1–5 each)."""

    firm_code: str
    escalated: int = 0
    rated: int = 0
    rating_sum: int = 0


class CreditStore(Protocol):
    """The credit part of the store port. Every write is atomic: a refused write stores nothing."""

    async def save_scores(self, scores: Sequence[CreditScore]) -> list[CreditScore]:
        """Store each score as the next version of its (firm, period): 1 when none is stored,
        else one more than the latest; return them as stored (version set), in order. All or
        nothing: a firm not in the store, a period that is not YYYY or YYYY-MM, a total outside
        0..10000, a (firm, period) given twice is InvalidInput naming it, nothing stored."""

    async def credit_scores(self, firm_codes: Sequence[str], period: str) -> list[CreditScore | None]:
        """Each firm's latest version for `period`, in key order; None where none is stored."""

    async def period_scores(self, period: str) -> list[CreditScore]:
        """The latest version of every firm scored for `period`, by firm code."""

    async def latest_scores(self, firm_codes: Sequence[str], *, monthly: bool = True) -> list[CreditScore | None]:
        """Each firm's latest version of its latest month (or, with monthly False, year) scored,
        in key order; None where none is stored."""

    async def credit_history(self, firm_codes: Sequence[str], *, versions: bool = False) -> list[list[CreditScore]]:
        """For each firm, its scores by period (months and years as their keys sort), the latest
        version of each (with `versions`, every version, oldest first within a period)."""

    # -- what the computation reads -----------------------------------------------------------

    async def management_spans(self, first_day: dt.date, last_day: dt.date) -> list[Management]:
        """Every management span holding on at least one day of [first_day, last_day] (since <=
        last_day and until, when set, after first_day), ordered as `graph.model.span_order`."""

    async def firm_case_counts(
        self, firm_codes: Sequence[str], since: dt.datetime, until: dt.datetime
    ) -> list[FirmCaseCounts]:
        """For each firm, in key order, over the cases dispatched to it reported in [since,
        until): escalated (escalation set), rated, and the sum of ratings; zeros for a firm
        with none."""

    async def estate_case_counts(
        self,
        estate_codes: Sequence[str],
        since: dt.datetime,
        until: dt.datetime,
        *,
        source: CaseSource | None = None,
        category: CaseCategory | None = None,
    ) -> list[int]:
        """For each estate, in key order, how many cases of `source` and `category` (None: any)
        reported in [since, until) are at the estate or a place under it; 0 for an unknown code."""

    async def votes_closed(self, since: dt.datetime, until: dt.datetime) -> list[str]:
        """The ids of the votes closed (status CLOSED) with `closed_at` in [since, until), sorted."""
