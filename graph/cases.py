"""Cases (工单): work orders from owners, the 12345 hotline, city operations, device alarms and
patrols, with the 12345 lifecycle and the outbox that sends status changes back to their source.

The lifecycle (DESIGN.md): accepted (受理) → dispatched (派单) → signed for (签收) → in progress
(办理) → resolved (办结) → followed up with a rating (回访) → archived (归档); a dispatched,
signed or in-progress case may be returned (退单) and is then dispatched again. Every transition
is checked here, whatever store keeps the case, and kept as a `CaseEvent`.

Open311 GeoReport v2 knows only `open` and `closed`: resolved, followed-up and archived cases are
closed, everything else is open; the Chinese step goes into `status_notes`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from graph.errors import InvalidInput
from graph.model import Page, Provenance
from graph.scope import Scope


class CaseSource(enum.Enum):
    OWNER = "owner"
    HOTLINE = "hotline"
    """The 12345 citizen hotline."""
    CITY_OPERATIONS = "city_operations"
    DEVICE_ALARM = "device_alarm"
    PATROL = "patrol"
    OPEN311 = "open311"
    """Reported through the hub's Open311 endpoint or read from another Open311 server."""


class CaseCategory(enum.Enum):
    REPAIR = "repair"  # 报修
    COMPLAINT = "complaint"  # 投诉
    CONSULTATION = "consultation"  # 咨询
    SUGGESTION = "suggestion"  # 建议
    EMERGENCY = "emergency"  # 紧急


class CaseStatus(enum.Enum):
    ACCEPTED = "accepted"  # 受理
    DISPATCHED = "dispatched"  # 派单
    SIGNED = "signed"  # 签收
    IN_PROGRESS = "in_progress"  # 办理
    RESOLVED = "resolved"  # 办结
    FOLLOWED_UP = "followed_up"  # 回访
    ARCHIVED = "archived"  # 归档
    RETURNED = "returned"  # 退单

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def closed(self) -> bool:
        """Closed in Open311's sense: the work is done."""
        return self in (CaseStatus.RESOLVED, CaseStatus.FOLLOWED_UP, CaseStatus.ARCHIVED)


_LABELS = {
    CaseStatus.ACCEPTED: "受理",
    CaseStatus.DISPATCHED: "派单",
    CaseStatus.SIGNED: "签收",
    CaseStatus.IN_PROGRESS: "办理",
    CaseStatus.RESOLVED: "办结",
    CaseStatus.FOLLOWED_UP: "回访",
    CaseStatus.ARCHIVED: "归档",
    CaseStatus.RETURNED: "退单",
}

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.ACCEPTED: frozenset({CaseStatus.DISPATCHED}),
    CaseStatus.DISPATCHED: frozenset({CaseStatus.SIGNED, CaseStatus.RETURNED}),
    CaseStatus.SIGNED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.RETURNED}),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.RESOLVED, CaseStatus.RETURNED}),
    CaseStatus.RETURNED: frozenset({CaseStatus.DISPATCHED}),
    # an unsatisfied follow-up reopens the work; a satisfied one is rated and then archived
    CaseStatus.RESOLVED: frozenset({CaseStatus.FOLLOWED_UP, CaseStatus.IN_PROGRESS}),
    CaseStatus.FOLLOWED_UP: frozenset({CaseStatus.ARCHIVED}),
    CaseStatus.ARCHIVED: frozenset(),
}
"""The legal moves of the 12345 lifecycle: from a status to the statuses it may go to."""


def check_transition(case_id: str, current: CaseStatus, to: CaseStatus) -> None:
    """Raise `InvalidInput` naming the case, both statuses and the legal moves when `current`
    may not go to `to`.

    >>> check_transition("C1", CaseStatus.ACCEPTED, CaseStatus.DISPATCHED)
    >>> check_transition("C1", CaseStatus.ACCEPTED, CaseStatus.RESOLVED)
    Traceback (most recent call last):
    ...
    graph.errors.InvalidInput: status: 'resolved' case C1 is accepted (受理): it may go to dispatched (派单) only
    """
    allowed = TRANSITIONS[current]
    if to in allowed:
        return
    moves = ", ".join(f"{s.value} ({s.label})" for s in sorted(allowed, key=lambda s: s.value))
    rule = f"case {case_id} is {current.value} ({current.label}): " + (
        f"it may go to {moves} only" if moves else "it is archived and cannot change"
    )
    raise InvalidInput("status", to.value, rule)


