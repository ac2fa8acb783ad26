"""Shared queries and the safelist switch in SQL (a base of SqlStore).

A hub holds few shared queries (tens, hundreds), so visibility is decided in Python over the
rows read (`SharedQuery.visible_to`), the same on every backend.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.errors import StoreError
from graph.security import Role
from graph.shared import Owner, SharedDraft, SharedQuery, variables_from_json, variables_json
from graph.sql import tables
from graph.sql.rows import maybe_utc
from graph.sql.writers import WriteTurns

PUBLISH_ATTEMPTS = 10
"""How many version numbers a publisher tries when others of the same name commit first (each
round one of them wins, so as many publishers of one name at once as this all get a number)."""


def _record(row: Any) -> SharedQuery:
    published = maybe_utc(row.published_at)
    assert published is not None
    return SharedQuery(
        name=row.name,
        version=row.version,
        description=row.description,
        document=row.document,
        variables=variables_from_json(row.variables),
        owner=Owner(row.owner_name, Role(row.owner_role), row.owner_scope),
        roles=frozenset(Role(item) for item in json.loads(row.roles)),
        organisations=frozenset(json.loads(row.organisations)),
        published_at=published,
        csv_path=row.csv_path,
        withdrawn_at=maybe_utc(row.withdrawn_at),
    )


class SharedRecords:
    """The shared-query part of the store port (graph.shared.SharedQueryStore)."""

    engine: AsyncEngine
    turns: WriteTurns

    async def publish_shared(self, draft: SharedDraft, at: dt.datetime) -> SharedQuery:
        table = tables.shared_query
        for _ in range(PUBLISH_ATTEMPTS):  # publishers of one name at once: each loser takes the next number
            try:
                async with self.turns.writing() as connection:
                    latest = (
                        await connection.execute(select(func.max(table.c.version)).where(table.c.name == draft.name))
                    ).scalar()
                    values = {
                        "name": draft.name,
                        "version": (latest or 0) + 1,
                        "description": draft.description,
                        "document": draft.document,
                        "variables": variables_json(draft.variables),
                        "csv_path": draft.csv_path,
                        "owner_name": draft.owner.name,
                        "owner_role": draft.owner.role.value,
                        "owner_scope": draft.owner.scope,
                        "roles": json.dumps(sorted(role.value for role in draft.roles)),
                        "organisations": json.dumps(sorted(draft.organisations)),
                        "published_at": maybe_utc(at),
                        "withdrawn_at": None,
                    }
                    await connection.execute(table.insert().values(**values))
                    row = (
                        await connection.execute(
                            select(table).where(table.c.name == draft.name, table.c.version == values["version"])
                        )
                    ).one()
                return _record(row)
            except IntegrityError:
                continue
        raise StoreError(f"shared query {draft.name}: could not take a version number (publishers raced); try again")

    async def shared_versions(self, name: str) -> list[SharedQuery]:
        table = tables.shared_query
        query = select(table).where(table.c.name == name).order_by(table.c.version)
        async with self.engine.connect() as connection:
            return [_record(row) for row in await connection.execute(query)]

    async def shared_latest(self) -> list[SharedQuery]:
        table = tables.shared_query
        query = select(table).order_by(table.c.name, table.c.version)
        async with self.engine.connect() as connection:
            return [_record(row) for row in await connection.execute(query)]

    async def withdraw_shared(self, name: str, version: int, at: dt.datetime) -> SharedQuery | None:
        table = tables.shared_query
        where = (table.c.name == name, table.c.version == version)
        async with self.turns.writing() as connection:
            await connection.execute(update(table).where(*where, table.c.withdrawn_at.is_(None)).values(withdrawn_at=maybe_utc(at)))
            row = (await connection.execute(select(table).where(*where))).first()
        return _record(row) if row is not None else None

    async def safelisted_roles(self) -> frozenset[Role]:
        table = tables.safelist
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(table.c.role).where(table.c.enabled == 1))
            return frozenset(Role(row.role) for row in rows)

    async def set_safelist(self, role: Role, enabled: bool, actor: str, at: dt.datetime) -> None:
        table = tables.safelist
        values = {"enabled": int(enabled), "changed_by": actor, "changed_at": maybe_utc(at)}
        async with self.turns.writing() as connection:
            changed = await connection.execute(update(table).where(table.c.role == role.value).values(**values))
            if changed.rowcount == 0:
                await connection.execute(table.insert().values(role=role.value, **values))
