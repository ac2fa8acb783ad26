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
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

from graph.errors import InvalidInput, StoreError
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
    open past its resolution `deadline`. Every adapter filters by the same rule
    (`CaseStore.case_page`, `CaseStore.overdue_cases`, `CaseTally.overdue`)."""
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
    assignee: str | None = None
    """The member of the firm's staff it is assigned to (graph.staff.dispatch: 智能派单); cleared
    by a return, set again by the next dispatch."""
    arrive_by: dt.datetime | None = None
    """到场时限: when someone must be on site (an emergency: 20 minutes after dispatch, 96139)."""
    arrived_at: dt.datetime | None = None
    """When the assignee reported arriving on site (a position checked against the case's)."""
    version: int = 0
    """The store's count of writes to this case (1 when first stored, one more at every change):
    `CaseStore.update_case` writes only over the version it was given, so two writers that read
    the same case cannot both move it. Set by the store; ignored on the way in."""

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
    {
        "firm_code",
        "dispatched_at",
        "sign_by",
        "signed_at",
        "resolved_at",
        "deadline",
        "rating",
        "escalation",
        "escalated_at",
        "assignee",
        "arrive_by",
        "arrived_at",
    }
)
"""The fields of a case the workflow sets beside its status (`graph.casework.Casework.advance_case`)."""


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
      that carry it (the mean of the two middle ones for an even count); None when none does;
    - `on_site_due`: cases with an on-site deadline (`arrive_by`: emergencies) that are arrived
      or past it; `on_site_in_time`: those arrived at or before it (the 96139 20-minute target).
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
    on_site_due: int = 0
    on_site_in_time: int = 0

    @property
    def on_site_rate(self) -> Fraction | None:
        """到场及时率: on site in time / emergencies whose on-site deadline is due (exact)."""
        return Fraction(self.on_site_in_time, self.on_site_due) if self.on_site_due else None

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


MAX_ID = 59
"""The longest case id: a page cursor (`graph.cursors`) holds at most 59 characters of key."""


def check_case(case: Case) -> None:
    """Raise InvalidInput naming the case and the field when a case cannot be stored as it is
    (every adapter calls this before writing a case, on every path)."""
    where = f"case {case.id!r}"
    if not case.id.strip() or len(case.id) > MAX_ID or not case.id.isprintable():
        raise InvalidInput(f"{where} id", case.id, f"must be 1 to {MAX_ID} printable characters")
    if not case.title.strip():
        raise InvalidInput(f"{where} title", case.title, "must not be empty")
    if len(case.title) > 400:
        raise InvalidInput(f"{where} title", case.title[:40] + "…", "must be at most 400 characters")
    if case.rating is not None and not 1 <= case.rating <= 5:
        raise InvalidInput(f"{where} rating", case.rating, "must be 1 (very unsatisfied) to 5 (very satisfied)")
    if case.point is not None and not (-180 <= case.point.lon <= 180 and -90 <= case.point.lat <= 90):
        raise InvalidInput(f"{where} point", f"{case.point.lon},{case.point.lat}", "is not a WGS-84 longitude, latitude")
    if case.external_id is not None and not 1 <= len(case.external_id) <= 128:
        raise InvalidInput(f"{where} external_id", case.external_id, "must be 1 to 128 characters")
    if case.assignee is not None and not 1 <= len(case.assignee) <= 64:
        raise InvalidInput(f"{where} assignee", case.assignee, "must be 1 to 64 characters")


class DuplicateCase(StoreError):
    """`CaseStore.insert_case` refused a case whose id is already stored (the service numbering
    the hub's cases takes the next number and tries again)."""


@dataclass(frozen=True, slots=True)
class OutboxDraft:
    """A message to queue with a case change (`CaseStore.update_case`): the store adds its id,
    the case's id and external id, no attempts, and makes it due at `created_at`."""

    target: str
    payload: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CaseTally:
    """What a store counts for case figures (`CaseStore.case_tallies`); the arithmetic on top
    (rates, the median) is `graph.casework`'s. Over the cases of one key reported in a period:

    - `cases`: all of them;
    - `due`: those with a `sign_by` that are signed for (`signed_at` set) or whose `sign_by` is
      at or before `now`; `signed_in_time`: those with `signed_at <= sign_by`;
    - `resolved`: those whose status is closed (`CaseStatus.closed`);
    - `rated`: those with a rating; `satisfied`: those rated 4 or 5;
    - `overdue`: those overdue at `now` (`overdue_at`);
    - `resolve_durations`: `resolved_at - reported_at` of each closed case that has a
      `resolved_at`, in any order;
    - `on_site_due`: those with an `arrive_by` that are arrived (`arrived_at` set) or whose
      `arrive_by` is at or before `now`; `on_site_in_time`: those with `arrived_at <= arrive_by`.
    """

    key: str
    cases: int = 0
    due: int = 0
    signed_in_time: int = 0
    resolved: int = 0
    rated: int = 0
    satisfied: int = 0
    overdue: int = 0
    resolve_durations: tuple[dt.timedelta, ...] = ()
    on_site_due: int = 0
    on_site_in_time: int = 0


