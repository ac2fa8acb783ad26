"""Two hub processes on one store at once: the audit chain, run leases, shared-query versions,
dead letters and tokens stay whole when two stores (two pools, two in-process turns: what two
processes hold) write the same records at the same moment, on every backend.

Within one store, writers take turns in front of the database; across stores only what the
backend does keeps them apart (SQL's locks and transactions, a Cypher statement's own check and,
on Neo4j, a uniqueness constraint), which is what these tests probe.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from graph import open_store
from graph.audit import verify
from graph.ciphers.sealing import Sealer
from graph.errors import StoreError
from graph.ledger import Lease, Reason, RunStatus
from graph.store import Store
from tests import backends
from tests.graph.conformance_records import audit_drafts, leased, letter, shared_draft, token

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)
    return str(request.param)


@pytest.fixture
async def pair(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one new database, as two processes would open it."""
    url = await backends.url_for(backend, request, tmp_path)
    sealer = Sealer.generate()
    first = await open_store(url, sealer=sealer)
    second = await open_store(url, sealer=sealer)
    try:
        yield first, second
    finally:
        await second.close()
        await backends.discard(first)


async def test_appends_from_two_processes_leave_one_chain(pair: tuple[Store, Store]) -> None:
    batches = [audit_drafts(100 * number, 3) for number in range(12)]
    results = await asyncio.gather(*(pair[number % 2].append_audit(batch) for number, batch in enumerate(batches)))
    stored = await pair[0].audit_entries()
    assert [entry.seq for entry in stored] == list(range(1, 37)) and verify(stored) is None
    assert await pair[1].audit_entries() == stored
    for batch, entries in zip(batches, results):
        seqs = [entry.seq for entry in entries]
        assert seqs == list(range(seqs[0], seqs[0] + 3))  # each batch whole, in order
        assert [entry.target for entry in entries] == [draft.target for draft in batch]
        assert stored[seqs[0] - 1 : seqs[-1]] == entries  # as returned to its appender


async def test_two_processes_close_each_abandoned_run_once(pair: tuple[Store, Store]) -> None:
    now = T0 + dt.timedelta(hours=1)
    for index in range(8):
        await pair[0].save_run(leased(index, "registry", now - dt.timedelta(minutes=1)))
    alive = leased(9, "registry", now - dt.timedelta(minutes=1))
    await pair[0].save_run(alive)
    renewed = replace(alive, lease=Lease(4009, "host-a", now + dt.timedelta(minutes=15)), heartbeat_at=now)
    closings = await asyncio.gather(
        pair[0].close_abandoned(now, "process one"),
        pair[1].close_abandoned(now, "process two"),
        pair[1].renew_run(renewed),
    )
    closed = [*closings[0], *closings[1]]
    ids = sorted(run.id for run in closed)
    assert len(ids) == len(set(ids))  # each run closed by one process only
    stored = {run.id: run for run in (await pair[0].runs(None, 50)).items}
    assert {run.id for run in stored.values() if run.status is RunStatus.ABANDONED} == set(ids)
    assert set(ids) >= {f"run{index:03d}" for index in range(8)}
    for run in closed:
        assert stored[run.id].closed_by == run.closed_by
    # the renewal and a closing of run009 never both took effect
    assert (closings[2] is True) == (stored["run009"].status is RunStatus.RUNNING)


async def test_publishers_in_two_processes_each_take_a_number(pair: tuple[Store, Store]) -> None:
    published = await asyncio.gather(
        *(pair[number % 2].publish_shared(shared_draft("weekly-alarms", f"{{ levels {{ level }} }} # {number}"), T0) for number in range(6))
    )
    assert sorted(query.version for query in published) == [1, 2, 3, 4, 5, 6]
    assert [query.version for query in await pair[1].shared_versions("weekly-alarms")] == [1, 2, 3, 4, 5, 6]


async def test_letters_set_aside_in_two_processes_are_all_counted(pair: tuple[Store, Store]) -> None:
    calls = [
        [letter(f"u{key}", f"run{number}", reason=Reason.UNKNOWN_PLACE) for key in range(5)]
        for number in range(6)
    ]
    new = await asyncio.gather(*(pair[number % 2].set_aside(batch) for number, batch in enumerate(calls)))
    assert sum(new) == 5  # each record and reason is new once
    page = await pair[0].dead_letters("registry", 50)
    assert sorted((item.record_key, item.seen) for item in page.items) == [(f"u{key}", 6) for key in range(5)]
    assert len({item.id for item in page.items}) == 5


async def test_a_token_id_saved_by_two_processes_is_recorded_once(pair: tuple[Store, Store]) -> None:
    outcomes = await asyncio.gather(
        pair[0].save_token(token(1)), pair[1].save_token(token(1, name="someone else")), return_exceptions=True
    )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["NoneType", "StoreError"]
    refused = next(outcome for outcome in outcomes if outcome is not None)
    assert isinstance(refused, StoreError) and "tok0001" in str(refused)
    [kept] = await pair[1].tokens()
    assert kept in (token(1), token(1, name="someone else"))
