"""Append-only Merkle logs in SQL (a base of SqlStore): the storage side of
`graph.logstore.LogStore`, whose docstrings hold each member's contract; what an append or a
head may hold is checked by `graph.logstore` for every adapter.

An append is one transaction whose first write is the compare-and-set of the log's size row:
`UPDATE merkle_log SET size = new WHERE name = log AND size = expected`, or for a log's first
append (expected 0) an INSERT of that row that skips on conflict. A statement that changed no
row means another appender got there first: MOVED, and the transaction rolls back. On
PostgreSQL the row lock makes a concurrent appender wait and then find the new size (read
committed evaluates the WHERE again on the committed row); on SQLite writers take the database's
write lock before their first read (graph.sql.writers). Claims are then inserted in key order
with ON CONFLICT DO NOTHING (a concurrent claimer of a key waits for the first's commit and
skips) and read back: a key held by another claimant is CLAIMED, and everything rolls back.
Only then are the entries, node hashes and claims' rows kept, in the same transaction.

Times are stored in UTC and read back aware; payloads and hashes as binary columns, so their
bytes come back exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.errors import InvalidInput, StoreError
from graph.logstore import (
    Appended,
    AppendResult,
    LogEntry,
    NewEntry,
    NodeKey,
    SignedHead,
    check_append,
    check_claims,
    check_head,
    first_held,
)
from graph.sql import tables
from graph.sql.bulk import insert_rows
from graph.sql.rows import utc
from graph.sql.writes import select_in

if TYPE_CHECKING:
    from graph.sql.writers import WriteTurns

NODE_CHUNK = 400
"""Node keys asked for per statement (two bound values each)."""


class _Refused(Exception):
    """Raised inside an append's transaction to roll it back and answer `result`."""

    def __init__(self, result: AppendResult) -> None:
        super().__init__(result.outcome.value)
        self.result = result


class _Held(Exception):
    """Raised inside a claiming transaction to roll it back: `held` is another claimant's."""

    def __init__(self, held: tuple[str, str]) -> None:
        super().__init__(held[0])
        self.held = held


async def _take(connection: AsyncConnection, claims: Mapping[str, str]) -> tuple[str, str] | None:
    """Insert the claims not held yet and say the first held by another claimant (None: none)."""
    ordered = sorted(claims)
    claim = tables.merkle_claim
    await insert_rows(connection, claim, [{"key": key, "claimant": claims[key]} for key in ordered], skip_existing=True)
    holders = {row.key: row.claimant for row in await select_in(connection, select(claim.c.key, claim.c.claimant), claim.c.key, ordered)}
    return first_held(claims, holders)


