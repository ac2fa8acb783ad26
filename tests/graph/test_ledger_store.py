"""The connector ledger (`graph.ledger.Ledger`) on every SQL backend: runs, cursors, dead letters."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.errors import InvalidInput
from graph.ledger import ConnectorRun, DeadLetter, Reason, RunCounts, RunStatus, StreamState
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


def _letter(key: str, run_id: str = "run001", *, at: dt.datetime = T0, reason: Reason = Reason.MALFORMED_CODE) -> DeadLetter:
    return DeadLetter(
        connector="registry",
        stream="units",
        record_key=key,
        reason=reason,
        detail=f"unit {key}: house code '3702' is too short",
        payload={"code": "3702", "area": 88.5, "registered": dt.date(2020, 1, 2)},
        run_id=run_id,
        at=at,
        candidates=("370202001001GB00001F00010001",) if reason is Reason.UNMATCHED_ADDRESS else (),
    )


async def test_a_run_saved_at_start_is_replaced_at_its_end(store: Store) -> None:
    started = _run(1)
    await store.save_run(started)
    assert (await store.last_runs(["registry"])) == [started]
    ended = _run(
        1,
        status=RunStatus.SUCCEEDED,
        finished_at=T0 + dt.timedelta(minutes=1, seconds=42),
        counts=RunCounts(read=10, written=7, unchanged=2, dead_lettered=1, duplicates=3),
        full=True,
        trigger="schedule",
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
    assert (u1.seen, u1.run_id, u1.last_run_id, u1.at) == (2, "run001", "run002", later)
    assert u1.payload == {"code": "3702", "area": 88.5, "registered": "2020-01-02"}
    u3 = by_key["u3", Reason.UNMATCHED_ADDRESS]
    assert (u3.seen, u3.last_run_id) == (1, "run001")
    assert u3.candidates == ("370202001001GB00001F00010001",)
    # newest first: the two letters touched at `later`, then the older ones
    assert {x.record_key for x in page.items[:2]} == {"u1", "u2"}
    assert all(page.items[i].at >= page.items[i + 1].at for i in range(len(page.items) - 1))


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
