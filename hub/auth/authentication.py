"""Authenticating a request: its bearer token checked, its principal and scope found, logins audited.

Revocations are read from the store at most every `revocation_seconds` (two by default), and
firm and owner scopes are cached for `scope_seconds`: a revoked token stops working, and a new
management starts counting, within those delays without a store read on every request.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from graph.ciphers.keyring import Keyring
from graph.clock import today
from graph.scope import Scope
from graph.security import AuditDraft, Principal, Role
from graph.store import Store
from hub.auth.principals import scope_of
from hub.auth.tokens import TokenError, decode


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
        scope_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.keys = keys
        self.revocation_seconds = revocation_seconds
        self.scope_seconds = scope_seconds
        self._revoked: dict[str, str] = {}
        self._revoked_read = float("-inf")
        self._scopes: dict[Principal, tuple[float, Scope]] = {}
        self._seen: set[str] = set()

    async def _revocation(self, token_id: str) -> str | None:
        now = time.monotonic()
        if now - self._revoked_read >= self.revocation_seconds:
            records = await self.store.tokens()
            self._revoked = {
                record.id: f"token {record.id} was revoked at {record.revoked_at.isoformat()}"
                for record in records
                if record.revoked_at is not None
            }
            self._revoked_read = now
        return self._revoked.get(token_id)

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
            principal = Principal(Role(claims.role), claims.scope, claims.name, claims.token_id)
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
