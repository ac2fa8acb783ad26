"""Roll-ups kept on every write, as the SQL store keeps them (see graph.sql.rollups for the
rule): the places a write touched and their ancestors are worked out again from their
children's stored rows, bottom up; distinct owners move by the difference each touched owner
makes. A write marks the roll-ups pending in the same statement that writes the batch and the
upkeep clears the mark, so a writer that died between the two leaves a mark the next writer
sees, and that writer counts everything again (`recount`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from graph.cypher import statements as st
from graph.cypher.lease import GUARD
from graph.cypher.transport import Transport

COUNTED_AT = st.read(
    "rollups.counted_at",
    "UNWIND $ids AS i MATCH (o:Owner {id: i})-[s:OWNS]->(h:Place) "
    "WHERE s.since <= $today AND (s.until IS NULL OR s.until > $today) RETURN i, h.line",
)
HOLDERS_UNDER = st.read(
    "rollups.holders_under",
    "UNWIND $codes AS c MATCH (h:House)-[:IN*0..7]->(:Place {code: c}) MATCH (o:Owner)-[s:OWNS]->(h) "
    "WHERE s.since <= $today AND (s.until IS NULL OR s.until > $today) RETURN DISTINCT o.id",
)
DIRTY = st.read(
    "rollups.dirty",
    "UNWIND $codes AS c MATCH (p:Place {code: c}) WHERE p.level < 8 OPTIONAL MATCH (u:Rollup {code: c}) RETURN c, p.level, u.owners",
)
HOUSES = st.read(
    "rollups.houses",
    "UNWIND $codes AS c MATCH (h:House)-[:IN]->(:Place {code: c}) RETURN c, count(h), sum(h.area_centi_m2)",
)
KIDS = st.read(
    "rollups.kids",
    "UNWIND $codes AS c MATCH (k:Area)-[:IN]->(:Place {code: c}) OPTIONAL MATCH (u:Rollup {code: k.code}) "
    "RETURN c, k.code, u.houses, u.floor_area_centi_m2, u.estates, u.buildings",
)
SAVE = st.write(
    "rollups.save",
    f"UNWIND $rows AS r {GUARD} MERGE (u:Rollup {{code: r.code}}) SET u = r WITH count(*) AS saved "
    "MERGE (k:Meta {name: 'rollups'}) SET k.pending = '' RETURN saved",
)
PENDING = st.read("rollups.pending", "MATCH (k:Meta {name: 'rollups'}) RETURN k.pending")
AREAS = st.read(
    "rollups.areas",
    "MATCH (p:Area) WHERE $within IS NULL OR $within IN p.line RETURN p.code, p.level, p.line",
)
ALL_HOUSES = st.read(
    "rollups.all_houses",
    "MATCH (h:House) WHERE $within IS NULL OR $within IN h.line RETURN h.line, h.area_centi_m2",
)
ALL_HOLDINGS = st.read(
    "rollups.all_holdings",
    "MATCH (o:Owner)-[s:OWNS]->(h:House) WHERE ($within IS NULL OR $within IN h.line) "
    "AND s.since <= $today AND (s.until IS NULL OR s.until > $today) RETURN o.id, h.line",
)
OWNERS_UNDER = st.read(
    "rollups.owners_under",
    "UNWIND $codes AS c MATCH (h:House)-[:IN*1..7]->(:Place {code: c}) MATCH (o:Owner)-[s:OWNS]->(h) "
    "WHERE s.since <= $today AND (s.until IS NULL OR s.until > $today) RETURN c, count(DISTINCT o)",
)
LINE = st.read("rollups.line", "MATCH (p:Place {code: $code}) RETURN p.line, p.level")
CLEAR = st.write(
    "rollups.clear",
    f"UNWIND $codes AS c {GUARD} MATCH (u:Rollup {{code: c}}) DELETE u",
)

_ESTATE, _BUILDING, _HOUSE = 5, 6, 8


async def counted_at(transport: Transport, owner_ids: Iterable[str], today: dt.date) -> dict[str, frozenset[str]]:
    """For each owner, the places above the house level it is counted at today."""
    ids = list(dict.fromkeys(owner_ids))
    found: dict[str, set[str]] = {oid: set() for oid in ids}
    if ids:
        for oid, line in await transport.run(COUNTED_AT, {"ids": ids, "today": today.isoformat()}):
            found[oid].update(line[:-1])
    return {oid: frozenset(places) for oid, places in found.items()}


async def holders_under(transport: Transport, codes: Sequence[str], today: dt.date) -> list[str]:
    if not codes:
        return []
    return [row[0] for row in await transport.run(HOLDERS_UNDER, {"codes": list(codes), "today": today.isoformat()})]


def _figures(level: int) -> dict[str, Any]:
    return {"houses": 0, "floor_area_centi_m2": 0, "owners": 0, "estates": int(level == _ESTATE), "buildings": int(level == _BUILDING)}


async def upkeep(
    transport: Transport,
    token: str,
    dirty: set[str],
    before: dict[str, frozenset[str]],
    today: dt.date,
    owners: dict[str, int] | None = None,
    known_after: dict[str, frozenset[str]] | None = None,
) -> int:
    """Bring the rows of `dirty` places (and of places where a touched owner's count moved) up
    to date; `before` is where each touched owner was counted before the write, `known_after`
    where some of them are counted now when the caller knows it without asking."""
    delta: Counter[str] = Counter()
    if before:
        known_after = known_after or {}
        after = await counted_at(transport, [oid for oid in before if oid not in known_after], today)
        after.update(known_after)
        for oid, was in before.items():
            now = after.get(oid, frozenset())
            delta.update(now - was)
            delta.subtract(was - now)
    codes = sorted(dirty | {code for code, step in delta.items() if step})
    rows: dict[str, dict[str, Any]] = {}
    levels: dict[str, int] = {}
    if codes:
        for code, level, stored_owners in await transport.run(DIRTY, {"codes": codes}):
            levels[code] = level
            counted = owners.get(code, 0) if owners is not None else int(stored_owners or 0) + delta[code]
            rows[code] = {"code": code, **_figures(level), "owners": counted}
        for code, count, area in await transport.run(HOUSES, {"codes": codes}):
            if code in rows:
                rows[code]["houses"] += int(count)
                rows[code]["floor_area_centi_m2"] += int(area or 0)
        below: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
        for row in await transport.run(KIDS, {"codes": codes}):
            below.setdefault(row[0], []).append((row[1], tuple(row[2:])))
        for code in sorted(rows, key=lambda item: levels[item], reverse=True):
            entry = rows[code]
            for kid, kept in below.get(code, ()):
                figures = tuple(rows[kid][key] for key in ("houses", "floor_area_centi_m2", "estates", "buildings")) if kid in rows else kept
                entry["houses"] += int(figures[0] or 0)
                entry["floor_area_centi_m2"] += int(figures[1] or 0)
                entry["estates"] += int(figures[2] or 0)
                entry["buildings"] += int(figures[3] or 0)
    await transport.run(SAVE, {"rows": list(rows.values()), "token": token})
    return len(rows)


async def pending(transport: Transport) -> bool:
    rows = await transport.run(PENDING)
    return bool(rows and rows[0][0])


async def recount(transport: Transport, token: str, within: str | None, today: dt.date) -> int:
    """Count the roll-ups of `within`'s subtree (everything when None) and of its ancestors
    again from the houses themselves: the repair path."""
    ancestors: list[str] = []
    if within is not None:
        found = await transport.run(LINE, {"code": within})
        if not found:
            return 0
        line, level = found[0]
        ancestors = list(line[:-1])
        if level == _HOUSE:
            return await _recount_above(transport, token, ancestors, today)
    params = {"within": within, "today": today.isoformat()}
    rows: dict[str, dict[str, Any]] = {}
    for code, level, _line in await transport.run(AREAS, params):
        rows[code] = {"code": code, **_figures(level)}
    for _code, level, line in await transport.run(AREAS, params):
        for above in line[:-1]:
            if above in rows:
                rows[above]["estates"] += int(level == _ESTATE)
                rows[above]["buildings"] += int(level == _BUILDING)
    for line, area in await transport.run(ALL_HOUSES, params):
        for above in line[:-1]:
            if above in rows:
                rows[above]["houses"] += 1
                rows[above]["floor_area_centi_m2"] += int(area or 0)
    holders: dict[str, set[str]] = {}
    for oid, line in await transport.run(ALL_HOLDINGS, params):
        for above in line[:-1]:
            if above in rows:
                holders.setdefault(above, set()).add(oid)
    for code, owners in holders.items():
        rows[code]["owners"] = len(owners)
    await transport.run(SAVE, {"rows": list(rows.values()), "token": token})
    return len(rows) + await _recount_above(transport, token, ancestors, today)


async def _recount_above(transport: Transport, token: str, ancestors: list[str], today: dt.date) -> int:
    """The ancestors of a recounted subtree: sums from their children's rows, distinct owners
    counted from the holdings under each."""
    if not ancestors:
        return 0
    found = await transport.run(OWNERS_UNDER, {"codes": ancestors, "today": today.isoformat()})
    return await upkeep(transport, token, set(ancestors), {}, today, owners={code: int(n) for code, n in found})
