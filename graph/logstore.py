"""Append-only logs kept as Merkle trees: the storage part of the port.

One log per ledger that must not be rewritten: a vote's bulletin board (`vote:<id>`), an estate's
maintenance-fund journal, its public revenue. The tree arithmetic (RFC 9162's structure with SM3)
is `graph.merkle`'s and the service that appends, proves and signs is `graph.logs.MerkleLog`; the
store only keeps what they computed, so that every proof costs O(log n) reads:

- entries, numbered from 0 in append order, each with its payload (the canonical bytes that
  were hashed into the leaf), an index `key` to find it by (a vote's house tag, an account), and
  the time it was appended;
- node hashes of the complete, aligned subtrees: node (level, index) is the Merkle tree hash of
  entries [index·2^level, (index+1)·2^level); level 0 holds the leaf hashes;
- signed tree heads handed out or published (`SignedHead`);
- claims: a key held by one claimant (the first co-owner to cast for a jointly held house, the
  bank's statement line a deposit came from), taken with an append and never released.

No member updates or deletes an entry, a node, a head or a claim. Logs are unscoped: the service
that owns a log checks who may read it. What an append or a head may hold is checked here, the
same for every adapter (`check_append`, `check_head`), and `tests/graph/conformance_logs.py`
holds every adapter to the contracts below.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from graph.errors import InvalidInput

NodeKey = tuple[int, int]
"""(level, index) of a complete aligned subtree: it covers entries [index·2^level, (index+1)·2^level)."""

LOG_NAME_LIMIT = 100
KEY_LIMIT = 100
CLAIM_LIMIT = 200
PAYLOAD_LIMIT = 64 * 1024
"""The longest log name, entry key, claim key or claimant (characters) and payload (bytes) a store
keeps, on every backend; longer is InvalidInput naming it, nothing appended."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of a log: its position, index key, payload (the bytes hashed into its leaf) and
    when it was appended (aware, UTC when read back)."""

    log: str
    index: int
    key: str
    payload: bytes
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry to append: its index key, payload and time."""

    key: str
    payload: bytes
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A tree head of `log` at `size` entries, signed by the hub with SM2 (`graph.merkle` says what
    bytes are signed); `kind` says why it was signed (a receipt's, a period's close, a vote's
    final head)."""

    log: str
    size: int
    root: bytes  # 32 bytes
    at: dt.datetime
    kind: str
    signature: bytes


class Appended(enum.Enum):
    """What `log_append` did."""

    APPENDED = "appended"
    MOVED = "moved"  # the log was not at `expected_size`: nothing written, read the frontier again
    CLAIMED = "claimed"  # a claim key is held by another claimant: nothing written


@dataclass(frozen=True, slots=True)
class AppendResult:
    outcome: Appended
    size: int  # the log's size after the call (unchanged unless APPENDED)
    claim: str | None = None  # CLAIMED: the key that is held
    claimant: str | None = None  # CLAIMED: who holds it


class LogStore(Protocol):
    """Storage primitives of Merkle logs; see the module docstring."""

    async def log_size(self, log: str) -> int:
        """How many entries `log` holds (0 for a log never appended to)."""

    async def log_append(
        self,
        log: str,
        expected_size: int,
        entries: Sequence[NewEntry],
        nodes: Mapping[NodeKey, bytes],
        claims: Mapping[str, str] | None = None,
    ) -> AppendResult:
        """Append `entries` as indices expected_size, expected_size+1, … with the node hashes the
        append completed (`graph.merkle.append` computes them; the store does not check them),
        and take `claims` (claim key → claimant), in one atomic write, compare-and-set:
        - the log's size is not `expected_size`: MOVED, nothing written;
        - a claim key is held by another claimant: CLAIMED naming the first such key (in key
          order) and its holder, nothing written; a key already held by the same claimant is
          kept as it is;
        - otherwise everything is written and the result is APPENDED with the new size.
        Two appenders at once, from one process or several, never both succeed at one size.
        Names, keys, claims or payloads over the limits above, an empty `entries`, or a naive
        time: InvalidInput naming what is wrong, nothing written."""

    async def log_entries(self, log: str, start: int, end: int) -> list[LogEntry]:
        """Entries with start <= index < end, in index order (fewer where the log is shorter)."""

    async def log_entries_by_key(self, log: str, keys: Sequence[str]) -> list[LogEntry]:
        """Entries whose key is one of `keys`, in index order."""

    async def log_nodes(self, log: str, keys: Sequence[NodeKey]) -> list[bytes | None]:
        """The stored node hashes at these keys, in key order; None where not stored."""

    async def claims(self, keys: Sequence[str]) -> list[str | None]:
        """Who holds each claim key, in key order; None where nobody does."""

    async def take_claims(self, claims: Mapping[str, str]) -> tuple[str, str] | None:
        """Take every claim key for its claimant (claim key → claimant) without appending, in one
        atomic write: None when all are taken (a key already the same claimant's stays so);
        when a key is another claimant's, that first key (in key order) and its holder, and
        nothing is taken. Appends then meet these claims like any other (a vote's proxy holds
        the house for its delegate from its registration)."""

    async def save_head(self, head: SignedHead) -> None:
        """Keep a signed head. Saving one equal to a kept head (log, size, kind, at) again is a
        no-op; the size must not exceed the log's (InvalidInput)."""

    async def log_heads(self, log: str, kinds: Sequence[str] | None = None) -> list[SignedHead]:
        """The heads kept for `log` (of `kinds`, None: all), by size then time."""


HEAD_KIND_LIMIT = KEY_LIMIT
"""The longest `SignedHead.kind` (characters)."""


def check_append(
    log: str,
    expected_size: int,
    entries: Sequence[NewEntry],
    nodes: Mapping[NodeKey, bytes],
    claims: Mapping[str, str] | None,
) -> None:
    """What every adapter refuses in `LogStore.log_append` before it writes anything:
    InvalidInput naming the field."""
    check_log(log)
    if isinstance(expected_size, bool) or not isinstance(expected_size, int) or expected_size < 0:
        raise InvalidInput("expected_size", expected_size, "must be a whole number of entries, 0 or more")
    if not entries:
        raise InvalidInput("entries", "[]", "must hold at least one entry to append")
    for position, entry in enumerate(entries):
        _text(f"entries[{position}].key", entry.key, KEY_LIMIT, empty=True)
        if not isinstance(entry.payload, bytes):
            raise InvalidInput(f"entries[{position}].payload", type(entry.payload).__name__, "must be bytes")
        if len(entry.payload) > PAYLOAD_LIMIT:
            raise InvalidInput(
                f"entries[{position}].payload", f"{len(entry.payload)} bytes", f"is longer than {PAYLOAD_LIMIT} bytes"
            )
        check_time(f"entries[{position}].at", entry.at)
    for key, value in nodes.items():
        if (
            not isinstance(key, tuple)
            or len(key) != 2
            or any(isinstance(part, bool) or not isinstance(part, int) or part < 0 for part in key)
        ):
            raise InvalidInput("nodes", key, "must be keyed by (level, index), whole numbers 0 or more")
        if not isinstance(value, bytes) or not value:
            raise InvalidInput(f"nodes[{key[0]}, {key[1]}]", value, "must be the node's hash, non-empty bytes")
    check_claims(claims or {})


def check_claims(claims: Mapping[str, str]) -> None:
    """What every adapter refuses in `LogStore.take_claims`: InvalidInput naming the field."""
    for claim, claimant in claims.items():
        _text("claims", claim, CLAIM_LIMIT)
        _text(f"claims[{claim}]", claimant, CLAIM_LIMIT)


def check_head(head: SignedHead) -> None:
    """What every adapter refuses in `LogStore.save_head` whatever the log holds (a size beyond
    the log's is the adapter's to find): InvalidInput naming the field."""
    check_log(head.log)
    if isinstance(head.size, bool) or not isinstance(head.size, int) or head.size < 0:
        raise InvalidInput("size", head.size, "must be a whole number of entries, 0 or more")
    _text("kind", head.kind, HEAD_KIND_LIMIT)
    check_time("at", head.at)
    for field, value in (("root", head.root), ("signature", head.signature)):
        if not isinstance(value, bytes) or not value:
            raise InvalidInput(field, value, "must be non-empty bytes")


def check_log(log: str) -> None:
    _text("log", log, LOG_NAME_LIMIT)


def check_time(field: str, moment: dt.datetime) -> None:
    if not isinstance(moment, dt.datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(field, moment, "must be an aware time (with its UTC offset)")


def first_held(claims: Mapping[str, str], holders: Mapping[str, str]) -> tuple[str, str] | None:
    """The first claim key (in key order) that `holders` (claim key → who holds it) gives to
    another claimant than `claims` asks for, with its holder; None when every key is free or
    already the same claimant's."""
    for claim in sorted(claims):
        holder = holders.get(claim)
        if holder is not None and holder != claims[claim]:
            return claim, holder
    return None


def _text(field: str, value: str, limit: int, *, empty: bool = False) -> None:
    if not isinstance(value, str):
        raise InvalidInput(field, value, "must be text")
    if not value and not empty:
        raise InvalidInput(field, value, "must not be empty")
    if len(value) > limit:
        raise InvalidInput(field, f"{value[:20]}…", f"is longer than {limit} characters")
