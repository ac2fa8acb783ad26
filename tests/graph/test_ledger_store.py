"""The connector ledger (`graph.ledger.Ledger`) on every SQL backend: runs and their leases,
cursors, dead letters and their lifecycle (counted, resolved, listed, retried)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.errors import InvalidInput
from graph.ledger import ConnectorRun, DeadLetter, Lease, Reason, RunCounts, RunStatus, StreamState
from graph.store import Store
from tests.conftest import open_sql_store

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_sql_store(backend, request, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


def _run(index: int, connector: str = "registry", **changes: object) -> ConnectorRun:
    run = ConnectorRun(id=f"run{index:03d}", connector=connector, started_at=T0 + dt.timedelta(minutes=index))
    return run if not changes else ConnectorRun(**{**_fields(run), **changes})  # type: ignore[arg-type]


def _fields(run: ConnectorRun) -> dict[str, object]:
    return {name: getattr(run, name) for name in run.__slots__}  # type: ignore[attr-defined]


def _letter(
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
        payload={"code": "3702", "area": 88.5, "registered": dt.date(2020, 1, 2)},
        run_id=run_id,
        at=at,
        candidates=("370202001001GB00001F00010001",) if reason is Reason.UNMATCHED_ADDRESS else (),
        retryable=retryable,
        cursor=cursor,
    )


def _leased(index: int, connector: str, expires: dt.datetime, **changes: object) -> ConnectorRun:
    return _run(index, connector, lease=Lease(4000 + index, "host-a", expires), **changes)


async def test_a_run_saved_at_start_is_replaced_at_its_end(store: Store) -> None:
    started = _leased(1, "registry", T0 + dt.timedelta(minutes=16))
    await store.save_run(started)
    assert (await store.last_runs(["registry"])) == [started]
    assert await store.run(started.id) == started and await store.run("nobody") is None
    ended = _run(
        1,
        status=RunStatus.SUCCEEDED,
        finished_at=T0 + dt.timedelta(minutes=1, seconds=42),
        counts=RunCounts(read=10, written=7, unchanged=2, dead_lettered=1, duplicates=3, retried=4, resolved=2, places_added=5),
        full=True,
        trigger="schedule",
        lease=Lease(4001, "host-a", T0 + dt.timedelta(minutes=16, seconds=42)),
    )
    await store.save_run(ended)
    [last] = await store.last_runs(["registry"])
    assert last == ended
    assert last is not None and last.duration == dt.timedelta(seconds=42)
    assert last.started_at.tzinfo is not None


async def test_runs_page_newest_first_and_by_connector(store: Store) -> None:
    for index in range(7):
        await store.save_run(_run(index, "registry" if index % 2 == 0 else "water"))
    everything = await store.runs(None, first=3)
    assert [r.id for r in everything.items] == ["run006", "run005", "run004"]
    assert everything.has_next
    rest = await store.runs(None, first=10, after=everything.end_cursor)
    assert [r.id for r in rest.items] == ["run003", "run002", "run001", "run000"]
    assert not rest.has_next
    registry = await store.runs("registry", first=2)
    assert [r.id for r in registry.items] == ["run006", "run004"]
    registry = await store.runs("registry", first=2, after=registry.end_cursor)
    assert [r.id for r in registry.items] == ["run002", "run000"] and not registry.has_next
    assert (await store.runs("nobody", first=5)).items == []


async def test_runs_started_in_the_same_instant_page_without_loss(store: Store) -> None:
    for name in ("a", "b", "c", "d"):
        await store.save_run(ConnectorRun(id=name, connector="registry", started_at=T0))
    seen: list[str] = []
    after = None
    while True:
        page = await store.runs("registry", first=1, after=after)
        seen.extend(r.id for r in page.items)
        if not page.has_next:
            break
        after = page.end_cursor
    assert seen == ["d", "c", "b", "a"]


async def test_last_runs_answer_in_key_order(store: Store) -> None:
    await store.save_run(_run(1, "registry"))
    await store.save_run(_run(5, "registry"))
    await store.save_run(_run(3, "water"))
    last = await store.last_runs(["water", "never", "registry"])
    assert [r.id if r else None for r in last] == ["run003", None, "run005"]
    assert await store.last_runs([]) == []


async def test_a_cursor_from_elsewhere_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInput, match="after"):
        await store.runs(None, first=5, after="not-a-cursor")
    with pytest.raises(InvalidInput, match="after"):
        await store.dead_letters(None, first=5, after="Y29kZTozNzAyMDI")  # a place cursor


async def test_a_run_id_too_long_for_a_cursor_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInput, match="run id"):
        await store.save_run(ConnectorRun(id="x" * 41, connector="registry", started_at=T0))


async def test_stream_states_checkpoint_replace_and_reset(store: Store) -> None:
    await store.save_states([
        StreamState("registry", "units", "2024-05-01T08:00:00|a", T0, "run001"),
        StreamState("registry", "holders", None, T0, "run001"),
        StreamState("water", "bills", "b|7", T0, "run002"),
    ])
    later = T0 + dt.timedelta(minutes=5)
    await store.save_states([StreamState("registry", "units", "2024-05-01T09:00:00|z", later, "run003")])
    states = await store.stream_states("registry")
    assert [(s.stream, s.cursor, s.run_id) for s in states] == [
        ("holders", None, "run001"),
        ("units", "2024-05-01T09:00:00|z", "run003"),
    ]
    assert states[1].updated_at == later
    await store.reset_states("registry")
    assert await store.stream_states("registry") == []
    assert [s.stream for s in await store.stream_states("water")] == ["bills"]


async def test_set_aside_counts_new_letters_and_bumps_seen_on_the_same_reason(store: Store) -> None:
    assert await store.set_aside([]) == 0
    assert await store.set_aside([_letter("u1"), _letter("u2"), _letter("u3", reason=Reason.UNMATCHED_ADDRESS)]) == 3
    later = T0 + dt.timedelta(hours=1)
    again = [_letter("u1", "run002", at=later), _letter("u2", "run002", at=later, reason=Reason.CONFLICT)]
    assert await store.set_aside(again) == 1  # u1 is known for this reason; u2 for CONFLICT is new
    assert await store.dead_letter_count("registry") == 4
    assert await store.dead_letter_count("water") == 0
    page = await store.dead_letters("registry", first=10)
    by_key = {(x.record_key, x.reason): x for x in page.items}
    u1 = by_key["u1", Reason.MALFORMED_CODE]
    assert (u1.seen, u1.run_id, u1.last_run_id, u1.at, u1.first_at) == (2, "run001", "run002", later, T0)
    assert u1.payload == {"code": "3702", "area": 88.5, "registered": "2020-01-02"}
    u3 = by_key["u3", Reason.UNMATCHED_ADDRESS]
    assert (u3.seen, u3.last_run_id) == (1, "run001")
    assert u3.candidates == ("370202001001GB00001F00010001",)
    # newest first: the two letters touched at `later`, then the older ones
    assert {x.record_key for x in page.items[:2]} == {"u1", "u2"}
    assert all(page.items[i].at >= page.items[i + 1].at for i in range(len(page.items) - 1))


async def test_every_letter_counts_and_the_first_and_last_are_kept(store: Store) -> None:
    """Three messages of one device set aside in one call and two in the next: seen 5, the
    first detail and time kept, the last ones beside them."""
    def message(n: int, run: str) -> DeadLetter:
        return _letter("GD-0001", run, at=T0 + dt.timedelta(seconds=n), reason=Reason.OUT_OF_RANGE,
                       detail=f"lel {100 + n}: above 100", stream="telemetry", connector="mqtt", cursor=f"2024-05-01|{n:02d}")

    assert await store.set_aside([message(0, "mqtt-a"), message(1, "mqtt-a"), message(2, "mqtt-a")]) == 1
    [letter] = (await store.dead_letters("mqtt", first=5)).items
    assert (letter.seen, letter.first_detail, letter.detail) == (3, "lel 100: above 100", "lel 102: above 100")
    assert (letter.first_at, letter.at, letter.run_id, letter.last_run_id) == (T0, T0 + dt.timedelta(seconds=2), "mqtt-a", "mqtt-a")
    assert letter.cursor == "2024-05-01|02"  # the latest record's place in its stream
    assert await store.set_aside([message(7, "mqtt-b"), message(9, "mqtt-b")]) == 0
    [letter] = (await store.dead_letters("mqtt", first=5)).items
    assert (letter.seen, letter.first_detail, letter.detail) == (5, "lel 100: above 100", "lel 109: above 100")
    assert (letter.first_at, letter.at, letter.run_id, letter.last_run_id) == (T0, T0 + dt.timedelta(seconds=9), "mqtt-a", "mqtt-b")
    assert not letter.retryable and not letter.resolved and letter.cursor == "2024-05-01|09"
    await store.set_aside([_letter("u0")])
    assert [x.cursor for x in (await store.dead_letters("registry", first=5)).items] == [None]


async def test_resolving_takes_letters_out_of_the_default_listing(store: Store) -> None:
    await store.set_aside([
        _letter("u1", reason=Reason.UNKNOWN_PLACE, retryable=True),
        _letter("u1", reason=Reason.UNMATCHED_ADDRESS, retryable=True),
        _letter("u2", reason=Reason.UNKNOWN_PLACE, retryable=True),
        _letter("u1", stream="registrations", reason=Reason.UNKNOWN_PLACE),
        _letter("u1", connector="water", reason=Reason.UNKNOWN_PLACE),
    ])
    at = T0 + dt.timedelta(hours=2)
    assert await store.resolve("registry", "units", ["u1", "u9"], "run007", at) == 2  # both reasons of u1
    assert await store.resolve("registry", "units", ["u1"], "run008", at) == 0  # already resolved
    assert await store.dead_letter_count("registry") == 2
    assert await store.dead_letter_count("water") == 1
    open_ = (await store.dead_letters("registry", first=10)).items
    assert sorted((x.stream, x.record_key) for x in open_) == [("registrations", "u1"), ("units", "u2")]
    everything = (await store.dead_letters("registry", first=10, include_resolved=True)).items
    resolved = [x for x in everything if x.resolved]
    assert len(everything) == 4 and {(x.record_key, x.resolved_by_run, x.resolved_at) for x in resolved} == {("u1", "run007", at)}
    # set aside again after it was resolved: open again, counted, its resolution forgotten
    later = at + dt.timedelta(minutes=1)
    assert await store.set_aside([_letter("u1", "run009", at=later, reason=Reason.UNKNOWN_PLACE, retryable=True)]) == 0
    [again] = [x for x in (await store.dead_letters("registry", first=10, stream="units")).items if x.record_key == "u1"]
    assert (again.reason, again.seen, again.resolved_at, again.resolved_by_run, again.at) == (Reason.UNKNOWN_PLACE, 2, None, None, later)


async def test_resolving_many_keys_at_once(store: Store) -> None:
    keys = [f"k{i:05d}" for i in range(2000)]  # more than one IN list holds on either backend
    await store.set_aside([_letter(key, reason=Reason.UNKNOWN_PLACE) for key in keys])
    assert await store.resolve("registry", "units", keys[::2] + ["nope"], "run002", T0) == 1000
    assert await store.dead_letter_count("registry") == 1000


async def test_dead_letters_narrow_by_stream_reason_and_retryable(store: Store) -> None:
    await store.set_aside([
        _letter("a", reason=Reason.UNKNOWN_PLACE, retryable=True),
        _letter("b", reason=Reason.UNMATCHED_ADDRESS, retryable=True),
        _letter("c", reason=Reason.SCHEMA_MISMATCH, retryable=True),
        _letter("d", reason=Reason.UNKNOWN_PLACE, retryable=False),
        _letter("e", reason=Reason.UNKNOWN_PLACE, stream="registrations", retryable=True),
    ])

    async def keys(**narrowing: object) -> list[str]:
        return sorted(x.record_key for x in (await store.dead_letters("registry", 50, **narrowing)).items)  # type: ignore[arg-type]

    assert await keys() == ["a", "b", "c", "d", "e"]
    assert await keys(stream="units") == ["a", "b", "c", "d"]
    assert await keys(reasons={Reason.UNKNOWN_PLACE, Reason.UNMATCHED_ADDRESS}) == ["a", "b", "d", "e"]
    assert await keys(reasons=set()) == []
    assert await keys(retryable=True) == ["a", "b", "c", "e"]
    assert await keys(retryable=False) == ["d"]
    assert await keys(stream="units", reasons={Reason.UNKNOWN_PLACE}, retryable=True) == ["a"]
    [a] = (await store.dead_letters("registry", 5, stream="units", reasons={Reason.UNKNOWN_PLACE}, retryable=True)).items
    assert a.retryable and a.first_detail == a.detail


# -- leases -------------------------------------------------------------------------------------


async def test_every_run_whose_lease_expired_is_closed_as_abandoned(store: Store) -> None:
    now = T0 + dt.timedelta(hours=1)
    expired = now - dt.timedelta(seconds=1)
    await store.save_run(_leased(1, "registry", expired, heartbeat_at=T0 + dt.timedelta(minutes=3)))
    await store.save_run(_leased(2, "registry", expired))  # an older one than the newest: closed too
    await store.save_run(_leased(3, "registry", now + dt.timedelta(minutes=5)))  # alive
    await store.save_run(_leased(4, "water", expired))
    await store.save_run(_run(5, "water"))  # no lease: never taken for dead
    await store.save_run(_leased(6, "water", expired, status=RunStatus.SUCCEEDED, finished_at=T0 + dt.timedelta(minutes=7)))
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
    }
    running = await store.runs(None, first=10, status=RunStatus.RUNNING)
    assert [r.id for r in running.items] == ["run005", "run003"]
    abandoned = await store.runs("registry", first=1, status=RunStatus.ABANDONED)
    assert [r.id for r in abandoned.items] == ["run002"] and abandoned.has_next
    rest = await store.runs("registry", first=5, after=abandoned.end_cursor, status=RunStatus.ABANDONED)
    assert [r.id for r in rest.items] == ["run001"] and not rest.has_next


async def test_a_renewal_keeps_a_run_and_none_revives_a_closed_one(store: Store) -> None:
    now = T0 + dt.timedelta(hours=1)
    run = _leased(1, "registry", now - dt.timedelta(seconds=1))
    await store.save_run(run)
    renewed = ConnectorRun(**{**_fields(run), "lease": Lease(4001, "host-a", now + dt.timedelta(minutes=15)),
                              "heartbeat_at": now, "counts": RunCounts(read=500, written=480)})  # type: ignore[arg-type]
    assert await store.renew_run(renewed)
    assert await store.close_abandoned(now, "a reader") == []  # renewed in time: not closed
    assert await store.run(run.id) == renewed
    assert await store.close_abandoned(now + dt.timedelta(minutes=16), "a reader") != []
    late = ConnectorRun(**{**_fields(renewed), "heartbeat_at": now + dt.timedelta(minutes=17)})  # type: ignore[arg-type]
    assert not await store.renew_run(late)  # closed meanwhile: the run learns it lost the lease
    stored = await store.run(run.id)
    assert stored is not None and stored.status is RunStatus.ABANDONED and stored.heartbeat_at == now
    assert not await store.renew_run(_leased(9, "registry", now))  # a run never saved is not created


async def test_dead_letters_page_through_every_letter_once(store: Store) -> None:
    letters = [_letter(f"k{i:02d}", at=T0 + dt.timedelta(seconds=i // 3)) for i in range(11)]
    await store.set_aside(letters)
    await store.set_aside([DeadLetter(**{**{n: getattr(letters[0], n) for n in letters[0].__slots__}, "connector": "water"})])  # type: ignore[attr-defined]
    seen: list[str] = []
    after = None
    while True:
        page = await store.dead_letters("registry", first=4, after=after)
        seen.extend(x.record_key for x in page.items)
        if not page.has_next:
            break
        after = page.end_cursor
    assert sorted(seen) == sorted(x.record_key for x in letters) and len(seen) == 11
    assert len((await store.dead_letters(None, first=100)).items) == 12
