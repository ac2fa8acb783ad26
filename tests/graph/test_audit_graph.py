"""The audit log on the graph store, against an adversary who has the graph: it edits `:Audit`
nodes behind the hub's back with its own Cypher (the FalkorDB client, not the store). As on SQL
(tests/graph/test_audit.py), what it does within the chain is caught without help, and what it
does at the end only against a head recorded earlier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.audit import Finding, verify
from graph.cypher.store import CypherStore
from graph.security import AuditEntry
from graph.store import Store
from tests import backends
from tests.graph.conformance_records import audit_drafts

pytestmark = pytest.mark.falkordb


@pytest.fixture
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backends.prepare("falkordb", request)
    opened = await backends.open_fresh("falkordb", request, tmp_path)
    try:
        yield opened
    finally:
        await backends.discard(opened)


async def _tamper(store: Store, cypher: str) -> None:
    """The adversary's own statement, sent with the FalkorDB client the store holds."""
    assert isinstance(store, CypherStore)
    await store.transport.graph.query(cypher)  # type: ignore[attr-defined]


async def _ten(store: Store) -> list[AuditEntry]:
    written: list[AuditEntry] = []
    for start, count in ((1, 4), (5, 3), (8, 3)):
        written += await store.append_audit(audit_drafts(start, count))
    return written


async def test_an_intact_log_verifies_and_reads_back_as_written(store: Store) -> None:
    written = await _ten(store)
    assert await store.audit_entries() == written
    assert verify(await store.audit_entries(), expected_head=(10, written[-1].hash)) is None


async def test_an_altered_entry_is_named(store: Store) -> None:
    await _ten(store)
    await _tamper(store, "MATCH (a:Audit {seq: 5}) SET a.actor = 'someone else'")
    assert verify(await store.audit_entries()) == Finding(5, "altered", "entry 5 was altered: its content no longer matches its hash")


async def test_a_removed_entry_is_named(store: Store) -> None:
    await _ten(store)
    await _tamper(store, "MATCH (a:Audit {seq: 7}) DELETE a")
    found = verify(await store.audit_entries())
    assert found is not None and (found.seq, found.kind) == (7, "removed")


async def test_cut_off_newest_entries_are_caught_only_by_a_recorded_head(store: Store) -> None:
    written = await _ten(store)
    await _tamper(store, "MATCH (a:Audit) WHERE a.seq > 8 DELETE a")
    assert verify(await store.audit_entries()) is None  # intact in itself
    found = verify(await store.audit_entries(), expected_head=(10, written[-1].hash))
    assert found is not None and (found.seq, found.kind) == (9, "removed")
