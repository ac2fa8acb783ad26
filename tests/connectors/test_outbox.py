"""`connectors.outbox.flush` on a real store: order, backoff, transient versus final failures.

The target here is an in-process pusher that records what it is given and answers from a
script, so each rule can be driven exactly; tests/connectors/test_cityops_feed.py runs the same
flush against the reference feed over HTTP.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from connectors.outbox import MAX_DELAY, NOT_SENT, Refused, backoff, flush
from graph.cases import CaseStatus, OutboxMessage
from graph.casework import Casework
from graph.ciphers.sealing import Sealer
from graph.model import Batch
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from tests.graph.test_cases_store import T0, city, fed

EVERYTHING = Scope.everything()


class Scripted:
    """A target that answers each push from `answers` (None: delivered) and keeps what it got."""

    def __init__(self, name: str = "cityops") -> None:
        self.name = name
        self.answers: list[str | None] = []
        self.got: list[str] = []

    async def push(self, messages: Sequence[OutboxMessage]) -> list[str | None]:
        results: list[str | None] = []
        for message in messages:
            if results and results[-1] is not None:
                results.append(NOT_SENT)
                continue
            answer = self.answers.pop(0) if self.answers else None
            if answer is None:
                self.got.append(message.payload["note"])
            results.append(answer)
        return results


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(str(tmp_path / "hub.sqlite"), sealer=Sealer.generate())
    await opened.write(city())
    await opened.write(Batch(cases=[fed(1), fed(2)]))
    try:
        yield opened
    finally:
        await opened.close()


async def moves(store: SqlStore, *notes: str) -> None:
    for index, note in enumerate(notes):
        number = 1 + index % 2
        case = (await store.cases([f"cityops:QD{number:06d}"], EVERYTHING))[0]
        assert case is not None
        after = {CaseStatus.DISPATCHED: CaseStatus.SIGNED, CaseStatus.SIGNED: CaseStatus.IN_PROGRESS}[case.status]
        await Casework(store).move_case(case.id, after, actor="a", note=note, at=T0, scope=EVERYTHING)


def test_backoff_doubles_from_thirty_seconds_with_jitter_up_to_an_hour() -> None:
    rng = random.Random(3)
    for attempts, base in ((1, 30), (2, 60), (3, 120), (6, 960)):
        waits = [backoff(attempts, rng).total_seconds() for _ in range(200)]
        assert base * 0.8 <= min(waits) < max(waits) <= base * 1.2
    assert all(backoff(n, rng) <= MAX_DELAY for n in range(7, 60))
    assert backoff(50, rng) >= MAX_DELAY * 0.8


async def test_a_target_that_is_down_loses_nothing_and_gets_everything_in_order(store: SqlStore) -> None:
    await moves(store, "a", "b", "c", "d")
    target = Scripted()
    now = T0
    for _ in range(12):  # down for twelve tries: never given up, each try later than the last
        target.answers = ["connection refused"]
        result = await flush(store, target, now=now)
        assert (result.sent, result.failed, result.dead, result.pending) == (0, 1, 0, 4)
        [head] = (await Casework(store).outbox_due("cityops", now + MAX_DELAY * 2))[:1]
        assert head.next_attempt_at is not None and head.next_attempt_at > now
        assert await Casework(store).outbox_due("cityops", now) == []
        now = head.next_attempt_at
    assert head.attempts == 12 and head.last_error == "connection refused"
    result = await flush(store, target, now=now)
    assert (result.sent, result.pending) == (4, 0) and target.got == ["a", "b", "c", "d"]
    assert (await flush(store, target, now=now)).sent == 0


async def test_a_failure_mid_push_keeps_what_went_and_holds_the_rest(store: SqlStore) -> None:
    await moves(store, "a", "b", "c")
    target = Scripted()
    target.answers = [None, "HTTP 503"]
    result = await flush(store, target, now=T0)
    assert (result.sent, result.failed, result.pending, result.error) == (1, 1, 2, "HTTP 503")
    assert target.got == ["a"]
    later = (await Casework(store).outbox_due("cityops", T0 + MAX_DELAY))[0].next_attempt_at
    assert later is not None
    await flush(store, target, now=later)
    assert target.got == ["a", "b", "c"]


async def test_a_refused_message_dies_after_the_allowed_tries_and_frees_the_queue(store: SqlStore) -> None:
    await moves(store, "a", "b")
    target = Scripted()
    now = T0
    for attempt in range(1, 5):
        target.answers = [Refused("409 illegal move")]
        result = await flush(store, target, now=now, max_refusals=5)
        assert (result.failed, result.dead) == (1, 0)
        now += MAX_DELAY * 2
    target.answers = [Refused("409 illegal move")]
    result = await flush(store, target, now=now, max_refusals=5)
    assert (result.dead, result.sent, result.pending) == (1, 1, 0) and target.got == ["b"]
    [dead] = await store.outbox_messages(None, dead=True)
    assert dead.dead and dead.attempts == 5 and dead.last_error == "refused 5 times, given up: 409 illegal move"
    assert dead.payload["note"] == "a" and dead.sent_at is None


async def test_flush_refuses_a_pusher_that_miscounts_or_has_no_name(store: SqlStore) -> None:
    await moves(store, "a")

    class Short(Scripted):
        async def push(self, messages: Sequence[OutboxMessage]) -> list[str | None]:
            return []

    with pytest.raises(RuntimeError, match="0 results for 1 messages"):
        await flush(store, Short(), now=T0)
    nameless = Scripted()
    del nameless.name
    with pytest.raises(TypeError, match="name"):
        await flush(store, nameless, now=T0)
    assert await store.outbox_pending() == 1  # nothing lost
