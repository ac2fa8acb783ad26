"""The rules of cases, run over the store port (`graph.cases.CaseStore`) on any backend.

An adapter stores, finds and counts; everything decided about a case is decided here, once:

- the lifecycle: every step is checked by `check_transition`, kept as a `CaseEvent`, and queued
  to the outbox for the case's source (`push_to`) when it has one; the step times
  (`dispatched_at`, `signed_at`, `resolved_at`) are recorded as a case enters those statuses;
- concurrency: a change reads the case in the caller's scope and writes it back with
  `CaseStore.update_case`, a compare-and-set on the case's version, so a change planned on a
  case another writer moved meanwhile is planned again on what that writer left (and refused if
  the move is no longer legal), never applied over it;
- id numbering: the hub's own cases are `GD` + the day of report in China + a six-digit
  sequence of that day (`graph.daily_ids`), drawn from the store's counter;
- whose status wins when a source rewrites a case (`merge_source_record`);
- escalation: a rung is reached once (`escalate_case` writes only over the version it checked);
- case figures: a store counts (`CaseTally`), `metrics_of` makes the figures, the median
  exactly (integer microseconds) before it is rounded to the millisecond.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

from graph.cases import (
    Case,
    CaseEvent,
    CaseMetrics,
    CaseStatus,
    CaseTally,
    DuplicateCase,
    Escalation,
    OutboxDraft,
    OutboxMessage,
    WORKFLOW_FIELDS,
    check_case,
    check_transition,
)
from graph.daily_ids import daily_id, day_prefix
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.scope import Scope
from graph.store import MAX_PAGE, Store

HUB_PREFIX = "GD"
"""工单 (gōngdān): the prefix of the hub's own case ids."""

EVERYTHING = Scope.everything()
ATTEMPTS = 8
"""How often a change is planned again when another writer moved the case first."""

STEP_TIMES = {
    CaseStatus.DISPATCHED: "dispatched_at",
    CaseStatus.SIGNED: "signed_at",
    CaseStatus.RESOLVED: "resolved_at",
}
"""The time a hub move into each step records."""

SOURCE_KEEPS = (
    "dispatched_at", "sign_by", "signed_at", "resolved_at", "escalation", "escalated_at", "assignee", "arrive_by", "arrived_at",
)
"""The workflow's fields: the hub's own, never taken from a source's rewrite."""


def _utc(at: dt.datetime, field: str = "at") -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(field, at.isoformat(), "must be an aware time")
    return at.astimezone(dt.timezone.utc)


def _unseen(case_id: str) -> InvalidInput:
    """The answer for an unknown and for an out-of-scope case, word for word the same."""
    return InvalidInput("id", case_id, "is not a case you can see")


# -- whose status wins ---------------------------------------------------------------------


def merge_source_record(stored: Case, incoming: Case, *, waiting: bool) -> Case:
    """What a source's rewrite of a stored case leaves, so a source and the hub never fight
    over a case's status:

    - the record's facts are taken, but not the workflow's fields (`SOURCE_KEEPS`);
    - while the case has messages waiting in the outbox (`waiting`: the hub's change has not
      reached the source yet), or when the record is older than what the hub holds, the
      record's status, rating and update time are not taken: reading the source back must not
      undo what the hub did.
    """
    kept = incoming
    if waiting or incoming.updated_at < stored.updated_at:
        kept = replace(kept, status=stored.status, rating=stored.rating, updated_at=stored.updated_at)
    return replace(kept, **{name: getattr(stored, name) for name in SOURCE_KEEPS}, version=stored.version)


def source_event(case: Case, before: CaseStatus | None, at: dt.datetime) -> CaseEvent:
    """The event a status read from a source is kept as: the source is the actor, and it is
    never queued back to the outbox. `seq` is left to the store."""
    actor = case.provenance.source if case.provenance else case.source.value
    record = f" (record {case.provenance.record_id})" if case.provenance else ""
    return CaseEvent(case.id, 0, before, case.status, at, actor, f"read from {actor}{record}")


# -- figures -------------------------------------------------------------------------------


