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
that owns a log checks who may read it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

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

    async def save_head(self, head: SignedHead) -> None:
        """Keep a signed head. Saving one equal to a kept head (log, size, kind, at) again is a
        no-op; the size must not exceed the log's (InvalidInput)."""

    async def log_heads(self, log: str, kinds: Sequence[str] | None = None) -> list[SignedHead]:
        """The heads kept for `log` (of `kinds`, None: all), by size then time."""
