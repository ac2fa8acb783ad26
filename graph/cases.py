"""Cases (工单): work orders from owners, the 12345 hotline, city operations, device alarms and
patrols, with the 12345 lifecycle and the outbox that sends status changes back to their source.

The lifecycle (DESIGN.md): accepted (受理) → dispatched (派单) → signed for (签收) → in progress
(办理) → resolved (办结) → followed up with a rating (回访) → archived (归档); a dispatched,
signed or in-progress case may be returned (退单) and is then dispatched again. Every transition
is checked here, whatever store keeps the case, and kept as a `CaseEvent`.

Open311 GeoReport v2 knows only `open` and `closed`: resolved, followed-up and archived cases are
closed, everything else is open; the Chinese step goes into `status_notes`.

Deadlines and escalation (the rules live in `graph.workflow`): a dispatched case must be signed
for by `sign_by` and, once signed, resolved by `deadline`. A case is *overdue* while it is
dispatched and unsigned past `sign_by`, or open (not resolved) past `deadline`; an overdue case
climbs the escalation ladder (`Escalation`) one rung per period, never the same rung twice.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from graph.errors import InvalidInput
from graph.levels import Level
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


class Escalation(enum.IntEnum):
    """The rungs of the escalation ladder (DESIGN.md): small matters go to the firm's steward,
    general ones to the owners' committee, large ones to the street. The value is the rung."""

    STEWARD = 1  # 物业管家
    COMMITTEE = 2  # 业委会
    STREET = 3  # 街道

    @property
    def label(self) -> str:
        return _ESCALATION_LABELS[self]


_ESCALATION_LABELS = {Escalation.STEWARD: "物业管家", Escalation.COMMITTEE: "业委会", Escalation.STREET: "街道"}

OPEN_STATUSES = frozenset(
    {CaseStatus.ACCEPTED, CaseStatus.DISPATCHED, CaseStatus.SIGNED, CaseStatus.IN_PROGRESS, CaseStatus.RETURNED}
)
"""Statuses whose work is not done: a deadline still binds them."""


def overdue_at(case: Case, now: dt.datetime) -> bool:
    """Whether the case is overdue at `now`: dispatched and not signed for past `sign_by`, or
    open past its resolution `deadline`. The SQL adapter filters by the same rule."""
    if case.status is CaseStatus.DISPATCHED and case.sign_by is not None and case.sign_by < now:
        return True
    return case.status in OPEN_STATUSES and case.deadline is not None and case.deadline < now


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
    dispatched_at: dt.datetime | None = None
    """The last dispatch (派单); the response period starts here."""
    sign_by: dt.datetime | None = None
    """签收时限: when the firm must have signed for the last dispatch."""
    signed_at: dt.datetime | None = None
    """When the firm signed for it (签收); the resolution `deadline` starts here."""
    resolved_at: dt.datetime | None = None
    """When it was resolved (办结); cleared when an unsatisfied follow-up reopens the work."""
    escalation: Escalation | None = None
    """The highest rung of the escalation ladder reached (None: never escalated)."""
    escalated_at: dt.datetime | None = None
    """When it reached that rung."""

    def overdue(self, now: dt.datetime) -> bool:
        return overdue_at(self, now)


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


WORKFLOW_FIELDS = frozenset(
    {"firm_code", "dispatched_at", "sign_by", "signed_at", "resolved_at", "deadline", "rating", "escalation", "escalated_at"}
)
"""The fields of a case the workflow sets beside its status (`CaseStore.advance_case`)."""


