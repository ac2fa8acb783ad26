"""The `hub` command: build a demo city, serve the API, manage keys, tokens and the audit log."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from graph.errors import HubError

COMMANDS = (
    "demo", "serve", "sync", "worker", "database", "keys", "tokens", "audit", "export", "bench", "devices", "simulate",
    "safelist", "places",
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
    arguments = parser().parse_args(argv)
    try:
        status: int = arguments.handler(arguments)
        return status
    except HubError as error:
        print(f"hub: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
