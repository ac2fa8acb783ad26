"""Computing every firm's credit for a period in one pass, and showing a caller the scores it may see.

`compute` reads each input once for all the firms of the period (`graph.credit.inputs`), scores
them (`graph.credit.engine`) and stores the scores as new versions (`CreditStore.save_scores`).
The firms scored are those managing at least one estate on at least one day of the period; an
estate's houses and its 12345 complaints count for every firm that managed it in the period
(a handover within a month counts the month's complaints against both firms).

Who sees a score (`Viewer`): a firm sees its own only; every other role sees the firms
`Store.firms` finds in its scope — those that manage or ever managed an estate in it (a street,
district or city office, an admin, and an owners' committee for the firms of its estate). An
owner's scope holds houses, not estates, so an owner sees none through the API (the published
list for the public is a separate decision of the city).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from graph.cases import CaseTally
from graph.clock import utc_now
from graph.credit.engine import FirmFigures, score
from graph.credit.inputs import CertificateReader, CreditInputs, FacilityReader, StoreInputs
from graph.credit.periods import Period
from graph.credit.records import CreditScore, FirmCaseCounts
from graph.credit.weights import Weights
from graph.scope import Scope
from graph.store import Store


async def gather(inputs: CreditInputs, store: Store, period: Period, now: dt.datetime) -> list[FirmFigures]:
    """Every firm's figures for the period: one read per input, whatever the number of firms."""
    spans = await store.management_spans(period.first_day, period.last_day)
    estates_of: dict[str, set[str]] = {}
    for span in spans:
        estates_of.setdefault(span.firm_code, set()).add(span.estate_code)
    firms = sorted(estates_of)
    if not firms:
        return []
    estates = sorted({code for codes in estates_of.values() for code in codes})
    at = min(now, period.end)
    tallies = await inputs.case_tallies(firms, period, at)
    counts = await inputs.case_counts(firms, period)
    complaints = await inputs.complaints(estates, period)
    houses = await inputs.houses(estates)
    dismissals = await inputs.dismissals(spans, period)
    facility = await inputs.facility_compliance(firms, period)
    certificates = await inputs.certificate_standing(firms, period)
    return [
        FirmFigures(
            firm_code=firm,
            estates=len(estates_of[firm]),
            houses=sum(houses.get(code, 0) for code in estates_of[firm]),
            tally=tallies.get(firm) or CaseTally(key=firm),
            counts=counts.get(firm) or FirmCaseCounts(firm_code=firm),
            complaints=sum(complaints.get(code, 0) for code in estates_of[firm]),
            dismissals=len(dismissals.get(firm, frozenset()) & estates_of[firm]),
            months=period.months,
            facility=facility.get(firm),
            certificates=certificates.get(firm),
        )
        for firm in firms
    ]


async def compute(
    store: Store,
    period: Period,
    weights: Weights | None = None,
    *,
    inputs: CreditInputs | None = None,
    now: dt.datetime | None = None,
) -> list[CreditScore]:
    """Score every firm of the period and store the scores as new versions; return them as stored."""
    weights = weights or Weights()
    now = now or utc_now()
    figures = await gather(inputs or StoreInputs(store), store, period, now)
    scores = [found for found in (score(f, weights, now, period.key) for f in figures) if found is not None]
    return await store.save_scores(scores) if scores else []


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads scores: the scope of the request, and for a firm's token its own code (a firm
    sees its own score only)."""

    scope: Scope
    firm: str | None = None


async def visible(store: Store, codes: Sequence[str], viewer: Viewer) -> list[bool]:
    """Whether the viewer may see each firm's scores."""
    if viewer.firm is not None:
        return [code == viewer.firm for code in codes]
    found = await store.firms(codes, viewer.scope)
    return [record is not None for record in found]


async def scores_for(store: Store, codes: Sequence[str], period: Period, viewer: Viewer) -> list[CreditScore | None]:
    shown = await visible(store, codes, viewer)
    keep = [code for code, ok in zip(codes, shown) if ok]
    found = dict(zip(keep, await store.credit_scores(keep, period.key))) if keep else {}
    return [found.get(code) if ok else None for code, ok in zip(codes, shown)]


async def history_for(store: Store, codes: Sequence[str], viewer: Viewer, *, versions: bool = False) -> list[list[CreditScore]]:
    shown = await visible(store, codes, viewer)
    keep = [code for code, ok in zip(codes, shown) if ok]
    found = dict(zip(keep, await store.credit_history(keep, versions=versions))) if keep else {}
    return [found.get(code, []) if ok else [] for code, ok in zip(codes, shown)]


async def latest_for(store: Store, codes: Sequence[str], viewer: Viewer) -> list[CreditScore | None]:
    """Each firm's latest monthly score, where the viewer may see it."""
    shown = await visible(store, codes, viewer)
    keep = [code for code, ok in zip(codes, shown) if ok]
    found = dict(zip(keep, await store.latest_scores(keep))) if keep else {}
    return [found.get(code) if ok else None for code, ok in zip(codes, shown)]


async def period_for(store: Store, period: Period, viewer: Viewer, within: str | None = None) -> list[CreditScore]:
    """Every score of the period the viewer sees, by firm code; with `within` (a place the
    caller sees), only the firms that manage or ever managed an estate at or under it."""
    scores = await store.period_scores(period.key)
    codes = [found.firm_code for found in scores]
    shown = await visible(store, codes, viewer)
    if within is not None:
        [place] = await store.places([within], viewer.scope)
        if place is None:
            return []
        under = await store.firms(codes, Scope.of(within))
        shown = [ok and record is not None for ok, record in zip(shown, under)]
    return [found for found, ok in zip(scores, shown) if ok]


class Credit:
    """The credit service a hub process holds: its store, its configured weights and the two
    readers plugged in from the facilities and staff modules (None: those parts have no data)."""

    def __init__(
        self,
        store: Store,
        weights: Weights | None = None,
        *,
        facility: FacilityReader | None = None,
        certificates: CertificateReader | None = None,
    ) -> None:
        self.store = store
        self.weights = weights or Weights()
        self.facility = facility
        self.certificates = certificates
        self._done: str | None = None

    def inputs(self) -> StoreInputs:
        return StoreInputs(self.store, facility=self.facility, certificates=self.certificates)

    async def compute(self, period: Period, *, now: dt.datetime | None = None) -> list[CreditScore]:
        return await compute(self.store, period, self.weights, inputs=self.inputs(), now=now)

    async def compute_due(self, today: dt.date | None = None) -> list[CreditScore]:
        """Last month's scores, once: when the month before `today` (China Standard Time) has no
        score stored yet, compute it (what `hub serve`'s sweep calls; a recomputation is asked for
        by hand: `hub credit compute`, or the `computeCredit` mutation)."""
        from graph.clock import today as cst_today

        last = Period.month_of(today or cst_today()).previous()
        if self._done == last.key:
            return []
        if await self.store.period_scores(last.key):
            self._done = last.key
            return []
        stored = await self.compute(last)
        self._done = last.key
        return stored
