"""Roll-ups of every place's subtree (houses, floor area, owners, estates, buildings).

`stats` answers from `place_stats`, so a city dashboard reads ten rows instead of counting 2.4
million houses. Every write keeps them current (`Changes`, `maintain`): the write path notes the
places whose subtree it changed and the owners whose holdings it changed, and before the
transaction commits the rows of those places and of all their ancestors are worked out again
from their children's rows, bottom up, so a batch costs what it touched, not the size of the
city above it. Distinct owners do not add up over children (one owner may hold houses in two
streets), so they move by the difference each touched owner makes: +1 at every place where it
now holds a house today and did not before the batch, -1 the other way round.

`refresh` recomputes a subtree from the houses themselves, with one grouped query per level,
then each of its ancestors: the repair path (and what the migration that introduced upkeep on
write ran once), never needed after a write.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, delete, distinct, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from graph.levels import Level
from graph.sql import tables
from graph.sql.bulk import insert_rows
from graph.sql.scoping import Anchor, anchor_columns, under

ROLLED_UP = tuple(level for level in Level if level < Level.HOUSE)
"""Levels kept in `place_stats`; a house's figures are its own and are read live."""

_ZERO = {"houses": 0, "floor_area_centi_m2": 0, "owners": 0, "estates": 0, "buildings": 0}


def _current(today: dt.date) -> Any:
    ownership = tables.ownership
    return and_(
        ownership.c.since <= today,
        or_(ownership.c.until.is_(None), ownership.c.until > today),
    )


async def grouped(
    connection: AsyncConnection, level: Level, scope_filter: Any, today: dt.date
) -> dict[int, dict[str, Any]]:
    """Totals for every place of `level` that matches `scope_filter`, keyed by place id."""
    place, ownership = tables.place, tables.ownership
    group = place.c[tables.ancestor_column(level)] if level < Level.HOUSE else place.c.id
    totals: dict[int, dict[str, Any]] = {}

    def into(place_id: int) -> dict[str, Any]:
        return totals.setdefault(place_id, dict(_ZERO))

    # A place counts itself: an estate row says estates=1, so rows add up level by level.
    self_count = (
        select(place.c.id, place.c.area_centi_m2)
        .where(place.c.level == int(level))
        .where(scope_filter)
    )
    for row in await connection.execute(self_count):
        entry = into(row.id)
        if level == Level.HOUSE:
            entry["houses"], entry["floor_area_centi_m2"] = 1, int(row.area_centi_m2 or 0)
        elif level == Level.ESTATE:
            entry["estates"] = 1
        elif level == Level.BUILDING:
            entry["buildings"] = 1
    if level < Level.HOUSE:
        houses = (
            select(group.label("gid"), func.count(), func.coalesce(func.sum(place.c.area_centi_m2), 0))
            .where(place.c.level == int(Level.HOUSE))
            .where(scope_filter)
            .group_by(group)
        )
        for gid, count, area in await connection.execute(houses):
            if gid is not None:
                into(gid).update(houses=count, floor_area_centi_m2=int(area))
        for below, key in ((Level.ESTATE, "estates"), (Level.BUILDING, "buildings")):
            if level < below:
                counted = (
                    select(group.label("gid"), func.count())
                    .where(place.c.level == int(below))
                    .where(scope_filter)
                    .group_by(group)
                )
                for gid, count in await connection.execute(counted):
                    if gid is not None:
                        into(gid)[key] = count
    owners = (
        select(group.label("gid"), func.count(distinct(ownership.c.owner_id)))
        .select_from(ownership.join(place, place.c.id == ownership.c.house_id))
        .where(_current(today))
        .where(scope_filter)
        .group_by(group)
    )
    for gid, count in await connection.execute(owners):
        if gid is not None:
            into(gid)["owners"] = count
    return totals


async def refresh(
    connection: AsyncConnection, root: Anchor | None, ancestors: list[Anchor], today: dt.date
) -> int:
    """Recompute the roll-ups of `root`'s subtree (everything when None) and of its ancestors."""
    place, stats = tables.place, tables.place_stats
    now = dt.datetime.now(dt.timezone.utc)
    scope_filter = under(place, root) if root is not None else literal(True)
    written = 0
    for level in ROLLED_UP:
        if root is not None and level < root.level:
            continue
        totals = await grouped(connection, level, scope_filter, today)
        ids = select(place.c.id).where(place.c.level == int(level)).where(scope_filter)
        await connection.execute(delete(stats).where(stats.c.place_id.in_(ids)))
        payload = [{"place_id": pid, **values, "refreshed_at": now} for pid, values in totals.items()]
        await insert_rows(connection, stats, payload)
        written += len(payload)
    for ancestor in ancestors:
        totals = await grouped(connection, ancestor.level, under(place, ancestor), today)
        values = totals.get(ancestor.id, dict(_ZERO))
        await connection.execute(delete(stats).where(stats.c.place_id == ancestor.id))
        await insert_rows(connection, stats, [{"place_id": ancestor.id, **values, "refreshed_at": now}])
        written += 1
    return written


