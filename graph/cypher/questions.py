"""`Store.reach` on Cypher: the houses, holders and open cases under some places.

Not to be confused with `graph.reach` (where a caller's writes may land). The places asked for
are read first and kept when the caller's scope holds them (`model.seen`); everything under a
place in scope is in scope, so the walks below need no second scope test. A place lying under
another one kept is dropped (its line names the other), so the walks start from disjoint
subtrees. Each walk goes down the `IN` edges from a kept place (`[:IN*0..7]`, as the place
listings do): its cost is the size of the subtree, never of the graph.

Cases are `(:Case {id, status, reported_at})-[:AT]->(:Place)` (graph.cypher's case part: status
as graph.cases.CaseStatus values, `reported_at` integer microseconds); open ones are those in
graph.cases.OPEN_STATUSES.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from graph.cases import OPEN_STATUSES
from graph.cursors import decode_cursor, encode_cursor
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.model import holding, place_columns, place_from, scope_params, seen
from graph.cypher.transport import Transport
from graph.model import Page, Place, Reached
from graph.scope import Scope
from graph.store import MAX_PAGE

_OPEN = sorted(status.value for status in OPEN_STATUSES)

KEPT = st.read(
    "questions.kept",
    f"UNWIND $codes AS c MATCH (w:Place {{code: c}}) WHERE {seen('w')} RETURN w.code, w.line",
)
# Each walk starts at the kept places and goes down; a WITH closes the walk before the owners or
# cases are matched from what it found. Left to itself (one MATCH, or an OPTIONAL MATCH per
# house) FalkorDB's planner started from every OWNS edge of the graph, or applied a match per
# house: a district's owners took 0.8 s where the walk and then a match take 0.1 s.
_WALK = "UNWIND $codes AS c MATCH (w:Place {code: c}) MATCH (w)<-[:IN*0..7]-(h) WHERE h.level = 8 "
HOUSES = st.read(
    "questions.houses",
    _WALK + "WITH DISTINCT h WHERE $after IS NULL OR h.code > $after "
    f"RETURN {place_columns('h')} ORDER BY h.code LIMIT $limit",
)
HOLDERS = st.read(
    "questions.holders",
    f"UNWIND $houses AS c MATCH (h:Place {{code: c}}) MATCH (h)<-[s:OWNS]-(o:Owner) WHERE {holding('s')} RETURN c, o.id",
)
HOUSE_COUNT = st.read("questions.house_count", _WALK + "RETURN count(DISTINCT h)")
OWNER_COUNT = st.read(
    "questions.owner_count",
    _WALK + f"WITH DISTINCT h MATCH (h)<-[s:OWNS]-(o:Owner) WHERE {holding('s')} RETURN count(DISTINCT o)",
)
CASES = st.read(
    "questions.open_cases",
    "UNWIND $codes AS c MATCH (w:Place {code: c}) MATCH (w)<-[:IN*0..7]-(p) "
    "WITH DISTINCT p MATCH (p)<-[:AT]-(k:Case) WHERE k.status IN $open "
    "RETURN DISTINCT k.id, k.reported_at",
)


def outermost(lines: dict[str, list[str]]) -> list[str]:
    """The codes whose line names no other code given: their subtrees hold the others'.

    >>> outermost({"370202": ["370200", "370202"], "370202001": ["370200", "370202", "370202001"]})
    ['370202']
    """
    return [code for code, line in lines.items() if not any(other in lines for other in line[:-1])]


class QuestionReads:
    """`reach`, a base of CypherStore."""

    transport: Transport

    async def reach(
        self, places: Sequence[str], scope: Scope, first: int, after: str | None = None, *, as_of: dt.date
    ) -> Reached:
        first = max(1, min(first, MAX_PAGE))
        after_code = decode_cursor(after)
        unique = list(dict.fromkeys(places))
        rows = await self.transport.run(KEPT, {"codes": unique, **scope_params(scope)})
        lines = {code: list(line) for code, line in rows}
        kept = [code for code in unique if code in lines]
        if not kept:
            return Reached((), Page(items=[], has_next=False, end_cursor=None), {}, (), 0, 0, 0)
        roots = outermost({code: lines[code] for code in kept})
        day = values.day(as_of)
        listed = await self.transport.run(HOUSES, {"codes": roots, "after": after_code, "limit": first + 1})
        found = sorted(map(place_from, listed), key=lambda place: place.code)
        page = found[:first]
        holders: dict[str, set[str]] = {place.code: set() for place in page}
        if page:
            for house, owner in await self.transport.run(HOLDERS, {"houses": list(holders), "as_of": day}):
                holders[house].add(owner)
        [(house_count,)] = await self.transport.run(HOUSE_COUNT, {"codes": roots})
        [(owner_count,)] = await self.transport.run(OWNER_COUNT, {"codes": roots, "as_of": day})
        cases = await self.transport.run(CASES, {"codes": roots, "open": _OPEN})
        newest = sorted(cases, key=lambda row: (row[1], row[0]), reverse=True)
        shown: list[Place] = page
        return Reached(
            places=tuple(kept),
            houses=Page(
                items=shown,
                has_next=len(found) > first,
                end_cursor=encode_cursor(shown[-1].code) if shown else None,
                start_cursor=encode_cursor(shown[0].code) if shown else None,
            ),
            holders={code: tuple(sorted(ids)) for code, ids in holders.items()},
            open_cases=tuple(key for key, _ in newest[:first]),
            house_count=int(house_count or 0),
            owner_count=int(owner_count or 0),
            open_case_count=len(newest),
        )
