"""The Merkle log part of the store conformance suite: every member of
`graph.logstore.LogStore`, tested through the port only.

`tests/graph/test_store_conformance.py` imports these classes and runs them on every backend
with its `store` fixture (a fresh, empty store per test); the races open a second store on the
same database (`twin_stores`), as a second process of the hub would.

Each member is held to its contract: sizes, the append's compare-and-set (MOVED, nothing
written), claims (CLAIMED naming the first held key in key order and its holder, nothing
written; a key the same claimant holds is kept), the orders of entries, ranges, entries by key,
node hashes and heads, refusals (limits, naive times, an empty append, a head beyond the log:
InvalidInput naming the field, nothing written), bytes kept exactly, and appenders racing from
two stores never both succeeding at one size.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from graph import open_store
from graph.ciphers.sealing import Sealer
from graph.errors import InvalidInput
from graph.logstore import (
    CLAIM_LIMIT,
    KEY_LIMIT,
    LOG_NAME_LIMIT,
    PAYLOAD_LIMIT,
    Appended,
    AppendResult,
    LogEntry,
    NewEntry,
    NodeKey,
    SignedHead,
)
from graph.store import Store
from tests import backends

__all__ = [
    "TestLogSize",
    "TestLogAppend",
    "TestLogClaims",
    "TestLogEntries",
    "TestLogNodes",
    "TestLogHeads",
    "TestLogRefusals",
    "TestLogBytes",
    "TestLogRaces",
]

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC)
BEIJING = dt.timezone(dt.timedelta(hours=8))
VOTE = "vote:V20261201000001"
FUND = "fund:E_A"


def entry(i: int, key: str | None = None, payload: bytes | None = None) -> NewEntry:
    return NewEntry(
        key=key if key is not None else f"house-{i:03d}",
        payload=payload if payload is not None else b"ballot\x00" + i.to_bytes(4, "big"),
        at=T0 + dt.timedelta(seconds=i),
    )


def leaf(log: str, i: int) -> bytes:
    return hashlib.sha256(f"{log}/{i}".encode()).digest()


def nodes_for(log: str, start: int, count: int) -> dict[NodeKey, bytes]:
    """Stand-in node hashes (the store does not check them): each leaf, and every complete
    aligned subtree the entries [start, start+count) complete."""
    found: dict[NodeKey, bytes] = {}
    end = start + count
    level = 0
    while (1 << level) <= end:
        width = 1 << level
        for index in range(start // width, end // width):
            if (index + 1) * width > start:
                found[(level, index)] = hashlib.sha256(f"{log}:{level}:{index}".encode()).digest()
        level += 1
    return found


async def append(
    store: Store, log: str, start: int, count: int, *, claims: Mapping[str, str] | None = None, key: Callable[[int], str] | None = None
) -> AppendResult:
    news = [entry(i, key(i) if key else None) for i in range(start, start + count)]
    return await store.log_append(log, start, news, nodes_for(log, start, count), claims)


def head(log: str, size: int, *, kind: str = "receipt", at: dt.datetime = T0, root: bytes | None = None) -> SignedHead:
    return SignedHead(
        log=log,
        size=size,
        root=root if root is not None else hashlib.sha256(f"{log}@{size}".encode()).digest(),
        at=at,
        kind=kind,
        signature=b"\x30\x45\x02\x21\x00" + hashlib.sha256(f"sig {log} {size} {kind} {at}".encode()).digest(),
    )


async def nothing_written(store: Store, log: str, size: int, *, claims: Sequence[str] = (), nodes: Sequence[NodeKey] = ()) -> None:
    """The log is as it was at `size` entries, and the claims and nodes named are not held."""
    assert await store.log_size(log) == size
    assert [item.index for item in await store.log_entries(log, 0, size + 100)] == list(range(size))
    assert await store.claims(list(claims)) == [None] * len(claims)
    assert await store.log_nodes(log, list(nodes)) == [None] * len(nodes)


@contextlib.asynccontextmanager
async def twin_stores(backend: str, request: pytest.FixtureRequest, directory: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores opened on one new database (graph), as two processes of the hub open it."""
    url = await backends.fresh_url(backend, request, directory)
    sealer = Sealer.generate()
    upgrade = backend not in backends.SQL
    first = await open_store(url, sealer=sealer, upgrade=upgrade)
    try:
        second = await open_store(url, sealer=sealer, upgrade=False)
        try:
            yield first, second
        finally:
            await second.close()
    finally:
        await backends.discard(first)