@dataclass(frozen=True, slots=True)
class CaseMetrics:
    """Case figures of a place's subtree or of a firm, over cases reported in a period.

    - `cases`: cases reported in the period;
    - `due`: dispatched cases whose response is due: signed for, or `sign_by` passed;
      `signed_in_time`: those signed for at or before `sign_by`;
    - `resolved`: cases whose work is done (办结, 回访 or 归档);
    - `rated` / `satisfied`: cases with a rating / with a rating of 4 or 5;
    - `overdue`: cases overdue now (`overdue_at`);
    - `median_resolve_seconds`: the median time from report to `resolved_at` over resolved cases
      that carry it (the mean of the two middle ones for an even count); None when none does.
    """

    key: str
    """The place code or the firm's credit code."""
    cases: int = 0
    due: int = 0
    signed_in_time: int = 0
    resolved: int = 0
    rated: int = 0
    satisfied: int = 0
    overdue: int = 0
    median_resolve_seconds: float | None = None

    @property
    def response_rate(self) -> float | None:
        """响应率: signed for in time / dispatched cases whose response is due."""
        return self.signed_in_time / self.due if self.due else None

    @property
    def resolution_rate(self) -> float | None:
        """解决率: resolved / all cases."""
        return self.resolved / self.cases if self.cases else None

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率: ratings of 4 or 5 / rated cases."""
        return self.satisfied / self.rated if self.rated else None


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
        overdue: bool | None = None,
        now: dt.datetime | None = None,
        firm_code: str | None = None,
    ) -> Page[Case]:
        """Cases under `within` (or anywhere) in scope, newest report first, filtered; `since`
        (inclusive) and `until` (exclusive) bound the report time, or the last update when
        `by_update` (Open311 clients read changes by update windows); `overdue` keeps only the
        cases that are (True) or are not (False) overdue at `now` (required with it);
        `firm_code` only those dispatched to that firm. Page cursors are
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

    async def advance_case(
        self,
        case_id: str,
        steps: Sequence[CaseStatus],
        *,
        actor: str,
        note: str,
        at: dt.datetime,
        scope: Scope,
        changes: Mapping[str, object] | None = None,
        expect: Sequence[CaseStatus] | None = None,
        firm: str | None = None,
    ) -> Case:
        """Move a case in scope through `steps` in order (each checked by `check_transition`,
        each kept as an event with the same actor, time and note, each queued to the outbox
        like `move_case`), record when it entered dispatched, signed and resolved, and set the
        `WORKFLOW_FIELDS` in `changes`, in one transaction. No steps records an event that
        keeps the status. `expect`, when given, is the statuses the case must be in and `firm`
        the firm it must be dispatched to, both checked under the row lock (InvalidInput
        otherwise). Unknown and out-of-scope ids raise the same InvalidInput."""

    async def escalation_candidates(self, now: dt.datetime, limit: int = 500, after: str | None = None) -> list[Case]:
        """Unscoped: overdue cases at `now` (`overdue_at`) below the top rung of the ladder,
        by id, after the id `after` (a sweep pages through them all: a case waiting for its
        next rung stays a candidate and must not hold back the ones behind it)."""

    async def escalate_case(self, case_id: str, rung: Escalation, *, actor: str, note: str, at: dt.datetime) -> Case | None:
        """Unscoped (the hub's sweep): raise the case to `rung` and keep an event that leaves
        its status as it is, only if the case is still below that rung (checked in the same
        write, so a rung is never reached twice); None when it is not."""

    async def case_metrics(
        self,
        within: str,
        group_by: Level,
        scope: Scope,
        *,
        now: dt.datetime,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[CaseMetrics]:
        """One row per place of `group_by` under `within` in scope (by code; places without
        cases give zero rows), over cases reported in [since, until) at places in scope."""

    async def place_case_metrics(
        self,
        codes: Sequence[str],
        scope: Scope,
        *,
        now: dt.datetime,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[CaseMetrics | None]:
        """The figures of each place's subtree, in key order; None where missing or out of scope."""

    async def firm_case_metrics(
        self,
        firm_codes: Sequence[str],
        scope: Scope,
        *,
        now: dt.datetime,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[CaseMetrics]:
        """The figures of the cases dispatched to each firm at places in scope, in key order."""

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
