"""The audit chain stays one chain when several OS processes append at once, on every backend:
SQLite (its one writer: BEGIN IMMEDIATE), PostgreSQL (an advisory transaction lock around
read-head-and-insert) and the graph stores (a compare-and-set on the head). Four processes,
each with its own store, append their batches as fast as they can; the log then verifies and
holds every batch whole. (tests/graph/test_records_processes.py does the same with two stores
in one process.)"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from graph import open_store
from graph.audit import verify
from graph.ciphers.sealing import Sealer
from tests import backends

PROCESSES = 4
BATCHES = 15
"""Batches of three entries each process appends."""

APPENDER = """
import asyncio, sys
from graph import open_store
from graph.ciphers.sealing import Sealer
from graph.security import AuditDraft

async def main(url: str, number: int, batches: int) -> None:
    store = await open_store(url, sealer=Sealer.generate(), upgrade=False)
    try:
        sys.stdout.write("ready\\n"); sys.stdout.flush()
        sys.stdin.readline()  # all start together
        for batch in range(batches):
            drafts = [AuditDraft(actor=f"p{number}", role="admin", action="test.append", target=f"{batch}:{part}") for part in range(3)]
            await store.append_audit(drafts)
    finally:
        await store.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)
    return str(request.param)


async def test_processes_appending_at_once_leave_one_chain(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = await backends.url_for(backend, request, tmp_path)
    store = await open_store(url, sealer=Sealer.generate())
    try:
        appenders = [
            subprocess.Popen(
                [sys.executable, "-c", APPENDER, url, str(number), str(BATCHES)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for number in range(PROCESSES)
        ]
        for appender in appenders:
            assert appender.stdout is not None and appender.stdout.readline() == "ready\n", appender.communicate()[1]
        for appender in appenders:
            assert appender.stdin is not None
            appender.stdin.write("go\n")
            appender.stdin.flush()
        for appender in appenders:
            _, errors = await asyncio.to_thread(appender.communicate, timeout=180)
            assert appender.returncode == 0, errors
        entries = await store.audit_entries(limit=10_000)
        assert verify(entries) is None
        assert [entry.seq for entry in entries] == list(range(1, PROCESSES * BATCHES * 3 + 1))
        for number in range(PROCESSES):
            mine = [entry for entry in entries if entry.actor == f"p{number}"]
            assert [entry.target for entry in mine] == [f"{batch}:{part}" for batch in range(BATCHES) for part in range(3)]
            for start in range(0, len(mine), 3):  # each batch whole and in order: consecutive seqs
                assert [entry.seq for entry in mine[start:start + 3]] == list(range(mine[start].seq, mine[start].seq + 3))
    finally:
        await backends.discard(store)
