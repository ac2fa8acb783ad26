"""`SqlStore`: the store port on SQLAlchemy 2 async, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.ciphers.sealing import PERSONAL_FIELDS, Sealer
from graph.clock import today
from graph.errors import InvalidInput
from graph.cursors import decode_cursor, encode_cursor
from graph.identity import OwnerIds
from graph.levels import Level
from graph.model import (
    Batch,
    Management,
    Owner,
    Ownership,
    Page,
    Place,
    PropertyFirm,
    Stats,
    WriteCounts,
    span_order,
)
from graph.scope import Scope
from graph.sql import bulkload, migrate, rollups, rows, tables
from graph.sql.engine import database_url, make_engine
from graph.sql.writers import WriteTurns
from graph.sql.audit import AuditRecords
from graph.sql.tokens import TokenRecords
from graph.sql.shared import SharedRecords
from graph.sql.utilities import UtilityRecords
from graph.sql.ledger import LedgerRecords
from graph.sql.cases import CaseRecords
from graph.sql.devices import DeviceRecords
from graph.sql.merkle_logs import MerkleLogRecords
from graph.sql.votes import VoteRecords
from graph.sql.funds import FundRecords
from graph.sql.party import PartyRecords
from graph.sql.facilities import FacilityRecords
from graph.sql.credit import CreditRecords
from graph.sql.staff import StaffRecords
from graph.sql.reach_queries import ReachRecords
from graph.sql.scoping import Anchor, anchor_in, under, within_any
from graph.sql.writes import AnchorCache, anchor_of, anchor_query, anchors, keyed, select_in, select_keyed, write_batch
from graph.store import MAX_PAGE

Built = TypeVar("Built")

_CODE_TEXT = re.compile(r"[0-9A-Za-z]+")
_parent = tables.place.alias("parent")


def _place_query() -> Select[Any]:
    place = tables.place
    return select(place, _parent.c.code.label("parent_code")).outerjoin(
        _parent, _parent.c.id == place.c.parent_id
    )


def _place(row: Any) -> Place:
    return rows.place_of(row._mapping, row._mapping["parent_code"])


def _children_query(visible: Any, *, after: bool) -> Select[Any]:
    """The first `:limit` children in scope of each of the places `:parents` (by code, after
    `:after` when `after`), ranked within their parent."""
    place = tables.place
    ranked = (
        _place_query()
        .add_columns(func.row_number().over(partition_by=place.c.parent_id, order_by=place.c.code).label("position"))
        .where(visible)
    )
    if after:
        ranked = ranked.where(place.c.code > bindparam("after"))
    inner = ranked.where(place.c.parent_id.in_(bindparam("parents", expanding=True))).subquery()
    return select(inner).where(inner.c.position <= bindparam("limit")).order_by(inner.c.parent_id, inner.c.code)


def _holding(table: Any, as_of: dt.date | None) -> Any:
    """Spans holding on the day given as the parameter `as_of` (every span when None)."""
    if as_of is None:
        return true()
    day = bindparam("as_of", type_=table.c.since.type)
    return and_(table.c.since <= day, or_(table.c.until.is_(None), table.c.until > day))


class SqlStore(
    LedgerRecords,
    UtilityRecords,
    CaseRecords,
    DeviceRecords,
    VoteRecords,
    FundRecords,
    PartyRecords,
    FacilityRecords,
    CreditRecords,
    StaffRecords,
    TokenRecords,
    AuditRecords,
    SharedRecords,
    ReachRecords,
    MerkleLogRecords,
):
    """The graph store on SQL; see `graph.store.Store` for the contract."""

    def __init__(self, engine: AsyncEngine, *, sealer: Sealer, clock: Callable[[], dt.date] = today) -> None:
        self.engine = engine
        self.turns = WriteTurns(engine)
        self.sealer = sealer
        self._owner_ids: OwnerIds | None = None
        self.clock = clock
        self._anchors: AnchorCache = {}
        self._bulk = 0
        self._scopes: dict[frozenset[str], list[Anchor]] = {}
        self._predicates: dict[tuple[frozenset[str] | None, str, bool], Any] = {}
        self._statements: dict[tuple[Any, ...], Any] = {}

    @classmethod
    async def open(
        cls, url: str, *, sealer: Sealer, upgrade: bool = True, clock: Callable[[], dt.date] = today
    ) -> SqlStore:
        """Connect to `url` (a SQLite file or a PostgreSQL URL) and bring its schema to head;
        `sealer` holds the keys that seal owners' personal data."""
        engine = make_engine(database_url(url))
        if upgrade:
            await migrate.upgrade(engine, sealer=sealer)
            await bulkload.restore_all(engine)  # a bulk load killed midway left them dropped
        return cls(engine, sealer=sealer, clock=clock)

    @classmethod
    def connect(cls, url: str, *, sealer: Sealer, clock: Callable[[], dt.date] = today) -> SqlStore:
        """A store on `url` without touching the schema (connections open on first use); for a
        server that migrated the database before starting its event loop."""
        return cls(make_engine(database_url(url)), sealer=sealer, clock=clock)

    async def close(self) -> None:
        await self.engine.dispose()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    # -- scope -------------------------------------------------------------------------

    async def _roots(self, connection: AsyncConnection, scope: Scope) -> list[Anchor] | None:
        if scope.roots is None:
            return None
        cached = self._scopes.get(scope.roots)
        if cached is None:
            cached = list((await anchors(connection, sorted(scope.roots))).values())
            if len(cached) < len(scope.roots):
                return cached  # a root not written yet may be written later: do not remember
            if len(self._scopes) > 1024:
                self._scopes.clear()
            self._scopes[scope.roots] = cached
        return cached

    async def _visible(
        self, connection: AsyncConnection, scope: Scope, table: Any = tables.place, *, drive: bool = False
    ) -> Any:
        """The scope as a predicate on `table`, built once per scope: building it (and its
        statement cache key) anew cost half a millisecond per read."""
        key = (scope.roots, table.name, drive)
        predicate = self._predicates.get(key)
        if predicate is None:
            roots = await self._roots(connection, scope)
            predicate = within_any(table, roots, drive=drive)
            if scope.roots is not None and scope.roots not in self._scopes:
                return predicate  # a root is missing: not remembered, as in _roots
            if len(self._predicates) > 4096:
                self._predicates.clear()
            self._predicates[key] = predicate
        return predicate

    async def _scoped(
        self, connection: AsyncConnection, scope: Scope, shape: tuple[Any, ...], build: Callable[[Any], Built]
    ) -> Built:
        """The statement `build(predicate)` of the scope's predicate on `place`, built once per
        shape and scope (as the predicate itself is, by `_visible`) and kept while that is."""
        key = (shape, scope.roots)
        statement = self._statements.get(key)
        if statement is None:
            statement = build(await self._visible(connection, scope))
            if (scope.roots, tables.place.name, False) not in self._predicates:
                return statement  # the predicate was not remembered (a root not written yet): nor is this
            if len(self._statements) > 4096:
                self._statements.clear()
            self._statements[key] = statement
        return statement

    async def _anchor(self, connection: AsyncConnection, code: str | None) -> Anchor | None:
        if code is None:
            return None
        return (await anchors(connection, [code], self._anchors)).get(code)

    # -- places ------------------------------------------------------------------------

    async def places(self, codes: Sequence[str], scope: Scope) -> list[Place | None]:
        async with self.engine.connect() as connection:
            statement = await self._scoped(
                connection, scope, ("places",), lambda visible: keyed(_place_query().where(visible), tables.place.c.code)
            )
            found = {row.code: _place(row) for row in await select_keyed(connection, statement, codes, point=True)}
        return [found.get(code) for code in codes]

    async def children(
        self, codes: Sequence[str], scope: Scope, first: int, after: str | None = None
    ) -> list[Page[Place]]:
        after_code = decode_cursor(after)
        first = max(1, min(first, MAX_PAGE))
        async with self.engine.connect() as connection:
            parents = await anchors(connection, codes, self._anchors)
            ids = [anchor.id for anchor in parents.values()]
            by_parent: dict[int, list[Place]] = {pid: [] for pid in ids}
            if ids:
                query = await self._scoped(
                    connection, scope, ("children", after_code is None),
                    lambda visible: _children_query(visible, after=after_code is not None),
                )
                limits = {"limit": first + 1, **({"after": after_code} if after_code is not None else {})}
                for start in range(0, len(ids), 900):
                    for row in await connection.execute(query, {"parents": ids[start : start + 900], **limits}):
                        by_parent[row.parent_id].append(_place(row))
        pages: list[Page[Place]] = []
        for code in codes:
            anchor = parents.get(code)
            items = by_parent.get(anchor.id, []) if anchor else []
            pages.append(_page(items, first))
        return pages

    async def ancestors(self, codes: Sequence[str], scope: Scope) -> list[list[Place]]:
        lines: dict[str, list[Place]] = {code: [] for code in codes}
        async with self.engine.connect() as connection:
            roots = await self._roots(connection, scope)
            # Two indexed reads: the asked places by code (their ancestor ids), then those
            # ancestors by id. A single join of place to itself on `id IN (ancestor columns)`
            # under a scope predicate let SQLite scan the scope twice over (10⁸ rows, 13 s, for
            # a district's estates).
            found = await anchors(connection, codes)
            seen = {code: anchor for code, anchor in found.items() if anchor_in(anchor, roots)}
            wanted = {pid for anchor in seen.values() for pid in anchor.ancestors if pid is not None and pid != anchor.id}
            by_id: dict[int, Place] = {}
            if wanted:
                # the same predicate as within_any(place, roots): the scope's, kept by _visible
                statement = await self._scoped(
                    connection, scope, ("places by id",), lambda visible: keyed(_place_query().where(visible), tables.place.c.id)
                )
                for row in await select_keyed(connection, statement, wanted, point=True):
                    by_id[row.id] = _place(row)
            for code, anchor in seen.items():
                lines[code] = [by_id[pid] for pid in anchor.ancestors if pid in by_id and pid != anchor.id]
        return [sorted(lines[code], key=lambda item: item.level) for code in codes]

    async def _subtree_filter(
        self, connection: AsyncConnection, level: Level, within: str | None, scope: Scope
    ) -> Any | None:
        """The predicate for places of `level` under `within` in scope; None if `within` is unknown."""
        place = tables.place
        # with no `within`, the scope is the bound of the listing and may use its indexes
        clauses = [place.c.level == int(level), await self._visible(connection, scope, drive=within is None)]
        if within is not None:
            root = await self._anchor(connection, within)
            if root is None:
                return None
            # below the root's level the root itself cannot match: `ancestor = root` alone lets
            # the ancestor's index drive (with `id = root OR …` SQLite walked every place of the
            # level in code order: 0.57 s per estate's houses on the city preset)
            clauses.append(under(place, root, inclusive=level <= root.level))
        return and_(*clauses)

    async def subtree(
        self, level: Level, within: str | None, scope: Scope, first: int, after: str | None = None
    ) -> Page[Place]:
        after_code = decode_cursor(after)
        first = max(1, min(first, MAX_PAGE))
        async with self.engine.connect() as connection:
            condition = await self._subtree_filter(connection, level, within, scope)
            if condition is None:
                return _page([], first)
            query = _place_query().where(condition)
            if after_code is not None:
                query = query.where(tables.place.c.code > after_code)
            query = query.order_by(tables.place.c.code).limit(first + 1)
            items = [_place(row) for row in await connection.execute(query)]
        return _page(items, first)

    async def count(self, level: Level, within: str | None, scope: Scope) -> int:
        async with self.engine.connect() as connection:
            condition = await self._subtree_filter(connection, level, within, scope)
            if condition is None:
                return 0
            result = await connection.execute(select(func.count()).select_from(tables.place).where(condition))
            return int(result.scalar_one())

    async def stats(self, within: str, group_by: Level, scope: Scope) -> list[Stats]:
        place, stats = tables.place, tables.place_stats
        async with self.engine.connect() as connection:
            condition = await self._subtree_filter(connection, group_by, within, scope)
            if condition is None:
                return []
            if group_by == Level.HOUSE:
                found = list(await connection.execute(_place_query().where(condition).order_by(place.c.code)))
                totals = await rollups.grouped(connection, Level.HOUSE, condition, self.clock())
                return [_stats(_place(row), totals.get(row.id)) for row in found]
            query = (
                _place_query()
                .add_columns(*_STATS_COLUMNS)
                .outerjoin(stats, stats.c.place_id == place.c.id)
                .where(condition)
                .order_by(place.c.code)
            )
            return [_stats_row(row) for row in await connection.execute(query)]

    async def place_stats(self, codes: Sequence[str], scope: Scope) -> list[Stats | None]:
        place, stats = tables.place, tables.place_stats
        found: dict[str, Stats] = {}
        async with self.engine.connect() as connection:
            visible = await self._visible(connection, scope)
            query = (
                _place_query()
                .add_columns(*_STATS_COLUMNS)
                .outerjoin(stats, stats.c.place_id == place.c.id)
                .where(visible)
            )
            houses: list[Any] = []
            for row in await select_in(connection, query, place.c.code, codes):
                if row.level == Level.HOUSE:
                    houses.append(row)
                else:
                    found[row.code] = _stats_row(row)
            if houses:
                ids = [row.id for row in houses]
                totals = await rollups.grouped(connection, Level.HOUSE, place.c.id.in_(ids), self.clock())
                found.update((row.code, _stats(_place(row), totals.get(row.id))) for row in houses)
        return [found.get(code) for code in codes]

    async def search(self, text: str, within: str | None, scope: Scope, first: int) -> list[Place]:
        place = tables.place
        needle = text.strip()
        first = max(1, min(first, MAX_PAGE))
        found: dict[str, Place] = {}
        async with self.engine.connect() as connection:
            clauses = [await self._visible(connection, scope)]
            if within is not None:
                root = await self._anchor(connection, within)
                if root is None:
                    return []
                clauses.append(under(place, root))
            base = _place_query().where(and_(*clauses))
            if _CODE_TEXT.fullmatch(needle):
                prefix = needle.upper()
                by_code = base.where(place.c.code >= prefix, place.c.code < prefix + "\x7f")
                for row in await connection.execute(by_code.order_by(place.c.code).limit(first)):
                    found[row.code] = _place(row)
            if len(found) < first:
                pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                by_name = (
                    base.where(place.c.level < int(Level.HOUSE))
                    .where(func.lower(place.c.name).like(pattern.lower(), escape="\\"))
                    .order_by(place.c.level, place.c.code)
                    .limit(first)
                )
                for row in await connection.execute(by_name):
                    found.setdefault(row.code, _place(row))
        return list(found.values())[:first]

    async def shapes(self, level: Level, within: str, scope: Scope) -> list[Place]:
        async with self.engine.connect() as connection:
            condition = await self._subtree_filter(connection, level, within, scope)
            if condition is None:
                return []
            query = (
                _place_query()
                .where(condition)
                .where(tables.place.c.geometry.is_not(None))
                .order_by(tables.place.c.code)
            )
            return [_place(row) for row in await connection.execute(query)]

    # -- owners, firms and the spans that tie them to places --------------------------------

    async def _spans(
        self,
        query: Select[Any],
        span: Any,
        key: Any,
        label: str,
        keys: Sequence[str],
        as_of: dt.date | None,
        scope: Scope,
        convert: Callable[[Any], Any],
        *,
        point: bool = False,
    ) -> list[list[Any]]:
        """For each key, the spans (ownerships, managements) holding on `as_of` whose place —
        joined into `query` as `place` — is in scope."""
        async with self.engine.connect() as connection:
            statement = await self._scoped(
                connection, scope, ("spans", id(query), id(key), as_of is None),
                lambda visible: keyed(query.where(visible).where(_holding(span, as_of)), key),
            )
            found = await select_keyed(
                connection, statement, keys, {"as_of": as_of} if as_of is not None else None, point=point
            )
        return _grouped_by(found, keys, label, convert)

    async def _reached(
        self, table: Any, key: str, span: Any, via: str, at: str, keys: Sequence[str], scope: Scope
    ) -> list[Any]:
        """Rows of `table` by `key`; with a limited scope, only those tied by a `span` (its
        `via` column pointing at them, its `at` column at a place) to a place in scope."""
        place = tables.place
        async with self.engine.connect() as connection:
            query = select(table)
            if scope.roots is not None:
                tied = (
                    select(span.c.id)
                    .join(place, place.c.id == span.c[at])
                    .where(span.c[via] == table.c.id)
                    .where(await self._visible(connection, scope))
                )
                query = query.where(exists(tied))
            found = {row._mapping[key]: row._mapping for row in await select_in(connection, query, table.c[key], keys)}
        return [found.get(value) for value in keys]

    async def ownerships(
        self, house_codes: Sequence[str], as_of: dt.date | None, scope: Scope, *, with_owners: bool = True
    ) -> list[list[Ownership]]:
        # a house's spans, by its code: an indexed point read
        if not with_owners:
            return await self._spans(
                _SPANS, tables.ownership, tables.place.c.code, "house_code", house_codes, as_of, scope, rows.ownership_of,
                point=True,
            )
        return await self._spans(
            _OWNERSHIPS, tables.ownership, tables.place.c.code, "house_code", house_codes, as_of, scope, self._ownership,
            point=True,
        )

    async def houses_of(
        self, owner_ids: Sequence[str], as_of: dt.date | None, scope: Scope
    ) -> list[list[Ownership]]:
        return await self._spans(
            _OWNERSHIPS, tables.ownership, tables.owner.c.key, "owner_key", owner_ids, as_of, scope, self._ownership
        )

    async def managements(
        self, estate_codes: Sequence[str], as_of: dt.date | None, scope: Scope
    ) -> list[list[Management]]:
        return await self._spans(
            _MANAGEMENTS, tables.management, tables.place.c.code, "estate_code", estate_codes, as_of, scope, rows.management_of
        )

    async def estates_of(
        self, firm_codes: Sequence[str], as_of: dt.date | None, scope: Scope
    ) -> list[list[Management]]:
        return await self._spans(
            _MANAGEMENTS, tables.management, tables.firm.c.code, "firm_code", firm_codes, as_of, scope, rows.management_of
        )

    async def owners(self, ids: Sequence[str], scope: Scope) -> list[Owner | None]:
        found = await self._reached(tables.owner, "key", tables.ownership, "owner_id", "house_id", ids, scope)
        return [rows.owner_of(row, self.sealer) if row is not None else None for row in found]

    @property
    def owner_ids(self) -> OwnerIds:
        if self._owner_ids is None:
            self._owner_ids = self.sealer.owner_ids()
        return self._owner_ids

    async def owners_known(self, ids: Sequence[str]) -> list[bool]:
        async with self.engine.connect() as connection:
            found = {row[0] for row in await select_in(connection, select(tables.owner.c.key), tables.owner.c.key, ids)}
        return [value in found for value in ids]

    def _ownership(self, row: Any) -> Ownership:
        return rows.ownership_of(row, self.sealer)

    def lookup_digest(self, field: str, value: str) -> str:
        if field not in PERSONAL_FIELDS:
            raise InvalidInput("field", field, f"is not a personal field; use one of {', '.join(PERSONAL_FIELDS)}")
        return self.sealer.lookup_digest(field, value)

    async def owners_by(self, field: str, value: str, scope: Scope) -> list[Owner]:
        if field not in PERSONAL_FIELDS:
            raise InvalidInput("field", field, f"is not a personal field; use one of {', '.join(PERSONAL_FIELDS)}")
        owner, ownership, place = tables.owner, tables.ownership, tables.place
        index = self.sealer.index(field, value)
        async with self.engine.connect() as connection:
            query = select(owner.c.key).where(owner.c[f"{field}_index"] == index)
            if scope.roots is not None:
                # the scope before the limit: namesakes outside it must not crowd out those inside
                tied = (
                    select(ownership.c.id)
                    .join(place, place.c.id == ownership.c.house_id)
                    .where(ownership.c.owner_id == owner.c.id)
                    .where(await self._visible(connection, scope))
                )
                query = query.where(exists(tied))
            keys = [row.key for row in await connection.execute(query.order_by(owner.c.key).limit(MAX_PAGE))]
        found = await self.owners(keys, scope)
        return [item for item in found if item is not None]

    async def firms(self, codes: Sequence[str], scope: Scope) -> list[PropertyFirm | None]:
        found = await self._reached(tables.firm, "code", tables.management, "firm_id", "estate_id", codes, scope)
        return [rows.firm_of(row) if row is not None else None for row in found]

    # -- writes ------------------------------------------------------------------------

    async def write(self, batch: Batch) -> WriteCounts:
        try:
            async with self.turns.writing() as connection:
                await rollups.one_writer(connection)
                if self._bulk:
                    await bulkload.tune_writer(connection)
                changes = rollups.Changes(self.clock())
                counts = await write_batch(connection, batch, self._anchors, self.sealer, changes)
                await rollups.maintain(connection, changes)
        except BaseException:
            # Rolled back: anchors cached during the batch may name places that were never stored.
            self._anchors.clear()
            raise
        if batch.places and counts.updated:
            self._scopes.clear()
            self._predicates.clear()
        return counts

    @contextlib.asynccontextmanager
    async def bulk_loading(self) -> AsyncIterator[None]:
        """See graph.store.Store.bulk_loading and graph.sql.bulkload."""
        if self._bulk:
            self._bulk += 1
            try:
                yield
            finally:
                self._bulk -= 1
            return
        async with self.turns.writing() as connection:
            if await bulkload.empty(connection):  # into a store that holds a city, rebuilding them would cost more
                await bulkload.drop(connection)
        self._bulk = 1
        try:
            yield
        finally:
            self._bulk = 0
            async with self.turns.writing() as connection:
                await bulkload.restore(connection)
            if self.backend == "sqlite":
                await self.engine.dispose()  # no pooled connection keeps the load's page cache

    async def refresh_stats(self, within: str | None = None) -> None:
        async with self.turns.writing() as connection:
            root = await self._anchor(connection, within) if within is not None else None
            if within is not None and root is None:
                return
            lineage = [pid for pid in root.ancestors if pid is not None] if root else []
            by_id = {
                row.id: anchor_of(row)
                for row in await select_in(connection, anchor_query(), tables.place.c.id, lineage)
            }
            ancestors = [by_id[pid] for pid in lineage if pid in by_id]
            await rollups.refresh(connection, root, ancestors, self.clock())


