"""Firms' credit in the graph (`graph.credit.records.CreditStore`; each member's contract is in its
docstring there).

The model: `(:CreditScore {key, firm, period, version, total_centi, estates, houses, parts,
no_data, computed_at})`, one node per firm, period and version, `key` = firm|period|version
(unique), `parts` the same JSON text as SQL's (graph.credit.texts), `computed_at` integer
microseconds. Scores hang from no edge: they name their firm by code, and a firm is never deleted.

Saving reads the latest versions of the pairs given, then creates the next ones in one
statement that creates nothing when any of their keys is already taken (another saver got there
first: StoreError, compute again). Reads pick the latest version of each (firm, period) among
the few versions a period has.

The computation's reads are one statement each: spans whose MANAGES edge holds on a day of the
period (days are ISO text, compared as text), escalations and ratings per firm (ratings added
with `reduce` over the collected integers: FalkorDB's sum is a double), cases per estate (one
pass over the period's cases, grouped by the fifth code of their place's `line`, the estate's),
votes closed in the period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from graph.cases import CaseCategory, CaseSource
from graph.credit.records import CreditScore, FirmCaseCounts
from graph.credit.texts import as_dict, check_scores, parts_of
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.model import management_of
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.cypher.writes import STORED_FIRMS
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.model import Management, span_order

for _label, _prop, _unique in (
    ("CreditScore", "key", True),
    ("CreditScore", "firm", False),
    ("CreditScore", "period", False),
):
    index(_label, _prop, unique=_unique)

_ESTATE_AT = int(Level.ESTATE) - 1
"""An estate's code in the `line` of a place at or under it (the line runs from the city down)."""

VERSIONS = st.read(
    "credit.versions",
    "UNWIND $codes AS k MATCH (s:CreditScore {firm: k}) WITH s WHERE s.period IN $periods RETURN s.firm, s.period, max(s.version) AS top",
)
SAVE = st.write(
    "credit.save",
    "UNWIND $rows AS r OPTIONAL MATCH (x:CreditScore {key: r.key}) WITH collect(r) AS given, count(x) AS taken "
    "FOREACH (r IN CASE WHEN taken = 0 THEN given ELSE [] END | CREATE (s:CreditScore) SET s = r) "
    "RETURN taken",
)
BY_FIRM = st.read("credit.by_firm", "UNWIND $codes AS k MATCH (s:CreditScore {firm: k}) RETURN properties(s) AS score")
BY_PERIOD = st.read("credit.by_period", "MATCH (s:CreditScore {period: $period}) RETURN properties(s) AS score")
SPANS = st.read(
    "credit.spans",
    "MATCH (f:Firm)-[m:MANAGES]->(e:Place) WHERE m.since <= $last AND (m.until IS NULL OR m.until > $first) "
    "RETURN f.code AS firm, e.code AS estate, properties(m) AS span",
)
FIRM_COUNTS = st.read(
    "credit.firm_counts",
    "UNWIND $codes AS k MATCH (cs:Case {firm: k}) WITH k, cs WHERE cs.reported_at >= $since AND cs.reported_at < $until "
    "RETURN k AS firm, sum(CASE WHEN cs.escalation IS NOT NULL THEN 1 ELSE 0 END) AS escalated, "
    "count(cs.rating) AS rated, collect(cs.rating) AS ratings",
)
ESTATE_COUNTS = st.read(
    "credit.estate_counts",
    "MATCH (cs:Case) WHERE cs.reported_at >= $since AND cs.reported_at < $until "
    "AND ($source IS NULL OR cs.source_kind = $source) AND ($category IS NULL OR cs.category = $category) "
    "WITH cs MATCH (cs)-[:AT]->(p:Place) WITH p WHERE size(p.line) > $at "
    "WITH p.line[$at] AS estate, count(p) AS cases RETURN estate, cases",
)
CLOSED = st.read(
    "credit.votes_closed",
    "MATCH (v:Vote) WHERE v.status = 'closed' AND v.closed_at >= $since AND v.closed_at < $until RETURN v.id AS id",
)


def _score(props: dict[str, Any]) -> CreditScore:
    computed = values.from_micros(props["computed_at"])
    assert computed is not None
    return CreditScore(
        firm_code=props["firm"],
        period=props["period"],
        total_centi=int(props["total_centi"]),
        parts=parts_of(props["parts"]),
        estates=int(props["estates"]),
        houses=int(props["houses"]),
        computed_at=computed,
        no_data=props["no_data"],
        version=int(props["version"]),
    )


def _latest(found: Sequence[CreditScore]) -> dict[tuple[str, str], CreditScore]:
    kept: dict[tuple[str, str], CreditScore] = {}
    for score in found:
        key = (score.firm_code, score.period)
        if key not in kept or kept[key].version < score.version:
            kept[key] = score
    return kept


