"""The audit log's chain rule (GB/T 39786-2021, integrity of logs): pure functions, no storage.

Every entry carries `prev_hash`, the hash of the entry before it (`GENESIS` for entry 1), and
`hash`, the SM3 digest of its own content including `prev_hash`. Altering, removing, inserting
or reordering entries therefore breaks the chain at the first entry touched, and `verify` names
it. SM3 here is unkeyed so that anyone can check the log without the hub's keys; the price is
that someone who can write the table can also recompute every hash after the point they changed,
or cut off the newest entries. Only a head recorded outside the database (`hub audit tail`
prints it) exposes that: pass it as `expected_head`.

The encoding an entry's hash covers
-----------------------------------
`hash = lowercase hex of SM3(E)`, where E is the UTF-8 encoding of one JSON object with exactly
these nine members, keys in this (code-point sorted) order, no whitespace anywhere::

    {"action":…,"actor":…,"at":…,"detail":…,"prev_hash":…,"reason":…,"role":…,"seq":…,"target":…}

- `seq`: the entry's number, a JSON integer (1, 2, …);
- `at`: a JSON string, the time in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six digits of
  microseconds, always `Z`);
- `actor`, `role`, `action`, `target`: JSON strings;
- `detail`: a JSON object, encoded the same way (keys sorted by code point at every depth, no
  whitespace); it is exactly the text stored in the `detail` column;
- `reason`: a JSON string, or `null`;
- `prev_hash`: a JSON string of 64 lowercase hex digits.

Strings are written as Python's `json.dumps(..., ensure_ascii=False)` writes them: non-ASCII
characters as themselves (UTF-8), `"` and `\\` escaped with a backslash, the controls
U+0008/09/0A/0C/0D as `\\b \\t \\n \\f \\r`, other characters below U+0020 as `\\u00xx` (lowercase
hex); nothing else is escaped. Numbers inside `detail` are written as Python writes them (integers
in full, floats as the shortest repr; NaN and infinities are refused). In Python, E is::

    json.dumps({...}, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
               allow_nan=False).encode("utf-8")

>>> import datetime as dt
>>> at = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc)
>>> content = (1, at, "王芳", "street", "read_owner", "Owner:o-1", {"fields": ["name"]}, None, GENESIS)
>>> print(encoding(*content).decode("utf-8"))
{"action":"read_owner","actor":"王芳","at":"2026-01-02T03:04:05.678901Z","detail":{"fields":["name"]},\
"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","reason":null,\
"role":"street","seq":1,"target":"Owner:o-1"}
>>> entry_hash(*content)
'3e4c4a99cba1197662930e20cc4be0ea4fe08f62771681e4f3fdb36a6ce71f1a'
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from graph.ciphers.sm3 import sm3
from graph.errors import InvalidInput
from graph.security import AuditDraft, AuditEntry

GENESIS = "0" * 64
"""The `prev_hash` of entry 1: there is nothing before it."""

Kind = Literal["altered", "removed", "reordered", "inserted"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_REMEMBERED = 100_000
"""How many recent hashes `Verifier` keeps to say which entry a misplaced one follows (bounded, so
that a log of any length can be walked)."""


FIELD_LIMITS: dict[str, int] = {"actor": 200, "role": 32, "action": 64, "target": 400, "reason": 400}
"""The longest value each text field of an entry may hold (characters), on every backend."""

MAX_PAGE = 10_000
"""The most entries one read of the log returns (`audit_entries`, `audit_tail`), whatever it is
asked."""


def check_drafts(drafts: Iterable[AuditDraft]) -> None:
    """Refuse drafts a store must not append, before anything is written: a field longer than
    `FIELD_LIMITS` (InvalidInput naming `audit <field>`), a naive time, a detail that is no JSON
    object of finite numbers. An append of several drafts is refused whole."""
    for draft in drafts:
        for name, length in FIELD_LIMITS.items():
            value = getattr(draft, name)
            if isinstance(value, str) and len(value) > length:
                raise InvalidInput(f"audit {name}", value[:40] + "…", f"is longer than {length} characters")
        utc_text(draft.at)
        if not isinstance(draft.detail, Mapping):
            raise InvalidInput("audit detail", repr(draft.detail)[:40], "must be a JSON object")
        try:
            canonical_json(draft.detail)
        except (TypeError, ValueError) as error:
            raise InvalidInput("audit detail", repr(draft.detail)[:40], f"is not JSON: {error}") from None


def page_limit(limit: int) -> int:
    """How many entries a read asked for `limit` returns at most (0 for none or less)."""
    return max(0, min(limit, MAX_PAGE))


def canonical_json(value: Any) -> str:
    """JSON text with sorted keys, no whitespace, non-ASCII as itself: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def utc_text(at: dt.datetime) -> str:
    """`at` as the encoding writes it: UTC, microseconds, `Z`. Naive times are refused because
    guessing their zone would make the hash depend on the machine that computed it."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("at", at.isoformat(), "must carry a time zone")
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encoding(
    seq: int,
    at: dt.datetime,
    actor: str,
    role: str,
    action: str,
    target: str,
    detail: Mapping[str, Any],
    reason: str | None,
    prev_hash: str,
) -> bytes:
    """The bytes an entry's hash covers (see the module docstring)."""
    content = {
        "seq": seq,
        "at": utc_text(at),
        "actor": actor,
        "role": role,
        "action": action,
        "target": target,
        "detail": detail,
        "reason": reason,
        "prev_hash": prev_hash,
    }
    return canonical_json(content).encode("utf-8")