# -- upkeep on every write -----------------------------------------------------------------

WRITER_LOCK = 0x6875625F72757073
"""The PostgreSQL advisory lock that batch writes take (b"hub_rups")."""


async def one_writer(connection: AsyncConnection) -> None:
    """Make this transaction the only batch write until it ends, before it reads anything.

    Upkeep reads the rows it moves (an owner's places before its first change, a place's stored
    owners) and writes them back; two batches at once — two connectors on workers, or a sync
    beside an API call — would both read the city's row and one would lose the other's change
    (or, on PostgreSQL, fail on the row the other re-inserted). PostgreSQL: a transaction-level
    advisory lock. SQLite: the transaction comes from `WriteTurns.writing`, which took the
    database's one write lock with BEGIN IMMEDIATE before anything was read, so nothing more is
    needed here."""
    if connection.dialect.name == "postgresql":
        await connection.execute(select(func.pg_advisory_xact_lock(WRITER_LOCK)))


_CHUNK = 900
"""Ids per IN (...) list, as graph.sql.writes."""


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]


@dataclass(slots=True)
class Changes:
    """What one write changed that the roll-ups count, gathered as it writes.

    `places` are the non-house places whose rows must be worked out again, always with all
    their ancestors; `new_places` the codes of non-house places the batch inserted (their ids
    exist once inserted); `owners_before` each touched owner's places (non-house, where it was
    counted) as they were before the batch touched it: taken once per owner, before its first
    change (a move of a house it holds, or an ownership of its written).
    """

    today: dt.date
    places: set[int] = field(default_factory=set)
    new_places: list[str] = field(default_factory=list)
    owners_before: dict[int, frozenset[int]] = field(default_factory=dict)
    area: Counter[int] = field(default_factory=Counter)
    """Floor area (centi-m²) gained by each place under which a house changed area in place."""

    def shift_area(self, lineage: Iterable[int | None], step: int) -> None:
        """A house under every id of `lineage` changed area by `step`, and nothing else counted."""
        for pid in lineage:
            if pid is not None:
                self.area[pid] += step

    def touch(self, lineage: Iterable[int | None]) -> None:
        """A place changed under every id of `lineage` (a place's ancestors, or a child's)."""
        self.places.update(pid for pid in lineage if pid is not None)

    async def before_owners(self, connection: AsyncConnection, owner_ids: Iterable[int]) -> None:
        """Remember where these owners are counted now, before their holdings change."""
        fresh = [oid for oid in dict.fromkeys(owner_ids) if oid not in self.owners_before]
        if not fresh:
            return
        found = await counted_at(connection, fresh, self.today)
        for oid in fresh:
            self.owners_before[oid] = found.get(oid, frozenset())

    async def before_move(self, connection: AsyncConnection, moved: Sequence[tuple[int, Level]]) -> None:
        """Places are about to move: remember where the owners of their houses are counted now."""
        place, ownership = tables.place, tables.ownership
        holders: list[int] = []
        for place_id, level in moved:
            held = place.c.id == place_id if level == Level.HOUSE else place.c[tables.ancestor_column(level)] == place_id
            query = (
                select(ownership.c.owner_id)
                .distinct()
                .select_from(ownership.join(place, place.c.id == ownership.c.house_id))
                .where(held)
                .where(_current(self.today))
            )
            holders.extend(row[0] for row in await connection.execute(query))
        await self.before_owners(connection, holders)


async def counted_at(
    connection: AsyncConnection, owner_ids: Sequence[int], today: dt.date
) -> dict[int, frozenset[int]]:
    """For each owner, the non-house places it is counted at: the ancestors of the houses it
    holds today."""
    place, ownership = tables.place, tables.ownership
    query = (
        select(ownership.c.owner_id, *anchor_columns(place))
        .select_from(ownership.join(place, place.c.id == ownership.c.house_id))
        .where(_current(today))
    )
    found: dict[int, set[int]] = {}
    for chunk in _chunks(owner_ids):
        for row in await connection.execute(query.where(ownership.c.owner_id.in_(chunk))):
            found.setdefault(row[0], set()).update(pid for pid in row[1:] if pid is not None)
    return {oid: frozenset(places) for oid, places in found.items()}