_SPANS = (
    select(tables.ownership, tables.place.c.code.label("house_code"), tables.owner.c.key.label("owner_key"))
    .join(tables.place, tables.place.c.id == tables.ownership.c.house_id)
    .join(tables.owner, tables.owner.c.id == tables.ownership.c.owner_id)
)
"""Ownerships with their house's code and owner's key alone: no sealed value is read."""

_OWNERSHIPS = (
    select(
        tables.ownership,
        tables.place.c.code.label("house_code"),
        # owner_key and the owner's other columns, prefixed (both tables have id, source…)
        *(column.label(rows.OWNER_PREFIX + column.name) for column in tables.owner.c if column.name != "id"),
    )
    .join(tables.place, tables.place.c.id == tables.ownership.c.house_id)
    .join(tables.owner, tables.owner.c.id == tables.ownership.c.owner_id)
)
_MANAGEMENTS = (
    select(
        tables.management,
        tables.place.c.code.label("estate_code"),
        tables.firm.c.code.label("firm_code"),
    )
    .join(tables.place, tables.place.c.id == tables.management.c.estate_id)
    .join(tables.firm, tables.firm.c.id == tables.management.c.firm_id)
)


def _page(items: list[Place], first: int) -> Page[Place]:
    shown = items[:first]
    return Page(
        items=shown,
        has_next=len(items) > first,
        end_cursor=encode_cursor(shown[-1].code) if shown else None,
        start_cursor=encode_cursor(shown[0].code) if shown else None,
    )


def _grouped_by(found: Sequence[Any], keys: Sequence[str], column: str, convert: Callable[[Any], Any]) -> list[list[Any]]:
    groups: dict[str, list[Any]] = {key: [] for key in keys}
    for row in found:
        groups[row._mapping[column]].append(convert(row._mapping))
    return [sorted(groups[key], key=span_order) for key in keys]


_STATS_COLUMNS = tuple(
    tables.place_stats.c[name] for name in ("houses", "floor_area_centi_m2", "owners", "estates", "buildings")
)


def _stats_row(row: Any) -> Stats:
    """Stats from a place row joined to its roll-up (zeros if it was never refreshed)."""
    return _stats(_place(row), row._mapping)


def _stats(place: Place, values: Mapping[str, Any] | None) -> Stats:
    values = values or {}
    return Stats(
        place=place,
        houses=int(values.get("houses") or 0),
        floor_area_centi_m2=int(values.get("floor_area_centi_m2") or 0),
        owners=int(values.get("owners") or 0),
        estates=int(values.get("estates") or 0),
        buildings=int(values.get("buildings") or 0),
    )