class TestLogSize:
    async def test_a_log_never_appended_to_holds_nothing(self, store: Store) -> None:
        assert await store.log_size(VOTE) == 0
        assert await store.log_entries(VOTE, 0, 10) == []
        assert await store.log_heads(VOTE) == []

    async def test_the_size_counts_every_entry_appended_and_logs_are_apart(self, store: Store) -> None:
        assert (await append(store, VOTE, 0, 3)).size == 3
        assert (await append(store, VOTE, 3, 1)).size == 4
        assert (await append(store, FUND, 0, 2)).size == 2
        assert await store.log_size(VOTE) == 4
        assert await store.log_size(FUND) == 2
        assert await store.log_size("vote:other") == 0


class TestLogAppend:
    async def test_an_append_keeps_its_entries_at_the_next_indices_and_its_nodes(self, store: Store) -> None:
        first = await append(store, VOTE, 0, 3)
        assert first == AppendResult(Appended.APPENDED, 3)
        second = await append(store, VOTE, 3, 2)
        assert second == AppendResult(Appended.APPENDED, 5)
        found = await store.log_entries(VOTE, 0, 5)
        assert found == [
            LogEntry(log=VOTE, index=i, key=f"house-{i:03d}", payload=b"ballot\x00" + i.to_bytes(4, "big"), at=T0 + dt.timedelta(seconds=i))
            for i in range(5)
        ]
        expected = {**nodes_for(VOTE, 0, 3), **nodes_for(VOTE, 3, 2)}
        keys = sorted(expected)
        assert await store.log_nodes(VOTE, keys) == [expected[key] for key in keys]
        assert (2, 0) in expected  # entries 0..3: the append of 3..5 completed the first subtree of four

    async def test_times_come_back_as_the_same_instant_in_utc(self, store: Store) -> None:
        at = dt.datetime(2026, 12, 1, 16, 30, 15, 654321, tzinfo=BEIJING)
        await store.log_append(VOTE, 0, [NewEntry("h", b"p", at)], {})
        (found,) = await store.log_entries(VOTE, 0, 1)
        assert found.at == at
        assert found.at.utcoffset() == dt.timedelta(0)
        assert found.at.replace(tzinfo=None) == dt.datetime(2026, 12, 1, 8, 30, 15, 654321)

    @pytest.mark.parametrize("expected", [0, 2, 4, 100])
    async def test_an_append_at_another_size_moved_and_writes_nothing(self, store: Store, expected: int) -> None:
        await append(store, VOTE, 0, 3, claims={"house:H1": "owner-1"})
        news = [entry(i) for i in range(expected, expected + 2)]
        result = await store.log_append(VOTE, expected, news, nodes_for(VOTE, expected, 2), {"house:H2": "owner-2"})
        assert result == AppendResult(Appended.MOVED, 3)
        await nothing_written(store, VOTE, 3, claims=["house:H2"], nodes=[key for key in nodes_for(VOTE, expected, 2) if key not in nodes_for(VOTE, 0, 3)])
        assert [item.payload for item in await store.log_entries(VOTE, 0, 3)] == [entry(i).payload for i in range(3)]

    async def test_an_append_beyond_a_log_never_appended_to_moved(self, store: Store) -> None:
        result = await store.log_append(VOTE, 1, [entry(1)], {(0, 1): leaf(VOTE, 1)})
        assert result == AppendResult(Appended.MOVED, 0)
        await nothing_written(store, VOTE, 0, nodes=[(0, 1)])

    async def test_a_stored_node_is_not_replaced(self, store: Store) -> None:
        await store.log_append(VOTE, 0, [entry(0)], {(0, 0): b"\x01" * 32})
        await store.log_append(VOTE, 1, [entry(1)], {(0, 0): b"\x02" * 32, (0, 1): b"\x03" * 32, (1, 0): b"\x04" * 32})
        assert await store.log_nodes(VOTE, [(0, 0), (0, 1), (1, 0)]) == [b"\x01" * 32, b"\x03" * 32, b"\x04" * 32]


