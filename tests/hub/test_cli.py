"""The `hub` command as a user runs it: real subprocesses, a real SQLite file, real HTTP."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from graph.clock import today
from graph.sql import migrate

from hub.bench.http import free_port

HUB = [sys.executable, "-m", "hub.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run(*arguments: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning:hub"}
    return subprocess.run([*HUB, *arguments], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@dataclass(frozen=True)
class Demo:
    """The quick start's `hub demo --preset small`, run once for the module in `folder` (which
    the demo test goes on to use), with a copy of what it left in `built` for the others."""

    folder: Path
    built: Path
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("demo")
    db = folder / "hub.sqlite"  # the quick start's default store, and its sources folder
    result = run("demo", "--preset", "small", "--db", str(db), cwd=folder)
    assert result.returncode == 0, result.stderr
    built = tmp_path_factory.mktemp("demo-built") / "city"
    shutil.copytree(folder, built)
    return Demo(folder, built, result)


def test_demo_builds_the_small_city_and_says_where_graphiql_is(demo: Demo) -> None:
    tmp_path, result = demo.folder, demo.result
    db = tmp_path / "hub.sqlite"
    assert "built the small demo city" in result.stdout
    assert "http://127.0.0.1:8000/graphql" in result.stdout
    assert 'stats(scope: "370200", groupBy: STREET)' in result.stdout
    assert db.exists()
    keys = tmp_path / "hub.keys"
    assert keys.stat().st_mode & 0o777 == 0o600  # created on first use, for its owner alone
    for label in ("city dashboard", "street office", "property firm", "elevator mechanic on shift"):
        assert token_after(result.stdout, label).startswith("hub1.")
    staffed = re.search(r"staff: ([0-9,]+) people in ([0-9,]+) estates .*certificates: ([0-9,]+) expiring within 30 days, ([0-9,]+) expired", result.stdout)
    assert staffed and int(staffed.group(1).replace(",", "")) == 9 * int(staffed.group(2).replace(",", "")) > 0, result.stdout
    # the outside world is built too, and the first syncs from it run for real
    assert (tmp_path / "hub-sources" / "registry.sqlite").exists()
    assert "[connectors.hotline]" in (tmp_path / "connectors.toml").read_text(encoding="utf-8")
    synced = {line.split()[1]: line for line in result.stdout.splitlines() if line.strip().startswith("sync ")}
    assert set(synced) == {"registry", "water", "hotline", "fund"}
    assert "[connectors.fund]" in (tmp_path / "connectors.toml").read_text(encoding="utf-8")
    assert sorted(path.name for path in (tmp_path / "hub-sources" / "custodian").iterdir())[:2] == [f"{today().year - 1}-01.csv", f"{today().year - 1}-02.csv"]
    for line in synced.values():
        # the records add up, and the facts they carry are named as facts
        found = re.search(r" succeeded in [0-9.]+ s: read ([0-9,]+) records \(([0-9,]+) taken, ([0-9,]+) dead-lettered, "
                          r"([0-9,]+) duplicates\); their facts: ([0-9,]+) written, ([0-9,]+) already stored$", line)
        assert found, line
        read, taken, letters, duplicates, _, _ = (int(value.replace(",", "")) for value in found.groups())
        assert read > 0 and read == taken + letters + duplicates, line
    # the registry holds what the city was built from: its first sync confirms, the others add
    assert "their facts: 0 written," in synced["registry"]
    assert "their facts: 0 written," not in synced["water"] and "their facts: 0 written," not in synced["hotline"]
    # every line of the custodian's year of statements is booked on its estate's fund journal
    assert " 0 dead-lettered," in synced["fund"] and "already stored" in synced["fund"]
    # each sync shows its progress on stderr, as the build does
    assert "demo small: " in result.stderr
    for name in ("registry", "water", "hotline", "fund"):
        assert f"sync {name}: 100%" in result.stderr, name  # every record it was to read, read
    # nothing the quick start leaves may be committed by accident, the key file least of all
    assert (tmp_path / "hub-sources").is_dir()
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text((ROOT / ".gitignore").read_text(encoding="utf-8"), encoding="utf-8")
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert status.stdout.splitlines() == ["?? .gitignore"], status.stdout
    again = run("demo", "--preset", "small", "--db", str(db), "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "inserted 0, updated 0" in again.stdout  # building twice changes nothing
    assert "fund custodian's statements: kept as they were" in again.stdout
    assert "firms' credit: 12 months computed" in result.stdout  # a year of monthly scores (hub.demo.credit)
    assert "firms' credit: the year's scores kept as they were" in again.stdout
    assert re.search(r"sync fund +succeeded in [0-9.]+ s: read 0 records", again.stdout), again.stdout

    current = run("db", "current", "--db", str(db), cwd=tmp_path)
    assert current.returncode == 0, current.stderr
    assert f"at revision {migrate.head()}" in current.stdout


def token_after(output: str, label: str) -> str:
    """The token `hub demo` printed on the line after `label`."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith(label):
            return lines[index + 1].strip()
    raise AssertionError(f"no {label} token in:\n{output}")


