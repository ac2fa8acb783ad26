"""Append-only Merkle logs on Cypher (`graph.logstore.LogStore`; each member's contract is in its
docstring there, what an append or a head may hold is checked by `graph.logstore`).

The model, all nodes looked up by a unique key string, so every read is indexed lookups only:
- `(:Log {name, size})`, one per log that was ever appended to;
- `(:LogEntry {slot, bykey, log, position, key, payload, at})`, `slot` naming (log, position)
  and `bykey` (log, key) (not unique: a key may index several entries);
- `(:LogNode {slot, hash})`, `slot` naming (log, level, index);
- `(:LogHead {slot, log, size, kind, at, root, signature})`, `slot` naming (log, size, kind, at);
- `(:Claim {key, claimant})`, claims being one space across logs.
A slot starts with the log's name and its length (`12:vote:V00001:`), so no two logs' slots
meet whatever characters their names hold. Payloads and hashes are hex strings, times integer
microseconds (graph.cypher.values).

An append is ONE statement: it reads the log's size and the holders of the claim keys, and only
if the size is the expected one and no key is another claimant's does it set the size and
create the entries, the node hashes (a stored one is kept) and the new claims; it returns what
it found, from which the outcome is told. FalkorDB runs a graph's writes one at a time, so the
check and the writes are one step. On Neo4j two appenders may both pass the check, but entries'
and claims' slots are unique constraints and claims are created (never merged), so the second
fails as a whole and runs again, to find the size moved or the key held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.errors import InvalidInput, StoreError
from graph.logstore import (
    Appended,
    AppendResult,
    LogEntry,
    NewEntry,
    NodeKey,
    SignedHead,
    check_append,
    check_claims,
    check_head,
    first_held,
)

ATTEMPTS = 5
"""How many times an append (or a head's save) runs again after Neo4j refused it for a racing
writer's unique key."""

for _label, _prop, _unique in (
    ("Log", "name", True),
    ("LogEntry", "slot", True),
    ("LogEntry", "bykey", False),
    ("LogNode", "slot", True),
    ("LogHead", "slot", True),
    ("LogHead", "log", False),
    ("Claim", "key", True),
):
    index(_label, _prop, unique=_unique)

SIZE = st.read("logs.size", "MATCH (l:Log {name: $log}) RETURN l.size")
APPEND = st.write(
    "logs.append",
    "OPTIONAL MATCH (l:Log {name: $log}) WITH coalesce(l.size, 0) AS current "
    "UNWIND $claims AS c "
    "OPTIONAL MATCH (h:Claim {key: c.key}) "
    "WITH current, c, h "
    "WITH current, "
    "collect(CASE WHEN h IS NOT NULL AND h.claimant <> c.claimant THEN [c.key, h.claimant] END) AS held, "
    "collect(CASE WHEN h IS NULL AND c.key <> '' THEN c END) AS fresh "
    "WITH current, held, fresh, current = $expected AND size(held) = 0 AS ok "
    "FOREACH (_ IN CASE WHEN ok THEN [1] ELSE [] END | "
    "MERGE (n:Log {name: $log}) SET n = {name: $log, size: $size}) "
    "FOREACH (e IN CASE WHEN ok THEN $entries ELSE [] END | "
    "CREATE (:LogEntry {slot: e.slot, bykey: e.bykey, log: $log, position: e.position, key: e.key, "
    "payload: e.payload, at: e.at})) "
    "FOREACH (x IN CASE WHEN ok THEN $nodes ELSE [] END | "
    "MERGE (m:LogNode {slot: x.slot}) ON CREATE SET m = {slot: x.slot, hash: x.hash}) "
    "FOREACH (k IN CASE WHEN ok THEN fresh ELSE [] END | "
    "CREATE (:Claim {key: k.key, claimant: k.claimant})) "
    "RETURN ok, current, held",
)
ENTRIES = st.read(
    "logs.entries",
    "OPTIONAL MATCH (l:Log {name: $log}) WITH coalesce(l.size, 0) AS current "
    "UNWIND range($start, CASE WHEN current < $end THEN current ELSE $end END - 1) AS i "
    "MATCH (e:LogEntry {slot: $prefix + toString(i)}) "
    "RETURN e.position, e.key, e.payload, e.at ORDER BY e.position",
)
BY_KEY = st.read(
    "logs.entries_by_key",
    "UNWIND $keys AS k MATCH (e:LogEntry {bykey: k}) RETURN e.position, e.key, e.payload, e.at ORDER BY e.position",
)
NODES = st.read("logs.nodes", "UNWIND $slots AS s MATCH (n:LogNode {slot: s}) RETURN n.slot, n.hash")
TAKE_CLAIMS = st.write(
    "logs.take_claims",
    "UNWIND $claims AS c "
    "OPTIONAL MATCH (h:Claim {key: c.key}) "
    "WITH c, h "
    "WITH collect(CASE WHEN h IS NOT NULL AND h.claimant <> c.claimant THEN [c.key, h.claimant] END) AS held, "
    "collect(CASE WHEN h IS NULL THEN c END) AS fresh "
    "FOREACH (k IN CASE WHEN size(held) = 0 THEN fresh ELSE [] END | "
    "CREATE (:Claim {key: k.key, claimant: k.claimant})) "
    "RETURN held",
)
CLAIMS = st.read("logs.claims", "UNWIND $keys AS k MATCH (c:Claim {key: k}) RETURN c.key, c.claimant")
SAVE_HEAD = st.write(
    "logs.save_head",
    "OPTIONAL MATCH (l:Log {name: $log}) WITH coalesce(l.size, 0) AS current "
    "FOREACH (_ IN CASE WHEN $size <= current THEN [1] ELSE [] END | "
    "MERGE (h:LogHead {slot: $head.slot}) ON CREATE SET h = $head) "
    "RETURN current",
)
HEADS = st.read(
    "logs.heads",
    "MATCH (h:LogHead {log: $log}) WITH h WHERE $kinds IS NULL OR h.kind IN $kinds "
    "RETURN h.size, h.at, h.kind, h.root, h.signature ORDER BY h.size, h.at, h.kind",
)


def _prefix(log: str) -> str:
    """The start of every slot of `log`: its length, then itself (no other log's slots start so)."""
    return f"{len(log)}:{log}:"


def _raced(error: StoreError) -> bool:
    """Whether Neo4j refused a write for a racing writer (a unique key taken, a deadlock)."""
    words = str(error).lower()
    return "already exists" in words or "constraint" in words or "deadlock" in words


class MerkleLogRecords:
    """The Merkle log part of CypherStore; see `graph.logstore.LogStore` for the contract."""

    transport: Transport

    async def log_size(self, log: str) -> int:
        rows = await self.transport.run(SIZE, {"log": log})
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    async def log_append(
        self,
        log: str,
        expected_size: int,
        entries: Sequence[NewEntry],
        nodes: Mapping[NodeKey, bytes],
        claims: Mapping[str, str] | None = None,
    ) -> AppendResult:
        check_append(log, expected_size, entries, nodes, claims)
        claims = dict(claims or {})
        prefix = _prefix(log)
        size = expected_size + len(entries)
        params: dict[str, Any] = {
            "log": log,
            "expected": expected_size,
            "size": size,
            # one row at least, so that the statement goes on without claims: key '' is none
            "claims": [{"key": key, "claimant": claims[key]} for key in sorted(claims)] or [{"key": "", "claimant": ""}],
            "entries": [
                {
                    "slot": prefix + str(expected_size + offset),
                    "bykey": prefix + item.key,
                    "position": expected_size + offset,
                    "key": item.key,
                    "payload": item.payload.hex(),
                    "at": values.micros(item.at),
                }
                for offset, item in enumerate(entries)
            ],
            "nodes": [{"slot": f"{prefix}{level}.{index}", "hash": value.hex()} for (level, index), value in sorted(nodes.items())],
        }
        rows = await self._run_raced(APPEND, params)
        ok, current, held = rows[0]
        if ok:
            return AppendResult(Appended.APPENDED, size)
        holders = {str(key): str(holder) for key, holder in held}
        taken = first_held(claims, holders)
        if int(current) == expected_size and taken is not None:
            return AppendResult(Appended.CLAIMED, int(current), claim=taken[0], claimant=taken[1])
        return AppendResult(Appended.MOVED, int(current))

    async def _run_raced(self, statement: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run a write that a racing writer may refuse (a unique key taken, a deadlock): it is
        read again and retried, up to ATTEMPTS times."""
        for attempt in range(ATTEMPTS):
            try:
                return list(await self.transport.run(statement, params))
            except StoreError as error:
                if not _raced(error) or attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def log_entries(self, log: str, start: int, end: int) -> list[LogEntry]:
        start = max(start, 0)
        if end <= start:
            return []
        rows = await self.transport.run(ENTRIES, {"log": log, "prefix": _prefix(log), "start": start, "end": end})
        return [_entry(log, row) for row in rows]

    async def log_entries_by_key(self, log: str, keys: Sequence[str]) -> list[LogEntry]:
        prefix = _prefix(log)
        wanted = [prefix + key for key in dict.fromkeys(keys)]
        if not wanted:
            return []
        return [_entry(log, row) for row in await self.transport.run(BY_KEY, {"keys": wanted})]

    async def log_nodes(self, log: str, keys: Sequence[NodeKey]) -> list[bytes | None]:
        prefix = _prefix(log)
        slots = [f"{prefix}{int(level)}.{int(index)}" for level, index in keys]
        if not slots:
            return []
        found = {slot: bytes.fromhex(value) for slot, value in await self.transport.run(NODES, {"slots": list(dict.fromkeys(slots))})}
        return [found.get(slot) for slot in slots]

    async def take_claims(self, claims: Mapping[str, str]) -> tuple[str, str] | None:
        check_claims(claims)
        if not claims:
            return None
        params = {"claims": [{"key": key, "claimant": claims[key]} for key in sorted(claims)]}
        rows = await self._run_raced(TAKE_CLAIMS, params)
        [(held,)] = rows
        return first_held(claims, {str(key): str(holder) for key, holder in held})

    async def claims(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        found = {key: claimant for key, claimant in await self.transport.run(CLAIMS, {"keys": list(dict.fromkeys(keys))})}
        return [found.get(key) for key in keys]

    async def save_head(self, head: SignedHead) -> None:
        check_head(head)
        at = values.micros(head.at)
        props = {
            "slot": f"{_prefix(head.log)}{head.size}:{at}:{head.kind}",
            "log": head.log,
            "size": head.size,
            "kind": head.kind,
            "at": at,
            "root": head.root.hex(),
            "signature": head.signature.hex(),
        }
        rows: list[tuple[Any, ...]] = []
        for attempt in range(ATTEMPTS):
            try:
                rows = await self.transport.run(SAVE_HEAD, {"log": head.log, "size": head.size, "head": props})
                break
            except StoreError as error:
                if not _raced(error) or attempt == ATTEMPTS - 1:
                    raise
        current = int(rows[0][0])
        if head.size > current:
            raise InvalidInput("size", head.size, f"is beyond the {current} entries log {head.log!r} holds")

    async def log_heads(self, log: str, kinds: Sequence[str] | None = None) -> list[SignedHead]:
        if kinds is not None and not kinds:
            return []
        rows = await self.transport.run(HEADS, {"log": log, "kinds": None if kinds is None else list(dict.fromkeys(kinds))})
        found: list[SignedHead] = []
        for size, at, kind, root, signature in rows:
            moment = values.from_micros(at)
            assert moment is not None
            found.append(
                SignedHead(log=log, size=int(size), root=bytes.fromhex(root), at=moment, kind=kind, signature=bytes.fromhex(signature))
            )
        return found


def _entry(log: str, row: Sequence[Any]) -> LogEntry:
    position, key, payload, at = row
    moment = values.from_micros(at)
    assert moment is not None
    return LogEntry(log=log, index=int(position), key=key, payload=bytes.fromhex(payload), at=moment)