class TestLogClaims:
    async def test_claims_are_taken_with_an_append_and_read_in_key_order(self, store: Store) -> None:
        result = await append(store, VOTE, 0, 1, claims={"house:H2": "owner-2", "house:H1": "owner-1"})
        assert result.outcome is Appended.APPENDED
        assert result.claim is None and result.claimant is None
        assert await store.claims(["house:H1", "nobody", "house:H2", "house:H1"]) == ["owner-1", None, "owner-2", "owner-1"]
        assert await store.claims([]) == []

    async def test_a_key_held_by_another_claimant_names_the_first_such_key_and_writes_nothing(self, store: Store) -> None:
        await append(store, VOTE, 0, 1, claims={"house:H3": "owner-3", "house:H2": "owner-2", "house:H5": "owner-5"})
        asked = {"house:H5": "owner-9", "house:H4": "owner-4", "house:H3": "owner-9", "house:H2": "owner-2"}
        result = await store.log_append(VOTE, 1, [entry(1), entry(2)], nodes_for(VOTE, 1, 2), asked)
        assert result == AppendResult(Appended.CLAIMED, 1, claim="house:H3", claimant="owner-3")
        await nothing_written(store, VOTE, 1, claims=["house:H4"], nodes=[(0, 1), (0, 2), (1, 0)])
        assert await store.claims(["house:H2", "house:H3", "house:H5"]) == ["owner-2", "owner-3", "owner-5"]

    async def test_a_key_already_held_by_the_same_claimant_is_kept(self, store: Store) -> None:
        await append(store, VOTE, 0, 1, claims={"house:H1": "owner-1"})
        result = await append(store, VOTE, 1, 1, claims={"house:H1": "owner-1", "house:H2": "owner-2"})
        assert result == AppendResult(Appended.APPENDED, 2)
        assert await store.claims(["house:H1", "house:H2"]) == ["owner-1", "owner-2"]

    async def test_claims_hold_across_logs(self, store: Store) -> None:
        await append(store, FUND, 0, 1, claims={"statement:ICBC-0001": "deposit-1"})
        result = await append(store, "fund:E_B", 0, 1, claims={"statement:ICBC-0001": "deposit-7"})
        assert result == AppendResult(Appended.CLAIMED, 0, claim="statement:ICBC-0001", claimant="deposit-1")
        await nothing_written(store, "fund:E_B", 0, nodes=[(0, 0)])

    async def test_claims_taken_alone_hold_against_appends_and_are_all_or_nothing(self, store: Store) -> None:
        assert await store.take_claims({}) is None
        assert await store.take_claims({"house:H2": "delegate-2", "house:H1": "delegate-1"}) is None
        assert await store.take_claims({"house:H1": "delegate-1"}) is None  # the same claimant again
        assert await store.log_size(VOTE) == 0  # nothing appended
        assert await store.claims(["house:H1", "house:H2"]) == ["delegate-1", "delegate-2"]
        held = await store.take_claims({"house:H9": "owner-9", "house:H2": "owner-2", "house:H1": "owner-1"})
        assert held == ("house:H1", "delegate-1")  # the first held key, in key order
        assert await store.claims(["house:H9"]) == [None]  # and nothing of that call was taken
        result = await store.log_append(VOTE, 0, [entry(0)], nodes_for(VOTE, 0, 1), {"house:H2": "owner-2"})
        assert result == AppendResult(Appended.CLAIMED, 0, claim="house:H2", claimant="delegate-2")
        assert (await append(store, VOTE, 0, 1, claims={"house:H2": "delegate-2"})).outcome is Appended.APPENDED
        await append(store, VOTE, 1, 1, claims={"house:H3": "owner-3"})
        assert await store.take_claims({"house:H3": "delegate-3"}) == ("house:H3", "owner-3")

    async def test_taking_a_malformed_claim_is_refused_naming_it(self, store: Store) -> None:
        with pytest.raises(InvalidInput, match="claims"):
            await store.take_claims({"": "owner-1"})
        with pytest.raises(InvalidInput, match=r"claims\[house:H1\]"):
            await store.take_claims({"house:H1": ""})
        assert await store.claims(["house:H1"]) == [None]

    async def test_a_moved_append_takes_no_claim(self, store: Store) -> None:
        await append(store, VOTE, 0, 2)
        result = await store.log_append(VOTE, 1, [entry(1)], {}, {"house:H7": "owner-7"})
        assert result == AppendResult(Appended.MOVED, 2)
        assert await store.claims(["house:H7"]) == [None]