@dataclass(frozen=True, slots=True)
class Point:
    """WGS-84 longitude and latitude (GeoJSON order)."""

    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Case:
    """A work order. `id` is the hub's; `external_id` is the source system's, when it has one.

    A case is in a caller's scope when its `place_code` is; a case linked to no place is seen
    only by callers whose scope is the whole city.
    """

    id: str
    source: CaseSource
    category: CaseCategory
    status: CaseStatus
    title: str
    reported_at: dt.datetime
    updated_at: dt.datetime
    description: str = ""
    place_code: str | None = None
    point: Point | None = None
    address: str | None = None
    external_id: str | None = None
    firm_code: str | None = None
    """The property firm it is dispatched to."""
    severity: str | None = None
    deadline: dt.datetime | None = None
    rating: int | None = None
    """Satisfaction at follow-up, 1 (very unsatisfied) to 5 (very satisfied)."""
    push_to: str | None = None
    """The connector that sends this case's status changes back to its source (None: none)."""
    provenance: Provenance | None = None


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One step of a case's history: who moved it from which status to which, when and why."""

    case_id: str
    seq: int
    from_status: CaseStatus | None
    to_status: CaseStatus
    at: dt.datetime
    actor: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A change the hub owes a source system, kept until the source acknowledges it.

    Messages to one target are sent in `id` order; a failure schedules the next attempt with
    backoff (`next_attempt_at`) and keeps the message, so nothing is lost while a feed is down.
    """

    id: int
    target: str
    """The connector that delivers it."""
    case_id: str
    external_id: str | None
    payload: dict[str, Any]
    created_at: dt.datetime
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    last_error: str | None = None
    dead: bool = False
    """Given up after the target refused it too often; kept with `last_error` for a person."""


class CaseStore(Protocol):
    """The case part of the store port. Cases are written in bulk through `Store.write`
    (`Batch.cases`, upsert by id; a status change read from a source is kept as an event by the
    source's connector and is never sent back); the hub's own changes go through `move_case`."""

    async def cases(self, ids: Sequence[str], scope: Scope) -> list[Case | None]:
        """The cases with these ids, in order; None where missing or out of scope."""

    async def case_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        statuses: Sequence[CaseStatus] | None = None,
        source: CaseSource | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        by_update: bool = False,
        categories: Sequence[CaseCategory] | None = None,
    ) -> Page[Case]:
        """Cases under `within` (or anywhere) in scope, newest report first, filtered; `since`
        (inclusive) and `until` (exclusive) bound the report time, or the last update when
        `by_update` (Open311 clients read changes by update windows). Page cursors are
        `graph.cursors.encode_cursor(case.id)`, so a connection can make one for any edge."""

    async def cases_by_external(self, source: CaseSource, external_ids: Sequence[str]) -> list[Case | None]:
        """Cases by their source system's id (no scope: connectors link what they read)."""

    async def case_events(self, ids: Sequence[str], scope: Scope) -> list[list[CaseEvent]]:
        """For each case in scope, its history oldest first."""

    async def open_case(self, case: Case, actor: str) -> Case:
        """Store a new case (its id assigned by the store when empty) with its first event."""

    async def move_case(
        self, case_id: str, to: CaseStatus, *, actor: str, note: str, at: dt.datetime, scope: Scope, rating: int | None = None
    ) -> Case:
        """Move a case in scope to `to` after `check_transition`, keep the event, and queue an
        outbox message for `case.push_to` when it has one; raise InvalidInput for an unknown or
        out-of-scope case (the same message) and for an illegal move."""

    async def outbox_due(self, target: str, now: dt.datetime, limit: int = 100) -> list[OutboxMessage]:
        """Unsent messages for `target` whose next attempt is due, oldest first."""

    async def outbox_sent(self, ids: Sequence[int], at: dt.datetime) -> None:
        """Mark messages delivered."""

    async def outbox_failed(self, message_id: int, error: str, next_attempt_at: dt.datetime | None) -> None:
        """Count a failed attempt and schedule the next one; None gives the message up as dead:
        it stays, with its error, but is never sent again and no longer holds back the
        messages behind it."""

    async def outbox_pending(self, target: str | None = None) -> int:
        """How many messages wait to be sent (to one target, or to all); dead ones excluded."""

    async def outbox_dead(self, target: str | None = None, limit: int = 100) -> list[OutboxMessage]:
        """Messages given up as dead (to one target, or to all), oldest first."""
