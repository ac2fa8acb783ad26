"""The push-back of the hub's case changes to the systems the cases came from (the outbox).

A case's move (graph.casework) queues a message in the same write as the move, so a change is
never made without being owed to its source. `flush` delivers what is due, oldest first, through the
connector's `push`; it needs no Celery: the runner calls it after a sync, and the scheduler or
worker call the runner.

On failure a message stays, with its error, and is tried again after an exponential backoff
(`30 s × 2^attempts`, capped at one hour, with ±20 % jitter so a fleet of hubs does not knock on
a recovering feed in step); nothing behind it goes to the same target in this flush, so the
source hears a case's changes in the order they were made. A message the target refuses for
good (`Refused`: HTTP 4xx other than 408 and 429 — an illegal move, an order it does not know)
is tried `max_refusals` times in all, in case the source catches up, then given up as dead: it
stays in the store with its last error (`Store.outbox_messages(target, dead=True)`), is never
sent again, and no longer holds back the messages behind it. Transient failures (the feed down, 5xx, timeouts, 408, 429)
are retried for as long as it takes.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from connectors.base import Pusher
from graph.cases import OutboxMessage
from graph.casework import Casework
from graph.store import Store

log = logging.getLogger(__name__)

BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=1)
JITTER = 0.2
MAX_REFUSALS = 5
"""How many times a message refused for good is tried before it is given up as dead."""


class Refused(str):
    """A `push` result for a message the target refused for good (it will not take it however
    often it is sent: HTTP 4xx other than 408 and 429). A plain `str` result is a failure worth
    retrying; None is a delivery."""


NOT_SENT = "not sent: an earlier message to this target failed"
"""What a pusher answers for the messages after a failure (it must stop at the first one)."""


@dataclass(frozen=True, slots=True)
class FlushResult:
    """What one flush did for one target."""

    target: str
    sent: int = 0
    failed: int = 0
    """Messages that failed and wait for a retry (0 or 1: a failure stops the flush)."""
    dead: int = 0
    """Messages given up in this flush after too many refusals."""
    pending: int = 0
    """Messages still waiting for this target after the flush."""
    error: str | None = None
    """The last failure's words, if any."""


def backoff(attempts: int, rng: random.Random | None = None) -> dt.timedelta:
    """The wait before the next try of a message that failed `attempts` times (1 or more):
    30 s, 60 s, 120 s … each ±20 %, never more than an hour.

    >>> backoff(1, random.Random(0)) // dt.timedelta(seconds=1)
    34
    >>> backoff(12, random.Random(0)) == MAX_DELAY
    True
    """
    base = min(BASE_DELAY * 2 ** max(0, min(attempts - 1, 20)), MAX_DELAY)
    spread: float = (rng or _RANDOM).uniform(-JITTER, JITTER)
    wait: dt.timedelta = base * (1 + spread)
    return min(wait, MAX_DELAY)


_RANDOM = random.Random()


def _target(source: Pusher) -> str:
    name = getattr(source, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError("flush needs a configured connector (a source with a name) to push through")
    return name


async def flush(
    store: Store,
    source: Pusher,
    *,
    now: dt.datetime,
    limit: int = 100,
    max_refusals: int = MAX_REFUSALS,
    rng: random.Random | None = None,
) -> FlushResult:
    """Send the messages due for `source` (by its connector name) in order, up to `limit`;
    see the module docstring for failures. Never raises for a failed delivery."""
    target = _target(source)
    sent = failed = dead = 0
    error: str | None = None
    while sent + dead < limit:
        due: list[OutboxMessage] = await Casework(store).outbox_due(target, now, limit - sent - dead)
        if not due:
            break
        results: Sequence[str | None] = await source.push(due)
        if len(results) != len(due):
            raise RuntimeError(f"{target}: push answered {len(results)} results for {len(due)} messages")
        delivered: list[int] = []
        given_up = False
        for message, result in zip(due, results):
            if result is None:
                delivered.append(message.id)
                continue
            error = str(result)
            attempts = message.attempts + 1
            if isinstance(result, Refused) and attempts >= max_refusals:
                await store.outbox_failed(message.id, f"refused {attempts} times, given up: {result}", None)
                dead += 1
                given_up = True
                log.warning("%s: outbox message %s for case %s given up: %s", target, message.id, message.case_id, result)
            else:
                wait = backoff(attempts, rng)
                await store.outbox_failed(message.id, str(result), now + wait)
                failed += 1
            break  # order is kept: nothing behind a failure goes out in this push
        await store.outbox_sent(delivered, now)
        sent += len(delivered)
        if not given_up:
            break  # all sent, or a message waits for its retry and holds back the rest
    pending = await store.outbox_pending(target)
    return FlushResult(target, sent=sent, failed=failed, dead=dead, pending=pending, error=error)


__all__ = ["FlushResult", "NOT_SENT", "Refused", "backoff", "flush"]
