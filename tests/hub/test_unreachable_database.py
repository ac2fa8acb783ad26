"""Every `hub` command given a database it cannot open says so in one line and exits 1.

The ways a store fails to open as a user meets them: a PostgreSQL port nobody listens on, a
database the server does not have, a user it does not know, a SQLite file in a folder that
does not exist (nothing may be created there), and a graph server (FalkorDB) nobody listens for. Every command that takes `--db` is tried with
each. The matrix imports the hub once, in one subprocess, and runs `hub.cli.main` for each of
the ~100 invocations in a process forked from it (starting Python and importing the hub for each
would cost minutes of CPU), several at a time: the FalkorDB client retries a refused connection
with back-off for seconds before the hub can say so, and one after another those waits added up
to over a minute. Two commands are also run as the installed `hub` script, to show the console
entry point behaves the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import parser

HUB = Path(sys.executable).with_name("hub")

URLS = {
    "closed port": "postgresql://127.0.0.1:1/hub",
    "missing database": "postgresql://127.0.0.1:5432/hub_no_such_database",
    "wrong user": "postgresql://hub_no_such_user@127.0.0.1:5432/test",
    "missing folder": "sqlite:///{tmp}/no/such/folder/hub.sqlite",
    "closed graph port": "falkordb://127.0.0.1:1/hub",
}
WHAT = {
    "closed port": ("cannot reach the PostgreSQL server at 127.0.0.1:1", "is it running"),
    "missing database": ("has no database 'hub_no_such_database'", "createdb"),
    "wrong user": ("refused user 'hub_no_such_user'", "check the user and password"),
    "missing folder": ("folder", "does not exist"),
    "closed graph port": ("cannot reach the FalkorDB server at 127.0.0.1:1", "is it running (hub graph serve)?"),
}

ARGUMENTS = {
    ("demo",): ["--preset", "small", "--quiet", "--no-sources"],
    ("serve",): [],
    ("ingest",): [],
    ("sync",): ["registry"],
    ("worker",): ["--broker", "redis://127.0.0.1:6379/15", "--pool", "solo", "--no-beat"],
    ("db",): ["current"],
    ("token", "issue"): ["--role", "city", "--scope", "370200", "--name", "城市运行中心"],
    ("token", "revoke"): ["0123456789abcdef"],
    ("token", "list"): [],
    ("audit", "verify"): [],
    ("audit", "tail"): [],
    ("export",): ["--scope", "370202", "--format", "csv"],
    ("devices", "import"): ["devices.csv"],
    ("places", "import"): ["places.csv"],
    ("devices", "acl"): ["--out", "broker"],
    ("devices", "list"): [],
    ("simulate",): ["--devices", "1", "--rate", "1", "--duration", "1"],
    ("safelist", "list"): [],
    ("safelist", "set"): ["property_firm", "on"],
    ("votes", "list"): [],
    ("votes", "verify"): ["TP20261203000001"],
    ("ledger", "verify"): ["370202001001E001"],
    ("ledger", "publish"): ["--period", "2026-11"],
    ("ledger", "statement"): ["370202001001E001", "--period", "2026-11"],
    ("credit", "compute"): ["--period", "2026-11"],
    ("credit", "show"): ["91370202MA3C00022"],
}
"""Each command that takes --db, with the other arguments it needs to get that far."""


def commands_with_db() -> list[tuple[str, ...]]:
    """Every command and subcommand of `hub` that takes --db, read from the parser itself."""
    import argparse

    found: list[tuple[str, ...]] = []

    def walk(path: tuple[str, ...], node: argparse.ArgumentParser) -> None:
        for action in node._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk((*path, name), child)
            elif "--db" in action.option_strings:
                found.append(path)

    walk((), parser())
    return found


def test_the_matrix_names_every_command_that_takes_a_database() -> None:
    assert sorted(commands_with_db()) == sorted(ARGUMENTS)


_DRIVER = """
import contextlib, importlib, io, json, multiprocessing, pkgutil, sys
from hub.cli import main
import connectors, devices, graph, hub, schema

# every module a command may import when it runs, imported once here for all the forks
for package in (hub, graph, connectors, devices, schema):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not module.name.endswith(".migrations.env"):  # alembic's script, run by alembic alone
            importlib.import_module(module.name)

def run(argv):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            status = main(argv)
        except SystemExit as stop:
            status = stop.code
        except BaseException as error:
            import traceback
            traceback.print_exc(file=err)
            status = "raised"
    return {"argv": argv, "status": status, "stderr": err.getvalue(), "stdout": out.getvalue()}

# a fresh fork of this process (the hub imported, nothing run) for each invocation, in order
with multiprocessing.get_context("fork").Pool(processes=int(sys.argv[2]), maxtasksperchild=1) as pool:
    print(json.dumps(pool.map(run, json.loads(sys.argv[1]), chunksize=1)))
"""
PARALLEL = 25
"""Invocations at a time: most of each one's time is the FalkorDB client's back-off, not CPU."""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, object]]:
    """Every command with every URL, run by the real CLI entry, each in a process of its own
    forked from one that imported the hub."""
    folder = tmp_path_factory.mktemp("unreachable")
    subprocess.run([str(HUB), "keys", "init"], cwd=folder, check=True, capture_output=True)
    (folder / "devices.csv").write_text("code,type,model,place,lon,lat,interval,name,thresholds\n", encoding="utf-8")
    # the graph's first: their back-off then overlaps the others' work
    cases = [(command, kind) for kind in sorted(URLS, key=lambda kind: "graph" not in kind) for command in ARGUMENTS]
    runs = [[*command, *ARGUMENTS[command], "--db", URLS[kind].format(tmp=folder)] for command, kind in cases]
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, json.dumps(runs), str(PARALLEL)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HUB_BROKER": ""},
    )
    assert done.returncode == 0, done.stderr
    found: dict[tuple[str, str], dict[str, object]] = {}
    for (command, kind), argv, result in zip(cases, runs, json.loads(done.stdout), strict=True):
        assert result["argv"] == argv
        found[(" ".join(command), kind)] = result
    assert not (folder / "no").exists(), "a command created the missing folder"
    return found


@pytest.mark.parametrize("kind", list(URLS))
@pytest.mark.parametrize("command", [" ".join(command) for command in ARGUMENTS])
def test_one_line_and_exit_1(outcomes: dict[tuple[str, str], dict[str, object]], command: str, kind: str) -> None:
    result = outcomes[(command, kind)]
    stderr = str(result["stderr"])
    assert result["status"] == 1, result
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("hub: ") and "Traceback" not in stderr
    for words in WHAT[kind]:
        assert words in lines[0], lines[0]
    assert "check" in lines[0]  # and what to check


@pytest.mark.parametrize("command", [["serve"], ["sync", "registry"]])
def test_the_installed_script_says_the_same(tmp_path: Path, command: list[str]) -> None:
    assert subprocess.run([str(HUB), "keys", "init"], cwd=tmp_path, capture_output=True).returncode == 0
    done = subprocess.run(
        [str(HUB), *command, "--db", "postgresql://u:hunter2@127.0.0.1:1/hub"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "hub: cannot reach the PostgreSQL server at 127.0.0.1:1 (connection refused): "
        "is it running and listening there? check --db or $HUB_DB"
    ]
    assert "hunter2" not in done.stderr + done.stdout