def median_seconds(durations: Sequence[dt.timedelta]) -> float | None:
    """The median duration in seconds (the mean of the two middle ones for an even count),
    computed exactly on microseconds and rounded to the millisecond; None for none.

    >>> median_seconds([dt.timedelta(hours=1), dt.timedelta(hours=3), dt.timedelta(hours=2)])
    7200.0
    >>> median_seconds([dt.timedelta(seconds=1), dt.timedelta(seconds=2, microseconds=1)])
    1.5
    """
    if not durations:
        return None
    micro = sorted(duration // dt.timedelta(microseconds=1) for duration in durations)
    middle = Fraction(micro[(len(micro) - 1) // 2] + micro[len(micro) // 2], 2 * 10**6)
    return round(float(middle), 3)


def metrics_of(tally: CaseTally) -> CaseMetrics:
    """The figures of one tally (`CaseMetrics` makes the rates from the counts)."""
    return CaseMetrics(
        key=tally.key,
        cases=tally.cases,
        due=tally.due,
        signed_in_time=tally.signed_in_time,
        resolved=tally.resolved,
        rated=tally.rated,
        satisfied=tally.satisfied,
        overdue=tally.overdue,
        median_resolve_seconds=median_seconds(tally.resolve_durations),
        on_site_due=tally.on_site_due,
        on_site_in_time=tally.on_site_in_time,
    )


def due_messages(waiting: Sequence[OutboxMessage], now: dt.datetime) -> list[OutboxMessage]:
    """The messages to send now, in order: order is kept per target, so a message waiting for
    its retry holds back every message behind it."""
    due: list[OutboxMessage] = []
    for message in waiting:
        if message.next_attempt_at is None or message.next_attempt_at > now:
            break
        due.append(message)
    return due


# -- the service ---------------------------------------------------------------------------


class Casework:
    """The case rules over a store; cheap to build (one per request is fine)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def open_case(self, case: Case, actor: str) -> Case:
        """Store a new case with its first event (accepted by `actor` at its report time); an
        empty id is numbered `GD<day in China><sequence>`. StoreError when a given id is taken
        or the case names a place or firm the store does not hold."""
        for _ in range(ATTEMPTS):
            key = case.id or await self.next_hub_id(case.reported_at)
            opened = replace(case, id=key)
            check_case(opened)
            first = CaseEvent(key, 1, None, opened.status, _utc(opened.reported_at, "reported_at"), actor, "")
            try:
                return await self.store.insert_case(opened, first)
            except DuplicateCase:
                if case.id:
                    raise
        raise StoreError(f"case {case.id or '(new)'} could not be stored: other writers kept taking its id")

    async def next_hub_id(self, reported_at: dt.datetime) -> str:
        """The next `GD<yyyymmdd><000001>` of the report's day in China."""
        head = day_prefix(HUB_PREFIX, reported_at)
        return daily_id(head, await self.store.next_number(head), what="cases opened")

    async def move_case(
        self,
        case_id: str,
        to: CaseStatus,
        *,
        actor: str,
        note: str,
        at: dt.datetime,
        scope: Scope,
        rating: int | None = None,
    ) -> Case:
        """Move a case in scope one step (`advance_case` with that step); a rating is required
        with FOLLOWED_UP and refused with any other step."""
        if to is CaseStatus.FOLLOWED_UP:
            if rating is None or not 1 <= rating <= 5:
                raise InvalidInput("rating", rating, "is required with followed_up (回访): 1 (very unsatisfied) to 5 (very satisfied)")
        elif rating is not None:
            raise InvalidInput("rating", rating, "is given only when a case is followed up (回访)")
        changes = {"rating": rating} if rating is not None else None
        return await self.advance_case(case_id, [to], actor=actor, note=note, at=at, scope=scope, changes=changes)

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
        assignee: str | None = None,
    ) -> Case:
        """Move a case in scope through `steps` in order (each checked by `check_transition`,
        each kept as an event with the same actor, time and note, each queued to the outbox for
        `push_to`), record when it entered dispatched, signed and resolved, and set the
        `WORKFLOW_FIELDS` in `changes`, as one write. No steps records an event that keeps the
        status. `expect`, when given, is the statuses the case must be in and `firm` the firm
        it must be dispatched to (InvalidInput otherwise), both checked on the version written
        over; `assignee` the member of staff it must be assigned to (the same answer as an
        unknown id otherwise: a member of staff sees nothing but its own cases). Unknown and
        out-of-scope ids raise the same InvalidInput."""
        wanted = dict(changes or {})
        unknown = set(wanted) - WORKFLOW_FIELDS
        if unknown:
            raise StoreError(f"advance_case sets only the workflow's fields, not {', '.join(sorted(unknown))}")
        rating = wanted.get("rating")
        if rating is not None and not (isinstance(rating, int) and 1 <= rating <= 5):
            raise InvalidInput("rating", rating, "must be 1 (very unsatisfied) to 5 (very satisfied)")
        if CaseStatus.FOLLOWED_UP in steps and rating is None:
            raise InvalidInput("rating", rating, "is required with followed_up (回访): 1 (very unsatisfied) to 5 (very satisfied)")
        if len(note) > 2000:
            raise InvalidInput("note", note[:40] + "…", "must be at most 2000 characters")
        firm_code = wanted.get("firm_code")
        if firm_code is not None:
            [known] = await self.store.firms([str(firm_code)], EVERYTHING)
            if known is None:
                raise InvalidInput("firm", firm_code, "is not a property firm the hub knows")
        moment = _utc(at)
        for _ in range(ATTEMPTS):
            [case] = await self.store.cases([case_id], scope)
            if case is None or (assignee is not None and case.assignee != assignee):
                raise _unseen(case_id)
            moved, events, messages = _plan(case, steps, wanted, actor=actor, note=note, at=moment, expect=expect, firm=firm)
            stored = await self.store.update_case(moved, expect=case.version, events=events, messages=messages)
            if stored is not None:
                return stored
        raise StoreError(f"case {case_id} kept changing under this move: try again")

    async def escalation_candidates(self, now: dt.datetime, limit: int = 500, after: str | None = None) -> list[Case]:
        """Unscoped: overdue cases at `now` below the top rung of the ladder, by id, after the
        id `after` (a sweep pages through them all)."""
        return await self.store.overdue_cases(now, max(Escalation), limit, after)

    async def escalate_case(self, case_id: str, rung: Escalation, *, actor: str, note: str, at: dt.datetime) -> Case | None:
        """Unscoped (the hub's sweep): raise the case to `rung` with an event that keeps its
        status, only if it is still below that rung on the version written over, so a rung is
        never reached twice; None when it is not (or the case is gone)."""
        moment = _utc(at)
        for _ in range(ATTEMPTS):
            [case] = await self.store.cases([case_id], EVERYTHING)
            if case is None or (case.escalation is not None and case.escalation >= rung):
                return None
            raised = replace(case, escalation=rung, escalated_at=moment, updated_at=moment)
            event = CaseEvent(case.id, 0, case.status, case.status, moment, actor, note)
            stored = await self.store.update_case(raised, expect=case.version, events=[event])
            if stored is not None:
                return stored
        return None

    # -- figures -----------------------------------------------------------------------------

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
        codes: list[str] = []
        after: str | None = None
        while True:
            page = await self.store.subtree(group_by, within, scope, MAX_PAGE, after)
            codes += [place.code for place in page.items]
            if not page.has_next:
                break
            after = page.end_cursor
        if not codes:
            return []
        tallies = await self.store.case_tallies(codes, scope, now=now, since=since, until=until)
        return [metrics_of(tally) for tally in tallies if tally is not None]

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
        tallies = await self.store.case_tallies(codes, scope, now=now, since=since, until=until)
        return [metrics_of(tally) if tally is not None else None for tally in tallies]

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
        tallies = await self.store.case_tallies(firm_codes, scope, firms=True, now=now, since=since, until=until)
        return [metrics_of(tally) if tally is not None else CaseMetrics(key=code) for code, tally in zip(firm_codes, tallies)]

    # -- the outbox --------------------------------------------------------------------------

    async def outbox_due(self, target: str, now: dt.datetime, limit: int = 100) -> list[OutboxMessage]:
        """Unsent messages for `target` whose next attempt is due, oldest first, stopping at
        the first that is not (`due_messages`)."""
        return due_messages(await self.store.outbox_messages(target, limit=limit), _utc(now, "now"))


def _plan(
    case: Case,
    steps: Sequence[CaseStatus],
    wanted: Mapping[str, object],
    *,
    actor: str,
    note: str,
    at: dt.datetime,
    expect: Sequence[CaseStatus] | None,
    firm: str | None,
) -> tuple[Case, list[CaseEvent], list[OutboxDraft]]:
    """The case after `steps` and `wanted`, its events and its outbox messages (see
    `Casework.advance_case`); InvalidInput for a move the case may not make."""
    if firm is not None and case.firm_code != firm:
        raise InvalidInput("id", case.id, f"is not dispatched to your firm ({firm})")
    if expect is not None and case.status not in expect:
        wanted_steps = " or ".join(f"{status.value} ({status.label})" for status in expect)
        raise InvalidInput(
            "status", case.status.value, f"case {case.id} is {case.status.value} ({case.status.label}): this step takes a case that is {wanted_steps}"
        )
    current = case.status
    for step in steps:
        check_transition(case.id, current, step)
        current = step
    values: dict[str, Any] = {"status": current, "updated_at": at}
    for step in steps:
        if step in STEP_TIMES:
            values[STEP_TIMES[step]] = at
    for name, value in wanted.items():
        if name == "escalation":
            values[name] = Escalation(int(value)) if value is not None else None  # type: ignore[call-overload]
        elif name == "firm_code":
            values[name] = str(value) if value is not None else None
        else:
            values[name] = value
    moved = replace(case, **values)
    rating = wanted.get("rating")
    events: list[CaseEvent] = []
    messages: list[OutboxDraft] = []
    before = case.status
    for step in steps or [before]:
        events.append(CaseEvent(case.id, 0, before, step, at, actor, note))
        if case.push_to and steps:
            payload = {
                "status": step.value,
                "label": step.label,
                "from": before.value,
                "note": note,
                "at": at.isoformat(),
                "actor": actor,
                "rating": rating if step is CaseStatus.FOLLOWED_UP else None,
            }
            messages.append(OutboxDraft(case.push_to, payload, at))
        before = step
    return moved, events, messages
