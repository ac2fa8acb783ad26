"""graph.logs.MerkleLog on every backend of `tests.backends` (real stores through the LogStore
port): appends, roots and proofs against graph.merkle's arithmetic, what an append costs the
store, other writers (a second store on the same database, as a second process), claims, the
coalescing head signer, refusals, and `verify` finding what a careless writer left behind."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from graph import merkle, open_store
from graph.ciphers.keyring import Keyring
from graph.ciphers.sealing import Sealer
from graph.ciphers.sm3 import sm3
from graph.errors import InvalidInput
from graph.logs import ClaimHeld, LogDamaged, LogMoved, MerkleLog
from graph.logstore import LogStore, NewEntry, NodeKey, SignedHead
from graph.store import Store
from tests import backends

KEYS = Keyring.generate()
T0 = dt.datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=dt.timezone.utc)
VOTE = "vote:V20261201000001"


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)  # session servers, outside any running event loop
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, sqlite_path: str) -> AsyncIterator[Store]:
    """A fresh, empty store for one test."""
    opened = await backends.open_fresh(backend, request, Path(sqlite_path).parent)
    try:
        yield opened
    finally:
        await backends.discard(opened)


@contextlib.asynccontextmanager
async def twin_stores(backend: str, request: pytest.FixtureRequest, directory: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores opened on one new database (graph), as two processes of the hub open it."""
    url = await backends.fresh_url(backend, request, directory)
    sealer = Sealer.generate()
    first = await open_store(url, sealer=sealer, upgrade=backend not in backends.SQL)
    try:
        second = await open_store(url, sealer=sealer, upgrade=False)
        try:
            yield first, second
        finally:
            await second.close()
    finally:
        await backends.discard(first)


