"""The audit log on SQL: appends that extend the hash chain one writer at a time, and reads.

Entries are only ever inserted: there is deliberately no method that updates or deletes a row
(a database account for the hub can be granted INSERT and SELECT on `audit` and nothing more).

An append reads the head (the newest entry) and inserts the entries that follow it in one
transaction. Two appenders that read the same head would both write the next seq; the primary key
lets only one of them commit, but the loser would fail. So each backend serialises appenders
before the head is read:
- PostgreSQL: a transaction-scoped advisory lock (`pg_advisory_xact_lock`), released at commit
  or rollback. Unlike LOCK TABLE it needs no UPDATE/DELETE privilege on the table, so it works
  for an INSERT-only account; readers are never blocked.
- SQLite: the store's write turn (graph.sql.writers), which takes the database's write lock with
  `BEGIN IMMEDIATE` before the head is read (other writers wait their turn; readers go on under
  WAL).
Should a writer still collide (one that bypasses these locks), the append is retried on a fresh
head a few times.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.audit import GENESIS, canonical_json, chain, check_drafts, page_limit
from graph.errors import StoreError
from graph.security import AuditDraft, AuditEntry
from graph.sql import tables
from graph.sql.writers import WriteTurns

ADVISORY_LOCK = int.from_bytes(b"HUBAUDIT", "big")
"""The key of the advisory lock appenders take on PostgreSQL (0x4855424155444954; pg_locks shows
it as classid 1213547073, objid 1430538580)."""

ATTEMPTS = 5
"""How many times an append is tried against a fresh head after a seq collision."""

def _entry(row: Any) -> AuditEntry:
    at: dt.datetime = row.at
    # SQLite hands DateTime back naive (the store wrote UTC); PostgreSQL in the session's zone.
    at = at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at.astimezone(dt.timezone.utc)
    return AuditEntry(
        seq=row.seq,
        at=at,
        actor=row.actor,
        role=row.role,
        action=row.action,
        target=row.target,
        detail=json.loads(row.detail),
        reason=row.reason,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,  # UTC (chain normalises it): SQLite keeps no zone
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "detail": canonical_json(entry.detail),  # the very text the hash covers
        "reason": entry.reason,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


async def _lock_head(connection: AsyncConnection) -> None:
    """Make this transaction the only appender until it ends (see the module docstring)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    # SQLite: the write turn took the database's write lock already (graph.sql.writers)


class AuditRecords:
    """The audit part of the store port (`append_audit`, `audit_entries`, `audit_tail`), for a
    store whose `engine` is an SQLAlchemy AsyncEngine on SQLite or PostgreSQL."""

    engine: AsyncEngine
    turns: WriteTurns

    async def append_audit(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        drafts = list(drafts)
        if not drafts:
            return []
        check_drafts(drafts)  # graph.audit's limits, the same on every backend
        audit = tables.audit
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.turns.writing(quiet=True) as connection:
                    await _lock_head(connection)
                    query = select(audit.c.seq, audit.c.hash).order_by(audit.c.seq.desc()).limit(1)
                    head = (await connection.execute(query)).first()
                    last_seq, last_hash = (head.seq, head.hash) if head else (0, GENESIS)
                    entries = chain(drafts, last_seq=last_seq, last_hash=last_hash)
                    await connection.execute(audit.insert(), [_row(entry) for entry in entries])
                return entries
            except IntegrityError as error:
                if attempt == ATTEMPTS:
                    message = f"could not append to the audit log after {ATTEMPTS} attempts: {error.orig}"
                    raise StoreError(message) from error
        raise AssertionError("unreachable")

    async def audit_entries(self, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        limit = page_limit(limit)
        if not limit:
            return []
        audit = tables.audit
        query = select(audit).where(audit.c.seq > after).order_by(audit.c.seq).limit(limit)
        async with self.engine.connect() as connection:
            return [_entry(row) for row in await connection.execute(query)]

    async def audit_tail(self, limit: int = 20) -> list[AuditEntry]:
        limit = page_limit(limit)
        if not limit:
            return []
        audit = tables.audit
        query = select(audit).order_by(audit.c.seq.desc()).limit(limit)
        async with self.engine.connect() as connection:
            newest = [_entry(row) for row in await connection.execute(query)]
        return newest[::-1]