def entry_hash(
    seq: int,
    at: dt.datetime,
    actor: str,
    role: str,
    action: str,
    target: str,
    detail: Mapping[str, Any],
    reason: str | None,
    prev_hash: str,
) -> str:
    """SM3 of `encoding(...)`, as 64 lowercase hex digits."""
    return sm3(encoding(seq, at, actor, role, action, target, detail, reason, prev_hash)).hex()


def hash_of(entry: AuditEntry) -> str:
    """The hash `entry`'s content calls for (equal to `entry.hash` unless it was altered)."""
    return entry_hash(
        entry.seq,
        entry.at,
        entry.actor,
        entry.role,
        entry.action,
        entry.target,
        entry.detail,
        entry.reason,
        entry.prev_hash,
    )


def chain(drafts: Iterable[AuditDraft], *, last_seq: int, last_hash: str) -> list[AuditEntry]:
    """Entries for `drafts`, numbered and linked after the head (`last_seq`, `last_hash`); 0 and
    `GENESIS` for an empty log.

    Times are normalised to UTC and `detail` to what its canonical JSON reads back as, so that the
    entries returned equal those a store reads back later.
    """
    if not _HEX64.fullmatch(last_hash):
        raise InvalidInput("last_hash", last_hash, "must be 64 lowercase hex digits")
    entries: list[AuditEntry] = []
    seq, previous = last_seq, last_hash
    for draft in drafts:
        seq += 1
        utc_text(draft.at)  # refuses a naive time before anything is built
        at = draft.at.astimezone(dt.timezone.utc)
        detail: dict[str, Any] = json.loads(canonical_json(draft.detail))
        content = (seq, at, draft.actor, draft.role, draft.action, draft.target, detail, draft.reason, previous)
        previous = entry_hash(*content)
        entries.append(AuditEntry(*content, hash=previous))
    return entries


@dataclass(frozen=True, slots=True)
class Finding:
    """The first place where the log breaks its chain, said in a sentence for the auditor.

    `kind` is `altered` (an entry's content does not match its hash, or the entry at a recorded
    head has another hash: the chain was rewritten), `removed` (a gap in the seqs, or the log ends
    before a recorded head), `reordered` (seqs not increasing, or an entry hashed for another
    seq: renumbered or moved) or `inserted` (a consistent entry that does not link to the one
    before it: forged, or hashed for a chain that is not this one).
    """

    seq: int
    kind: Kind
    message: str

    def __str__(self) -> str:
        return self.message


def parse_head(text: str) -> tuple[int, str]:
    """A recorded head as typed: `SEQ:HASH` (as `hub audit tail` prints it).

    >>> parse_head("17:" + "A" * 64)[0]
    17
    """
    seq_text, _, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if not seq_text.strip().isdigit() or not _HEX64.fullmatch(digest):
        raise InvalidInput("head", text, "must be SEQ:HASH, e.g. 42:<64 hex digits> as `hub audit tail` prints it")
    return int(seq_text), digest


