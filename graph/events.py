"""Changes the hub announces as they happen: alarms raised, acknowledged or cleared, and cases
opened or moved. GraphQL subscriptions (`alarms`, `caseUpdates`) listen here.

An event names what changed (its id and place), never what it holds: a subscriber reads the
record back through the store with its own scope, so a subscription sees exactly what a query
would, and an event about a place outside the subscriber's scope is never shown.

The bus is in-process and never blocks a publisher: each subscriber has a bounded queue, and a
subscriber too slow to keep up loses the oldest events it has not read yet (and is told how
many, `Subscription.dropped`), not the publisher's time.

Several processes are one hub when their buses are bridged (hub.cluster.Bridge, through Redis
pub/sub): `publish` hands each event to this process's subscribers and to the bus's `forward`
(set by the bridge, which sends it to the other processes), while what the bridge hears from
the others comes in through `deliver`, to this process's subscribers only — so no event is
sent back out, and none reaches a subscriber twice.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


class Topic(enum.Enum):
    ALARMS = "alarms"
    CASES = "cases"
    VOTES = "votes"


@dataclass(frozen=True, slots=True)
class Event:
    topic: Topic
    id: str
    """The alarm's, the case's or the vote's id."""
    kind: str
    """What happened: raised, acknowledged, cleared (alarms); opened, moved, dispatched,
    escalated (cases); noticed, opened, participation, closed, cancelled (votes)."""
    place_code: str | None = None


class Subscription:
    """One listener's queue of events of one topic; iterate it, close it when done."""

    def __init__(self, bus: EventBus, topic: Topic, size: int) -> None:
        self._bus = bus
        self.topic = topic
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def _offer(self, event: Event) -> None:
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.dropped += 1

    async def get(self) -> Event:
        return await self._queue.get()

    def ready(self) -> list[Event]:
        """Every event queued for this listener now, without waiting."""
        events: list[Event] = []
        while not self._queue.empty():
            events.append(self._queue.get_nowait())
        return events

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()

    def close(self) -> None:
        self._bus._listeners[self.topic].discard(self)


class EventBus:
    """Fan-out of events to subscribers in this process."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._listeners: dict[Topic, set[Subscription]] = {topic: set() for topic in Topic}
        self.forward: Callable[[Event], None] | None = None
        """Where this process's own events also go (the other processes' buses), if anywhere."""

    def publish(self, event: Event) -> None:
        """An event this process saw: to its subscribers, and forwarded to the other processes."""
        self.deliver(event)
        if self.forward is not None:
            self.forward(event)

    def deliver(self, event: Event) -> None:
        """An event to this process's subscribers only (one another process forwarded)."""
        for subscription in tuple(self._listeners[event.topic]):
            subscription._offer(event)

    def subscribe(self, topic: Topic) -> Subscription:
        subscription = Subscription(self, topic, self.queue_size)
        self._listeners[topic].add(subscription)
        return subscription

    def listeners(self, topic: Topic) -> int:
        return len(self._listeners[topic])
