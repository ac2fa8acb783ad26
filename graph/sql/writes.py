"""The bulk write path: upserts by natural key, in one transaction per batch.

Rows are compared with what is stored before anything is written, so a rerun of the same batch
writes nothing and reports every record as unchanged; provenance is not a fact and does not
count as a change. Ancestor ids are carried down from the parent; when a place moves to another
parent, its whole subtree is re-pointed in one statement. What a batch changed that the roll-ups
count (places, and ownerships) is noted as it is written, and the roll-ups of those places and
their ancestors are brought up to date in the same transaction (graph.sql.rollups).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from graph.checks import check_firm, check_owner, check_place, check_share, check_span, missing
from graph.errors import StoreError
from graph.levels import Level
from graph.model import Batch, Management, Owner, Ownership, Place, PropertyFirm, WriteCounts
from graph.ciphers.sealing import Sealer
from graph.sql import rollups, rows, tables
from graph.sql.bulk import insert_rows, update_rows
from graph.sql.onehop import here
from graph.sql.pointreads import Plan, driver_of, read
from graph.sql.scoping import Anchor, anchor_columns

CHUNK = 900
"""Keys per IN (...) list: well under every backend's bound-parameter limit."""

AnchorCache = dict[str, Anchor]


async def select_in(
    connection: AsyncConnection, query: Select[Any], column: Any, keys: Iterable[Any]
) -> list[Row[Any]]:
    """Rows of `query` whose `column` is one of `keys`, fetched in chunks (a statement read
    often is better built once with `keyed` and run with `select_keyed`)."""
    unique = list(dict.fromkeys(keys))
    found: list[Row[Any]] = []
    for start in range(0, len(unique), CHUNK):
        result = await connection.execute(query.where(column.in_(unique[start : start + CHUNK])))
        found.extend(result.all())
    return found


KEYS = "keys"
"""The name of the parameter a `Keyed` statement takes its keys (or its one key) in."""


@dataclass(frozen=True, slots=True)
class Keyed:
    """A query limited to rows whose column is one of the keys given at execution, built once:
    kept, it runs again without being built, nor its cache key computed, anew (a third of a
    point read's time). `one` asks `column = :keys` for a single key, which SQLAlchemy need not
    rewrite at every execution as it does an expanding `IN` list."""

    query: Select[Any]
    column: Any
    many: Select[Any]
    one: Select[Any]
    plans: dict[int, Plan] = field(default_factory=dict, compare=False)
    """The statement for n keys (n ≤ DRIVER_KEYS) as SQLite's driver runs it
    (graph.sql.pointreads), once worked out."""

    def plan(self, keys: int, dialect: Any) -> Plan:
        """The driver's plan for `keys` keys, given as parameters `keys` (one) or `keys_<i>`."""
        plan = self.plans.get(keys)
        if plan is None:
            statement = (
                self.one
                if keys == 1
                else self.query.where(self.column.in_([bindparam(f"{KEYS}_{index}") for index in range(keys)]))
            )
            plan = self.plans[keys] = Plan.of(statement, dialect)
        return plan


def keyed(query: Select[Any], column: Any) -> Keyed:
    """`query` by keys of `column`, to run with `select_keyed`."""
    return Keyed(
        query=query,
        column=column,
        many=query.where(column.in_(bindparam(KEYS, expanding=True))),
        one=query.where(column == bindparam(KEYS)),
    )


DRIVER_KEYS = 8
"""A point read of at most this many keys on SQLite runs through SQLite's driver itself
(graph.sql.pointreads), its statement worked out once for each number of keys."""

POINT_KEYS = 64
"""At most this many keys make a point read: run where it is asked on SQLite (onehop.here)."""


async def select_keyed(
    connection: AsyncConnection,
    statement: Keyed,
    keys: Iterable[Any],
    parameters: Mapping[str, Any] | None = None,
    *,
    point: bool = False,
) -> list[Any]:
    """Rows of a `keyed` statement for `keys` (its other parameters in `parameters`), in chunks.

    `point`: the statement finds its rows by an index on the keys, nothing else it does grows
    with the store (a primary or unique key, a span's house); with few keys it is run without a
    trip to SQLite's thread, and with very few by SQLite's driver itself. Rows are read as
    `row.name` and `row._mapping[name]`."""
    unique = list(dict.fromkeys(keys))
    if point and 0 < len(unique) <= DRIVER_KEYS:
        driver = driver_of(connection)
        if driver is not None:
            given = dict(parameters or {})
            if len(unique) == 1:
                given[KEYS] = unique[0]
            else:
                given.update((f"{KEYS}_{index}", key) for index, key in enumerate(unique))
            rows = read(driver, statement.plan(len(unique), connection.dialect), given)
            if rows is not None:
                return rows
            # SQLite refused: SQLAlchemy reads it again below, and raises what it says
    if len(unique) == 1:
        chunks: list[tuple[Select[Any], Any]] = [(statement.one, unique[0])]
    else:
        chunks = [(statement.many, unique[start : start + CHUNK]) for start in range(0, len(unique), CHUNK)]
    found: list[Row[Any]] = []
    nearby = here() if point and len(unique) <= POINT_KEYS else contextlib.nullcontext()
    with nearby:
        for query, value in chunks:
            result = await connection.execute(query, {**(parameters or {}), KEYS: value})
            found.extend(result.all())
    return found


