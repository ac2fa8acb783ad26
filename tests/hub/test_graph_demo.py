"""The quick start on a graph store, as a user runs it: `hub db`, `hub demo` and `hub serve` with
`--db falkordb://…` (real subprocesses, the session's FalkorDB, real HTTP), answering the quick
start's queries exactly as the same demo on SQLite does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.bench.http import free_port
from hub.graphserver import GraphServer
from tests import backends
from tests.services import run_id

HUB = [sys.executable, "-m", "hub.cli"]
NEEDS = ("tokens", "audit", "devices", "cases")
"""What the demo writes and serves beside places, owners and firms: its devices, its tokens
(audited), and the cases the quick start's query counts."""
MISSING = backends.graph_lacks(*NEEDS)
PENDING = pytest.mark.xfail(
    bool(MISSING), reason=f"{', '.join(MISSING)} not yet on the Cypher store", run=False, strict=False
)
"""While a part the demo writes is missing the demo tests are not even run (they would build two
cities to fail); they run, and must pass, as soon as it lands."""

pytestmark = pytest.mark.falkordb


def run(*arguments: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUB, *arguments], cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "HUB_BROKER": ""})


def token_after(output: str, label: str) -> str:
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith(label):
            return lines[index + 1].strip()
    raise AssertionError(f"no {label} token in:\n{output}")


def example_query(output: str) -> str:
    """The query `hub demo` tells its user to paste into GraphiQL (with a house of the city)."""
    found = re.search(r"and try:\n\n(\{.*?\n\})\n", output, re.S)
    assert found, output
    return found.group(1)


def served_answer(db: str, cwd: Path, token: str, query: str) -> dict[str, Any]:
    """The `data` `hub serve --db DB` answers `query` with, sent as the holder of `token`."""
    port = free_port()
    server = subprocess.Popen(
        [*HUB, "serve", "--db", db, "--port", str(port)], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HUB_BROKER": "", "HUB_MQTT": ""},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "hub serve stopped"
            assert time.monotonic() < deadline, "hub serve did not come up"
            time.sleep(0.2)
        response = httpx.post(
            f"{base}/graphql", json={"query": query}, headers={"authorization": f"Bearer {token}"}, timeout=120, trust_env=False
        )
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        answer: dict[str, Any] = body["data"]
        return answer
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
        assert "Traceback" not in errors, errors


@pytest.fixture(scope="module")
def graph_url(falkordb_server: GraphServer) -> str:
    return falkordb_server.url(f"demo{run_id()}")


@pytest.fixture(scope="module")
def demos(graph_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, Path, str]]]:
    """The quick start's demo (small preset, default seed) built on SQLite and on FalkorDB, each
    in a folder of its own with its own keys: backend → (URL, folder, what `hub demo` printed).
    Without its reference sources: their first syncs on the graph take minutes of the suite's
    time, and what the connectors write through (ledger, cases, utilities) is held to the same
    behaviour on every backend by the store conformance suite."""
    built: dict[str, tuple[str, Path, str]] = {}
    for backend in ("sqlite", "falkordb"):
        folder = tmp_path_factory.mktemp(f"demo-{backend}")
        db = f"sqlite:///{folder / 'hub.sqlite'}" if backend == "sqlite" else graph_url
        result = run("demo", "--preset", "small", "--quiet", "--no-sources", "--db", db, cwd=folder)
        if backend == "sqlite":
            assert result.returncode == 0, result.stderr
        built[backend] = (db, folder, result.stdout if result.returncode == 0 else f"FAILED:\n{result.stderr}")
    yield built


def test_db_upgrade_and_current_speak_of_the_graphs_schema(falkordb_server: GraphServer, tmp_path: Path) -> None:
    url = falkordb_server.url(f"schema{run_id()}")
    assert run("keys", "init", cwd=tmp_path).returncode == 0
    empty = run("db", "current", "--db", url, cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.strip() == f"{url}: at revision (empty); newest is 1"
    upgraded = run("db", "upgrade", "--db", url, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"{url}: at revision 1; newest is 1"
    # a command that must not change the store refuses a graph the hub never upgraded
    other = falkordb_server.url(f"never{run_id()}")
    refused = run("audit", "tail", "--db", other, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip() == (
        f"hub: {other} is at schema revision (none: not a hub database yet), not 1; "
        "this command does not change the database: run `hub db upgrade` first"
    )


def test_a_graph_url_without_a_graph_is_a_clear_error(tmp_path: Path) -> None:
    assert run("keys", "init", cwd=tmp_path).returncode == 0
    result = run("db", "current", "--db", "falkordb://127.0.0.1:6380", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "hub: the graph store URL falkordb://127.0.0.1:6380 names no graph: add /NAME (falkordb://host:port/hub)"
    )


@PENDING
def test_the_demo_builds_on_the_graph_what_it_builds_on_sqlite(demos: dict[str, tuple[str, Path, str]]) -> None:
    url, _, output = demos["falkordb"]
    assert "built the small demo city" in output, output
    for label in ("city dashboard", "street office", "property firm"):
        assert token_after(output, label).startswith("hub1.")
    # the same records written, and the same devices registered, as the same seed on SQLite
    sqlite_output = demos["sqlite"][2]
    assert _built(output) == _built(sqlite_output)
    assert _said(output, "registered ") == _said(sqlite_output, "registered ")
    assert f"start it with: hub serve --db {url}" in output


@PENDING
def test_the_quick_start_queries_answer_as_on_sqlite(demos: dict[str, tuple[str, Path, str]]) -> None:
    answers = {}
    for backend, (url, folder, output) in demos.items():
        assert "built the small demo city" in output, output
        query = example_query(output)
        answers[backend] = served_answer(url, folder, token_after(output, "city dashboard"), query)
    assert example_query(demos["sqlite"][2]) == example_query(demos["falkordb"][2])  # the same house is shown
    assert answers["falkordb"] == answers["sqlite"]
    rows = answers["sqlite"]["stats"]
    assert rows and sum(row["houses"] for row in rows) > 5_000


def _built(output: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith("built the small demo city"))
    return re.sub(r" in [0-9.]+ s \([0-9,]+/s;", "", line)


def _said(output: str, start: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(start))