def test_serve_answers_graphql_over_http(demo: Demo, tmp_path: Path) -> None:
    tmp_path = tmp_path / "city"
    shutil.copytree(demo.built, tmp_path)  # the demo as built (keys, store, sources), served
    db = tmp_path / "hub.sqlite"
    city = {"authorization": f"Bearer {token_after(demo.result.stdout, 'city dashboard')}"}
    port = free_port()
    server = subprocess.Popen(
        [*HUB, "serve", "--db", f"sqlite:///{db}", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "hub serve did not come up"
                time.sleep(0.2)
        query = '{ place(code: "370202") { name children(first: 3) { edges { node { code } } } } }'
        refused = httpx.post(f"{base}/graphql", json={"query": query})
        assert refused.status_code == 401 and "missing bearer token" in refused.json()["reason"]
        answer = httpx.post(f"{base}/graphql", json={"query": query}, headers=city).json()
        assert answer["data"]["place"]["name"] == "市南区"
        hand = {"authorization": f"Bearer {token_after(demo.result.stdout, 'elevator mechanic on shift')}"}
        mine = httpx.post(f"{base}/graphql", json={"query": "{ myCases { totalCount } place(code: \"370202\") { name } }"}, headers=hand).json()
        assert mine == {"data": {"myCases": {"totalCount": mine["data"]["myCases"]["totalCount"]}, "place": None}}, mine
        assert len(answer["data"]["place"]["children"]["edges"]) == 3
        page = httpx.get(f"{base}/graphql", headers={"accept": "text/html"}).text
        assert "/static/vendor/graphiql.min.js" in page and "unpkg.com" not in page
        assert httpx.get(f"{base}/static/vendor/graphiql.min.js").status_code == 200
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)
    assert "Traceback" not in errors, errors


def test_a_bad_database_url_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    assert run("keys", "init", cwd=tmp_path).returncode == 0
    result = run("db", "current", "--db", "mysql://somewhere/hub", cwd=tmp_path)
    assert result.returncode == 2
    assert "db: 'mysql://somewhere/hub' must be a sqlite:// or postgresql:// URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_safelist_switches_a_role_and_audits_it(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    assert run("keys", "init", cwd=tmp_path).returncode == 0
    switched = run("safelist", "set", "property_firm", "on", "--db", db, cwd=tmp_path)
    assert switched.returncode == 0, switched.stderr
    assert "safelisted now: property_firm" in switched.stdout
    assert run("safelist", "list", "--db", db, cwd=tmp_path).stdout.split() == ["property_firm"]
    refused = run("safelist", "set", "city", "on", "--db", db, cwd=tmp_path)
    assert refused.returncode != 0 and "invalid choice: 'city'" in refused.stderr
    off = run("safelist", "set", "property_firm", "off", "--db", db, cwd=tmp_path)
    assert off.returncode == 0 and "safelisted now: none" in off.stdout
    tail = run("audit", "tail", "--db", db, cwd=tmp_path)
    assert tail.stdout.count("safelist.set") == 2, tail.stdout