def anchor_of(row: Row[Any]) -> Anchor:
    mapping = row._mapping
    return Anchor(
        id=mapping["id"],
        level=Level(mapping["level"]),
        ancestors=tuple(mapping[name] for name in tables.ANCESTOR_COLUMNS),
    )


def anchor_query() -> Select[Any]:
    place = tables.place
    return select(place.c.id, place.c.code, place.c.level, *anchor_columns(place))


_ANCHORS_BY_CODE = keyed(anchor_query(), tables.place.c.code)


async def anchors(
    connection: AsyncConnection, codes: Iterable[str], cache: AnchorCache | None = None
) -> dict[str, Anchor]:
    """Where each stored code sits; codes not stored are left out."""
    wanted = list(dict.fromkeys(codes))
    found = {code: cache[code] for code in wanted if cache is not None and code in cache}
    missing = [code for code in wanted if code not in found]
    if missing:
        for row in await select_keyed(connection, _ANCHORS_BY_CODE, missing, point=True):
            anchor = anchor_of(row)
            found[row.code] = anchor
            if cache is not None and anchor.level < Level.HOUSE:
                cache[row.code] = anchor
    return found


async def write_batch(
    connection: AsyncConnection, batch: Batch, cache: AnchorCache, sealer: Sealer, changes: rollups.Changes
) -> WriteCounts:
    """Write the batch, noting in `changes` what the roll-ups must count again (the caller
    brings them up to date, in the same transaction, with `rollups.maintain`)."""
    if len(cache) > 300_000:
        cache.clear()
    counts = WriteCounts()
    counts += await _write_places(connection, batch.places, cache, changes)
    counts += await _write_firms(connection, batch.firms)
    counts += await _write_owners(connection, batch.owners, sealer)
    counts += await _write_managements(connection, batch.managements, cache)
    counts += await _write_ownerships(connection, batch.ownerships, changes)
    from graph.sql.utilities import write_utilities  # here: graph.sql.utilities imports this module
    counts += await write_utilities(connection, batch, cache)
    from graph.sql.cases import write_cases  # here: graph.sql.cases reads through this module
    counts += await write_cases(connection, batch, cache)
    return counts


async def _write_places(
    connection: AsyncConnection, places: Sequence[Place], cache: AnchorCache, changes: rollups.Changes
) -> WriteCounts:
    counts = WriteCounts()
    by_level: dict[Level, list[Place]] = {}
    for place in places:
        check_place(place)
    latest = {place.code: place for place in places}  # the last record for a code wins
    for place in latest.values():
        by_level.setdefault(place.level, []).append(place)
    for level in sorted(by_level):
        counts += await _write_level(connection, by_level[level], cache, changes)
    return counts + WriteCounts(unchanged=len(places) - len(latest))


