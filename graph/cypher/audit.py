"""The audit log and the issued tokens on Cypher (`graph.store.Store`: append_audit …
tokens).

Entries are `:Audit` nodes (their `seq` unique), only ever created: no statement here updates or
deletes one. An append cannot lock the log as SQL does, so it is a compare-and-set: it reads the
head (`:AuditHead`, written with every append), chains the drafts after it with
`graph.audit.chain`, and creates them in one statement only if no entry holds the first new seq
yet (another appender got there first: chained again on the fresh head). Appenders of one store
take turns in front of that (an asyncio lock), so within a process nobody retries; across
processes the statement's check, and on Neo4j the uniqueness of `seq`, keep the chain whole.

Tokens are `:Token` nodes keyed by id, written whole; a revocation sets its two properties once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections.abc import Sequence
from typing import Any

from graph.audit import GENESIS, canonical_json, chain, check_drafts, page_limit
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.errors import StoreError
from graph.security import AuditDraft, AuditEntry, Role, TokenRecord, check_token

index("Audit", "seq", unique=True)
index("Token", "id", unique=True)

ATTEMPTS = 30
"""How many heads an append chains after before it gives up (each lost round means another
process appended in between)."""

HEAD = st.read("audit.head", "MATCH (h:AuditHead {name: 'audit'}) RETURN h.seq, h.hash")
APPEND = st.write(
    "audit.append",
    "OPTIONAL MATCH (taken:Audit {seq: $first}) WITH count(taken) AS clash WHERE clash = 0 "
    "MERGE (h:AuditHead {name: 'audit'}) SET h = $head "
    "WITH h UNWIND $rows AS r CREATE (e:Audit) SET e = r RETURN count(e)",
)
ENTRIES = st.read(
    "audit.entries", "MATCH (a:Audit) WHERE a.seq > $after RETURN properties(a) ORDER BY a.seq LIMIT $limit"
)
TAIL = st.read("audit.tail", "MATCH (a:Audit) RETURN properties(a) ORDER BY a.seq DESC LIMIT $limit")

SAVE_TOKEN = st.write(
    "tokens.save",
    "OPTIONAL MATCH (known:Token {id: $id}) WITH count(known) AS clash WHERE clash = 0 "
    "CREATE (t:Token) SET t = $props RETURN t.id",
)
REVOKE_TOKEN = st.write(
    "tokens.revoke",
    # the lock property takes Neo4j's write lock before `revoked_at` is read (two revokers
    # cannot both be first); it stays on the node, which nothing reads by it
    "MATCH (t:Token {id: $id}) SET t.lock = $reason WITH t, t.revoked_at IS NULL AS fresh "
    "SET t.revoked_at = CASE WHEN fresh THEN $at ELSE t.revoked_at END, "
    "t.revoke_reason = CASE WHEN fresh THEN $reason ELSE t.revoke_reason END RETURN properties(t)",
)
TOKENS = st.read("tokens.all", "MATCH (t:Token) RETURN properties(t)")
REVOKED_TOKENS = st.read("tokens.revoked", "MATCH (t:Token) WHERE t.revoked_at IS NOT NULL RETURN properties(t)")
TOKENS_BY_ID = st.read("tokens.by_id", "UNWIND $ids AS i MATCH (t:Token {id: i}) RETURN properties(t)")


def _props(entry: AuditEntry) -> dict[str, Any]:
    return values.present({
        "seq": entry.seq,
        "at": values.micros(entry.at),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "detail": canonical_json(entry.detail),  # the very text the hash covers
        "reason": entry.reason,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    })


def _entry(props: dict[str, Any]) -> AuditEntry:
    at = values.from_micros(props["at"])
    assert at is not None
    return AuditEntry(
        seq=int(props["seq"]),
        at=at,
        actor=props["actor"],
        role=props["role"],
        action=props["action"],
        target=props["target"],
        detail=json.loads(props["detail"]),
        reason=props.get("reason"),
        prev_hash=props["prev_hash"],
        hash=props["hash"],
    )


def _token_props(token: TokenRecord) -> dict[str, Any]:
    return values.present({
        "id": token.id,
        "role": token.role.value,
        "scope": token.scope,
        "name": token.name,
        "issued_at": values.micros(token.issued_at),
        "expires_at": values.micros(token.expires_at),
        "revoked_at": values.micros(token.revoked_at),
        "revoke_reason": token.revoke_reason,
    })


def _token(props: dict[str, Any]) -> TokenRecord:
    issued, expires = values.from_micros(props["issued_at"]), values.from_micros(props["expires_at"])
    assert issued is not None and expires is not None
    return TokenRecord(
        id=props["id"],
        role=Role(props["role"]),
        scope=props["scope"],
        name=props["name"],
        issued_at=issued,
        expires_at=expires,
        revoked_at=values.from_micros(props.get("revoked_at")),
        revoke_reason=props.get("revoke_reason"),
    )


class AuditRecords:
    """The audit and token parts of the store port on Cypher."""

    transport: Transport
    _audit_turn: asyncio.Lock | None = None

    async def append_audit(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        drafts = list(drafts)
        if not drafts:
            return []
        check_drafts(drafts)
        if self._audit_turn is None:
            self._audit_turn = asyncio.Lock()
        async with self._audit_turn:
            pause = 0.005
            for _ in range(ATTEMPTS):
                rows = await self.transport.run(HEAD)
                last_seq, last_hash = (int(rows[0][0]), rows[0][1]) if rows and rows[0][0] is not None else (0, GENESIS)
                entries = chain(drafts, last_seq=last_seq, last_hash=last_hash)
                head = {"name": "audit", "seq": entries[-1].seq, "hash": entries[-1].hash}
                params = {"first": last_seq + 1, "head": head, "rows": [_props(entry) for entry in entries]}
                try:
                    done = await self.transport.run(APPEND, params)
                except StoreError:
                    done = []  # Neo4j: another transaction created that seq first (it is unique)
                if done and done[0][0] == len(entries):
                    return entries
                await asyncio.sleep(pause * random.uniform(0.5, 1.5))
                pause = min(pause * 2, 0.2)
        raise StoreError(f"could not append to the audit log after {ATTEMPTS} attempts: other processes kept appending first")

    async def audit_entries(self, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        limit = page_limit(limit)
        if not limit:
            return []
        rows = await self.transport.run(ENTRIES, {"after": after, "limit": limit})
        return [_entry(row[0]) for row in rows]

    async def audit_tail(self, limit: int = 20) -> list[AuditEntry]:
        limit = page_limit(limit)
        if not limit:
            return []
        rows = await self.transport.run(TAIL, {"limit": limit})
        return [_entry(row[0]) for row in rows][::-1]

    async def save_token(self, token: TokenRecord) -> None:
        check_token(token)
        try:
            rows = await self.transport.run(SAVE_TOKEN, {"id": token.id, "props": _token_props(token)})
        except StoreError:
            rows = []  # Neo4j: the id's uniqueness refused a token saved at the same moment
        if not rows:
            raise StoreError(f"token {token.id} is recorded already; a token id is issued once")

    async def revoke_token(self, token_id: str, reason: str, at: dt.datetime) -> TokenRecord | None:
        rows = await self.transport.run(REVOKE_TOKEN, {"id": token_id, "at": values.micros(at), "reason": reason})
        return _token(rows[0][0]) if rows else None

    async def tokens(self, ids: Sequence[str] | None = None, *, revoked_only: bool = False) -> list[TokenRecord]:
        if ids is None:
            rows = await self.transport.run(REVOKED_TOKENS if revoked_only else TOKENS)
        else:
            rows = await self.transport.run(TOKENS_BY_ID, {"ids": sorted(set(ids))})
        found = [_token(row[0]) for row in rows]
        if revoked_only:
            found = [item for item in found if item.revoked_at is not None]
        found.sort(key=lambda item: item.id)
        found.sort(key=lambda item: item.issued_at, reverse=True)
        return found
