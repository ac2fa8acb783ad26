"""`hub token issue|revoke|list`: bearer tokens for principals."""

from __future__ import annotations

import argparse
import asyncio

from graph.security import Role
from hub.commands.common import add_db, load_keys, open_store


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser("token", help="issue, revoke and list bearer tokens")
    actions = token.add_subparsers(dest="action", required=True)
    issue = actions.add_parser("issue", help="print a new bearer token")
    issue.add_argument("--role", required=True, choices=[role.value for role in Role])
    issue.add_argument(
        "--scope",
        required=True,
        help="city/district/street/community: a place code; committee: an estate code; "
        "property_firm: its credit code; owner: its owner id; staff: its staff id; admin: *",
    )
    issue.add_argument("--name", required=True, help="who holds it (a person or office)")
    issue.add_argument("--ttl", default="8h", help="lifetime: 90s, 15m, 8h, 30d, 2w (default 8h)")
    add_db(issue)
    issue.set_defaults(handler=run_issue)
    revoke = actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id")
    revoke.add_argument("--reason", default="revoked by an operator")
    add_db(revoke)
    revoke.set_defaults(handler=run_revoke)
    listing = actions.add_parser("list", help="tokens issued, newest first")
    add_db(listing)
    listing.set_defaults(handler=run_list)


def run_issue(arguments: argparse.Namespace) -> int:
    from hub.auth.issuing import issue_token, parse_duration

    async def issue() -> str:
        keys = load_keys(arguments)
        store = await open_store(arguments, keys)
        try:
            return await issue_token(
                store, keys, arguments.role, arguments.scope, arguments.name, parse_duration(arguments.ttl)
            )
        finally:
            await store.close()

    print(asyncio.run(issue()))
    return 0


def run_revoke(arguments: argparse.Namespace) -> int:
    from hub.auth.issuing import revoke_token

    async def revoke() -> None:
        store = await open_store(arguments)
        try:
            record = await revoke_token(store, arguments.id, arguments.reason)
            print(f"revoked {record.id} ({record.role.value} {record.scope} {record.name}) at {record.revoked_at}")
        finally:
            await store.close()

    asyncio.run(revoke())
    return 0


def run_list(arguments: argparse.Namespace) -> int:
    async def listing() -> None:
        store = await open_store(arguments)
        try:
            for record in await store.tokens():
                state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else f"expires {record.expires_at:%Y-%m-%d %H:%M}"
                print(f"{record.id}  {record.role.value:<13} {record.scope:<28} {state}  {record.name}")
        finally:
            await store.close()

    asyncio.run(listing())
    return 0