class MerkleLogRecords:
    """The Merkle log part of SqlStore; see `graph.logstore.LogStore` for the contract."""

    engine: AsyncEngine
    turns: WriteTurns

    async def log_size(self, log: str) -> int:
        async with self.engine.connect() as connection:
            return await _size(connection, log)

    async def log_append(
        self,
        log: str,
        expected_size: int,
        entries: Sequence[NewEntry],
        nodes: Mapping[NodeKey, bytes],
        claims: Mapping[str, str] | None = None,
    ) -> AppendResult:
        check_append(log, expected_size, entries, nodes, claims)
        claims = dict(claims or {})
        size = expected_size + len(entries)
        log_row = tables.merkle_log
        try:
            async with self.turns.writing() as connection:
                if expected_size == 0:
                    moved = await connection.execute(
                        _skipping(connection, log_row).values(name=log, size=size).returning(log_row.c.name)
                    )
                else:
                    moved = await connection.execute(
                        update(log_row)
                        .where(log_row.c.name == log, log_row.c.size == expected_size)
                        .values(size=size)
                        .returning(log_row.c.name)
                    )
                if moved.first() is None:
                    raise _Refused(AppendResult(Appended.MOVED, await _size(connection, log)))
                if claims:
                    held = await _take(connection, claims)
                    if held is not None:
                        raise _Refused(
                            AppendResult(Appended.CLAIMED, expected_size, claim=held[0], claimant=held[1])
                        )
                await insert_rows(
                    connection,
                    tables.merkle_entry,
                    [
                        {"log": log, "index": expected_size + offset, "key": entry.key, "payload": entry.payload, "at": utc(entry.at)}
                        for offset, entry in enumerate(entries)
                    ],
                )
                await insert_rows(
                    connection,
                    tables.merkle_node,
                    [{"log": log, "level": level, "index": index, "hash": value} for (level, index), value in sorted(nodes.items())],
                    skip_existing=True,
                )
        except _Refused as refused:
            return refused.result
        return AppendResult(Appended.APPENDED, size)

    async def log_entries(self, log: str, start: int, end: int) -> list[LogEntry]:
        entry = tables.merkle_entry
        start = max(start, 0)
        if end <= start:
            return []
        query = (
            select(entry)
            .where(entry.c.log == log, entry.c["index"] >= start, entry.c["index"] < end)
            .order_by(entry.c["index"])
        )
        async with self.engine.connect() as connection:
            return [_entry(row._mapping) for row in await connection.execute(query)]

    async def log_entries_by_key(self, log: str, keys: Sequence[str]) -> list[LogEntry]:
        entry = tables.merkle_entry
        async with self.engine.connect() as connection:
            found = await select_in(connection, select(entry).where(entry.c.log == log), entry.c.key, keys)
        return sorted((_entry(row._mapping) for row in found), key=lambda item: item.index)

    async def log_nodes(self, log: str, keys: Sequence[NodeKey]) -> list[bytes | None]:
        node = tables.merkle_node
        wanted = list(dict.fromkeys((int(level), int(index)) for level, index in keys))
        found: dict[NodeKey, bytes] = {}
        by_level: dict[int, list[int]] = {}
        for level, index in wanted:
            by_level.setdefault(level, []).append(index)
        # one term per level and run of consecutive indices (a verifier asks for every node of a
        # stretch of the log), the rest one IN per level, each naming the whole key prefix: both
        # databases then look every node up by its primary key (a row-value IN scanned every
        # node of the log); at most NODE_CHUNK values per statement
        terms: list[tuple[int, int, int | None, list[int]]] = []  # (weight, level, range start or None, indices)
        for level, indices in sorted(by_level.items()):
            single, ranges = _runs(sorted(set(indices)))
            terms += [(2, level, low, [high]) for low, high in ranges]
            terms += [(len(single[at : at + NODE_CHUNK]), level, None, single[at : at + NODE_CHUNK]) for at in range(0, len(single), NODE_CHUNK)]
        async with self.engine.connect() as connection:
            chunk: list[Any] = []
            weight = 0
            for position, (cost, level, low, values) in enumerate(terms):
                if low is None:
                    chunk.append(and_(node.c.log == log, node.c.level == level, node.c["index"].in_(values)))
                else:
                    chunk.append(and_(node.c.log == log, node.c.level == level, node.c["index"].between(low, values[0])))
                weight += cost
                if weight >= NODE_CHUNK or position == len(terms) - 1:
                    query = select(node.c.level, node.c["index"], node.c.hash).where(or_(*chunk))
                    for row in await connection.execute(query):
                        found[(int(row[0]), int(row[1]))] = bytes(row[2])
                    chunk, weight = [], 0
        return [found.get((level, index)) for level, index in keys]

    async def claims(self, keys: Sequence[str]) -> list[str | None]:
        claim = tables.merkle_claim
        async with self.engine.connect() as connection:
            found = {
                row.key: row.claimant
                for row in await select_in(connection, select(claim.c.key, claim.c.claimant), claim.c.key, keys)
            }
        return [found.get(key) for key in keys]

    async def take_claims(self, claims: Mapping[str, str]) -> tuple[str, str] | None:
        check_claims(claims)
        if not claims:
            return None
        try:
            async with self.turns.writing() as connection:
                held = await _take(connection, claims)
                if held is not None:
                    raise _Held(held)
        except _Held as refused:
            return refused.held
        return None

    async def save_head(self, head: SignedHead) -> None:
        check_head(head)
        async with self.turns.writing() as connection:
            size = await _size(connection, head.log)
            if head.size > size:
                raise InvalidInput("size", head.size, f"is beyond the {size} entries log {head.log!r} holds")
            await connection.execute(
                _skipping(connection, tables.merkle_head).values(
                    log=head.log, size=head.size, kind=head.kind, at=utc(head.at), root=head.root, signature=head.signature
                )
            )

    async def log_heads(self, log: str, kinds: Sequence[str] | None = None) -> list[SignedHead]:
        head = tables.merkle_head
        if kinds is not None and not kinds:
            return []
        query = select(head).where(head.c.log == log)
        if kinds is not None:
            query = query.where(head.c.kind.in_(list(dict.fromkeys(kinds))))
        query = query.order_by(head.c.size, head.c.at, head.c.kind)
        async with self.engine.connect() as connection:
            found = list(await connection.execute(query))
        return [
            SignedHead(
                log=row.log,
                size=int(row.size),
                root=bytes(row.root),
                at=utc(row.at),
                kind=row.kind,
                signature=bytes(row.signature),
            )
            for row in found
        ]


async def _size(connection: AsyncConnection, log: str) -> int:
    found = await connection.execute(select(tables.merkle_log.c.size).where(tables.merkle_log.c.name == log))
    size = found.scalar_one_or_none()
    return 0 if size is None else int(size)


def _skipping(connection: AsyncConnection, table: Any) -> Any:
    """INSERT INTO `table` … ON CONFLICT DO NOTHING in the connection's dialect."""
    if connection.dialect.name == "postgresql":
        return postgresql_insert(table).on_conflict_do_nothing()
    if connection.dialect.name == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing()
    raise StoreError(f"Merkle logs need INSERT … ON CONFLICT DO NOTHING, which {connection.dialect.name} lacks here")


RUN = 8
"""Consecutive node indices at one level asked for as a range rather than one by one."""


def _runs(indices: Sequence[int]) -> tuple[list[int], list[tuple[int, int]]]:
    """Sorted distinct indices split into those asked for one by one and runs of at least RUN
    consecutive ones, as (first, last)."""
    single: list[int] = []
    ranges: list[tuple[int, int]] = []
    start = 0
    while start < len(indices):
        end = start
        while end + 1 < len(indices) and indices[end + 1] == indices[end] + 1:
            end += 1
        if end - start + 1 >= RUN:
            ranges.append((indices[start], indices[end]))
        else:
            single.extend(indices[start : end + 1])
        start = end + 1
    return single, ranges


def _entry(row: Mapping[Any, Any]) -> LogEntry:
    return LogEntry(log=row["log"], index=int(row["index"]), key=row["key"], payload=bytes(row["payload"]), at=utc(row["at"]))
