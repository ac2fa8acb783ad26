"""Reads of the place tree and its roll-ups (`graph.store.Store`: places … shapes)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

from graph.codes import place_code
from graph.cursors import decode_cursor, encode_cursor
from graph.cypher import statements as st
from graph.cypher.model import LABELS, PLACE_FIELDS, place_columns, place_from, scope_params, seen
from graph.cypher.transport import Transport
from graph.errors import CodeError
from graph.levels import Level
from graph.model import Page, Place, Stats
from graph.scope import Scope
from graph.store import MAX_PAGE

_CODE_TEXT = re.compile(r"[0-9A-Za-z]+")
_N = len(PLACE_FIELDS)  # where a row's columns after the place's begin

PLACES = st.read(
    "places.by_code",
    f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WHERE {seen('p')} RETURN {place_columns('p')}",
)
CHILDREN = st.read(
    "places.children",
    f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) MATCH (k:Place)-[:IN]->(p) WITH c, k "
    f"WHERE {seen('k')} AND ($after IS NULL OR k.code > $after) RETURN c, {place_columns('k')}",
)
LINES = st.read(
    "places.lines",
    f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WHERE {seen('p')} RETURN c, p.line",
)


def _under(level: Level, kind: str, tail: str) -> dict[str, st.Statement]:
    """Statements over the places of `level`: under `$within` or under the scope's roots (a
    walk down from them, `withinN`/`rootsN` going at most N levels down: a walk bounded by the
    depth asked, so the streets of a city never visit its houses), or anywhere (the level's
    label)."""
    label = LABELS[level]
    name = level.name.lower()
    variants = {
        "all": st.read(
            f"places.{kind}.{name}.all",
            f"MATCH (p:{label}) WHERE $after IS NULL OR p.code > $after {tail}",
        ),
    }
    for depth in range(0, level):
        variants[f"within{depth}"] = st.read(
            f"places.{kind}.{name}.within{depth}",
            # WITH before WHERE: a WHERE right after the pattern makes FalkorDB start from the
            # label (every house of the city) instead of walking down from `within`
            f"MATCH (w:Place {{code: $within}}) MATCH (p:{label})-[:IN*0..{depth}]->(w) WITH p "
            f"WHERE {seen('p')} AND ($after IS NULL OR p.code > $after) {tail}",
        )
        variants[f"roots{depth}"] = st.read(
            f"places.{kind}.{name}.roots{depth}",
            f"UNWIND $roots AS r MATCH (w:Place {{code: r}}) MATCH (p:{label})-[:IN*0..{depth}]->(w) "
            f"WITH DISTINCT p WHERE $after IS NULL OR p.code > $after {tail}",
        )
    return variants


def _depth(level: Level, codes: Sequence[str]) -> int | None:
    """How many levels down from the highest of `codes` a place of `level` can lie (a code's
    shape says its level); None when none of them can hold one."""
    above: list[Level] = []
    for code in codes:
        try:
            above.append(place_code(code)[1])
        except CodeError:
            continue
    if not above or min(above) > level:
        return None
    return int(level - min(above))


_LISTING = f"RETURN {place_columns('p')} ORDER BY p.code LIMIT $limit"
_COUNTING = "RETURN count(p)"
_ROLLED = (
    f"OPTIONAL MATCH (u:Rollup {{code: p.code}}) RETURN {place_columns('p')}, u.houses, u.floor_area_centi_m2, u.owners, "
    "u.estates, u.buildings ORDER BY p.code"
)
LIST = {level: _under(level, "list", _LISTING) for level in Level}
COUNT = {level: _under(level, "count", _COUNTING) for level in Level}
ROLLED = {level: _under(level, "stats", _ROLLED) for level in Level if level < Level.HOUSE}
ROLLUPS = st.read(
    "places.rollups",
    f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WHERE p.level < 8 AND {seen('p')} "
    f"OPTIONAL MATCH (u:Rollup {{code: c}}) RETURN {place_columns('p')}, u.houses, u.floor_area_centi_m2, u.owners, u.estates, u.buildings",
)
HOUSE_FIGURES = st.read(
    "places.house_figures",
    f"UNWIND $codes AS c MATCH (h:Place {{code: c}}) WHERE h.level = 8 AND {seen('h')} "
    "OPTIONAL MATCH (o:Owner)-[s:OWNS]->(h) WHERE s.since <= $today AND (s.until IS NULL OR s.until > $today) "
    f"RETURN {place_columns('h')}, count(DISTINCT o)",
)
SEARCH_CODE = st.read(
    "places.search.code",
    f"MATCH (p:Place) WHERE p.code >= $prefix AND p.code < $bound AND {seen('p')} "
    f"AND ($within IS NULL OR $within IN p.line) RETURN {place_columns('p')} ORDER BY p.code LIMIT $limit",
)
SEARCH_NAME = st.read(
    "places.search.name",
    f"MATCH (p:Area) WHERE toLower(p.name) CONTAINS $needle AND {seen('p')} "
    f"AND ($within IS NULL OR $within IN p.line) RETURN {place_columns('p')} ORDER BY p.level, p.code LIMIT $limit",
)
KNOWN = st.read("places.known", "MATCH (w:Place {code: $within}) RETURN w.code")


def page_of(items: list[Place], first: int) -> Page[Place]:
    shown = items[:first]
    return Page(
        items=shown,
        has_next=len(items) > first,
        end_cursor=encode_cursor(shown[-1].code) if shown else None,
        start_cursor=encode_cursor(shown[0].code) if shown else None,
    )


def stats_of(place: Place, figures: tuple[Any, ...]) -> Stats:
    houses, area, owners, estates, buildings = figures
    return Stats(
        place=place,
        houses=int(houses or 0),
        floor_area_centi_m2=int(area or 0),
        owners=int(owners or 0),
        estates=int(estates or 0),
        buildings=int(buildings or 0),
    )


class PlaceReads:
    transport: Transport

    clock: Callable[[], dt.date]

    def today(self) -> str:
        """The store's day (its clock) as the graph keeps dates."""
        return self.clock().isoformat()

    async def places(self, codes: Sequence[str], scope: Scope) -> list[Place | None]:
        rows = await self.transport.run(PLACES, {"codes": list(dict.fromkeys(codes)), **scope_params(scope)})
        found = {place.code: place for place in map(place_from, rows)}
        return [found.get(code) for code in codes]

    async def children(
        self, codes: Sequence[str], scope: Scope, first: int, after: str | None = None
    ) -> list[Page[Place]]:
        after_code = decode_cursor(after)
        first = max(1, min(first, MAX_PAGE))
        rows = await self.transport.run(
            CHILDREN, {"codes": list(dict.fromkeys(codes)), "after": after_code, **scope_params(scope)}
        )
        found: dict[str, list[Place]] = {}
        for row in rows:
            found.setdefault(row[0], []).append(place_from(row, 1))
        return [page_of(sorted(found.get(code, []), key=lambda p: p.code), first) for code in codes]

    async def ancestors(self, codes: Sequence[str], scope: Scope) -> list[list[Place]]:
        rows = await self.transport.run(LINES, {"codes": list(dict.fromkeys(codes)), **scope_params(scope)})
        lines = {code: list(line[:-1]) for code, line in rows}
        wanted = list(dict.fromkeys(code for line in lines.values() for code in line))
        found = {place.code: place for place in await self.places(wanted, scope) if place is not None}
        return [[found[code] for code in lines.get(code, []) if code in found] for code in codes]

    async def _listing(
        self, variants: dict[Level, dict[str, st.Statement]], level: Level, within: str | None, scope: Scope, extra: dict[str, Any]
    ) -> list[tuple[Any, ...]] | None:
        """Run the variant that walks least: down from `within`, down from the scope's roots,
        or over the level's label; None when `within` is unknown."""
        params = {"after": None, **extra, **scope_params(scope)}
        if within is not None:
            depth = _depth(level, [within])
            if depth is None:
                return []
            return await self.transport.run(variants[level][f"within{depth}"], {**params, "within": within})
        if scope.roots is not None:
            depth = _depth(level, sorted(scope.roots))
            if depth is None:
                return []
            return await self.transport.run(variants[level][f"roots{depth}"], params)
        return await self.transport.run(variants[level]["all"], params)

    async def subtree(
        self, level: Level, within: str | None, scope: Scope, first: int, after: str | None = None
    ) -> Page[Place]:
        first = max(1, min(first, MAX_PAGE))
        rows = await self._listing(LIST, level, within, scope, {"after": decode_cursor(after), "limit": first + 1})
        return page_of([place_from(row) for row in rows or []], first)

    async def count(self, level: Level, within: str | None, scope: Scope) -> int:
        rows = await self._listing(COUNT, level, within, scope, {})
        return int(rows[0][0]) if rows else 0

    async def stats(self, within: str, group_by: Level, scope: Scope) -> list[Stats]:
        if group_by == Level.HOUSE:
            page = await self._listing(LIST, Level.HOUSE, within, scope, {"limit": 10_000_000})
            codes = [row[0] for row in page or []]
            return [item for item in await self.place_stats(codes, scope) if item is not None]
        rows = await self._listing(ROLLED, group_by, within, scope, {})
        return [stats_of(place_from(row), tuple(row[_N:])) for row in rows or []]

    async def place_stats(self, codes: Sequence[str], scope: Scope) -> list[Stats | None]:
        unique = list(dict.fromkeys(codes))
        params = {"codes": unique, **scope_params(scope)}
        found: dict[str, Stats] = {}
        for row in await self.transport.run(ROLLUPS, params):
            found[row[0]] = stats_of(place_from(row), tuple(row[_N:]))
        houses = [code for code in unique if code not in found]
        if houses:
            for row in await self.transport.run(HOUSE_FIGURES, {**params, "codes": houses, "today": self.today()}):
                house, owners = place_from(row), row[_N]
                found[house.code] = stats_of(house, (1, house.area_centi_m2 or 0, owners, 0, 0))
        return [found.get(code) for code in codes]

    async def search(self, text: str, within: str | None, scope: Scope, first: int) -> list[Place]:
        needle = text.strip()
        first = max(1, min(first, MAX_PAGE))
        if within is not None and not await self.transport.run(KNOWN, {"within": within}):
            return []
        found: dict[str, Place] = {}
        params = {"within": within, "limit": first, **scope_params(scope)}
        if _CODE_TEXT.fullmatch(needle):
            prefix = needle.upper()
            for row in await self.transport.run(SEARCH_CODE, {**params, "prefix": prefix, "bound": prefix + "\x7f"}):
                found[row[0]] = place_from(row)
        if len(found) < first and needle:
            for row in await self.transport.run(SEARCH_NAME, {**params, "needle": needle.lower()}):
                found.setdefault(row[0], place_from(row))
        return list(found.values())[:first]

    async def shapes(self, level: Level, within: str, scope: Scope) -> list[Place]:
        rows = await self._listing(LIST, level, within, scope, {"limit": 10_000_000})
        return [place for place in map(place_from, rows or []) if place.geometry is not None]
