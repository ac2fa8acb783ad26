"""The `hub` command: build a demo city, serve the API, manage keys, tokens and the audit log."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from graph.errors import HubError

COMMANDS = (
    "demo", "serve", "ingest", "sync", "worker", "database", "graph", "keys", "tokens", "audit", "export", "bench", "devices", "simulate",
    "safelist", "places", "votes", "ledger", "credit",
)
"""Modules of hub.commands, in the order `hub --help` lists them."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="hub", description="智慧物业管理服务平台 — the smart-property data hub (GraphQL)."
    )
    commands = top.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"hub.commands.{name}").add(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    from graph.errors import Unreachable
    from hub.commands.common import check_database, database_failure

    arguments = parser().parse_args(argv)
    try:
        check_database(arguments)
        status: int = arguments.handler(arguments)
        return status
    except Unreachable as error:  # the database named cannot be opened: one line, not a traceback
        print(f"hub: {error}", file=sys.stderr)
        return 1
    except HubError as error:
        print(f"hub: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        line = database_failure(arguments, error)
        if line is None:
            raise
        print(f"hub: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