class CreditRecords:
    """The credit part of the store port on Cypher (a base of CypherStore)."""

    transport: Transport

    async def save_scores(self, scores: Sequence[CreditScore]) -> list[CreditScore]:
        check_scores(scores)
        if not scores:
            return []
        codes = sorted({found.firm_code for found in scores})
        known = {props["code"] for (props,) in await self.transport.run(STORED_FIRMS, {"codes": codes})}
        for found in scores:
            if found.firm_code not in known:
                raise InvalidInput(f"score of {found.firm_code} for {found.period} firm", found.firm_code, "is not a firm in the store")
        periods = sorted({found.period for found in scores})
        latest = {
            (firm, period): int(top)
            for firm, period, top in await self.transport.run(VERSIONS, {"codes": codes, "periods": periods})
        }
        stored, rows = [], []
        for found in scores:
            version = latest.get((found.firm_code, found.period), 0) + 1
            kept = CreditScore(**{**{n: getattr(found, n) for n in CreditScore.__dataclass_fields__}, "version": version})
            stored.append(kept)
            rows.append(
                {
                    **as_dict(kept),
                    "key": f"{kept.firm_code}|{kept.period}|{version}",
                    "firm": kept.firm_code,
                    "computed_at": values.micros(kept.computed_at),
                }
            )
        [(taken,)] = await self.transport.run(SAVE, {"rows": rows})
        if taken:
            raise StoreError("credit scores: another computation of the same period stored first; compute again")
        return stored

    async def _by_firm(self, firm_codes: Sequence[str]) -> list[CreditScore]:
        rows = await self.transport.run(BY_FIRM, {"codes": list(dict.fromkeys(firm_codes))})
        return [_score(props) for (props,) in rows]

    async def credit_scores(self, firm_codes: Sequence[str], period: str) -> list[CreditScore | None]:
        found = _latest([s for s in await self._by_firm(firm_codes) if s.period == period])
        return [found.get((code, period)) for code in firm_codes]

    async def period_scores(self, period: str) -> list[CreditScore]:
        found = _latest([_score(props) for (props,) in await self.transport.run(BY_PERIOD, {"period": period})])
        return sorted(found.values(), key=lambda s: s.firm_code)

    async def latest_scores(self, firm_codes: Sequence[str], *, monthly: bool = True) -> list[CreditScore | None]:
        length = 7 if monthly else 4
        found: dict[str, CreditScore] = {}
        for score in _latest([s for s in await self._by_firm(firm_codes) if len(s.period) == length]).values():
            if score.firm_code not in found or found[score.firm_code].period < score.period:
                found[score.firm_code] = score
        return [found.get(code) for code in firm_codes]

    async def credit_history(self, firm_codes: Sequence[str], *, versions: bool = False) -> list[list[CreditScore]]:
        found = await self._by_firm(firm_codes)
        kept = found if versions else list(_latest(found).values())
        grouped: dict[str, list[CreditScore]] = {}
        for score in kept:
            grouped.setdefault(score.firm_code, []).append(score)
        return [sorted(grouped.get(code, []), key=lambda s: (s.period, s.version)) for code in firm_codes]

    # -- what the computation reads -----------------------------------------------------------

    async def management_spans(self, first_day: dt.date, last_day: dt.date) -> list[Management]:
        rows = await self.transport.run(SPANS, {"first": values.day(first_day), "last": values.day(last_day)})
        return sorted((management_of(firm, estate, span) for firm, estate, span in rows), key=span_order)

    async def firm_case_counts(
        self, firm_codes: Sequence[str], since: dt.datetime, until: dt.datetime
    ) -> list[FirmCaseCounts]:
        params = {"codes": list(dict.fromkeys(firm_codes)), "since": values.micros(since), "until": values.micros(until)}
        found = {
            firm: FirmCaseCounts(firm, int(escalated or 0), int(rated or 0), sum(int(r) for r in ratings if r is not None))
            for firm, escalated, rated, ratings in await self.transport.run(FIRM_COUNTS, params)
        }
        return [found.get(code, FirmCaseCounts(code)) for code in firm_codes]

    async def estate_case_counts(
        self,
        estate_codes: Sequence[str],
        since: dt.datetime,
        until: dt.datetime,
        *,
        source: CaseSource | None = None,
        category: CaseCategory | None = None,
    ) -> list[int]:
        params = {
            "since": values.micros(since),
            "until": values.micros(until),
            "source": None if source is None else source.value,
            "category": None if category is None else category.value,
            "at": _ESTATE_AT,
        }
        found = {estate: int(cases) for estate, cases in await self.transport.run(ESTATE_COUNTS, params)}
        return [found.get(code, 0) for code in estate_codes]

    async def votes_closed(self, since: dt.datetime, until: dt.datetime) -> list[str]:
        rows = await self.transport.run(CLOSED, {"since": values.micros(since), "until": values.micros(until)})
        return sorted(str(vote_id) for (vote_id,) in rows)