class TestLogEntries:
    async def test_ranges_are_in_index_order_and_shorter_where_the_log_is(self, store: Store) -> None:
        await append(store, VOTE, 0, 4)
        await append(store, VOTE, 4, 3)
        assert [item.index for item in await store.log_entries(VOTE, 2, 6)] == [2, 3, 4, 5]
        assert [item.index for item in await store.log_entries(VOTE, 5, 100)] == [5, 6]
        assert [item.index for item in await store.log_entries(VOTE, 0, 7)] == list(range(7))
        assert await store.log_entries(VOTE, 7, 10) == []
        assert await store.log_entries(VOTE, 3, 3) == []
        assert await store.log_entries(VOTE, 5, 2) == []
        assert await store.log_entries("vote:other", 0, 3) == []

    async def test_entries_by_key_are_in_index_order_from_their_log_alone(self, store: Store) -> None:
        keys = ["H2", "H1", "H2", "H3", "H1", "H2"]
        await append(store, VOTE, 0, 6, key=lambda i: keys[i])
        await append(store, FUND, 0, 2, key=lambda i: "H1")
        found = await store.log_entries_by_key(VOTE, ["H2", "H1", "H9", "H2"])
        assert [(item.index, item.key) for item in found] == [(0, "H2"), (1, "H1"), (2, "H2"), (4, "H1"), (5, "H2")]
        assert all(item.log == VOTE for item in found)
        assert found[3] == LogEntry(VOTE, 4, "H1", entry(4).payload, entry(4).at)
        assert await store.log_entries_by_key(VOTE, ["H9"]) == []
        assert await store.log_entries_by_key(VOTE, []) == []
        assert [item.index for item in await store.log_entries_by_key(FUND, ["H1"])] == [0, 1]

    async def test_an_empty_key_is_a_key(self, store: Store) -> None:
        await append(store, VOTE, 0, 3, key=lambda i: "" if i != 1 else "x")
        assert [item.index for item in await store.log_entries_by_key(VOTE, [""])] == [0, 2]


class TestLogNodes:
    async def test_nodes_come_in_key_order_none_where_not_stored(self, store: Store) -> None:
        await append(store, VOTE, 0, 5)
        await append(store, FUND, 0, 8)
        stored = nodes_for(VOTE, 0, 5)
        asked: list[NodeKey] = [(2, 0), (0, 5), (0, 4), (3, 0), (1, 2), (0, 0), (2, 0)]
        assert await store.log_nodes(VOTE, asked) == [stored.get(key) for key in asked]
        assert (await store.log_nodes(VOTE, [(0, 5), (3, 0), (1, 2)])) == [None, None, None]
        assert await store.log_nodes(VOTE, []) == []
        assert await store.log_nodes("vote:other", [(0, 0)]) == [None]

    async def test_many_nodes_at_once(self, store: Store) -> None:
        await append(store, VOTE, 0, 300)
        stored = nodes_for(VOTE, 0, 300)
        asked = sorted(stored, reverse=True) + [(0, 300), (9, 0)]
        assert await store.log_nodes(VOTE, asked) == [stored.get(key) for key in asked]


