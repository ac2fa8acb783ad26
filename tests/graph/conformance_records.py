"""The store conformance suite, second part: the records the hub keeps beside the places.

`tests/graph/conformance.py` holds places, owners, firms, the roll-ups and `write`; this module
holds every other member of `graph.store.Store` that is not a case's or a device's: the connector
ledger (`graph.ledger.Ledger`), utilities (`graph.utilities.UtilityStore`), shared queries
(`graph.shared.SharedQueryStore`), the audit log, issued tokens, the owner lookups
(`owners_by`, `owner_ids`) and `close`. Like the first part it talks to the port only (no SQL,
no adapter), so every backend runs it; it takes the same three fixtures (`store`, `loaded`,
`untouched`, see conformance.py) and writes only to `store`.

Each class names the members it holds to their contract (the docstrings in graph/store.py and
the protocols it inherits): answers, ordering, paging and its cursors, scope, and what a bad
argument or a refused write does (a clear error, nothing stored).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace

import pytest

from graph.audit import GENESIS, verify
from graph.errors import InvalidInput, StoreError
from graph.ledger import ConnectorRun, DeadLetter, Lease, Reason, RunCounts, RunStatus, StreamState
from graph.model import Batch, Owner, OwnerKind, Ownership, Provenance, WriteCounts
from graph.scope import Scope
from graph.security import AuditDraft, Principal, Role, TokenRecord
from graph.shared import Owner as Author, SharedDraft, VariableSpec
from graph.store import MAX_PAGE, Store
from graph.utilities import Arrears, Bill, Outage, Utility, UtilityAccount, arrears_of, outage_cursor
from tests.graph.conformance import (
    B_A1,
    B_A2,
    CITY,
    CM_A1,
    D_SHINAN,
    E_A,
    E_B,
    E_C,
    E_HOUSE,
    EN_A11,
    F_HOUSE,
    G_HOUSE,
    OWNER_D,
    OWNER_H,
    SHIBEI,
    SHINAN,
    ST_A,
    ST_B,
    T_HOUSE,
    UNKNOWN_HOUSE,
    UNOWNED,
    fixture_city,
    garbage_cursors,
    resident_id,
)

__all__ = [
    "TestRuns",
    "TestRunLeases",
    "TestStreamStates",
    "TestDeadLetters",
    "TestLedgerLimits",
    "TestUtilityWrites",
    "TestUtilityReads",
    "TestSharedQueries",
    "TestAuditLog",
    "TestTokens",
    "TestTokenLimits",
    "TestOwnersBy",
    "TestOwnerIds",
    "TestRefreshStatsEdges",
    "TestClose",
]

EVERYTHING = Scope.everything()
T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)
CST = dt.timezone(dt.timedelta(hours=8))


# --------------------------------------------------------------------------------------------
# The connector ledger: runs, leases, stream cursors, dead letters (no scope: the API decides
# who reads it)
# --------------------------------------------------------------------------------------------


def run(index: int, connector: str = "registry", **changes: object) -> ConnectorRun:
    made = ConnectorRun(id=f"run{index:03d}", connector=connector, started_at=T0 + dt.timedelta(minutes=index))
    return replace(made, **changes)  # type: ignore[arg-type]


def leased(index: int, connector: str, expires: dt.datetime, **changes: object) -> ConnectorRun:
    return run(index, connector, lease=Lease(4000 + index, "host-a", expires), **changes)


def letter(
    key: str,
    run_id: str = "run001",
    *,
    at: dt.datetime = T0,
    reason: Reason = Reason.MALFORMED_CODE,
    detail: str | None = None,
    stream: str = "units",
    connector: str = "registry",
    retryable: bool = False,
    cursor: str | None = None,
) -> DeadLetter:
    return DeadLetter(
        connector=connector,
        stream=stream,
        record_key=key,
        reason=reason,
        detail=detail or f"unit {key}: house code '3702' is too short",
        payload={"code": "3702", "area": 88.5, "registered": dt.date(2020, 1, 2), "名": "单元"},
        run_id=run_id,
        at=at,
        candidates=("370202001001GB00001F00010001",) if reason is Reason.UNMATCHED_ADDRESS else (),
        retryable=retryable,
        cursor=cursor,
    )


async def walk_runs(store: Store, connector: str | None, first: int, **narrowing: object) -> list[str]:
    seen: list[str] = []
    after: str | None = None
    for _ in range(1000):
        page = await store.runs(connector, first, after, **narrowing)  # type: ignore[arg-type]
        assert len(page.items) <= first
        seen += [item.id for item in page.items]
        if not page.has_next:
            return seen
        after = page.end_cursor
    raise AssertionError("runs paging did not end")


class TestRuns:
    """save_run, run, runs, last_runs."""

    async def test_a_run_saved_at_start_is_replaced_at_its_end(self, store: Store) -> None:
        started = leased(1, "registry", T0 + dt.timedelta(minutes=16))
        await store.save_run(started)
        assert await store.last_runs(["registry"]) == [started]
        assert await store.run(started.id) == started and await store.run("nobody") is None
        ended = replace(
            started,
            status=RunStatus.SUCCEEDED,
            finished_at=T0 + dt.timedelta(minutes=1, seconds=42),
            counts=RunCounts(10, 7, 2, 1, 3, 4, 2, 5),
            full=True,
            trigger="schedule",
            error="源端超时 after 3 retries",
            heartbeat_at=T0 + dt.timedelta(minutes=1, seconds=30),
            lease=Lease(4001, "host-a", T0 + dt.timedelta(minutes=16, seconds=42)),
        )
        await store.save_run(ended)
        [last] = await store.last_runs(["registry"])
        assert last == ended  # every field, times with their zone, read back as saved
        assert last is not None and last.duration == dt.timedelta(seconds=42)
        assert last.started_at.utcoffset() == dt.timedelta(0)
        assert [r.id for r in (await store.runs(None, 10)).items] == ["run001"]  # replaced, not added

    async def test_times_in_any_zone_keep_their_instant(self, store: Store) -> None:
        local = ConnectorRun("run-cst", "registry", dt.datetime(2024, 5, 1, 16, 0, tzinfo=CST))
        await store.save_run(local)
        found = await store.run("run-cst")
        assert found is not None and found.started_at == T0 and found.started_at.utcoffset() is not None

    async def test_runs_page_newest_first_and_by_connector(self, store: Store) -> None:
        for index in range(7):
            await store.save_run(run(index, "registry" if index % 2 == 0 else "water"))
        everything = await store.runs(None, first=3)
        assert [r.id for r in everything.items] == ["run006", "run005", "run004"] and everything.has_next
        rest = await store.runs(None, first=10, after=everything.end_cursor)
        assert [r.id for r in rest.items] == ["run003", "run002", "run001", "run000"] and not rest.has_next
        assert await walk_runs(store, "registry", 2) == ["run006", "run004", "run002", "run000"]
        assert (await store.runs("nobody", first=5)).items == []
        empty = await store.runs("nobody", first=5)
        assert not empty.has_next and empty.end_cursor is None

    async def test_runs_started_in_the_same_instant_page_without_loss(self, store: Store) -> None:
        for name in ("a", "b", "c", "d"):
            await store.save_run(ConnectorRun(id=name, connector="registry", started_at=T0))
        assert await walk_runs(store, "registry", 1) == ["d", "c", "b", "a"]  # ties: id descending

    async def test_a_run_added_in_front_does_not_shift_a_page(self, store: Store) -> None:
        for index in range(4):
            await store.save_run(run(index))
        page = await store.runs("registry", 2)
        await store.save_run(run(9))  # newer than everything: lands before the first page
        rest = await store.runs("registry", 5, page.end_cursor)
        assert [r.id for r in [*page.items, *rest.items]] == ["run003", "run002", "run001", "run000"]

    async def test_first_is_clamped(self, store: Store) -> None:
        for index in range(3):
            await store.save_run(run(index))
        assert [r.id for r in (await store.runs(None, 0)).items] == ["run002"]
        assert [r.id for r in (await store.runs(None, -5)).items] == ["run002"]
        assert len((await store.runs(None, MAX_PAGE * 10)).items) == 3

    async def test_runs_narrow_by_status(self, store: Store) -> None:
        await store.save_run(run(1))
        await store.save_run(run(2, status=RunStatus.FAILED, error="source down", finished_at=T0 + dt.timedelta(hours=1)))
        await store.save_run(run(3, "water", status=RunStatus.FAILED, finished_at=T0 + dt.timedelta(hours=1)))
        assert await walk_runs(store, None, 1, status=RunStatus.FAILED) == ["run003", "run002"]
        assert await walk_runs(store, "registry", 5, status=RunStatus.FAILED) == ["run002"]
        assert await walk_runs(store, None, 5, status=RunStatus.SUCCEEDED) == []

    async def test_last_runs_answer_in_key_order(self, store: Store) -> None:
        await store.save_run(run(1, "registry"))
        await store.save_run(run(5, "registry"))
        await store.save_run(run(3, "water"))
        last = await store.last_runs(["water", "never", "registry", "water"])
        assert [r.id if r else None for r in last] == ["run003", None, "run005", "run003"]
        assert await store.last_runs([]) == []

    async def test_a_bad_cursor_is_refused_naming_after(self, store: Store) -> None:
        await store.save_run(run(1))
        for cursor in [*garbage_cursors(), "Y29kZTozNzAyMDI"]:  # the last: a place's cursor
            if cursor == "":
                continue
            with pytest.raises(InvalidInput, match="after"):
                await store.runs(None, 5, after=cursor)

    @pytest.mark.parametrize("bad", ["", "x" * 41], ids=["empty", "too-long"])
    async def test_a_run_id_that_cannot_ride_in_a_cursor_is_refused(self, store: Store, bad: str) -> None:
        with pytest.raises(InvalidInput, match="run id"):
            await store.save_run(ConnectorRun(id=bad, connector="registry", started_at=T0))
        assert (await store.runs(None, 5)).items == []


class TestRunLeases:
    """renew_run and close_abandoned: a lease expires, a reader closes the run, a renewal in
    time keeps it, and none revives a closed one."""

    async def test_every_run_whose_lease_expired_is_closed_as_abandoned(self, store: Store) -> None:
        now = T0 + dt.timedelta(hours=1)
        expired = now - dt.timedelta(seconds=1)
        await store.save_run(leased(1, "registry", expired, heartbeat_at=T0 + dt.timedelta(minutes=3)))
        await store.save_run(leased(2, "registry", expired))
        await store.save_run(leased(3, "registry", now + dt.timedelta(minutes=5)))  # alive
        await store.save_run(leased(4, "water", expired))
        await store.save_run(run(5, "water"))  # no lease: never taken for dead
        await store.save_run(leased(6, "water", expired, status=RunStatus.SUCCEEDED, finished_at=T0 + dt.timedelta(minutes=7)))
        await store.save_run(leased(7, "water", now))  # expires exactly now: not yet expired
        closed = await store.close_abandoned(now, "hub sync (pid 77 on host-b)")
        assert sorted(r.id for r in closed) == ["run001", "run002", "run004"]
        assert await store.close_abandoned(now, "someone else") == []  # closed once, by the first reader
        first = await store.run("run001")
        assert first is not None and first in closed
        assert first.status is RunStatus.ABANDONED
        assert (first.closed_at, first.closed_by) == (now, "hub sync (pid 77 on host-b)")
        assert first.finished_at == T0 + dt.timedelta(minutes=3)  # its last sign of life
        assert first.lease == Lease(4001, "host-a", expired)
        assert first.error is not None and first.error.startswith("abandoned: its lease (held by pid 4001 on host-a) expired at")
        second = await store.run("run002")
        assert second is not None and second.finished_at == second.started_at  # it never beat
        statuses = {r.id: r.status for r in (await store.runs(None, first=10)).items}
        assert statuses == {
            "run001": RunStatus.ABANDONED, "run002": RunStatus.ABANDONED, "run003": RunStatus.RUNNING,
            "run004": RunStatus.ABANDONED, "run005": RunStatus.RUNNING, "run006": RunStatus.SUCCEEDED,
            "run007": RunStatus.RUNNING,
        }
        assert await walk_runs(store, None, 1, status=RunStatus.RUNNING) == ["run007", "run005", "run003"]
        assert await walk_runs(store, "registry", 1, status=RunStatus.ABANDONED) == ["run002", "run001"]

    async def test_a_renewal_keeps_a_run_and_none_revives_a_closed_one(self, store: Store) -> None:
        now = T0 + dt.timedelta(hours=1)
        held = leased(1, "registry", now - dt.timedelta(seconds=1))
        await store.save_run(held)
        renewed = replace(held, lease=Lease(4001, "host-a", now + dt.timedelta(minutes=15)), heartbeat_at=now,
                          counts=RunCounts(read=500, written=480))
        assert await store.renew_run(renewed)
        assert await store.close_abandoned(now, "a reader") == []  # renewed in time: not closed
        assert await store.run(held.id) == renewed
        assert [r.id for r in await store.close_abandoned(now + dt.timedelta(minutes=16), "a reader")] == [held.id]
        late = replace(renewed, heartbeat_at=now + dt.timedelta(minutes=17))
        assert not await store.renew_run(late)  # closed meanwhile: the run learns it lost the lease
        stored = await store.run(held.id)
        assert stored is not None and stored.status is RunStatus.ABANDONED and stored.heartbeat_at == now
        assert not await store.renew_run(leased(9, "registry", now))  # a run never saved is not created
        assert await store.run("run009") is None

    async def test_a_renewal_may_end_the_run(self, store: Store) -> None:
        held = leased(1, "registry", T0 + dt.timedelta(minutes=15))
        await store.save_run(held)
        ended = replace(held, status=RunStatus.SUCCEEDED, finished_at=T0 + dt.timedelta(minutes=2))
        assert await store.renew_run(ended)
        assert await store.run(held.id) == ended
        assert not await store.renew_run(replace(ended, error="again"))  # no longer running
        assert await store.run(held.id) == ended

    async def test_closings_at_once_close_each_run_once(self, store: Store) -> None:
        now = T0 + dt.timedelta(hours=1)
        for index in range(6):
            await store.save_run(leased(index, "registry", now - dt.timedelta(minutes=1)))
        results = await asyncio.gather(*(store.close_abandoned(now, f"reader {n}") for n in range(3)))
        closed = [r.id for result in results for r in result]
        assert sorted(closed) == [f"run{index:03d}" for index in range(6)]  # each once, by one reader
        for result in results:
            for item in result:
                stored = await store.run(item.id)
                assert stored is not None and stored.closed_by == item.closed_by


class TestStreamStates:
    """stream_states, save_states, reset_states."""

    async def test_checkpoint_replace_and_reset(self, store: Store) -> None:
        assert await store.stream_states("registry") == []
        await store.save_states([])
        await store.save_states([
            StreamState("registry", "units", "2024-05-01T08:00:00|a", T0, "run001"),
            StreamState("registry", "holders", None, T0, "run001"),
            StreamState("water", "bills", "b|7", T0, "run002"),
        ])
        later = T0 + dt.timedelta(minutes=5)
        await store.save_states([StreamState("registry", "units", "2024-05-01T09:00:00|z", later, "run003")])
        states = await store.stream_states("registry")
        assert states == [
            StreamState("registry", "holders", None, T0, "run001"),
            StreamState("registry", "units", "2024-05-01T09:00:00|z", later, "run003"),
        ]
        await store.reset_states("registry")
        assert await store.stream_states("registry") == []
        assert [s.stream for s in await store.stream_states("water")] == ["bills"]
        await store.reset_states("nobody")  # nothing to forget: no error

    async def test_the_last_state_of_a_stream_in_one_call_wins(self, store: Store) -> None:
        await store.save_states([
            StreamState("registry", "units", "1", T0, "run001"),
            StreamState("registry", "units", "2", T0 + dt.timedelta(seconds=1), "run001"),
        ])
        [state] = await store.stream_states("registry")
        assert (state.cursor, state.updated_at) == ("2", T0 + dt.timedelta(seconds=1))


class TestDeadLetters:
    """set_aside, resolve, dead_letters, dead_letter_count."""

    async def test_set_aside_counts_new_letters_and_bumps_seen_on_the_same_reason(self, store: Store) -> None:
        assert await store.set_aside([]) == 0
        assert await store.set_aside([letter("u1"), letter("u2"), letter("u3", reason=Reason.UNMATCHED_ADDRESS)]) == 3
        later = T0 + dt.timedelta(hours=1)
        again = [letter("u1", "run002", at=later), letter("u2", "run002", at=later, reason=Reason.CONFLICT)]
        assert await store.set_aside(again) == 1  # u1 is known for this reason; u2 for CONFLICT is new
        assert await store.dead_letter_count("registry") == 4
        assert await store.dead_letter_count("water") == 0
        page = await store.dead_letters("registry", first=10)
        by_key = {(x.record_key, x.reason): x for x in page.items}
        u1 = by_key["u1", Reason.MALFORMED_CODE]
        assert (u1.seen, u1.run_id, u1.last_run_id, u1.at, u1.first_at) == (2, "run001", "run002", later, T0)
        assert u1.payload == {"code": "3702", "area": 88.5, "registered": "2020-01-02", "名": "单元"}  # dates as text
        assert u1.id is not None and not u1.resolved
        u3 = by_key["u3", Reason.UNMATCHED_ADDRESS]
        assert (u3.seen, u3.last_run_id, u3.candidates) == (1, "run001", ("370202001001GB00001F00010001",))
        assert [x.at for x in page.items] == sorted((x.at for x in page.items), reverse=True)  # newest first
        assert {x.record_key for x in page.items[:2]} == {"u1", "u2"}

    async def test_every_letter_counts_and_the_first_and_last_are_kept(self, store: Store) -> None:
        def message(n: int, run_id: str) -> DeadLetter:
            return letter("GD-0001", run_id, at=T0 + dt.timedelta(seconds=n), reason=Reason.OUT_OF_RANGE,
                          detail=f"lel {100 + n}: above 100", stream="telemetry", connector="mqtt", cursor=f"2024-05-01|{n:02d}")

        assert await store.set_aside([message(0, "mqtt-a"), message(1, "mqtt-a"), message(2, "mqtt-a")]) == 1
        [one] = (await store.dead_letters("mqtt", first=5)).items
        assert (one.seen, one.first_detail, one.detail) == (3, "lel 100: above 100", "lel 102: above 100")
        assert (one.first_at, one.at, one.run_id, one.last_run_id) == (T0, T0 + dt.timedelta(seconds=2), "mqtt-a", "mqtt-a")
        assert one.cursor == "2024-05-01|02"
        assert await store.set_aside([message(7, "mqtt-b"), message(9, "mqtt-b")]) == 0
        [one] = (await store.dead_letters("mqtt", first=5)).items
        assert (one.seen, one.first_detail, one.detail) == (5, "lel 100: above 100", "lel 109: above 100")
        assert (one.first_at, one.at, one.run_id, one.last_run_id) == (T0, T0 + dt.timedelta(seconds=9), "mqtt-a", "mqtt-b")
        assert not one.retryable and not one.resolved and one.cursor == "2024-05-01|09"

    async def test_resolving_takes_letters_out_of_the_default_listing(self, store: Store) -> None:
        await store.set_aside([
            letter("u1", reason=Reason.UNKNOWN_PLACE, retryable=True),
            letter("u1", reason=Reason.UNMATCHED_ADDRESS, retryable=True),
            letter("u2", reason=Reason.UNKNOWN_PLACE, retryable=True),
            letter("u1", stream="registrations", reason=Reason.UNKNOWN_PLACE),
            letter("u1", connector="water", reason=Reason.UNKNOWN_PLACE),
        ])
        at = T0 + dt.timedelta(hours=2)
        assert await store.resolve("registry", "units", [], "run007", at) == 0
        assert await store.resolve("registry", "units", ["u1", "u9", "u1"], "run007", at) == 2  # both reasons of u1
        assert await store.resolve("registry", "units", ["u1"], "run008", at) == 0  # already resolved
        assert await store.dead_letter_count("registry") == 2
        assert await store.dead_letter_count("water") == 1
        still = (await store.dead_letters("registry", first=10)).items
        assert sorted((x.stream, x.record_key) for x in still) == [("registrations", "u1"), ("units", "u2")]
        everything = (await store.dead_letters("registry", first=10, include_resolved=True)).items
        resolved = [x for x in everything if x.resolved]
        assert len(everything) == 4
        assert {(x.record_key, x.resolved_by_run, x.resolved_at) for x in resolved} == {("u1", "run007", at)}
        # set aside again after it was resolved: open again, counted, its resolution forgotten
        later = at + dt.timedelta(minutes=1)
        assert await store.set_aside([letter("u1", "run009", at=later, reason=Reason.UNKNOWN_PLACE, retryable=True)]) == 0
        [again] = [x for x in (await store.dead_letters("registry", first=10, stream="units")).items if x.record_key == "u1"]
        assert (again.reason, again.seen, again.resolved_at, again.resolved_by_run, again.at) == (
            Reason.UNKNOWN_PLACE, 2, None, None, later,
        )

    async def test_resolving_many_keys_at_once(self, store: Store) -> None:
        keys = [f"k{i:05d}" for i in range(2000)]
        await store.set_aside([letter(key, reason=Reason.UNKNOWN_PLACE) for key in keys])
        assert await store.resolve("registry", "units", keys[::2] + ["nope"], "run002", T0) == 1000
        assert await store.dead_letter_count("registry") == 1000

    async def test_dead_letters_narrow_by_stream_reason_and_retryable(self, store: Store) -> None:
        await store.set_aside([
            letter("a", reason=Reason.UNKNOWN_PLACE, retryable=True),
            letter("b", reason=Reason.UNMATCHED_ADDRESS, retryable=True),
            letter("c", reason=Reason.SCHEMA_MISMATCH, retryable=True),
            letter("d", reason=Reason.UNKNOWN_PLACE, retryable=False),
            letter("e", reason=Reason.UNKNOWN_PLACE, stream="registrations", retryable=True),
            letter("f", connector="water", reason=Reason.UNKNOWN_PLACE, retryable=True),
        ])

        async def keys(connector: str | None = "registry", **narrowing: object) -> list[str]:
            page = await store.dead_letters(connector, 50, **narrowing)  # type: ignore[arg-type]
            return sorted(x.record_key for x in page.items)

        assert await keys() == ["a", "b", "c", "d", "e"]
        assert await keys(None) == ["a", "b", "c", "d", "e", "f"]
        assert await keys(stream="units") == ["a", "b", "c", "d"]
        assert await keys(reasons={Reason.UNKNOWN_PLACE, Reason.UNMATCHED_ADDRESS}) == ["a", "b", "d", "e"]
        assert await keys(reasons=set()) == []
        assert await keys(retryable=True) == ["a", "b", "c", "e"]
        assert await keys(retryable=False) == ["d"]
        assert await keys(stream="units", reasons={Reason.UNKNOWN_PLACE}, retryable=True) == ["a"]
        assert await keys("nobody") == []

    async def test_dead_letters_page_through_every_letter_once(self, store: Store) -> None:
        letters = [letter(f"k{i:02d}", at=T0 + dt.timedelta(seconds=i // 3)) for i in range(11)]
        await store.set_aside(letters)
        await store.set_aside([replace(letters[0], connector="water")])
        seen: list[str] = []
        after = None
        while True:
            page = await store.dead_letters("registry", first=4, after=after)
            assert len(page.items) <= 4
            seen.extend(x.record_key for x in page.items)
            if not page.has_next:
                break
            after = page.end_cursor
        assert sorted(seen) == sorted(x.record_key for x in letters) and len(seen) == 11
        assert len((await store.dead_letters(None, first=100)).items) == 12
        assert len((await store.dead_letters(None, first=0)).items) == 1  # clamped to 1..MAX_PAGE

    async def test_a_bad_cursor_is_refused_naming_after(self, store: Store) -> None:
        await store.set_aside([letter("u1")])
        for cursor in ["not-a-cursor", "Y29kZTozNzAyMDI", "!!!!"]:
            with pytest.raises(InvalidInput, match="after"):
                await store.dead_letters(None, 5, after=cursor)


class TestLedgerLimits:
    """save_states and set_aside refuse what no backend could keep alike, whole, naming the
    field; at the limits everything is kept."""

    @pytest.mark.parametrize(
        ("changes", "field"),
        [({"cursor": "c" * 401}, "cursor"), ({"stream": "s" * 65}, "stream"), ({"connector": ""}, "connector"),
         ({"run_id": "r" * 65}, "run id")],
        ids=["long-cursor", "long-stream", "no-connector", "long-run-id"],
    )
    async def test_a_bad_checkpoint_is_refused_whole(self, store: Store, changes: dict[str, str], field: str) -> None:
        good = StreamState("registry", "units", "1", T0, "run001")
        with pytest.raises(InvalidInput, match=field):
            await store.save_states([good, replace(StreamState("registry", "holders", "2", T0, "run001"), **changes)])  # type: ignore[arg-type]
        assert await store.stream_states("registry") == []
        edge = StreamState("r" * 64, "s" * 64, "c" * 400, T0, "x" * 64)
        await store.save_states([edge])
        assert await store.stream_states("r" * 64) == [edge]

    @pytest.mark.parametrize(
        ("changes", "field"),
        [({"record_key": "k" * 401}, "record_key"), ({"connector": "c" * 65}, "connector"), ({"stream": ""}, "stream"),
         ({"run_id": "r" * 65}, "run id")],
        ids=["long-key", "long-connector", "no-stream", "long-run-id"],
    )
    async def test_a_bad_letter_is_refused_whole(self, store: Store, changes: dict[str, str], field: str) -> None:
        with pytest.raises(InvalidInput, match=field):
            await store.set_aside([letter("u1"), replace(letter("u2"), **changes)])  # type: ignore[arg-type]
        assert await store.dead_letter_count("registry") == 0
        assert (await store.dead_letters(None, 10, include_resolved=True)).items == []
        edge = replace(letter("k" * 400), connector="c" * 64, stream="s" * 64, run_id="r" * 64, cursor="x" * 1000)
        assert await store.set_aside([edge, letter("")]) == 2
        found = {item.record_key: item for item in (await store.dead_letters(None, 10)).items}
        assert set(found) == {"k" * 400, ""} and found["k" * 400].cursor == "x" * 400  # a letter's cursor is cut


# --------------------------------------------------------------------------------------------
# Utilities: accounts, bills and outages written through `write`, read in scope
# --------------------------------------------------------------------------------------------

W, P = Utility.WATER, Utility.POWER
AS_OF = dt.date(2024, 6, 15)
U0 = dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.timezone.utc)


def utility_provenance(record: str, run_id: str = "run1") -> Provenance:
    return Provenance("water-co", record, U0, run_id)


ACCOUNTS = [
    UtilityAccount(W, "W-001", T_HOUSE, utility_provenance("W-001")),
    UtilityAccount(P, "P-001", T_HOUSE),
    UtilityAccount(W, "W-002", D_SHINAN),
    UtilityAccount(W, "W-003", E_HOUSE),
    UtilityAccount(W, "W-004", G_HOUSE),  # 市北区
    UtilityAccount(W, "W-005", UNOWNED),
]


def bill(utility: Utility, account: str, period: str, amount_fen: int, paid_fen: int) -> Bill:
    """A bill due on the 10th of the month after its period, its money in whole fen."""
    year, month = map(int, period.split("-"))
    return Bill(utility, account, period, amount_fen, paid_fen, dt.date(year + month // 12, month % 12 + 1, 10))


BILLS = [
    bill(W, "W-001", "2024-03", 3000, 0),  # 30.00 overdue since 04-10
    bill(W, "W-001", "2024-04", 3250, 1000),  # 22.50 overdue since 05-10
    bill(W, "W-001", "2024-05", 3100, 0),  # due 06-10: overdue on 06-15
    bill(W, "W-001", "2024-06", 2900, 0),  # due 07-10: not yet
    bill(P, "P-001", "2024-04", 12000, 12000),  # paid
    bill(W, "W-002", "2024-02", 3999, 3999),  # paid in full, to the fen
    bill(W, "W-003", "2024-01", 5000, 0),  # 八大关 street
    bill(W, "W-004", "2024-01", 6000, 0),  # 市北区
    bill(W, "W-005", "2024-05", 1000, 0),
]

OUTAGES = [
    Outage(W, "N-1", (E_A,), U0, U0 + dt.timedelta(hours=6), "管网维修", True),
    Outage(P, "N-2", (B_A1, E_B), U0 + dt.timedelta(days=1), None, "线路故障", False),
    Outage(W, "N-3", (E_C,), U0 + dt.timedelta(days=2), U0 + dt.timedelta(days=3), "水表更换"),
    Outage(W, "N-4", (ST_B,), U0 - dt.timedelta(days=30), U0 - dt.timedelta(days=29), "二次供水清洗"),
]
UTILITY_RECORDS = len(ACCOUNTS) + len(BILLS) + len(OUTAGES)


def utilities() -> Batch:
    return Batch(accounts=list(ACCOUNTS), bills=list(BILLS), outages=list(OUTAGES))


async def utility_city(store: Store) -> Store:
    await store.write(fixture_city())
    assert await store.write(utilities()) == WriteCounts(inserted=UTILITY_RECORDS)
    return store


class TestUtilityWrites:
    """`write` of accounts, bills and outages: idempotent, last record of a key wins, a bad
    record refuses the batch whole."""

    async def test_a_batch_is_written_once_and_a_rerun_changes_nothing(self, store: Store) -> None:
        await utility_city(store)
        assert await store.write(utilities()) == WriteCounts(unchanged=UTILITY_RECORDS)

    async def test_provenance_alone_is_not_a_change_and_keeps_the_first(self, store: Store) -> None:
        await utility_city(store)
        later = Batch(accounts=[replace(ACCOUNTS[0], provenance=utility_provenance("W-001", run_id="run2"))])
        assert await store.write(later) == WriteCounts(unchanged=1)
        [accounts] = await store.utility_accounts([T_HOUSE], EVERYTHING)
        water = next(a for a in accounts if a.utility is W)
        assert water.provenance == utility_provenance("W-001")

    async def test_updates_of_every_kind(self, store: Store) -> None:
        await utility_city(store)
        paid = replace(BILLS[0], paid_fen=3000)
        moved = replace(ACCOUNTS[5], house_code=F_HOUSE)
        wider = replace(OUTAGES[0], place_codes=(E_A, E_B))
        assert await store.write(Batch(accounts=[moved], bills=[paid], outages=[wider])) == WriteCounts(updated=3)
        [owed] = await store.arrears([T_HOUSE], AS_OF, EVERYTHING)
        assert [(a.amount_fen, a.bills, a.oldest_period) for a in owed] == [(5350, 2, "2024-04")]
        assert await store.utility_accounts([UNOWNED, F_HOUSE], EVERYTHING) == [[], [moved]]
        narrower = replace(OUTAGES[0], place_codes=(E_B,), reason="管网抢修")
        assert await store.write(Batch(outages=[narrower])) == WriteCounts(updated=1)
        found = {o.notice_id: o for o in (await store.outages(EVERYTHING, 10, utility=W)).items}
        assert found["N-1"].place_codes == (E_B,) and found["N-1"].reason == "管网抢修"

    async def test_the_last_record_of_a_key_wins_within_a_batch(self, store: Store) -> None:
        await store.write(fixture_city())
        twice = Batch(accounts=[ACCOUNTS[0], replace(ACCOUNTS[0], house_code=E_HOUSE)])
        assert await store.write(twice) == WriteCounts(inserted=1, unchanged=1)
        assert await store.utility_accounts([T_HOUSE, E_HOUSE], EVERYTHING) == [[], [replace(ACCOUNTS[0], house_code=E_HOUSE)]]

    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            (Batch(accounts=[UtilityAccount(W, "W-9", UNKNOWN_HOUSE)]), f"house {UNKNOWN_HOUSE} is not in the store"),
            (Batch(accounts=[UtilityAccount(W, "W-9", EN_A11)]), f"house {EN_A11} is not in the store"),
            (Batch(accounts=[UtilityAccount(W, " ", T_HOUSE)]), "the number must be 1 to 64 characters"),
            (Batch(bills=[bill(W, "NOPE", "2024-01", 100, 0)]), "account NOPE is not in the store"),
            (Batch(bills=[replace(BILLS[0], period="2024-13")]), "period must be YYYY-MM"),
            (Batch(bills=[replace(BILLS[0], amount_fen=-100)]), "must not be negative"),
            (Batch(bills=[replace(BILLS[0], amount_fen=30.0)]), "amount_fen must be whole fen"),  # type: ignore[arg-type]
            (Batch(bills=[replace(BILLS[0], paid_fen=2**53)]), "at most"),
            (Batch(outages=[replace(OUTAGES[0], place_codes=("370202001001E009",))]), "place 370202001001E009 is not in the store"),
            (Batch(outages=[replace(OUTAGES[0], ends_at=U0 - dt.timedelta(hours=1))]), "before it starts"),
            (Batch(outages=[replace(OUTAGES[0], place_codes=())]), "names no place"),
        ],
        ids=["unknown-house", "not-a-house", "blank-account", "unknown-account", "bad-period", "negative", "float-money", "too-much",
             "unknown-place", "ends-early", "no-place"],
    )
    async def test_a_bad_record_fails_the_batch_and_loses_nothing(self, store: Store, bad: Batch, message: str) -> None:
        await utility_city(store)
        good = UtilityAccount(W, "W-NEW", F_HOUSE)
        with pytest.raises(StoreError, match=message):
            await store.write(Batch(accounts=[good, *bad.accounts], bills=bad.bills, outages=bad.outages))
        assert await store.utility_accounts([F_HOUSE], EVERYTHING) == [[]]
        assert await store.write(utilities()) == WriteCounts(unchanged=UTILITY_RECORDS)


class TestUtilityReads:
    """utility_accounts, accounts, arrears, arrears_counts, outages: key order, scope, paging."""

    async def test_accounts_in_key_order_and_scope(self, store: Store) -> None:
        loaded = await utility_city(store)
        found = await loaded.utility_accounts([T_HOUSE, UNKNOWN_HOUSE, G_HOUSE, T_HOUSE], EVERYTHING)
        assert [[(a.utility, a.account_no) for a in line] for line in found] == [
            [(P, "P-001"), (W, "W-001")], [], [(W, "W-004")], [(P, "P-001"), (W, "W-001")],
        ]
        assert found[0][1] == ACCOUNTS[0]  # provenance and all
        assert await loaded.utility_accounts([], EVERYTHING) == []
        street = Scope.of(ST_B)
        assert await loaded.utility_accounts([T_HOUSE, E_HOUSE], street) == [[], [ACCOUNTS[3]]]
        keys = [(W, "W-001"), (W, "W-003"), (P, "W-003"), (W, "nope"), (W, "W-003")]
        assert [a and a.account_no for a in await loaded.accounts(keys, street)] == [None, "W-003", None, None, "W-003"]
        assert [a and a.house_code for a in await loaded.accounts(keys, EVERYTHING)] == [T_HOUSE, E_HOUSE, None, None, E_HOUSE]
        assert await loaded.accounts(keys[:2], Scope.of()) == [None, None]
        assert await loaded.accounts([], EVERYTHING) == []

    async def test_arrears_sum_what_is_overdue_on_the_day(self, store: Store) -> None:
        loaded = await utility_city(store)
        assert await loaded.arrears([T_HOUSE, D_SHINAN, E_HOUSE, UNKNOWN_HOUSE], AS_OF, EVERYTHING) == [
            [Arrears(W, "W-001", T_HOUSE, 8350, 3, "2024-03")],
            [],  # paid in full
            [Arrears(W, "W-003", E_HOUSE, 5000, 1, "2024-01")],
            [],
        ]
        [[early]] = await loaded.arrears([T_HOUSE], dt.date(2024, 6, 10), EVERYTHING)  # due that day: not yet
        assert (early.amount_fen, early.bills) == (5250, 2)
        assert await loaded.arrears([T_HOUSE], dt.date(2024, 4, 10), EVERYTHING) == [[]]
        # the records' own rule (Bill.owed_on), day by day
        by_account = {(a.utility, a.account_no): a.house_code for a in ACCOUNTS}
        houses = sorted(set(by_account.values()))
        for day in (dt.date(2024, 4, 11), dt.date(2024, 5, 11), AS_OF, dt.date(2024, 8, 1)):
            owed: dict[str, int] = {}
            for item in BILLS:
                if item.owed_on(day) > 0:
                    house = by_account[(item.utility, item.account_no)]
                    owed[house] = owed.get(house, 0) + item.owed_on(day)
            found = await loaded.arrears(houses, day, EVERYTHING)
            assert {code: sum(a.amount_fen for a in line) for code, line in zip(houses, found) if line} == owed
            expected: list[list[Arrears]] = []
            for code in houses:
                line = []
                for account in sorted(ACCOUNTS, key=lambda a: (a.utility.value, a.account_no)):
                    own = [b for b in BILLS if (b.utility, b.account_no) == (account.utility, account.account_no)]
                    owing = arrears_of(account, own, day)
                    if account.house_code == code and owing is not None:
                        line.append(owing)
                expected.append(line)
            assert found == expected  # graph.utilities.arrears_of is the rule
        assert await loaded.arrears([T_HOUSE, G_HOUSE], AS_OF, Scope.of(SHIBEI)) == [[], [Arrears(W, "W-004", G_HOUSE, 6000, 1, "2024-01")]]
        assert await loaded.arrears([T_HOUSE], AS_OF, Scope.of()) == [[]]

    async def test_arrears_add_up_to_the_fen(self, store: Store) -> None:
        """Money is whole fen: one fen unpaid is arrears, and many small sums add up exactly
        (ten bills of 0.10 and twenty of 0.20 are 5.00 to the fen, as ints)."""
        loaded = await utility_city(store)
        small = [bill(W, "W-005", f"{2000 + n // 12:04d}-{n % 12 + 1:02d}", 10 if n < 10 else 20, 0) for n in range(30)]
        short = [bill(W, "W-002", "2024-03", 3999, 3998)]  # one fen short
        assert await loaded.write(Batch(bills=[*small, *short])) == WriteCounts(inserted=31)
        [[tiny], [owed]] = await loaded.arrears([D_SHINAN, UNOWNED], dt.date(2024, 5, 1), EVERYTHING)
        assert tiny == Arrears(W, "W-002", D_SHINAN, 1, 1, "2024-03")
        assert owed == Arrears(W, "W-005", UNOWNED, 500, 30, "2000-01")
        assert type(tiny.amount_fen) is int and type(owed.amount_fen) is int
        assert await loaded.write(Batch(bills=[*small, *short])) == WriteCounts(unchanged=31)

    async def test_arrears_counts_per_place_of_any_level(self, store: Store) -> None:
        loaded = await utility_city(store)
        codes = [CITY, SHINAN, ST_A, ST_B, CM_A1, E_A, B_A1, B_A2, T_HOUSE, D_SHINAN, SHIBEI, "370202001001E009"]
        assert await loaded.arrears_counts(codes, AS_OF, EVERYTHING) == [4, 3, 2, 1, 2, 2, 2, 0, 1, 0, 1, None]
        assert await loaded.arrears_counts([CITY, T_HOUSE], dt.date(2024, 1, 1), EVERYTHING) == [0, 0]
        assert await loaded.arrears_counts([CITY, SHINAN, ST_A, ST_B, T_HOUSE], AS_OF, Scope.of(ST_B)) == [None, None, None, 1, None]
        assert await loaded.arrears_counts([], AS_OF, EVERYTHING) == []

    async def test_outages_newest_first_filtered_and_paged(self, store: Store) -> None:
        loaded = await utility_city(store)
        first = await loaded.outages(EVERYTHING, 2)
        assert [o.notice_id for o in first.items] == ["N-3", "N-2"] and first.has_next
        assert first.end_cursor == outage_cursor(first.items[-1])  # every adapter's cursors are the same
        rest = await loaded.outages(EVERYTHING, 2, first.end_cursor)
        assert [o.notice_id for o in rest.items] == ["N-1", "N-4"] and not rest.has_next
        assert rest.items[0] == OUTAGES[0]  # times with their zone, and all

        async def notices(**kwargs: object) -> list[str]:
            return [o.notice_id for o in (await loaded.outages(EVERYTHING, 50, **kwargs)).items]  # type: ignore[arg-type]

        assert await notices(utility=P) == ["N-2"]
        assert await notices(active_at=U0 + dt.timedelta(hours=1)) == ["N-1"]
        assert await notices(active_at=U0 + dt.timedelta(hours=6)) == []  # ended then
        assert await notices(active_at=U0 + dt.timedelta(days=10)) == ["N-2"]  # no end yet
        assert await notices(within=SHIBEI) == ["N-3"]
        assert await notices(within=B_A2) == ["N-1"]  # the estate's outage reaches its buildings
        assert await notices(within=B_A1) == ["N-2", "N-1"]
        assert await notices(within=ST_B) == ["N-2", "N-4"]
        assert await notices(within="370202001001E009") == []
        assert [o.notice_id for o in (await loaded.outages(EVERYTHING, 0)).items] == ["N-3"]  # clamped

    async def test_outages_show_only_places_in_scope(self, store: Store) -> None:
        loaded = await utility_city(store)
        page = await loaded.outages(Scope.of(ST_B), 50)
        assert [(o.notice_id, o.place_codes) for o in page.items] == [("N-2", (E_B,)), ("N-4", (ST_B,))]
        page = await loaded.outages(Scope.of(E_A), 50)
        assert [(o.notice_id, o.place_codes) for o in page.items] == [("N-2", (B_A1,)), ("N-1", (E_A,))]
        assert (await loaded.outages(Scope.of(), 50)).items == []
        assert [o.notice_id for o in (await loaded.outages(Scope.of(SHIBEI), 50, within=ST_A)).items] == []

    async def test_a_foreign_cursor_is_refused(self, store: Store) -> None:
        loaded = await utility_city(store)
        for cursor in ["not-a-cursor", "Y29kZTozNzAyMDI", "!!!!"]:
            with pytest.raises(InvalidInput, match="after"):
                await loaded.outages(EVERYTHING, 2, cursor)


# --------------------------------------------------------------------------------------------
# Shared queries (unscoped storage: visibility is SharedQuery.visible_to, above the store)
# --------------------------------------------------------------------------------------------

PUBLISHED = dt.datetime(2026, 11, 21, 8, tzinfo=dt.timezone.utc)
FIRM = "91370202MA08WURM29"


def shared_draft(name: str, document: str = "{ levels { level } }") -> SharedDraft:
    return SharedDraft(
        name, "每周告警", document,
        (VariableSpec("scope", "String!", False, "@area", "片区"), VariableSpec("n", "Int", True, 5)),
        Author("甲物业", Role.PROPERTY_FIRM, FIRM), frozenset({Role.PROPERTY_FIRM, Role.STREET}),
        frozenset({FIRM, "370202001"}), "levels",
    )


class TestSharedQueries:
    """publish_shared, shared_versions, shared_latest, withdraw_shared, safelisted_roles,
    set_safelist."""

    async def test_versions_are_numbered_per_name_and_read_back_whole(self, store: Store) -> None:
        first = await store.publish_shared(shared_draft("weekly-alarms"), PUBLISHED)
        assert first.version == 1 and not first.withdrawn
        draft = shared_draft("weekly-alarms")
        assert (first.name, first.description, first.document, first.variables, first.owner, first.roles,
                first.organisations, first.csv_path, first.published_at) == (
            draft.name, draft.description, draft.document, draft.variables, draft.owner, draft.roles,
            draft.organisations, draft.csv_path, PUBLISHED,
        )
        second = await store.publish_shared(replace(shared_draft("weekly-alarms", "{ x }"), csv_path=None), PUBLISHED + dt.timedelta(hours=1))
        assert (second.version, second.document, second.csv_path) == (2, "{ x }", None)
        assert (await store.publish_shared(shared_draft("other-name"), PUBLISHED)).version == 1
        assert await store.shared_versions("weekly-alarms") == [first, second]
        assert await store.shared_versions("nothing-here") == []
        assert [(q.name, q.version) for q in await store.shared_latest()] == [
            ("other-name", 1), ("weekly-alarms", 1), ("weekly-alarms", 2),
        ]

    async def test_publishers_at_once_each_take_a_number(self, store: Store) -> None:
        racing = await asyncio.gather(
            *(store.publish_shared(shared_draft("weekly-alarms", f"{{ levels {{ level }} }} # {n}"), PUBLISHED) for n in range(4))
        )
        assert sorted(item.version for item in racing) == [1, 2, 3, 4]
        stored = await store.shared_versions("weekly-alarms")
        assert {(q.version, q.document) for q in stored} == {(q.version, q.document) for q in racing}

    async def test_withdrawal_is_kept_and_the_first_stands(self, store: Store) -> None:
        await store.publish_shared(shared_draft("weekly-alarms"), PUBLISHED)
        await store.publish_shared(shared_draft("weekly-alarms"), PUBLISHED)
        withdrawn = await store.withdraw_shared("weekly-alarms", 2, PUBLISHED + dt.timedelta(hours=1))
        assert withdrawn is not None and withdrawn.withdrawn_at == PUBLISHED + dt.timedelta(hours=1)
        assert not withdrawn.visible_to(Principal(Role.CITY, "370200", "c", "t"))
        again = await store.withdraw_shared("weekly-alarms", 2, PUBLISHED + dt.timedelta(hours=2))
        assert again is not None and again.withdrawn_at == PUBLISHED + dt.timedelta(hours=1)
        assert await store.withdraw_shared("weekly-alarms", 9, PUBLISHED) is None
        assert await store.withdraw_shared("nothing-here", 1, PUBLISHED) is None
        versions = await store.shared_versions("weekly-alarms")
        assert [(q.version, q.withdrawn) for q in versions] == [(1, False), (2, True)]
        # a withdrawn version keeps its number: the next one is 3
        assert (await store.publish_shared(shared_draft("weekly-alarms"), PUBLISHED)).version == 3

    async def test_the_safelist_switches_both_ways(self, store: Store) -> None:
        assert await store.safelisted_roles() == frozenset()
        await store.set_safelist(Role.PROPERTY_FIRM, True, "city", PUBLISHED)
        await store.set_safelist(Role.OWNER, True, "city", PUBLISHED)
        await store.set_safelist(Role.OWNER, False, "city", PUBLISHED)
        await store.set_safelist(Role.COMMITTEE, False, "city", PUBLISHED)  # off, never on: still off
        await store.set_safelist(Role.PROPERTY_FIRM, True, "city", PUBLISHED)  # twice on: on
        assert await store.safelisted_roles() == frozenset({Role.PROPERTY_FIRM})


# --------------------------------------------------------------------------------------------
# The audit log (append and read only; the chain rule is graph.audit's)
# --------------------------------------------------------------------------------------------

AUDITED = dt.datetime(2026, 3, 1, 16, 30, 0, 123456, tzinfo=dt.timezone.utc)


def audit_draft(number: int, **changes: object) -> AuditDraft:
    values: dict[str, object] = {
        "actor": "王芳" if number % 2 else "ops@370202",
        "role": "street" if number % 2 else "admin",
        "action": "read_owner",
        "target": f"Owner:o-{number}",
        "detail": {"fields": ["name", "phone"], "n": number, "街道": "八大湖", "nested": {"b": [1, 2.5, None], "a": True}},
        "reason": "业主投诉回访" if number % 3 == 0 else None,
        "at": AUDITED + dt.timedelta(seconds=number),
    }
    values.update(changes)
    return AuditDraft(**values)  # type: ignore[arg-type]


def audit_drafts(start: int, count: int) -> list[AuditDraft]:
    return [audit_draft(number) for number in range(start, start + count)]


class TestAuditLog:
    """append_audit, audit_entries, audit_tail."""

    async def test_appends_are_chained_and_read_back_as_written(self, store: Store) -> None:
        assert await store.append_audit([]) == []
        assert await store.audit_entries() == [] and await store.audit_tail() == []
        written = []
        for start, count in ((1, 4), (5, 3), (8, 3)):
            written += await store.append_audit(audit_drafts(start, count))
        assert [entry.seq for entry in written] == list(range(1, 11))
        assert written[0].prev_hash == GENESIS
        assert all(later.prev_hash == earlier.hash for earlier, later in zip(written, written[1:]))
        assert verify(written) is None
        assert await store.audit_entries() == written  # times, detail and all
        assert written[0].detail["nested"] == {"a": True, "b": [1, 2.5, None]}
        assert await store.audit_entries(after=3, limit=4) == written[3:7]
        assert await store.audit_entries(after=10) == [] and await store.audit_entries(limit=0) == []
        assert await store.audit_entries(limit=-1) == []
        assert await store.audit_tail(3) == written[-3:]
        assert await store.audit_tail(100) == written and await store.audit_tail(0) == []
        assert verify(await store.audit_entries(), expected_head=(10, written[-1].hash)) is None

    async def test_times_in_any_zone_are_kept_as_utc_instants(self, store: Store) -> None:
        local = AUDITED.astimezone(CST)
        [entry] = await store.append_audit([audit_draft(1, at=local)])
        assert entry.at == AUDITED and entry.at.utcoffset() == dt.timedelta(0)
        assert await store.audit_entries() == [entry]

    async def test_a_bad_append_is_refused_whole(self, store: Store) -> None:
        await store.append_audit(audit_drafts(1, 2))
        with pytest.raises(InvalidInput, match="audit target"):
            await store.append_audit([audit_draft(3), audit_draft(4, target="T" * 401)])
        with pytest.raises(InvalidInput, match="time zone"):
            await store.append_audit([audit_draft(3), audit_draft(4, at=AUDITED.replace(tzinfo=None))])
        with pytest.raises((InvalidInput, ValueError)):
            await store.append_audit([audit_draft(3, detail={"x": float("nan")})])
        assert [entry.seq for entry in await store.audit_entries()] == [1, 2]
        assert [entry.seq for entry in await store.append_audit(audit_drafts(3, 1))] == [3]

    async def test_appends_at_once_leave_no_gap(self, store: Store) -> None:
        batches = [audit_drafts(100 * number, 3) for number in range(8)]
        results = await asyncio.gather(*(store.append_audit(batch) for batch in batches))
        stored = await store.audit_entries()
        assert [entry.seq for entry in stored] == list(range(1, 25)) and verify(stored) is None
        for batch, entries in zip(batches, results):
            seqs = [entry.seq for entry in entries]
            assert seqs == list(range(seqs[0], seqs[0] + 3))  # a batch is appended whole, in order
            assert [entry.target for entry in entries] == [item.target for item in batch]
            assert stored[seqs[0] - 1 : seqs[-1]] == entries


# --------------------------------------------------------------------------------------------
# Issued tokens
# --------------------------------------------------------------------------------------------

ISSUED = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)


def token(number: int, **changes: object) -> TokenRecord:
    made = TokenRecord(f"tok{number:04d}", Role.STREET, ST_A, f"街道办 {number}", ISSUED + dt.timedelta(minutes=number),
                       ISSUED + dt.timedelta(days=30))
    return replace(made, **changes)  # type: ignore[arg-type]


class TestTokens:
    """save_token, revoke_token, tokens."""

    async def test_saved_tokens_read_back_newest_first(self, store: Store) -> None:
        assert await store.tokens() == []
        saved = [token(1), token(3, role=Role.ADMIN, scope="*"), token(2, issued_at=ISSUED.astimezone(CST) + dt.timedelta(minutes=2))]
        for item in saved:
            await store.save_token(item)
        assert [t.id for t in await store.tokens()] == ["tok0003", "tok0002", "tok0001"]
        assert (await store.tokens())[0] == saved[1]
        assert [t.id for t in await store.tokens(["tok0001", "nope", "tok0003"])] == ["tok0003", "tok0001"]
        assert await store.tokens([]) == []
        assert (await store.tokens(["tok0002"]))[0].issued_at == ISSUED + dt.timedelta(minutes=2)

    async def test_tokens_issued_in_the_same_instant_are_ordered_by_id(self, store: Store) -> None:
        for name in ("tok-b", "tok-a", "tok-c"):
            await store.save_token(token(1, id=name))
        assert [t.id for t in await store.tokens()] == ["tok-a", "tok-b", "tok-c"]

    async def test_revoking_keeps_the_first_revocation(self, store: Store) -> None:
        await store.save_token(token(1))
        await store.save_token(token(2))
        revoked = await store.revoke_token("tok0001", "离职", ISSUED + dt.timedelta(days=1))
        assert revoked == token(1, revoked_at=ISSUED + dt.timedelta(days=1), revoke_reason="离职")
        again = await store.revoke_token("tok0001", "second thoughts", ISSUED + dt.timedelta(days=2))
        assert again == revoked
        assert await store.revoke_token("nope", "x", ISSUED) is None
        assert await store.tokens(["nope"]) == []
        assert await store.tokens(revoked_only=True) == [revoked]
        assert await store.tokens(["tok0001", "tok0002"], revoked_only=True) == [revoked]
        assert [(t.id, t.revoked_at) for t in await store.tokens()] == [("tok0002", None), ("tok0001", ISSUED + dt.timedelta(days=1))]

    async def test_an_id_issued_twice_is_refused_and_the_first_kept(self, store: Store) -> None:
        await store.save_token(token(1))
        with pytest.raises(StoreError, match="tok0001"):
            await store.save_token(token(1, name="someone else", role=Role.ADMIN, scope="*"))
        assert await store.tokens() == [token(1)]


# --------------------------------------------------------------------------------------------
# owners_by, owner_ids
# --------------------------------------------------------------------------------------------


class TestTokenLimits:
    """save_token refuses what no backend could keep alike, saving nothing."""

    @pytest.mark.parametrize(
        ("bad", "field"),
        [
            (token(1, id=""), "token id"),
            (token(1, id="t" * 65), "token id"),
            (token(1, name="名" * 201), "token name"),
            (token(1, scope="3" * 65), "token scope"),
            (token(1, issued_at=ISSUED.replace(tzinfo=None)), "token issued_at"),
        ],
        ids=["empty-id", "long-id", "long-name", "long-scope", "naive-time"],
    )
    async def test_a_bad_record_is_refused_naming_its_field(self, store: Store, bad: TokenRecord, field: str) -> None:
        with pytest.raises(InvalidInput, match=field):
            await store.save_token(bad)
        assert await store.tokens() == []
        await store.save_token(token(1, name="名" * 200, scope="3" * 64))  # at the limits: kept
        assert [t.name for t in await store.tokens()] == ["名" * 200]


class TestOwnersBy:
    """owners_by: exact lookups through the blind index, normalised as lookup_digest is, by id,
    in scope as `owners` says."""

    async def test_exact_lookups_by_each_personal_field(self, loaded: Store) -> None:
        [d] = await loaded.owners([OWNER_D], EVERYTHING)
        assert d is not None and d.phone is not None
        assert await loaded.owners_by("name", "刘洋", EVERYTHING) == [d]
        assert await loaded.owners_by("name", " 刘洋 ", EVERYTHING) == [d]
        assert await loaded.owners_by("id_number", d.id_number.lower() + " ", EVERYTHING) == [d]
        assert await loaded.owners_by("phone", "138-0000-0004", EVERYTHING) == [d]
        assert await loaded.owners_by("name", "刘", EVERYTHING) == []  # exact, not a prefix
        assert await loaded.owners_by("phone", "nobody", EVERYTHING) == []

    async def test_scope(self, loaded: Store) -> None:
        assert [o.id for o in await loaded.owners_by("name", "刘洋", Scope.of(SHIBEI))] == [OWNER_D]
        assert [o.id for o in await loaded.owners_by("name", "刘洋", Scope.of(D_SHINAN))] == [OWNER_D]
        assert await loaded.owners_by("name", "刘洋", Scope.of(ST_B)) == []
        assert await loaded.owners_by("name", "刘洋", Scope.of()) == []
        assert [o.id for o in await loaded.owners_by("name", "孙丽", EVERYTHING)] == [OWNER_H]  # owns nothing
        assert await loaded.owners_by("name", "孙丽", Scope.of(CITY)) == []  # no house: in no scope

    async def test_namesakes_by_id_and_outside_ones_left_out(self, store: Store) -> None:
        namesake = Owner("owner-i", OwnerKind.PERSON, "刘洋", resident_id("37021219910101009"), None)
        await store.write(replace(
            fixture_city(),
            owners=[*fixture_city().owners, namesake],
            ownerships=[*fixture_city().ownerships, Ownership(UNOWNED, "owner-i", 1.0, dt.date(2021, 1, 1))],
        ))
        assert [o.id for o in await store.owners_by("name", "刘洋", EVERYTHING)] == [OWNER_D, "owner-i"]
        assert [o.id for o in await store.owners_by("name", "刘洋", Scope.of(B_A1))] == ["owner-i"]
        assert [o.id for o in await store.owners_by("name", "刘洋", Scope.of(SHIBEI))] == [OWNER_D]

    async def test_a_field_that_is_not_personal_is_refused(self, loaded: Store) -> None:
        for field in ("address", "id", "NAME", ""):
            with pytest.raises(InvalidInput, match="field"):
                await loaded.owners_by(field, "x", EVERYTHING)


class TestOwnerIds:
    """owner_ids: one id per national number, keyed per hub."""

    async def test_one_id_per_number_and_per_hub(self, loaded: Store, store: Store) -> None:
        number = resident_id("37020219800101123")
        made = loaded.owner_ids(number)
        assert made.startswith("OW") and len(made) == 18 and made == made.upper()
        assert loaded.owner_ids(" " + number.lower() + " ") == made
        assert loaded.owner_ids(resident_id("37020219800101124")) != made
        assert store.owner_ids(number) != made  # another hub, another key
        assert loaded.owner_ids(number) == made  # stable


class TestRefreshStatsEdges:
    """refresh_stats where there is nothing to refresh: no error, nothing changed."""

    async def test_an_unknown_within_and_an_empty_store_change_nothing(self, store: Store) -> None:
        await store.refresh_stats()  # an empty store
        await store.refresh_stats("370202001001E009")
        await store.write(fixture_city())
        codes = [CITY, SHINAN, SHIBEI, ST_A, ST_B, E_A, E_B, E_C, B_A1, B_A2, T_HOUSE]
        before = await store.place_stats(codes, EVERYTHING)
        await store.refresh_stats("370202001001E009")
        await store.refresh_stats(UNKNOWN_HOUSE)
        assert await store.place_stats(codes, EVERYTHING) == before
        await store.refresh_stats()
        assert await store.place_stats(codes, EVERYTHING) == before  # writes kept them current


class TestClose:
    async def test_closing_twice_is_harmless(self, store: Store) -> None:
        await store.save_states([StreamState("registry", "units", "1", T0, "run001")])
        await store.close()
        await store.close()  # and the fixture closes it once more
