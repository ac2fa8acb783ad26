"""Issued tokens in SQL: what each says and whether it was revoked (never the bearer string)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.errors import StoreError
from graph.security import Role, TokenRecord, check_token
from graph.sql import tables
from graph.sql.rows import maybe_utc
from graph.sql.writers import WriteTurns


def _record(row: Any) -> TokenRecord:
    issued, expires = maybe_utc(row.issued_at), maybe_utc(row.expires_at)
    assert issued is not None and expires is not None
    return TokenRecord(
        id=row.id,
        role=Role(row.role),
        scope=row.scope,
        name=row.name,
        issued_at=issued,
        expires_at=expires,
        revoked_at=maybe_utc(row.revoked_at),
        revoke_reason=row.revoke_reason,
    )


class TokenRecords:
    """The token part of the store port (a base of SqlStore)."""

    engine: AsyncEngine
    turns: WriteTurns

    async def save_token(self, token: TokenRecord) -> None:
        check_token(token)
        try:
            await self._insert_token(token)
        except IntegrityError:
            raise StoreError(f"token {token.id} is recorded already; a token id is issued once") from None

    async def _insert_token(self, token: TokenRecord) -> None:
        async with self.turns.writing() as connection:
            await connection.execute(
                tables.token.insert().values(
                    id=token.id,
                    role=token.role.value,
                    scope=token.scope,
                    name=token.name,
                    issued_at=maybe_utc(token.issued_at),
                    expires_at=maybe_utc(token.expires_at),
                    revoked_at=maybe_utc(token.revoked_at),
                    revoke_reason=token.revoke_reason,
                )
            )

    async def revoke_token(self, token_id: str, reason: str, at: dt.datetime) -> TokenRecord | None:
        table = tables.token
        async with self.turns.writing() as connection:
            await connection.execute(
                update(table)
                .where(table.c.id == token_id, table.c.revoked_at.is_(None))
                .values(revoked_at=maybe_utc(at), revoke_reason=reason)
            )
            row = (await connection.execute(select(table).where(table.c.id == token_id))).first()
        return _record(row) if row is not None else None

    async def tokens(self, ids: Sequence[str] | None = None, *, revoked_only: bool = False) -> list[TokenRecord]:
        table = tables.token
        query = select(table).order_by(table.c.issued_at.desc(), table.c.id)
        if ids is not None:
            query = query.where(table.c.id.in_(list(ids)))
        if revoked_only:
            query = query.where(table.c.revoked_at.is_not(None))
        async with self.engine.connect() as connection:
            return [_record(row) for row in await connection.execute(query)]