class TestLogHeads:
    async def test_heads_are_kept_and_listed_by_size_then_time(self, store: Store) -> None:
        await append(store, VOTE, 0, 5)
        later = T0 + dt.timedelta(minutes=5)
        saved = [
            head(VOTE, 5, at=later, kind="final"),
            head(VOTE, 3, at=later),
            head(VOTE, 5, at=T0),
            head(VOTE, 0, at=later, kind="open"),
            head(VOTE, 3, at=T0, kind="period"),
        ]
        for item in saved:
            await store.save_head(item)
        found = await store.log_heads(VOTE)
        assert [(item.size, item.at, item.kind) for item in found] == [
            (0, later, "open"),
            (3, T0, "period"),
            (3, later, "receipt"),
            (5, T0, "receipt"),
            (5, later, "final"),
        ]
        assert found[4] == saved[0]
        assert all(item.at.utcoffset() == dt.timedelta(0) for item in found)

    async def test_saving_an_equal_head_again_is_a_no_op(self, store: Store) -> None:
        await append(store, VOTE, 0, 2)
        kept = head(VOTE, 2)
        await store.save_head(kept)
        await store.save_head(kept)
        await store.save_head(replace(kept, at=kept.at.astimezone(BEIJING)))
        assert await store.log_heads(VOTE) == [kept]
        await store.save_head(replace(kept, kind="final"))
        assert sorted(item.kind for item in await store.log_heads(VOTE)) == ["final", "receipt"]

    async def test_heads_are_filtered_by_kind_and_by_log(self, store: Store) -> None:
        await append(store, VOTE, 0, 3)
        await append(store, FUND, 0, 3)
        for size, kind in ((1, "receipt"), (2, "period"), (3, "final"), (3, "receipt")):
            await store.save_head(head(VOTE, size, kind=kind))
        await store.save_head(head(FUND, 2, kind="receipt"))
        assert [(item.size, item.kind) for item in await store.log_heads(VOTE, ["receipt"])] == [(1, "receipt"), (3, "receipt")]
        assert [(item.size, item.kind) for item in await store.log_heads(VOTE, ["final", "period"])] == [(2, "period"), (3, "final")]
        assert await store.log_heads(VOTE, []) == []
        assert await store.log_heads(VOTE, ["nothing"]) == []
        assert [item.log for item in await store.log_heads(FUND)] == [FUND]
        assert len(await store.log_heads(VOTE, None)) == 4

    async def test_a_head_beyond_the_log_is_refused(self, store: Store) -> None:
        await append(store, VOTE, 0, 2)
        with pytest.raises(InvalidInput) as refused:
            await store.save_head(head(VOTE, 3))
        assert refused.value.field == "size"
        with pytest.raises(InvalidInput):
            await store.save_head(head("vote:other", 1))
        assert await store.log_heads(VOTE) == []
        assert await store.log_heads("vote:other") == []
        await store.save_head(head("vote:other", 0))  # the empty tree's head of a log never appended to
        assert [item.size for item in await store.log_heads("vote:other")] == [0]

    @pytest.mark.parametrize(
        ("field", "change"),
        [
            ("at", lambda item: replace(item, at=item.at.replace(tzinfo=None))),
            ("log", lambda item: replace(item, log="v" * (LOG_NAME_LIMIT + 1))),
            ("log", lambda item: replace(item, log="")),
            ("kind", lambda item: replace(item, kind="k" * (KEY_LIMIT + 1))),
            ("kind", lambda item: replace(item, kind="")),
            ("size", lambda item: replace(item, size=-1)),
            ("root", lambda item: replace(item, root=b"")),
            ("signature", lambda item: replace(item, signature=b"")),
        ],
    )
    async def test_a_head_breaking_a_rule_is_refused_naming_the_field(
        self, store: Store, field: str, change: Callable[[SignedHead], SignedHead]
    ) -> None:
        await append(store, VOTE, 0, 2)
        with pytest.raises(InvalidInput) as refused:
            await store.save_head(change(head(VOTE, 2)))
        assert refused.value.field == field
        assert await store.log_heads(VOTE) == []


def _refusals() -> list[object]:
    long_log = "v" * (LOG_NAME_LIMIT + 1)
    ok = [entry(0), entry(1)]
    naive = NewEntry("h", b"p", dt.datetime(2026, 12, 1, 8, 0))
    return [
        pytest.param(long_log, ok, {}, None, "log", id="log-name-too-long"),
        pytest.param("", ok, {}, None, "log", id="empty-log-name"),
        pytest.param(VOTE, [], {}, None, "entries", id="no-entries"),
        pytest.param(VOTE, [entry(0), NewEntry("k" * (KEY_LIMIT + 1), b"p", T0)], {}, None, "entries[1].key", id="key-too-long"),
        pytest.param(VOTE, [NewEntry("h", b"\x00" * (PAYLOAD_LIMIT + 1), T0)], {}, None, "entries[0].payload", id="payload-too-long"),
        pytest.param(VOTE, [entry(0), naive], {}, None, "entries[1].at", id="naive-time"),
        pytest.param(VOTE, ok, {}, {"c" * (CLAIM_LIMIT + 1): "owner"}, "claims", id="claim-too-long"),
        pytest.param(VOTE, ok, {}, {"": "owner"}, "claims", id="empty-claim"),
        pytest.param(VOTE, ok, {}, {"house:H1": "o" * (CLAIM_LIMIT + 1)}, "claims[house:H1]", id="claimant-too-long"),
        pytest.param(VOTE, ok, {(-1, 0): b"\x01"}, None, "nodes", id="negative-node-level"),
        pytest.param(VOTE, ok, {(0, 0): b""}, None, "nodes[0, 0]", id="empty-node-hash"),
    ]