async def maintain(connection: AsyncConnection, changes: Changes) -> int:
    """Work out again the rows of the places `changes` names and of their ancestors, bottom up
    from their children's rows; returns the rows written. Relies on every other row being
    current, which every write keeps so.

    A fixed handful of statements whatever the batch: the dirty places with their stored rows,
    the houses directly under them, their other children with their stored rows; the sums are
    made here, deepest level first (a dirty child's new row before its parent's), then the
    dirty rows are replaced in one delete and one insert. A place whose owners alone moved (no
    place under it changed) keeps its stored figures with its owners moved by the difference."""
    place, stats = tables.place, tables.place_stats
    if changes.new_places:
        query = select(place.c.id, *anchor_columns(place)).where(place.c.level < int(Level.HOUSE))
        for start in range(0, len(changes.new_places), _CHUNK):
            codes = changes.new_places[start : start + _CHUNK]
            for row in await connection.execute(query.where(place.c.code.in_(codes))):
                changes.touch(row)
    owner_delta: Counter[int] = Counter()
    if changes.owners_before:
        after = await counted_at(connection, list(changes.owners_before), changes.today)
        for oid, before in changes.owners_before.items():
            now = after.get(oid, frozenset())
            owner_delta.update(now - before)
            owner_delta.subtract(before - now)
    dirty = set(changes.places)
    moved = {pid for pid, step in owner_delta.items() if step} | {pid for pid, step in changes.area.items() if step}
    shifted = await _shifted(connection, moved - dirty, owner_delta, changes.area)
    dirty |= moved - shifted.keys()
    if not dirty:
        return await _replace_rows(connection, shifted)
    child = place.alias("child")
    with_rows = (
        select(place.c.id, place.c.level, stats.c.owners)
        .select_from(place.outerjoin(stats, stats.c.place_id == place.c.id))
        .where(place.c.level < int(Level.HOUSE))
    )
    # the level is tested inside the sums, not in WHERE: given `level = 8 AND parent_id IN (…)`,
    # SQLite (no statistics) walks the (level, code) index over every house of the store per
    # batch instead of the parent_id index over the dirty places' children
    is_house = place.c.level == int(Level.HOUSE)
    houses = select(
        place.c.parent_id,
        func.count(case((is_house, 1))),
        func.coalesce(func.sum(case((is_house, place.c.area_centi_m2))), 0),
    ).group_by(place.c.parent_id)
    children = (
        select(child.c.id, child.c.parent_id, stats.c.houses, stats.c.floor_area_centi_m2, stats.c.estates, stats.c.buildings)
        .select_from(child.outerjoin(stats, stats.c.place_id == child.c.id))
        .where(child.c.level < int(Level.HOUSE))
    )
    totals: dict[int, dict[str, Any]] = {}
    levels: dict[int, Level] = {}
    below: dict[int, list[tuple[int, tuple[Any, ...]]]] = {}
    for chunk in _chunks(dirty):
        for pid, level, owners in await connection.execute(with_rows.where(place.c.id.in_(chunk))):
            levels[pid] = Level(level)
            totals[pid] = {
                **_ZERO,
                "estates": int(level == Level.ESTATE),
                "buildings": int(level == Level.BUILDING),
                "owners": (owners or 0) + owner_delta[pid],
            }
        for pid, count, area in await connection.execute(houses.where(place.c.parent_id.in_(chunk))):
            if pid in totals:
                totals[pid]["houses"] += count
                totals[pid]["floor_area_centi_m2"] += int(area)
        for cid, pid, *figures in await connection.execute(children.where(child.c.parent_id.in_(chunk))):
            below.setdefault(pid, []).append((cid, tuple(figures)))
    for pid in sorted(totals, key=lambda item: levels[item], reverse=True):
        entry = totals[pid]
        for cid, stored in below.get(pid, ()):
            known = totals.get(cid) or shifted.get(cid)
            count, area, estates, buildings = (
                (known[key] for key in ("houses", "floor_area_centi_m2", "estates", "buildings")) if known else stored
            )
            entry["houses"] += int(count or 0)
            entry["floor_area_centi_m2"] += int(area or 0)
            entry["estates"] += int(estates or 0)
            entry["buildings"] += int(buildings or 0)
    return await _replace_rows(connection, {**shifted, **totals})


async def _shifted(
    connection: AsyncConnection, places: set[int], owners: Counter[int], area: Counter[int]
) -> dict[int, dict[str, Any]]:
    """The rows of `places`, whose subtree kept its places and only saw owners come or go (a
    registration batch's houses' ancestors) or houses change area in place (a unit's): the
    stored row, its owners and floor area moved by their differences. Its houses, estates and
    buildings cannot have changed, so nothing is counted again from its children (that read
    every house of every touched building, per batch). A place without a stored row is left
    out, to be worked out from its children."""
    stats = tables.place_stats
    rows: dict[int, dict[str, Any]] = {}
    columns = [stats.c[name] for name in _ZERO]
    for chunk in _chunks(places):
        for row in await connection.execute(select(stats.c.place_id, *columns).where(stats.c.place_id.in_(chunk))):
            pid, *values = row
            figures = {name: int(value or 0) for name, value in zip(_ZERO, values)}
            figures["owners"] += owners[pid]
            figures["floor_area_centi_m2"] += area[pid]
            rows[pid] = figures
    return rows


async def _replace_rows(connection: AsyncConnection, rows: dict[int, dict[str, Any]]) -> int:
    """Replace the stats rows of `rows`' places with theirs, in one delete and one insert."""
    stats = tables.place_stats
    refreshed_at = dt.datetime.now(dt.timezone.utc)
    for chunk in _chunks(rows):
        await connection.execute(delete(stats).where(stats.c.place_id.in_(chunk)))
    await insert_rows(connection, stats, [{"place_id": pid, **values, "refreshed_at": refreshed_at} for pid, values in rows.items()])
    return len(rows)
