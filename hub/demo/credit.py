"""The demo city's firms' credit (物业服务企业信用评价): a year of monthly scores for every firm,
computed by the hub's credit service (`hub.credit.credit_service`, the one `hub serve` computes
each month's with when it ends) from what the demo holds: its cases and 12345 complaints from the
synced feed, its owners' votes, its managements, its facilities' maintenance and inspection
history and its staff's certificates, with the default weights.

A city built before keeps the scores it has: a month already scored is not computed again
(recomputing is `hub credit compute --period YYYY-MM`, a new version).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from graph.clock import today as cst_today
from graph.credit.periods import Period
from graph.store import Store
from hub.credit import credit_service

MONTHS = 12


@dataclass(frozen=True, slots=True)
class DemoCredit:
    months: tuple[str, ...]
    """The months computed now (oldest first); those scored before are left out."""
    firms: int
    """Firms scored in the latest month."""
    best: tuple[str, int] | None
    worst: tuple[str, int] | None
    """The latest month's highest and lowest score: (firm, hundredths)."""


async def build_demo_credit(store: Store, *, today: dt.date | None = None, months: int = MONTHS) -> DemoCredit:
    """Score every firm for each of the `months` months before `today` (China Standard Time)."""
    credit = credit_service(store)
    period = Period.month_of(today or cst_today())
    periods: list[Period] = []
    for _ in range(months):
        period = period.previous()
        periods.append(period)
    computed: list[str] = []
    for each in reversed(periods):
        if await store.period_scores(each.key):
            continue
        # scored as at the end of the month, as the monthly sweep would have scored it then
        await credit.compute(each, now=each.end)
        computed.append(each.key)
    latest = await store.period_scores(periods[0].key)
    ranked = sorted(latest, key=lambda score: (score.total_centi, score.firm_code))
    return DemoCredit(
        months=tuple(computed),
        firms=len(latest),
        best=(ranked[-1].firm_code, ranked[-1].total_centi) if ranked else None,
        worst=(ranked[0].firm_code, ranked[0].total_centi) if ranked else None,
    )


def demo_credit_line(made: DemoCredit) -> str:
    def points(found: tuple[str, int] | None) -> str:
        return "—" if found is None else f"{found[0]} {found[1] // 100}.{found[1] % 100:02d}"

    done = f"{len(made.months)} months computed ({made.months[0]} to {made.months[-1]})" if made.months else "the year's scores kept as they were"
    return f"firms' credit: {done}; {made.firms} firms scored last month, best {points(made.best)}, lowest {points(made.worst)} (hub credit show FIRM)"