class TestLogRefusals:
    @pytest.mark.parametrize(("log", "entries", "nodes", "claims", "field"), _refusals())
    async def test_an_append_breaking_a_rule_is_refused_naming_the_field_and_writes_nothing(
        self,
        store: Store,
        log: str,
        entries: list[NewEntry],
        nodes: dict[NodeKey, bytes],
        claims: dict[str, str] | None,
        field: str,
    ) -> None:
        for expected in (0, 2):  # a new log, and one holding entries
            if expected:
                await append(store, log if log and len(log) <= LOG_NAME_LIMIT else VOTE, 0, 2)
            with pytest.raises(InvalidInput) as refused:
                await store.log_append(log, expected, entries, {**nodes_for(VOTE, expected, 2), **nodes}, claims)
            assert refused.value.field == field
            await nothing_written(store, log, expected if log and len(log) <= LOG_NAME_LIMIT else 0, claims=["house:H1"])

    async def test_a_negative_expected_size_is_refused(self, store: Store) -> None:
        with pytest.raises(InvalidInput) as refused:
            await store.log_append(VOTE, -1, [entry(0)], {})
        assert refused.value.field == "expected_size"
        await nothing_written(store, VOTE, 0)

    async def test_everything_at_its_limit_is_kept(self, store: Store) -> None:
        log = "v" * LOG_NAME_LIMIT
        claim, claimant = "c" * CLAIM_LIMIT, "o" * CLAIM_LIMIT
        item = NewEntry("k" * KEY_LIMIT, b"\xff" * PAYLOAD_LIMIT, T0)
        result = await store.log_append(log, 0, [item], {(0, 0): b"\x00" * 32}, {claim: claimant})
        assert result == AppendResult(Appended.APPENDED, 1)
        assert await store.log_entries(log, 0, 1) == [LogEntry(log, 0, item.key, item.payload, T0)]
        assert await store.log_entries_by_key(log, [item.key]) == [LogEntry(log, 0, item.key, item.payload, T0)]
        assert await store.claims([claim]) == [claimant]
        kept = head(log, 1, kind="k" * KEY_LIMIT)
        await store.save_head(kept)
        assert await store.log_heads(log, [kept.kind]) == [kept]


class TestLogBytes:
    async def test_payloads_and_hashes_come_back_exactly(self, store: Store) -> None:
        every_byte = bytes(range(256))
        big = hashlib.shake_256(b"64 KiB").digest(PAYLOAD_LIMIT)
        payloads = [b"", b"\x00", b"\x00" * 33, every_byte, every_byte[::-1] * 3, big, b"\x00" + big[1:-1] + b"\x00"]
        news = [NewEntry(f"k{i}", payload, T0) for i, payload in enumerate(payloads)]
        nodes = {(0, 0): b"\x00" * 32, (0, 1): b"\x00\xff" * 16, (1, 0): every_byte[:32], (2, 1): bytes(range(255, 223, -1))}
        assert (await store.log_append(VOTE, 0, news, nodes)).outcome is Appended.APPENDED
        found = await store.log_entries(VOTE, 0, len(payloads))
        assert [item.payload for item in found] == payloads
        assert all(type(item.payload) is bytes for item in found)
        assert [item.payload for item in await store.log_entries_by_key(VOTE, ["k5", "k0"])] == [b"", big]
        keys = list(nodes)
        got = await store.log_nodes(VOTE, keys)
        assert got == [nodes[key] for key in keys]
        assert all(type(value) is bytes for value in got)
        kept = SignedHead(VOTE, 7, b"\x00" * 31 + b"\x01", T0, "receipt", b"\x00\x00" + every_byte)
        await store.save_head(kept)
        (back,) = await store.log_heads(VOTE)
        assert back == kept
        assert type(back.root) is bytes and type(back.signature) is bytes

    async def test_keys_and_names_keep_their_characters(self, store: Store) -> None:
        log = "vote:业主大会-2026/第1次"
        await store.log_append(log, 0, [NewEntry("楼栋3-单元2-1201", b"x", T0)], {}, {"户:3-2-1201": "业主 王"})
        assert [item.key for item in await store.log_entries_by_key(log, ["楼栋3-单元2-1201"])] == ["楼栋3-单元2-1201"]
        assert await store.claims(["户:3-2-1201"]) == ["业主 王"]
        assert await store.log_size(log) == 1


