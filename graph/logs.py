"""`MerkleLog`: the service that appends to, proves and signs one append-only log over the
`graph.logstore.LogStore` port; the tree arithmetic is `graph.merkle`'s. Every ledger that must
not be rewritten uses it the same way (a vote's bulletin board `vote:<id>`, an estate's
maintenance-fund journal).

Contracts:
- `append` writes entries (and claims) with one compare-and-set `log_append`. The log's size
  and frontier are kept in memory, per store and log name, for the whole process, behind an
  asyncio.Lock: consecutive appends from one process cost one write and no reads. Appends that
  wait while one is written go together in the next write (group commit, up to BATCH_ENTRIES
  entries), in the order they came: under load one transaction carries many appends instead of
  each waiting for the one before. When another writer moved the log (MOVED), the frontier is
  read again and the append retried, up to `retries` times (then `LogBusy`); a claim held by
  someone else is `ClaimHeld` for that append alone, nothing of it written, the rest of its
  batch written (appends claiming a key an earlier one of the batch claims for another
  claimant wait for the next write, so the outcome is that of one after the other). An
  append whose entries or claims are malformed is refused alone, before it joins a batch. Any
  error from the store forgets the cached frontier (the write may or may not have happened),
  so the next append reads it again; every append of that batch gets the error.
- Proofs and roots read O(log n) stored nodes (`graph.merkle` says which); a size beyond the log
  is InvalidInput, a node the log should hold and does not is `LogDamaged`.
- `sign` signs the log's current head with the hub's SM2 key and keeps it (`save_head`).
  `head_covering(size, kind)` hands out a head of at least `size` entries, signing at most one
  head of a log and kind at a time: whoever waits while one is signed gets the next signature,
  shared with every other waiter (200 appends a second do not cost 200 signatures a second).
- `verify` re-reads every entry, recomputes every leaf, node and kept head's root, checks every
  head's signature and that each later head extends the one before, and reports the first entry
  whose stored leaf or node does not fit (`LogReport`); it never raises for what it finds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from graph import merkle
from graph.ciphers.keyring import Keyring
from graph.errors import InvalidInput, StoreError
from graph.logstore import LOG_NAME_LIMIT, Appended, LogEntry, LogStore, NewEntry, NodeKey, SignedHead, check_append

RETRIES = 8
"""How many times `append` reads the frontier again after another writer moved the log."""

BATCH_ENTRIES = 1024
"""At most this many entries are appended in one write (appends waiting together share one)."""

VERIFY_BATCH = 4096
"""Entries `verify` reads at a time."""


class ClaimHeld(StoreError):
    """An append's claim key is held by another claimant (the house's vote was cast by another
    co-owner, the statement line already booked): nothing was appended."""

    def __init__(self, log: str, claim: str, claimant: str) -> None:
        self.log = log
        self.claim = claim
        self.claimant = claimant
        super().__init__(f"{log}: {claim!r} is already held by {claimant!r}; nothing was appended")


class LogBusy(StoreError):
    """Other writers kept moving the log while an append retried: nothing was appended, and the
    same append may succeed a moment later."""


class LogMoved(StoreError):
    """An append made only at a given size found the log at another: nothing was appended (the
    caller read the log at that size, decided, and must read it again)."""


class LogDamaged(StoreError):
    """A node the log must hold for its size is missing: the log was tampered with or a write
    was lost (`MerkleLog.verify` says where)."""


@dataclass(frozen=True, slots=True)
class LogAppend:
    """What an append did: its entries are indices first .. size-1, and the tree of `size`
    entries has this root."""

    first: int
    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class HeadProblem:
    """A kept head that does not hold up, and why."""

    head: SignedHead
    problem: str


@dataclass(frozen=True, slots=True)
class LogReport:
    """What `MerkleLog.verify` found. `first_bad_entry` is the first entry index whose stored
    leaf does not fit its payload, or that begins a stored node that does not fit the stored
    nodes below it (a node wrong only because one below it is wrong is not named), or the first
    missing entry, whichever comes first; `bad_node` is that leaf or node (None when an entry is
    missing). Heads are checked for their signature, their root against the entries, and
    against the next larger head. Two heads whose roots are both in `roots` extend one another
    by construction (the same entries give both)."""

    log: str
    size: int
    entries_checked: int
    first_bad_entry: int | None
    bad_node: NodeKey | None
    heads_checked: int
    head_problems: tuple[HeadProblem, ...]
    roots: Mapping[int, bytes] = field(default_factory=dict)
    """The root recomputed from the entries at each kept head's size (and at the log's size)."""

    @property
    def intact(self) -> bool:
        return self.first_bad_entry is None and not self.head_problems


@dataclass
class _Signer:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    latest: SignedHead | None = None


@dataclass(eq=False)
class _Request:
    """An append waiting for its batch: its entries, claims, and the future its caller awaits."""

    entries: tuple[NewEntry, ...]
    claims: dict[str, str]
    done: asyncio.Future[LogAppend]
    at_size: int | None = None  # appended alone, only if the log holds exactly this many entries


def _without_rivals(batch: list[_Request]) -> tuple[list[_Request], list[_Request]]:
    """The batch split into what can go in one write and what must wait for the next: a request
    claiming a key that an earlier request of the batch claims for another claimant waits (its
    outcome depends on whether the earlier one lands, as if they had come one after the other)."""
    kept: list[_Request] = []
    waiting: list[_Request] = []
    taken: dict[str, str] = {}
    for request in batch:
        if waiting or any(taken.get(key, claimant) != claimant for key, claimant in request.claims.items()):
            waiting.append(request)  # everything after the first rival waits too: order is kept
            continue
        taken.update(request.claims)
        kept.append(request)
    return kept, waiting


@dataclass
class _Tip:
    """A log's state shared by every MerkleLog of one store and log name in this process."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    size: int | None = None  # None: not known, read the store
    frontier: list[bytes] = field(default_factory=list)
    pending: list[_Request] = field(default_factory=list)
    signers: dict[str, _Signer] = field(default_factory=dict)


