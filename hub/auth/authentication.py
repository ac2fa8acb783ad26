"""Authenticating a request: its bearer token checked, its principal and scope found, logins audited.

Revocations are read from the store at most every `revocation_seconds` (two by default), and
firm and owner scopes are cached for `scope_seconds` (two as well): a revoked token stops
working, and a new management starts counting, within those delays without a store read on
every request. Each process of a hub (hub.cluster) rereads on its own, so a revocation written
through any of them — or by `hub tokens revoke` — takes effect in all within the same delay.

What stays open after its request was let in — a WebSocket carrying subscriptions — is
`watch`ed: while anything is watched, one task rereads the revocations twice per
`revocation_seconds` and calls the `close` of each connection whose token was revoked or has
expired, so an open subscription ends within the same two seconds a request would be refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from graph.ciphers.keyring import Keyring
from graph.clock import today
from graph.scope import Scope
from graph.security import AuditDraft, Principal, Role
from graph.store import Store
from hub.auth.principals import scope_of
from hub.auth.tokens import TokenError, decode


log = logging.getLogger(__name__)

Close = Callable[[str], Awaitable[None]]
"""Ends a watched connection, given the reason (its token was revoked, or expired)."""


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    scope: Scope


class Authenticator:
    def __init__(
        self,
        store: Store,
        keys: Keyring,
        *,
        revocation_seconds: float = 2.0,
        scope_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.keys = keys
        self.revocation_seconds = revocation_seconds
        self.scope_seconds = scope_seconds
        self._revoked: dict[str, str] = {}
        self._revoked_read = float("-inf")
        self._scopes: dict[Principal, tuple[float, Scope]] = {}
        self._seen: set[str] = set()
        self._watched: dict[int, tuple[Principal, Close]] = {}
        self._numbers = itertools.count()
        self._watcher: asyncio.Task[None] | None = None

    async def _revocations(self, older_than: float) -> dict[str, str]:
        """Token id → why it is refused, reread from the store when older than `older_than` seconds."""
        now = time.monotonic()
        if now - self._revoked_read >= older_than:
            records = await self.store.tokens(revoked_only=True)
            self._revoked = {
                record.id: f"token {record.id} was revoked at {record.revoked_at.isoformat()}"
                for record in records
                if record.revoked_at is not None
            }
            self._revoked_read = now
        return self._revoked

    async def _revocation(self, token_id: str) -> str | None:
        return (await self._revocations(self.revocation_seconds)).get(token_id)

    def watch(self, principal: Principal, close: Close) -> Callable[[], None]:
        """Call `close(reason)` once, as soon as the principal's token is revoked or expires
        (within `revocation_seconds`); returns the function that stops watching."""
        number = next(self._numbers)
        self._watched[number] = (principal, close)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

        def stop() -> None:
            self._watched.pop(number, None)

        return stop

    async def _watch(self) -> None:
        pause = self.revocation_seconds / 2
        while self._watched:
            await asyncio.sleep(pause)
            try:
                revoked = await self._revocations(pause)
            except Exception:  # the store is down or busy: try again at the next turn
                log.warning("could not read the revoked tokens; open connections are checked again shortly", exc_info=True)
                continue
            now = dt.datetime.now(dt.timezone.utc)
            for number, (principal, close) in list(self._watched.items()):
                reason = revoked.get(principal.token_id)
                if reason is None and principal.expires_at is not None and principal.expires_at <= now:
                    reason = f"token expired at {principal.expires_at.isoformat()}"
                if reason is None or self._watched.pop(number, None) is None:
                    continue
                try:
                    await close(reason)
                except Exception:
                    log.warning("closing a connection of token %s failed", principal.token_id, exc_info=True)

    async def _scope(self, principal: Principal) -> Scope:
        now = time.monotonic()
        cached = self._scopes.get(principal)
        if cached is not None and now - cached[0] < self.scope_seconds:
            return cached[1]
        scope = await scope_of(self.store, principal, today())
        if len(self._scopes) > 10_000:
            self._scopes.clear()
        self._scopes[principal] = (now, scope)
        return scope

    async def refused(self, error: TokenError, *, client: str) -> None:
        """Audit a refused request; the gate calls it only within the per-address rate limit, so
        a client sending bad tokens cannot flood the log."""
        await self.store.append_audit(
            [AuditDraft(actor=client or "unknown", role="-", action="login.refused", target="-", detail={"reason": str(error)})]
        )

    async def authenticate(self, header: str | None, *, client: str = "") -> Caller:
        """The caller of a request with this Authorization header; TokenError says why not."""
        try:
            if not header:
                raise TokenError("missing bearer token: send Authorization: Bearer <token>")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                raise TokenError("malformed Authorization header: expected Bearer <token>")
            claims = decode(self.keys.token_key, token, dt.datetime.now(dt.timezone.utc))
            revoked = await self._revocation(claims.token_id)
            if revoked:
                raise TokenError(revoked)
            principal = Principal(Role(claims.role), claims.scope, claims.name, claims.token_id, claims.expires_at)
        except TokenError:
            raise  # audited by the caller once it is past the per-address limit (see refused)
        if principal.token_id not in self._seen:  # a token's first request is its login
            if len(self._seen) > 100_000:
                self._seen.clear()
            self._seen.add(principal.token_id)
            await self.store.append_audit(
                [
                    AuditDraft(
                        actor=principal.name,
                        role=principal.role.value,
                        action="login",
                        target=principal.token_id,
                        detail={"scope": principal.scope, "client": client},
                    )
                ]
            )
        return Caller(principal, await self._scope(principal))