class Verifier:
    """Checks entries fed in seq order, a page at a time, keeping little state: a log of any
    length can be walked without holding it in memory. `verify` is the one-call form."""

    def __init__(self, expected_head: tuple[int, str] | None = None) -> None:
        self.expected_head = (expected_head[0], expected_head[1].lower()) if expected_head else None
        self.count = 0
        self.last: AuditEntry | None = None
        self.finding: Finding | None = None
        self._seen: dict[str, int] = {}  # recent hashes → seq: which entry a misplaced one follows

    def feed(self, entries: Iterable[AuditEntry]) -> Finding | None:
        """Check the next entries; the first finding sticks (later calls return it)."""
        for entry in entries:
            if self.finding is not None:
                break
            self.finding = self._check(entry)
            if self.finding is None:
                self._accept(entry)
        return self.finding

    def finish(self) -> Finding | None:
        """The finding, if any, once every entry was fed; this is where a head recorded beyond
        the end of the log shows that its newest entries were cut off."""
        if self.finding is None and self.expected_head is not None:
            seq, digest = self.expected_head
            last_seq = self.last.seq if self.last else 0
            if seq > last_seq:
                ends = f"the log ends at entry {last_seq}" if last_seq else "the log is empty"
                self.finding = Finding(
                    last_seq + 1,
                    "removed",
                    f"entries after {last_seq} are missing (removed?): {ends} but head {seq} was recorded",
                )
            elif seq == 0 and digest != GENESIS:
                self.finding = Finding(0, "altered", "the recorded head 0 must have the genesis hash")
        return self.finding

    def _check(self, entry: AuditEntry) -> Finding | None:
        last = self.last
        before = last.seq if last else 0
        if entry.seq < 1:
            return Finding(entry.seq, "inserted", f"entry {entry.seq} cannot be in the log: entries are numbered from 1")
        if entry.seq <= before:
            return Finding(entry.seq, "reordered", f"entries out of order at {entry.seq}: it comes after {before}")
        if entry.seq > before + 1:
            gap = f"entry {before + 1} is" if entry.seq == before + 2 else f"entries {before + 1}–{entry.seq - 1} are"
            after = f"{before} is followed by {entry.seq}" if last else f"the log starts at {entry.seq}"
            return Finding(before + 1, "removed", f"{gap} missing (removed?): {after}")
        expected = last.hash if last else GENESIS
        if entry.prev_hash != expected:
            return self._unlinked(entry, before, expected)
        if hash_of(entry) != entry.hash:
            return Finding(entry.seq, "altered", f"entry {entry.seq} was altered: its content no longer matches its hash")
        if self.expected_head is not None and entry.seq == self.expected_head[0] and entry.hash != self.expected_head[1]:
            return Finding(
                entry.seq,
                "altered",
                f"entry {entry.seq} is not the head recorded earlier: the chain was rewritten "
                f"(hashes recomputed) at or before entry {entry.seq}",
            )
        return None

    def _unlinked(self, entry: AuditEntry, before: int, expected: str) -> Finding:
        """An entry whose prev_hash is not its predecessor's hash. If its hash matches it with the
        right prev_hash, only that field was changed (`altered`). If its own hash does not match
        at all, it is a real entry hashed for another seq: renumbered or moved (`reordered`). If it
        does, someone computed that hash for this place: a forged entry (`inserted`)."""
        if hash_of(dataclasses.replace(entry, prev_hash=expected)) == entry.hash:
            return Finding(entry.seq, "altered", f"entry {entry.seq} was altered: its prev_hash was changed")
        follows = f"does not follow {before}" if before else "does not start the chain"
        message = f"entry {entry.seq} {follows} (removed, inserted or reordered)"
        linked = self._seen.get(entry.prev_hash)
        if linked is not None:
            message += f"; it follows entry {linked}"
        if hash_of(entry) != entry.hash:
            return Finding(entry.seq, "reordered", f"{message}; its hash was computed for another position")
        if linked is None:
            message += "; it follows no entry of the log"
        return Finding(entry.seq, "inserted", message)

    def _accept(self, entry: AuditEntry) -> None:
        self.last = entry
        self.count += 1
        self._seen[entry.hash] = entry.seq
        if len(self._seen) > _REMEMBERED:
            del self._seen[next(iter(self._seen))]


def verify(entries: Iterable[AuditEntry], *, expected_head: tuple[int, str] | None = None) -> Finding | None:
    """The first break of the chain in `entries` (read in the order given, which must be seq
    order), or None when it is intact — and, with `expected_head`, still reaches that head."""
    verifier = Verifier(expected_head)
    return verifier.feed(entries) or verifier.finish()