class Counting:
    """The real store, with a count of the port's calls made through it (and of how many
    `save_head` calls ran at once, at most)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()
        self.saving = 0
        self.most_saving = 0

    def __getattr__(self, name: str) -> Any:
        member = getattr(self.store, name)
        if not name.startswith("log") and name not in ("claims", "save_head"):
            return member

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "save_head":
                self.saving += 1
                self.most_saving = max(self.most_saving, self.saving)
            try:
                return await member(*args, **kwargs)
            finally:
                if name == "save_head":
                    self.saving -= 1

        return counted

    def port(self) -> LogStore:
        return cast(LogStore, self)


def entry(i: int) -> NewEntry:
    return NewEntry(key=f"house-{i:03d}", payload=f"ballot {i}".encode() * (i % 3 + 1), at=T0 + dt.timedelta(seconds=i))


def reference(count: int) -> tuple[dict[NodeKey, bytes], list[bytes]]:
    """Every node of the tree of entries 0..count-1 and their leaves, by graph.merkle alone."""
    leaves = [merkle.leaf_hash(entry(i).payload) for i in range(count)]
    nodes, _ = merkle.append(0, [], leaves)
    return nodes, leaves


async def fill(log: MerkleLog, start: int, end: int, chunk: int = 1) -> None:
    for at in range(start, end, chunk):
        await log.append([entry(i) for i in range(at, min(at + chunk, end))])


class TestAppendAndProve:
    async def test_appends_give_the_trees_root_and_every_proof_holds(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        assert await log.root() == sm3(b"")
        nodes, leaves = reference(37)
        size = 0
        for chunk in (1, 2, 5, 13, 16):
            done = await log.append([entry(i) for i in range(size, size + chunk)])
            assert (done.first, done.size) == (size, size + chunk)
            assert done.root == merkle.range_hash(0, size + chunk, nodes)
            size += chunk
        assert await log.size() == 37
        for tree in (1, 7, 16, 33, 37):
            root = await log.root(tree)
            assert root == merkle.range_hash(0, tree, nodes)
            for index in range(tree):
                proof = await log.inclusion_proof(index, tree)
                assert merkle.verify_inclusion(leaves[index], index, tree, proof, root), (index, tree)
            for old in range(tree + 1):
                proof = await log.consistency_proof(old, tree)
                assert merkle.verify_consistency(old, tree, await log.root(old), root, proof), (old, tree)
        stored = await store.log_nodes(VOTE, list(nodes))
        assert stored == list(nodes.values())

    async def test_consecutive_appends_cost_one_write_and_no_reads(self, store: Store) -> None:
        counting = Counting(store)
        log = MerkleLog(counting.port(), VOTE, KEYS)
        await log.append([entry(0)])
        first_reads = sum(n for name, n in counting.calls.items() if name != "log_append")
        counting.calls.clear()
        await fill(log, 1, 21)
        assert counting.calls == Counter({"log_append": 20})
        assert first_reads <= 2  # the size, and the frontier of an empty log
        again = MerkleLog(counting.port(), VOTE, KEYS)  # another service object of the same process
        counting.calls.clear()
        await again.append([entry(21)])
        assert counting.calls == Counter({"log_append": 1})
        assert await log.root() == merkle.range_hash(0, 22, reference(22)[0])

    async def test_logs_are_separate(self, store: Store) -> None:
        vote, fund = MerkleLog(store, VOTE, KEYS), MerkleLog(store, "fund:E_A", KEYS)
        await fill(vote, 0, 5)
        await fill(fund, 0, 3)
        assert (await vote.size(), await fund.size()) == (5, 3)
        assert await fund.root() == merkle.range_hash(0, 3, reference(3)[0])

    async def test_refusals(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        await fill(log, 0, 5)
        with pytest.raises(InvalidInput, match="entries"):
            await log.append([])
        with pytest.raises(InvalidInput, match="size"):
            await log.root(6)
        with pytest.raises(InvalidInput, match="index"):
            await log.inclusion_proof(5, 5)
        with pytest.raises(InvalidInput, match="size"):
            await log.inclusion_proof(2, 6)
        with pytest.raises(InvalidInput, match="old"):
            await log.consistency_proof(4, 3)
        with pytest.raises(InvalidInput, match="size"):
            await log.consistency_proof(3, 9)
        with pytest.raises(InvalidInput, match="log"):
            MerkleLog(store, "vote\n1", KEYS)
        with pytest.raises(InvalidInput, match="keyring"):
            await MerkleLog(store, VOTE).sign("receipt")
        naive = NewEntry(key="house-x", payload=b"x", at=T0.replace(tzinfo=None))
        with pytest.raises(InvalidInput):
            await log.append([naive])
        assert await log.size() == 5
        await log.append([entry(5)])  # the refused write left the service usable
        assert await log.root() == merkle.range_hash(0, 6, reference(6)[0])


class TestOtherWriters:
    async def test_a_writer_behind_the_services_back_moves_the_log_and_it_retries(self, store: Store) -> None:
        counting = Counting(store)
        log = MerkleLog(counting.port(), VOTE, KEYS)
        await fill(log, 0, 3)
        nodes, leaves = reference(4)
        frontier = [nodes[key] for key in merkle.frontier_keys(3)]
        completed, _ = merkle.append(3, frontier, [leaves[3]])
        assert (await store.log_append(VOTE, 3, [entry(3)], completed)).size == 4
        counting.calls.clear()
        done = await log.append([entry(4)])
        assert (done.first, done.size) == (4, 5)
        assert counting.calls["log_append"] == 2  # MOVED, then appended after reading again
        assert done.root == merkle.range_hash(0, 5, reference(5)[0])
        assert (await log.verify()).intact

    async def test_two_processes_appending_at_once_both_land_every_entry(
        self, backend: str, request: pytest.FixtureRequest, sqlite_path: str
    ) -> None:
        async with twin_stores(backend, request, Path(sqlite_path).parent) as (first, second):
            one, two = MerkleLog(first, VOTE, KEYS, retries=50), MerkleLog(second, VOTE, KEYS, retries=50)
            results = await asyncio.gather(
                *(
                    (one if i % 2 else two).append(
                        [NewEntry(key=f"house-{i:03d}", payload=f"ballot {i}".encode(), at=T0)]
                    )
                    for i in range(24)
                )
            )
            assert sorted(r.first for r in results) == list(range(24))
            report = await one.verify()
            assert report.intact and report.size == 24 and report.entries_checked == 24
            assert await one.root() == await two.root()

    async def test_an_append_at_a_size_reads_what_another_process_appended(
        self, backend: str, request: pytest.FixtureRequest, sqlite_path: str
    ) -> None:
        async with twin_stores(backend, request, Path(sqlite_path).parent) as (first, second):
            here, there = MerkleLog(first, VOTE, KEYS), MerkleLog(second, VOTE, KEYS)
            await here.append([entry(0)])  # this process knows the log at size 1
            await there.append([entry(1)])  # another process takes it to 2
            with pytest.raises(LogMoved):
                await here.append([entry(2)], at_size=1)  # decided on size 1: too late
            done = await here.append([entry(2)], at_size=2)  # decided on what the store holds now
            assert (done.first, done.size) == (2, 3)
            assert done.root == merkle.range_hash(0, 3, reference(3)[0])
            with pytest.raises(LogMoved):
                await there.append([entry(3)], at_size=2)
            assert (await here.verify()).intact

    async def test_appends_from_one_process_at_once_take_turns(self, store: Store) -> None:
        logs = [MerkleLog(store, VOTE, KEYS) for _ in range(3)]
        results = await asyncio.gather(*(logs[i % 3].append([entry(i)]) for i in range(30)))
        assert sorted(r.first for r in results) == list(range(30))
        assert (await logs[0].verify()).intact


class TestBatching:
    async def test_appends_waiting_together_share_one_write_in_the_order_they_came(self, store: Store) -> None:
        counting = Counting(store)
        log = MerkleLog(counting.port(), VOTE, KEYS)
        await log.append([entry(0)])
        counting.calls.clear()
        chunks = [[entry(i)] if i % 2 else [entry(i), entry(i + 100)] for i in range(1, 31)]
        results = await asyncio.gather(*(log.append(chunk) for chunk in chunks))
        firsts = [r.first for r in results]
        assert firsts == sorted(firsts) and firsts[0] == 1
        for result, chunk, following in zip(results, chunks, [*firsts[1:], None]):
            if following is not None:
                assert following == result.first + len(chunk)  # no gaps, no overlaps
        total = 1 + sum(len(chunk) for chunk in chunks)
        assert counting.calls["log_append"] < len(chunks)  # the waiting appends went together
        assert {r.size for r in results} <= set(range(2, total + 1)) and max(r.size for r in results) == total
        for result in results:
            assert result.root == await log.root(result.size)
        stored = await store.log_entries(VOTE, 0, total)
        for result, chunk in zip(results, chunks):
            assert [e.payload for e in stored[result.first : result.first + len(chunk)]] == [e.payload for e in chunk]
        assert (await log.verify()).intact

    async def test_a_rival_claim_in_the_same_batch_fails_alone(self, store: Store) -> None:
        counting = Counting(store)
        log = MerkleLog(counting.port(), VOTE, KEYS)
        await log.append([entry(0)], {"house:H9": "owner-z"})
        counting.calls.clear()
        attempts = [
            log.append([entry(1)], {"house:H1": "owner-a"}),
            log.append([entry(2)], {"house:H1": "owner-b"}),  # the co-owner, a moment later
            log.append([entry(3)], {"house:H9": "owner-y"}),  # held before the batch
            log.append([entry(4)], {"house:H1": "owner-a"}),  # the same owner again: allowed
            log.append([entry(5)]),
        ]
        outcomes = await asyncio.gather(*attempts, return_exceptions=True)
        assert isinstance(outcomes[1], ClaimHeld) and (outcomes[1].claim, outcomes[1].claimant) == ("house:H1", "owner-a")
        assert isinstance(outcomes[2], ClaimHeld) and (outcomes[2].claim, outcomes[2].claimant) == ("house:H9", "owner-z")
        landed = [o for o in outcomes if not isinstance(o, BaseException)]
        assert sorted(o.first for o in landed) == [1, 2, 3]
        stored = await store.log_entries(VOTE, 0, 4)
        assert [e.payload for e in stored] == [entry(i).payload for i in (0, 1, 4, 5)]
        assert await store.claims(["house:H1", "house:H9"]) == ["owner-a", "owner-z"]
        assert (await log.verify()).intact

    async def test_a_malformed_append_is_refused_alone_and_the_others_land(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        naive = NewEntry(key="house-x", payload=b"x", at=T0.replace(tzinfo=None))
        outcomes = await asyncio.gather(
            log.append([entry(0)]), log.append([naive]), log.append([entry(1)]), return_exceptions=True
        )
        assert isinstance(outcomes[1], InvalidInput) and "entries[0].at" in str(outcomes[1])
        assert sorted(o.first for o in outcomes if not isinstance(o, BaseException)) == [0, 1]
        assert await log.size() == 2

    async def test_an_append_cancelled_while_it_waits_writes_nothing(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        first = asyncio.ensure_future(log.append([entry(0)]))
        await asyncio.sleep(0)  # the first holds the turn
        second = asyncio.ensure_future(log.append([entry(1)]))
        await asyncio.sleep(0)
        second.cancel()
        third = asyncio.ensure_future(log.append([entry(2)]))
        assert (await first).first == 0
        with pytest.raises(asyncio.CancelledError):
            await second
        assert (await third).first == 1
        stored = await store.log_entries(VOTE, 0, 2)
        assert [e.payload for e in stored] == [entry(0).payload, entry(2).payload]


class TestClaims:
    async def test_a_held_claim_refuses_the_append_naming_key_and_holder(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        await log.append([entry(0)], {"house:H1": "owner-a"})
        await log.append([entry(1)], {"house:H1": "owner-a"})  # the same claimant again
        with pytest.raises(ClaimHeld) as raised:
            await log.append([entry(2)], {"house:H0": "owner-b", "house:H1": "owner-b"})
        assert (raised.value.log, raised.value.claim, raised.value.claimant) == (VOTE, "house:H1", "owner-a")
        assert "house:H1" in str(raised.value) and "owner-a" in str(raised.value)
        assert await log.size() == 2
        assert await store.claims(["house:H0", "house:H1"]) == [None, "owner-a"]
        done = await log.append([entry(2)], {"house:H2": "owner-b"})
        assert done.first == 2 and done.root == merkle.range_hash(0, 3, reference(3)[0])


class TestHeads:
    async def test_sign_keeps_a_verifiable_head_of_the_log_as_it_is(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        await fill(log, 0, 6, chunk=4)
        head = await log.sign("close")
        assert (head.log, head.size, head.kind) == (VOTE, 6, "close")
        assert head.root == await log.root(6)
        assert merkle.verify_head(KEYS.sm2_public, head)
        assert await store.log_heads(VOTE, ["close"]) == [head]

    async def test_waiters_share_the_next_signature(self, store: Store) -> None:
        counting = Counting(store)
        log = MerkleLog(counting.port(), VOTE, KEYS)
        await fill(log, 0, 20, chunk=5)
        heads = await asyncio.gather(*(log.head_covering(size, "receipt") for size in range(1, 21)))
        assert counting.calls["save_head"] == 1
        assert {id(head) for head in heads} == {id(heads[0])} and heads[0].size == 20
        assert await log.head_covering(7, "receipt") is heads[0]  # already covered: no signature
        assert counting.calls["save_head"] == 1

    async def test_appenders_asking_for_receipts_at_once_do_not_sign_each(
        self, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # sharing shows only when ballots arrive while a signature is under way: an SM2 signature
        # (~0.2 ms) can be quicker than an append, so it is made to take a few appends' time here
        sign_head = merkle.sign_head

        def slow_sign_head(*args: Any) -> SignedHead:
            time.sleep(0.005)
            return sign_head(*args)

        monkeypatch.setattr(merkle, "sign_head", slow_sign_head)
        counting = Counting(store)
        log = MerkleLog(counting.port(), VOTE, KEYS)

        async def cast_ballot(i: int) -> tuple[int, Any]:
            done = await log.append([entry(i)])
            return done.first, await log.head_covering(done.size, "receipt")

        receipts = await asyncio.gather(*(cast_ballot(i) for i in range(40)))
        for index, head in receipts:
            assert head.size > index and merkle.verify_head(KEYS.sm2_public, head)
            proof = await log.inclusion_proof(index, head.size)
            assert merkle.verify_inclusion(merkle.leaf_hash(entry(index).payload), index, head.size, proof, head.root)
        assert counting.most_saving == 1  # one head signed at a time
        assert counting.calls["save_head"] < 40
        assert counting.calls["save_head"] == len({(head.size, head.at) for _, head in receipts})

    async def test_a_head_beyond_the_log_is_refused(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        await fill(log, 0, 3)
        with pytest.raises(InvalidInput, match="size"):
            await log.head_covering(4, "receipt")


class TestVerify:
    async def test_a_well_kept_log_verifies(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        await log.sign("open")  # the empty tree's head
        await fill(log, 0, 600, chunk=50)  # more than one batch of verify's reads
        await log.sign("close")
        report = await log.verify()
        assert report.intact, report
        assert (report.size, report.entries_checked, report.heads_checked) == (600, 600, 2)
        assert report.first_bad_entry is None and report.bad_node is None

    async def test_a_leaf_that_does_not_fit_its_entry_is_named(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        await fill(log, 0, 20, chunk=4)
        nodes, _ = reference(20)
        frontier = [nodes[key] for key in merkle.frontier_keys(20)]
        careless, _ = merkle.append(20, frontier, [merkle.leaf_hash(b"something else")])
        await store.log_append(VOTE, 20, [entry(20)], careless)  # a writer that hashed the wrong bytes
        await fill(log, 21, 30, chunk=3)  # appends on top of it (after reading the frontier again)
        report = await log.verify()
        assert not report.intact
        assert (report.first_bad_entry, report.bad_node) == (20, (0, 20))
        assert report.entries_checked == 30

    async def test_a_node_that_does_not_fit_its_leaves_is_named(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        await fill(log, 0, 23)
        nodes, leaves = reference(24)
        completed, _ = merkle.append(23, [nodes[key] for key in merkle.frontier_keys(23)], [leaves[23]])
        assert set(completed) == {(0, 23), (1, 11), (2, 5), (3, 2)}
        completed[(3, 2)] = sm3(b"forged")  # covers entries 16..23
        await store.log_append(VOTE, 23, [entry(23)], completed)
        await log.sign("close", size=24)  # the stored tree, forged node and all
        report = await log.verify()
        assert (report.first_bad_entry, report.bad_node) == (16, (3, 2))
        assert [p.problem for p in report.head_problems] == ["its root does not match the entries"]

    async def test_heads_that_do_not_hold_up_are_named(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        await fill(log, 0, 8)
        good = await log.sign("receipt")
        stranger = MerkleLog(store, VOTE, Keyring.generate())
        foreign = await stranger.sign("receipt")  # a valid head, by another key
        forged = merkle.sign_head(KEYS, VOTE, 5, sm3(b"forged root"), T0, "receipt")
        await store.save_head(forged)
        report = await log.verify()
        assert report.first_bad_entry is None and report.heads_checked == 3
        problems = {(p.head, p.problem) for p in report.head_problems}
        assert (foreign, "its signature does not verify") in problems
        assert (forged, "its root does not match the entries") in problems
        extends = [p for p in report.head_problems if p.head == forged and "does not extend it" in p.problem]
        assert len(extends) == 1 and "head of 8 entries" in extends[0].problem
        assert good not in {p.head for p in report.head_problems}
        assert (await stranger.verify()).head_problems != ()

    async def test_a_missing_node_is_damage_not_a_bad_size(self, store: Store) -> None:
        log = MerkleLog(store, VOTE, KEYS)
        await fill(log, 0, 2)
        nodes, leaves = reference(3)
        partial = {(0, 2): leaves[2]}
        await store.log_append(VOTE, 2, [entry(2)], partial)
        await store.log_append(VOTE, 3, [entry(3)], {(0, 3): merkle.leaf_hash(entry(3).payload)})  # (1, 1), (2, 0) never written
        with pytest.raises(LogDamaged, match=r"\(2, 0\)"):
            await log.root(4)
        report = await log.verify()
        assert (report.first_bad_entry, report.bad_node) == (2, (1, 1))  # (2, 0) is wrong because (1, 1) is