RACERS = 12


class TestLogRaces:
    async def test_appenders_at_one_size_from_two_stores_one_wins(
        self, backend: str, request: pytest.FixtureRequest, sqlite_path: str
    ) -> None:
        async with twin_stores(backend, request, Path(sqlite_path).parent) as (first, second):
            for start in (0, 1):  # a log's first append, and a later one
                results = await asyncio.gather(
                    *(
                        (first if racer % 2 else second).log_append(
                            VOTE, start, [entry(start, key=f"racer-{racer}")], nodes_for(VOTE, start, 1)
                        )
                        for racer in range(RACERS)
                    )
                )
                won = [racer for racer, result in enumerate(results) if result.outcome is Appended.APPENDED]
                assert len(won) == 1, results
                assert all(result.size == start + 1 for result in results)
                assert all(result.outcome is Appended.MOVED for racer, result in enumerate(results) if racer not in won)
                (kept,) = await second.log_entries(VOTE, start, start + 1)
                assert kept.key == f"racer-{won[0]}"
            assert await first.log_size(VOTE) == 2

    async def test_appenders_retrying_from_two_stores_fill_the_log_contiguously(
        self, backend: str, request: pytest.FixtureRequest, sqlite_path: str
    ) -> None:
        async with twin_stores(backend, request, Path(sqlite_path).parent) as (first, second):

            async def appender(racer: int) -> int:
                store = first if racer % 2 else second
                successes = 0
                for turn in range(3):
                    while True:
                        size = await store.log_size(VOTE)
                        news = [entry(size, key=f"racer-{racer}-{turn}")]
                        result = await store.log_append(VOTE, size, news, nodes_for(VOTE, size, 1))
                        if result.outcome is Appended.APPENDED:
                            successes += 1
                            break
                        assert result.outcome is Appended.MOVED and result.size > size
                return successes

            counts = await asyncio.gather(*(appender(racer) for racer in range(RACERS)))
            total = sum(counts)
            assert total == RACERS * 3
            assert await first.log_size(VOTE) == total
            kept = await second.log_entries(VOTE, 0, total + 5)
            assert [item.index for item in kept] == list(range(total))
            assert sorted(item.key for item in kept) == sorted(f"racer-{r}-{t}" for r in range(RACERS) for t in range(3))

    async def test_claimers_of_one_key_on_different_logs_one_wins(
        self, backend: str, request: pytest.FixtureRequest, sqlite_path: str
    ) -> None:
        async with twin_stores(backend, request, Path(sqlite_path).parent) as (first, second):
            results = await asyncio.gather(
                *(
                    (first if racer % 2 else second).log_append(
                        f"fund:E{racer}", 0, [entry(0)], nodes_for(f"fund:E{racer}", 0, 1), {"statement:ICBC-0001": f"deposit-{racer}"}
                    )
                    for racer in range(RACERS)
                )
            )
            won = [racer for racer, result in enumerate(results) if result.outcome is Appended.APPENDED]
            assert len(won) == 1, results
            winner = f"deposit-{won[0]}"
            assert await first.claims(["statement:ICBC-0001"]) == [winner]
            for racer, result in enumerate(results):
                if racer != won[0]:
                    assert result == AppendResult(Appended.CLAIMED, 0, claim="statement:ICBC-0001", claimant=winner)
                    await nothing_written(second, f"fund:E{racer}", 0, nodes=[(0, 0)])

    async def test_one_head_saved_at_once_from_two_stores_is_kept_once(
        self, backend: str, request: pytest.FixtureRequest, sqlite_path: str
    ) -> None:
        async with twin_stores(backend, request, Path(sqlite_path).parent) as (first, second):
            await append(first, VOTE, 0, 3)
            kept = head(VOTE, 3, kind="final")
            await asyncio.gather(*((first if racer % 2 else second).save_head(kept) for racer in range(RACERS)))
            assert await first.log_heads(VOTE) == [kept]
            assert await second.log_heads(VOTE, ["final"]) == [kept]