class CaseStore(Protocol):
    """The case part of the store port: storage primitives only. The rules (the lifecycle, whose
    status wins, id numbering, escalation, figures) are `graph.casework`'s, run over these.

    Shared contract:
    - Scope: a case is in a caller's scope when its `place_code` is; a case linked to no place
      belongs to the city as a whole and is seen only by a scope holding a whole city (or
      everything). Out of scope behaves as absent: None, an empty list, not listed.
    - Times are aware datetimes, stored to the microsecond and returned in UTC.
    - Cases are also written in bulk through `Store.write` (`Batch.cases`, upsert by id, a
      status change read from a source kept as an event by that source and never queued to
      the outbox; `graph.casework.merge_source_record` decides what a rewrite keeps).
    - Every write below is atomic: a refused write changes nothing.
    """

    # -- finds ------------------------------------------------------------------------------

    async def cases(self, ids: Sequence[str], scope: Scope) -> list[Case | None]:
        """The cases with these ids, in key order; None where missing or out of scope."""

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
        assignee: str | None = None,
    ) -> Page[Case]:
        """A page of the cases in scope, newest report first (ties: id descending), `first`
        clamped to 1..MAX_PAGE, filtered: under `within` (a case with no place is listed under
        a city; an unknown `within` gives an empty page); `statuses`, `categories`, `source`;
        `since` (inclusive) and `until` (exclusive) bound the report time, or the last update
        when `by_update` (the order stays by report); `overdue` keeps the cases that are (True)
        or are not (False) overdue at `now` (`overdue_at`; InvalidInput naming `now` without
        it); `firm_code` those dispatched to that firm; `assignee` those assigned to that member of
        staff. Cursors are
        `graph.cursors.encode_cursor(case.id)`, so any edge has one; a cursor naming no case is
        InvalidInput naming `after`."""

    async def cases_by_external(self, source: CaseSource, external_ids: Sequence[str]) -> list[Case | None]:
        """Cases by their source system's id, in key order, None where none; unscoped
        (connectors link what they read, never for answering a caller)."""

    async def case_events(self, ids: Sequence[str], scope: Scope) -> list[list[CaseEvent]]:
        """For each case id, its history in `seq` order (1, 2, …); empty where missing or out
        of scope."""

    async def overdue_cases(
        self, now: dt.datetime, below: Escalation, limit: int = 500, after: str | None = None
    ) -> list[Case]:
        """Unscoped (the hub's sweep): cases overdue at `now` (`overdue_at`) never escalated or
        escalated below the rung `below`, by id ascending, ids greater than `after`, at most
        `limit` (clamped to 1..10 × MAX_PAGE)."""

    async def case_tallies(
        self,
        keys: Sequence[str],
        scope: Scope,
        *,
        firms: bool = False,
        now: dt.datetime,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[CaseTally | None]:
        """One `CaseTally` per key, in key order, over cases reported in [since, until) (either
        bound optional) at places in scope. Keys are place codes (each place's subtree, itself
        included; None where the place is missing or out of scope) or, with `firms`, firms'
        credit codes (the cases dispatched to the firm; an unknown firm gives a zero tally)."""

    # -- writes -----------------------------------------------------------------------------

    async def next_number(self, key: str) -> int:
        """Atomically add one to the counter named `key` and return it: 1 the first time, and
        never the same number twice for one key, however many writers ask at once. Counters
        are independent of one another and of everything else; a key is 1 to 64 characters
        (InvalidInput otherwise)."""

    async def insert_case(self, case: Case, event: CaseEvent) -> Case:
        """Store a new case (`check_case`; its `id` given, its `version` set to 1) with `event`
        as the first of its history (seq 1), unscoped; return it as stored. DuplicateCase when
        the id is taken; StoreError naming the case when its (source, external id) is another
        case's, or its place or firm is not in the store; nothing is stored then."""

    async def update_case(
        self,
        case: Case,
        *,
        expect: int,
        events: Sequence[CaseEvent] = (),
        messages: Sequence[OutboxDraft] = (),
    ) -> Case | None:
        """Compare-and-set, unscoped (the caller read the case in its scope): if the stored
        case `case.id` is at version `expect`, replace everything it holds but its id, source,
        external id and report time by `case`'s (`check_case`), make its version `expect` + 1,
        append `events` to its history (their `seq` and `case_id` ignored: numbered on after
        the last), and queue `messages` to the outbox for it, in one atomic step; return the
        case as stored. None, with nothing changed, when the case is missing or its version is
        not `expect` (another writer got there first). StoreError naming the case when its firm
        or place is not in the store (nothing changed)."""

    # -- the outbox -------------------------------------------------------------------------

    async def outbox_messages(self, target: str | None, *, dead: bool = False, limit: int = 100) -> list[OutboxMessage]:
        """Unsent messages to `target` (None: to every target), oldest (lowest id) first, at
        most `limit` (clamped to 1..MAX_PAGE): those still to deliver, or with `dead` those
        given up. Unscoped (the hub's delivery)."""

    async def outbox_sent(self, ids: Sequence[int], at: dt.datetime) -> None:
        """Mark these messages delivered at `at`; ids unknown or already sent are left as they
        are (a redelivery's acknowledgement changes nothing)."""

    async def outbox_failed(self, message_id: int, error: str, next_attempt_at: dt.datetime | None) -> None:
        """Count a failed attempt (error kept, cut to 2000 characters) and schedule the next
        one at `next_attempt_at`; None gives the message up as dead: it stays, with its error,
        but is never due again. A sent or unknown message is left as it is."""

    async def assigned_loads(self, assignees: Sequence[str]) -> list[int]:
        """For each member of staff, how many open cases (`OPEN_STATUSES`) are assigned to it,
        in key order (0 for none or an unknown id). Unscoped (the hub's dispatch)."""

    async def outbox_pending(self, target: str | None = None) -> int:
        """How many messages wait to be delivered (to one target, or to all); dead ones and
        sent ones excluded."""