_tips: weakref.WeakKeyDictionary[object, dict[str, _Tip]] = weakref.WeakKeyDictionary()


def _tip_of(store: object, log: str) -> _Tip:
    try:
        per_store = _tips.setdefault(store, {})
    except TypeError:  # a store that cannot be weakly referenced shares nothing
        return _Tip()
    return per_store.setdefault(log, _Tip())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class MerkleLog:
    """One log (`log`, its name) over a store; see the module docstring. `keyring` signs heads
    and checks them (without one, `sign` and `head_covering` are InvalidInput and `verify` needs
    a public key); `clock` gives heads their time."""

    def __init__(
        self,
        store: LogStore,
        log: str,
        keyring: Keyring | None = None,
        *,
        clock: Callable[[], dt.datetime] = _now,
        retries: int = RETRIES,
    ) -> None:
        if not isinstance(log, str) or not log or len(log) > LOG_NAME_LIMIT or not log.isprintable():
            raise InvalidInput("log", log, f"must be printable text of 1 to {LOG_NAME_LIMIT} characters")
        self.store = store
        self.log = log
        self.keyring = keyring
        self.clock = clock
        self.retries = retries
        self._tip = _tip_of(store, log)

    # --- appending --------------------------------------------------------------------------

    async def append(
        self, entries: Sequence[NewEntry], claims: Mapping[str, str] | None = None, *, at_size: int | None = None
    ) -> LogAppend:
        """Append `entries` (taking `claims`, claim key → claimant) as the next indices; see the
        module docstring for batching, retries and errors. With `at_size` the entries go in a
        write of their own and only if the log then holds exactly `at_size` entries, else
        `LogMoved` and nothing written: a writer that decided on what it read at that size (a
        fund debit checking balances) appends only if nobody wrote in between, in any process."""
        if not entries:
            raise InvalidInput("entries", 0, "must hold at least one entry")
        check_append(self.log, 0, entries, {}, claims)  # refused alone, never inside a batch
        tip = self._tip
        request = _Request(tuple(entries), dict(claims or {}), asyncio.get_running_loop().create_future(), at_size)
        tip.pending.append(request)
        try:
            async with tip.lock:
                while not request.done.done():  # a request put back for the next write is written now
                    await self._append_pending(tip)
        except asyncio.CancelledError:
            if request in tip.pending:  # not taken into a batch: nothing of it is written
                tip.pending.remove(request)
            raise
        return await request.done

    async def _append_pending(self, tip: _Tip) -> None:
        """Append the waiting requests (up to BATCH_ENTRIES entries) as one compare-and-set write;
        a request whose claim is held by someone else fails alone and the rest are written."""
        batch: list[_Request] = []
        taken = 0
        while tip.pending and (not batch or taken + len(tip.pending[0].entries) <= BATCH_ENTRIES):
            if batch and tip.pending[0].at_size is not None:
                break  # an append at a given size goes alone
            request = tip.pending.pop(0)
            batch.append(request)
            taken += len(request.entries)
            if request.at_size is not None:
                break
        batch, waiting = _without_rivals(batch)
        tip.pending[:0] = waiting
        try:
            moved = 0
            reread = False
            while batch:
                if tip.size is None:
                    known = await self.store.log_size(self.log)
                    tip.frontier = await self._frontier_at(known)
                    tip.size = known
                size = tip.size
                wanted = batch[0].at_size
                if wanted is not None and wanted != size:
                    if wanted > size and not reread:  # this process may lag another writer's appends
                        tip.size, reread = None, True
                        continue
                    batch[0].done.set_exception(
                        LogMoved(f"{self.log}: holds {size} entries, not the {wanted} the append was decided on; nothing was appended")
                    )
                    return
                entries = [entry for request in batch for entry in request.entries]
                claims = {key: value for request in batch for key, value in request.claims.items()}
                nodes, frontier = merkle.append(size, tip.frontier, [merkle.leaf_hash(e.payload) for e in entries])
                try:
                    result = await self.store.log_append(self.log, size, entries, nodes, claims)
                except BaseException:
                    tip.size = None
                    raise
                if result.outcome is Appended.APPENDED:
                    tip.size, tip.frontier = size + len(entries), frontier
                    root = merkle.root_from_frontier(frontier)
                    first = size
                    for request in batch:
                        request.done.set_result(LogAppend(first=first, size=tip.size, root=root))
                        first += len(request.entries)
                    return
                if result.outcome is Appended.CLAIMED:
                    if result.size != size:
                        tip.size = None
                    held = ClaimHeld(self.log, result.claim or "", result.claimant or "")
                    refused = [r for r in batch if r.claims.get(result.claim or "", held.claimant) != held.claimant]
                    for request in refused or list(batch):  # none named: the store and the batch disagree
                        request.done.set_exception(held)
                        batch.remove(request)
                    continue
                tip.size = None  # MOVED: read the frontier again
                if wanted is not None:
                    batch[0].done.set_exception(
                        LogMoved(f"{self.log}: another writer appended after size {wanted}; nothing was appended")
                    )
                    return
                moved += 1
                if moved > self.retries:
                    busy = LogBusy(f"{self.log}: other writers moved the log {moved} times; nothing was appended")
                    for request in batch:
                        request.done.set_exception(busy)
                    return
        except BaseException as error:
            failure = error if isinstance(error, Exception) else StoreError(f"{self.log}: the append was interrupted")
            for request in batch:
                if not request.done.done():
                    request.done.set_exception(failure)
            if not isinstance(error, Exception):
                raise

    async def _frontier_at(self, size: int) -> list[bytes]:
        keys = merkle.frontier_keys(size)
        nodes = await self._nodes(keys, size)
        return [nodes[key] for key in keys]

    async def _nodes(self, keys: Sequence[NodeKey], size: int) -> dict[NodeKey, bytes]:
        """The stored nodes at `keys`, all of which a log of `size` entries holds: InvalidInput
        when the log is shorter than `size`, LogDamaged when it is not and a node is missing."""
        if not keys:
            return {}
        found = await self.store.log_nodes(self.log, keys)
        missing = [key for key, value in zip(keys, found) if value is None]
        if missing:
            actual = await self.store.log_size(self.log)
            if size > actual:
                raise InvalidInput("size", size, f"exceeds the {actual} entries of log {self.log}")
            raise LogDamaged(f"{self.log}: node {missing[0]} of its first {size} entries is missing")
        return {key: value for key, value in zip(keys, found) if value is not None}

    # --- reading ----------------------------------------------------------------------------

    async def size(self) -> int:
        """How many entries the log holds now."""
        return await self.store.log_size(self.log)

    async def root(self, size: int | None = None) -> bytes:
        """The root of the log's first `size` entries (None: all it holds now)."""
        if size is None:
            size = await self.store.log_size(self.log)
        return merkle.root_from_frontier(await self._frontier_at(size))

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """The proof that entry `index` is in the tree of the log's first `size` entries."""
        keys = merkle.inclusion_keys(index, size)
        return merkle.inclusion_proof(index, size, await self._nodes(keys, size))

    async def inclusion_proof_and_root(self, index: int, size: int) -> tuple[list[bytes], bytes]:
        """`inclusion_proof(index, size)` and `root(size)` from one read of the stored nodes."""
        proof_keys = merkle.inclusion_keys(index, size)
        root_keys = merkle.frontier_keys(size)
        nodes = await self._nodes(list(dict.fromkeys([*proof_keys, *root_keys])), size)
        proof = merkle.inclusion_proof(index, size, nodes)
        return proof, merkle.root_from_frontier([nodes[key] for key in root_keys])

    async def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """The proof that the tree of the first `new` entries extends that of the first `old`."""
        keys = merkle.consistency_keys(old, new)
        return merkle.consistency_proof(old, new, await self._nodes(keys, new))

    # --- signing ----------------------------------------------------------------------------

    async def sign(self, kind: str, *, size: int | None = None) -> SignedHead:
        """Sign the log's head (or its head at `size` entries: a vote's final head covers what
        was counted, whatever came after), keep it (`save_head`) and return it. Without `size`
        the head is the log as this process last appended to it, or as stored when it has not
        appended (another process's later entries wait for the next head)."""
        keyring = self._keyring()
        if size is None:
            tip = self._tip
            if tip.size is not None:  # what this process last appended: a size the log had
                size, frontier = tip.size, list(tip.frontier)
            else:
                size = await self.store.log_size(self.log)
                frontier = await self._frontier_at(size)
            root = merkle.root_from_frontier(frontier)
        else:
            root = await self.root(size)
        tip = self._tip
        head = merkle.sign_head(keyring, self.log, size, root, self.clock(), kind)  # ~0.2 ms: no thread hop
        await self.store.save_head(head)
        signer = tip.signers.setdefault(kind, _Signer())
        if signer.latest is None or signer.latest.size < head.size:
            signer.latest = head
        return head

    async def head_covering(self, size: int, kind: str) -> SignedHead:
        """A signed head of `kind` over at least the log's first `size` entries: the latest one
        this process signed when it covers them, else the next one signed (shared by all who wait
        for it; one signature at a time per log and kind). A size beyond the log: InvalidInput."""
        self._keyring()
        signer = self._tip.signers.setdefault(kind, _Signer())
        if signer.latest is not None and signer.latest.size >= size:
            return signer.latest
        async with signer.lock:
            if signer.latest is not None and signer.latest.size >= size:
                return signer.latest
            head = await self.sign(kind)
        if head.size < size:
            raise InvalidInput("size", size, f"exceeds the {head.size} entries of log {self.log}")
        return head

    def _keyring(self) -> Keyring:
        if self.keyring is None:
            raise InvalidInput("keyring", None, f"is needed to sign heads of log {self.log}")
        return self.keyring

    # --- checking ---------------------------------------------------------------------------

    async def verify(
        self, public_key: str | None = None, *, each: Callable[[Sequence[LogEntry]], None] | None = None
    ) -> LogReport:
        """Check everything the log keeps against its entries; see `LogReport`. The heads'
        signatures are checked with `public_key` (None: the keyring's). `each` is handed every
        batch of entries as it is read, in index order (a ledger folds them in the same pass)."""
        if public_key is None:
            public_key = self._keyring().sm2_public
        size = await self.store.log_size(self.log)
        heads = await self.store.log_heads(self.log)
        wanted = {head.size for head in heads if head.size <= size}
        roots: dict[int, bytes] = {0: merkle.empty_root()} if 0 in wanted else {}
        worst: tuple[int, int] | None = None  # (first entry, level) of the first bad node
        mismatched: set[NodeKey] = set()
        missing: int | None = None
        frontier: list[bytes] = []
        done = 0
        while done < size and missing is None:
            end = min(done + VERIFY_BATCH, size)
            entries = await self.store.log_entries(self.log, done, end)
            for offset, entry in enumerate(entries):
                if entry.index != done + offset:
                    missing = done + offset
                    entries = entries[:offset]
                    break
            else:
                if len(entries) < end - done:
                    missing = done + len(entries)
            if each is not None:
                each(entries)
            leaves = [merkle.leaf_hash(entry.payload) for entry in entries]
            reach = done + len(leaves)
            nodes: dict[NodeKey, bytes] = {}
            at = done
            for cut in sorted({s for s in wanted if done < s <= reach} | {reach}):
                completed, frontier = merkle.append(at, frontier, leaves[at - done : cut - done])
                nodes.update(completed)
                roots[cut] = merkle.root_from_frontier(frontier)
                at = cut
            keys = list(nodes)
            stored = await self.store.log_nodes(self.log, keys) if keys else []
            wrong = [key for key, value in zip(keys, stored) if value != nodes[key]]
            mismatched.update(wrong)
            for level, index in wrong:
                if level and {(level - 1, 2 * index), (level - 1, 2 * index + 1)} & mismatched:
                    continue  # wrong because a node below it is: that one is named
                candidate = (index << level, level)
                worst = candidate if worst is None or candidate < worst else worst
            done = reach
        starts = [x for x in (missing, worst[0] if worst is not None else None) if x is not None]
        first_bad = min(starts) if starts else None
        bad_node = None
        if worst is not None and worst[0] == first_bad:
            bad_node = (worst[1], worst[0] >> worst[1])
        problems = await self._head_problems(heads, size, roots, public_key)
        return LogReport(
            log=self.log,
            size=size,
            entries_checked=done,
            first_bad_entry=first_bad,
            bad_node=bad_node,
            heads_checked=len(heads),
            head_problems=tuple(problems),
            roots=dict(roots),
        )

    async def _head_problems(
        self, heads: Sequence[SignedHead], size: int, roots: Mapping[int, bytes], public_key: str
    ) -> list[HeadProblem]:
        problems: list[HeadProblem] = []
        confirmed: set[int] = set()  # positions of heads whose root the entries give
        for position, head in enumerate(heads):
            if head.log != self.log:
                problems.append(HeadProblem(head, f"is a head of log {head.log!r}"))
            if not merkle.verify_head(public_key, head):
                problems.append(HeadProblem(head, "its signature does not verify"))
            if head.size > size:
                problems.append(HeadProblem(head, f"its size exceeds the log's {size} entries"))
            elif head.size not in roots:
                problems.append(HeadProblem(head, "its entries could not all be read"))
            elif roots[head.size] != head.root:
                problems.append(HeadProblem(head, "its root does not match the entries"))
            else:
                confirmed.add(position)
        ordered = sorted(range(len(heads)), key=lambda i: (heads[i].size, heads[i].at))
        for earlier, later in zip(ordered, ordered[1:]):
            if earlier in confirmed and later in confirmed:
                continue  # both roots are the entries': one extends the other
            if not await self._extends(heads[earlier], heads[later]):
                later_head = heads[later]
                problems.append(
                    HeadProblem(
                        heads[earlier],
                        f"the head of {later_head.size} entries signed at {later_head.at.isoformat()} does not extend it",
                    )
                )
        return problems

    async def _extends(self, earlier: SignedHead, later: SignedHead) -> bool:
        """Whether the stored tree proves `later` extends `earlier`."""
        try:
            proof = await self.consistency_proof(earlier.size, later.size)
        except (InvalidInput, LogDamaged):
            return False
        return merkle.verify_consistency(earlier.size, later.size, earlier.root, later.root, proof)
