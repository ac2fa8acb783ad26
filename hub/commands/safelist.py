"""`hub safelist list|set ROLE on|off`: which roles may run only shared queries.

The same switch as the `setSafelist` mutation, for an operator at the server: it is stored, read
by a running hub within two seconds, and written to the audit chain (actor: the operating
system user). The city and admin roles cannot be safelisted: they switch it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass

from graph.security import AuditDraft, Role
from hub.commands.common import add_db, open_store


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    safelist = commands.add_parser("safelist", help="switch roles to running shared queries only")
    actions = safelist.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the safelisted roles")
    add_db(listing)
    listing.set_defaults(handler=run_list)
    setting = actions.add_parser("set", help="switch a role's safelist mode")
    setting.add_argument("role", choices=[role.value for role in Role if role not in (Role.ADMIN, Role.CITY)])
    setting.add_argument("mode", choices=["on", "off"])
    add_db(setting)
    setting.set_defaults(handler=run_set)


def run_list(arguments: argparse.Namespace) -> int:
    async def roles() -> list[str]:
        store = await open_store(arguments)
        try:
            return sorted(role.value for role in await store.safelisted_roles())
        finally:
            await store.close()

    found = asyncio.run(roles())
    print("\n".join(found) if found else "no role is safelisted")
    return 0


def run_set(arguments: argparse.Namespace) -> int:
    role, enabled = Role.parse(arguments.role), arguments.mode == "on"
    actor = f"{getpass.getuser()} (hub safelist)"

    async def switch() -> list[str]:
        store = await open_store(arguments)
        try:
            await store.set_safelist(role, enabled, actor, dt.datetime.now(dt.timezone.utc))
            await store.append_audit([AuditDraft(actor, "operator", "safelist.set", role.value, {"enabled": enabled, "via": "cli"})])
            return sorted(item.value for item in await store.safelisted_roles())
        finally:
            await store.close()

    found = asyncio.run(switch())
    print(f"{role.value}: safelist {arguments.mode}; safelisted now: {', '.join(found) or 'none'}")
    return 0