async def _write_level(
    connection: AsyncConnection, places: list[Place], cache: AnchorCache, changes: rollups.Changes
) -> WriteCounts:
    table = tables.place
    parents = await anchors(connection, (p.parent_code for p in places if p.parent_code), cache)
    fact_columns = [table.c[name] for name in rows.PLACE_FACTS]
    existing = {
        row.code: row
        for row in await select_in(
            connection,
            select(table.c.id, table.c.code, table.c.parent_id, *fact_columns, *anchor_columns(table)),
            table.c.code,
            (place.code for place in places),
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    moved: list[tuple[int, Level, tuple[int | None, ...]]] = []
    unchanged = 0
    for place in places:
        parent = parents.get(place.parent_code) if place.parent_code else None
        if place.parent_code and parent is None:
            raise StoreError(f"place {place.code}: parent {place.parent_code} is not in the store")
        if parent is not None and parent.level >= place.level:
            raise StoreError(f"place {place.code}: parent {place.parent_code} is not above it")
        lineage = parent.lineage() if parent else (None,) * len(tables.ANCESTOR_LEVELS)
        row = rows.place_row(place, parent.id if parent else None, lineage)
        stored = existing.get(place.code)
        if stored is None:
            inserts.append(row)
            changes.touch(lineage)
            if place.level < Level.HOUSE:
                changes.new_places.append(place.code)
            continue
        facts = rows.place_facts(place)
        same_parent = stored.parent_id == row["parent_id"]
        if same_parent and all(stored._mapping[name] == facts[name] for name in rows.PLACE_FACTS):
            unchanged += 1
            continue
        if same_parent and all(stored._mapping[name] == row[name] for name in tables.ANCESTOR_COLUMNS):
            # its facts alone: setting its unchanged code, parent and ancestors again made
            # SQLite rewrite their ten index entries for every house a registry sync updates
            updates.append({"row_id": stored.id, **{name: row[name] for name in _PLACE_SETS}})
            if place.level == Level.HOUSE:  # in place: the roll-ups above it move by its area alone
                changes.shift_area(lineage, (row["area_centi_m2"] or 0) - (stored._mapping["area_centi_m2"] or 0))
                continue
        else:
            moves.append({"row_id": stored.id, **row})
        changes.touch(lineage)
        if place.level < Level.HOUSE:
            changes.touch([stored.id])
        if not same_parent:
            moved.append((stored.id, place.level, lineage))
            changes.touch(stored._mapping[name] for name in tables.ANCESTOR_COLUMNS)  # where it was
    if moved:
        await changes.before_move(connection, [(place_id, level) for place_id, level, _ in moved])
    await insert_rows(connection, table, inserts)
    await update_rows(connection, table, updates)
    await update_rows(connection, table, moves)
    for place_id, level, lineage in moved:
        await _repoint_subtree(connection, place_id, level, lineage)
    if moved:
        cache.clear()
    return WriteCounts(inserted=len(inserts), updated=len(updates) + len(moves), unchanged=unchanged)


_PLACE_SETS = (*rows.PLACE_FACTS, "min_lon", "min_lat", "max_lon", "max_lat", "source", "source_record", "fetched_at", "run_id")
"""What an update of a place that stays where it is sets: its facts, the bounds of its geometry
and its provenance (its code, level, parent and ancestors are as stored)."""


async def _repoint_subtree(
    connection: AsyncConnection, place_id: int, level: Level, lineage: tuple[int | None, ...]
) -> None:
    """A place moved: its descendants take its new ancestors above its level."""
    if level == Level.HOUSE:
        return
    table = tables.place
    values = {tables.ancestor_column(above): lineage[above - 1] for above in level.above}
    await connection.execute(
        update(table).where(table.c[tables.ancestor_column(level)] == place_id).values(values)
    )


async def _upsert_keyed(
    connection: AsyncConnection,
    table: Any,
    key: str,
    new_rows: list[dict[str, Any]],
    facts: Sequence[str],
    complete: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> WriteCounts:
    """Insert rows whose `key` is new, update those whose facts differ, skip the rest;
    `complete` adds what only written rows need."""
    columns = [table.c.id, table.c[key], *(table.c[name] for name in facts)]
    stored = {
        row._mapping[key]: row
        for row in await select_in(connection, select(*columns), table.c[key], (r[key] for r in new_rows))
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    seen: dict[Any, dict[str, Any]] = {}
    for row in new_rows:
        seen[row[key]] = row  # the last record for a key wins within a batch
    for value, row in seen.items():
        old = stored.get(value)
        if old is None:
            inserts.append(complete(row) if complete else row)
        elif any(old._mapping[name] != row[name] for name in facts):
            updates.append({"row_id": old.id, **(complete(row) if complete else row)})
    await insert_rows(connection, table, inserts)
    await update_rows(connection, table, updates)
    return WriteCounts(len(inserts), len(updates), len(new_rows) - len(inserts) - len(updates))


async def _write_firms(connection: AsyncConnection, firms: Sequence[PropertyFirm]) -> WriteCounts:
    if not firms:
        return WriteCounts()
    for firm in firms:
        check_firm(firm)
    return await _upsert_keyed(
        connection, tables.firm, "code", [rows.firm_row(firm) for firm in firms], ("name", "phone")
    )


async def _write_owners(connection: AsyncConnection, owners: Sequence[Owner], sealer: Sealer) -> WriteCounts:
    if not owners:
        return WriteCounts()
    for owner in owners:
        check_owner(owner)
    latest = {owner.id: owner for owner in owners}
    # seal only the owners that are written: sealing is the costly part, and a resync of what
    # is stored compares blind indexes alone
    return await _upsert_keyed(
        connection,
        tables.owner,
        "key",
        [rows.owner_row(owner, sealer, sealed=False) for owner in owners],
        rows.OWNER_FACTS,
        complete=lambda row: {**row, **rows.sealed_values(latest[row["key"]], sealer)},
    )


async def _ids(
    connection: AsyncConnection, table: Any, key: str, values: Iterable[str], *where: Any
) -> dict[str, int]:
    found: list[Any] = await select_in(
        connection, select(table.c[key], table.c.id).where(*where), table.c[key], values
    )
    return {value: row_id for value, row_id in found}


async def _write_managements(
    connection: AsyncConnection, managements: Sequence[Management], cache: AnchorCache
) -> WriteCounts:
    if not managements:
        return WriteCounts()
    estates = await anchors(connection, (m.estate_code for m in managements), cache)
    firms = await _ids(connection, tables.firm, "code", (m.firm_code for m in managements))
    new_rows: list[dict[str, Any]] = []
    for item in managements:
        what = f"management of estate {item.estate_code} by firm {item.firm_code}"
        estate = estates.get(item.estate_code)
        if estate is None or estate.level != Level.ESTATE:
            raise missing(what, item.estate_code, "estate")
        if item.firm_code not in firms:
            raise missing(what, item.firm_code, "firm")
        check_span(what, item.since, item.until)
        new_rows.append(
            {
                "estate_id": estate.id,
                "firm_id": firms[item.firm_code],
                "since": item.since,
                "until": item.until,
                **rows.provenance_row(item.provenance),
            }
        )
    return await _upsert_pairs(
        connection, tables.management, ("estate_id", "firm_id", "since"), new_rows, ("until",)
    )


async def _write_ownerships(
    connection: AsyncConnection, ownerships: Sequence[Ownership], changes: rollups.Changes
) -> WriteCounts:
    if not ownerships:
        return WriteCounts()
    houses = await _ids(connection, tables.place, "code", (o.house_code for o in ownerships), tables.place.c.level == int(Level.HOUSE))
    owners = await _ids(connection, tables.owner, "key", (o.owner_id for o in ownerships))
    new_rows: list[dict[str, Any]] = []
    for item in ownerships:
        what = f"ownership of house {item.house_code} by owner {item.owner_id}"
        house_id = houses.get(item.house_code)
        if house_id is None:
            raise missing(what, item.house_code, "house")
        if item.owner_id not in owners:
            raise missing(what, item.owner_id, "owner")
        check_share(what, item.share)
        check_span(what, item.since, item.until)
        new_rows.append(
            {
                "house_id": house_id,
                "owner_id": owners[item.owner_id],
                "share": item.share,
                "since": item.since,
                "until": item.until,
                "origin": item.source,
                **rows.provenance_row(item.provenance),
            }
        )
    return await _upsert_pairs(
        connection,
        tables.ownership,
        ("house_id", "owner_id", "since"),
        new_rows,
        ("share", "until", "origin"),
        before=lambda written: changes.before_owners(connection, (row["owner_id"] for row in written)),
    )


async def _upsert_pairs(
    connection: AsyncConnection,
    table: Any,
    key: tuple[str, str, str],
    new_rows: list[dict[str, Any]],
    facts: Sequence[str],
    before: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
) -> WriteCounts:
    """`_upsert_keyed` for a three-column natural key whose first column selects the rows;
    `before` hears the rows about to be inserted or updated, before they are."""
    first = key[0]
    columns = [table.c.id, *(table.c[name] for name in key), *(table.c[name] for name in facts)]
    stored: dict[tuple[Any, ...], Mapping[Any, Any]] = {}
    for row in await select_in(connection, select(*columns), table.c[first], (r[first] for r in new_rows)):
        stored[tuple(row._mapping[name] for name in key)] = row._mapping
    seen = {tuple(row[name] for name in key): row for row in new_rows}
    inserts = [row for natural, row in seen.items() if natural not in stored]
    updates = [
        {"row_id": stored[natural]["id"], **row}
        for natural, row in seen.items()
        if natural in stored and any(stored[natural][name] != row[name] for name in facts)
    ]
    if before is not None and (inserts or updates):
        await before(inserts + updates)
    await insert_rows(connection, table, inserts)
    await update_rows(connection, table, updates)
    return WriteCounts(len(inserts), len(updates), len(new_rows) - len(inserts) - len(updates))


__all__ = ["AnchorCache", "anchors", "select_in", "write_batch"]
