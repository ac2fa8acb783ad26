"""The case workflow (工单流转): opening, dispatch to the managing firm, signing, resolving,
follow-up with a rating, returns, deadlines and the escalation ladder — the 12345 lifecycle of
DESIGN.md on top of the store's checked transitions (`graph.cases.TRANSITIONS`).

Dispatch (派单). A case goes to the property firm managing, on the day (China), the estate that
holds its place (a house, entrance or building lies in an estate; an estate is one), or — for a
case with only a point — the estate whose outline holds the point (`graph.geo.PlaceLocator`).
A case whose place no firm manages stays accepted (受理): the street dispatches it by hand,
naming a firm.

Deadlines (`DeadlinePolicy`). A dispatch sets `sign_by` (签收时限: the response period from the
dispatch); signing sets `deadline` (办结时限: the resolution period from the signing, as DESIGN
says: deadlines start at signing). Defaults, by category:

| category            | sign for within | resolve within |
|---------------------|-----------------|----------------|
| emergency 紧急       | 20 min (96139)  | 4 h            |
| repair 报修          | 2 h             | 24 h           |
| complaint 投诉       | 4 h             | 3 days         |
| consultation 咨询    | 4 h             | 1 day          |
| suggestion 建议      | 1 day           | 5 days         |

A severity shortens both periods: `critical` to a quarter (an emergency: sign 5 min, resolve
1 h), `major` to a half (an emergency: 10 min, 2 h); `minor`, `warning` and none leave them.

Steps. `sign`: dispatched → signed. `resolve`: signed or in progress → resolved; from signed it
passes in progress, and both steps are kept. `rate` (回访, resolved cases only): a rating of 3 to
5 is satisfied enough to close — followed up, then archived (归档); 1 or 2 reopens the work:
resolved → in progress (the TRANSITIONS' reopening move), the rating kept, `resolved_at`
cleared and a fresh resolution deadline from the follow-up. `return_case` (退单): dispatched,
signed or in progress → returned, with a reason; the firm and its deadlines are cleared, and the
case is dispatched again (`dispatch`). Every step goes through `check_transition` (graph.casework)
and is kept as history with who, when and the note.

Escalation (`escalate_due`, run periodically). A case is overdue while dispatched and unsigned
past `sign_by`, or open past `deadline`. Overdue by less than one period (the period of the
deadline it missed: the response period for `sign_by`, the resolution period for `deadline`) it
goes to the firm's steward (物业管家); each further whole period climbs one rung: the owners'
committee (业委会), then the street (街道). The rung reached is kept on the case with its time,
and each escalation is an event (actor `hub:escalation`, e.g. 逾期未签收，升级至业委会). A rung is
never reached twice, and a sweep that runs late goes straight to the rung due. A case keeps its
rung through later deadlines: a re-dispatched case climbs on only from where it stood.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from graph.cases import Case, CaseCategory, CaseStatus, Escalation, Point
from graph.casework import Casework
from graph.clock import CHINA_STANDARD_TIME
from graph.errors import InvalidInput
from graph.events import Event, EventBus, Topic
from graph.geo import PlaceLocator
from graph.levels import Level
from graph.reach import Reach
from graph.scope import Scope
from graph.staff.dispatch import Assigner
from graph.staff.distance import metres
from graph.store import Store

EVERYTHING = Scope.everything()
ESCALATION_ACTOR = "hub:escalation"
DISPATCH_ACTOR = "hub:dispatch"
SATISFIED = 3
"""The lowest rating that closes a case at follow-up; below it the work reopens."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    sign_within: dt.timedelta
    """签收时限: from dispatch to signing for it."""
    resolve_within: dt.timedelta
    """办结时限: from signing to resolving."""

    def scaled(self, factor: float) -> Deadlines:
        return Deadlines(self.sign_within * factor, self.resolve_within * factor)


DEFAULT_DEADLINES: Mapping[CaseCategory, Deadlines] = {
    CaseCategory.EMERGENCY: Deadlines(dt.timedelta(minutes=20), dt.timedelta(hours=4)),
    CaseCategory.REPAIR: Deadlines(dt.timedelta(hours=2), dt.timedelta(hours=24)),
    CaseCategory.COMPLAINT: Deadlines(dt.timedelta(hours=4), dt.timedelta(days=3)),
    CaseCategory.CONSULTATION: Deadlines(dt.timedelta(hours=4), dt.timedelta(days=1)),
    CaseCategory.SUGGESTION: Deadlines(dt.timedelta(days=1), dt.timedelta(days=5)),
}
DEFAULT_SEVERITY_FACTORS: Mapping[str, float] = {"critical": 0.25, "major": 0.5}
DEFAULT_ON_SITE: Mapping[CaseCategory, dt.timedelta] = {CaseCategory.EMERGENCY: dt.timedelta(minutes=20)}
"""到场时限 from dispatch, by category: an emergency's 20 minutes (96139: 电梯困人 rescue on site
within 20 minutes); other categories have none. Not shortened by severity."""


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """Response and resolution periods by category, shortened by severity (see the module
    docstring for the defaults). A deployment passes its own tables."""

    by_category: Mapping[CaseCategory, Deadlines] = field(default_factory=lambda: dict(DEFAULT_DEADLINES))
    severity_factors: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_FACTORS))
    on_site: Mapping[CaseCategory, dt.timedelta] = field(default_factory=lambda: dict(DEFAULT_ON_SITE))

    def __post_init__(self) -> None:
        missing = [category.value for category in CaseCategory if category not in self.by_category]
        if missing:
            raise InvalidInput("policy", ", ".join(missing), "has no deadlines for these categories")
        for category, periods in self.by_category.items():
            if periods.sign_within <= dt.timedelta(0) or periods.resolve_within <= dt.timedelta(0):
                raise InvalidInput("policy", category.value, "periods must be positive")
        for severity, factor in self.severity_factors.items():
            if not 0 < factor <= 1:
                raise InvalidInput("policy", severity, "a severity may only shorten periods (factor in (0, 1])")

    def for_case(self, category: CaseCategory, severity: str | None) -> Deadlines:
        periods = self.by_category[category]
        factor = self.severity_factors.get((severity or "").strip().lower())
        return periods if factor is None else periods.scaled(factor)


def _real_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _unseen(case_id: str) -> InvalidInput:
    """The store's answer for an unknown or out-of-scope case, word for word."""
    return InvalidInput("id", case_id, "is not a case you can see")


class Workflow:
    """The rules of cases over a store; cheap to build (one per request is fine). Changes are
    announced on `bus` as `Event(Topic.CASES, case id, kind, place code)`."""

    def __init__(
        self,
        store: Store,
        *,
        bus: EventBus | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        policy: DeadlinePolicy | None = None,
        locator: PlaceLocator | None = None,
        assigner: Assigner | None = None,
    ) -> None:
        self.store = store
        self.assigner = assigner or Assigner(store)
        self.work = Casework(store)
        self.bus = bus
        self.clock = clock or _real_now
        self.policy = policy or DeadlinePolicy()
        self.locator = locator or PlaceLocator(store)

    # -- helpers -------------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        now = self.clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the workflow's clock must give aware times")
        return now.astimezone(dt.timezone.utc)

    def _publish(self, case: Case, *kinds: str) -> None:
        if self.bus is not None:
            for kind in kinds:
                self.bus.publish(Event(Topic.CASES, case.id, kind, case.place_code))

    async def _seen(self, case_id: str, scope: Scope) -> Case:
        [found] = await self.store.cases([case_id], scope)
        if found is None:
            raise _unseen(case_id)
        return found

    async def estate_of(self, case: Case) -> str | None:
        """The estate holding the case's house, entrance, building or estate; for a case
        whose place is above the estate level (or that has none), the estate around its point."""
        if case.place_code is not None:
            [place] = await self.store.places([case.place_code], EVERYTHING)
            if place is not None and place.level == Level.ESTATE:
                return place.code
            if place is not None and place.level > Level.ESTATE:
                [lineage] = await self.store.ancestors([place.code], EVERYTHING)
                estate = next((p.code for p in lineage if p.level == Level.ESTATE), None)
                if estate is not None:
                    return estate
        if case.point is not None:
            return await self.locator.estate_at(case.point)
        return None

    async def firm_for(self, case: Case) -> str | None:
        """The firm managing the case's estate today (in China), if any; the newest
        management wins should two overlap."""
        estate = await self.estate_of(case)
        if estate is None:
            return None
        day = self._now().astimezone(CHINA_STANDARD_TIME).date()
        [spans] = await self.store.managements([estate], day, EVERYTHING)
        if not spans:
            return None
        return max(spans, key=lambda span: (span.since, span.firm_code)).firm_code

    # -- the steps -----------------------------------------------------------------------

    async def open_case(
        self, case: Case, *, actor: str, scope: Scope = EVERYTHING, dispatch: bool = True
    ) -> Case:
        """Store a new case (id assigned when empty; status ACCEPTED) and, when `dispatch` and a
        firm manages the estate holding its place or point, dispatch it at once. Its place and
        point must be within `scope` by the rule of writes (graph.reach; an owner opens cases
        only at its own houses): OutOfReach otherwise. A case given only a point is linked to
        the estate (else the community) around it."""
        case = replace(
            case,
            status=CaseStatus.ACCEPTED,
            updated_at=case.reported_at,
            firm_code=None,
            dispatched_at=None,
            sign_by=None,
            signed_at=None,
            resolved_at=None,
            escalation=None,
            escalated_at=None,
            rating=None,
            assignee=None,
            arrive_by=None,
            arrived_at=None,
        )
        # where it lands, by the one rule of writes (graph.reach): a place in scope, a point in one
        reach = Reach(self.store, scope, self.locator)
        case = replace(case, place_code=await reach.landing(code=case.place_code, point=case.point))
        opened = await self.work.open_case(case, actor)
        self._publish(opened, "opened")
        if not dispatch:
            return opened
        firm = await self.firm_for(opened)
        if firm is None:
            return opened
        note = f"自动派单：{firm} 管理该小区"
        return await self._dispatch(opened.id, firm, actor=DISPATCH_ACTOR, scope=EVERYTHING, note=note)

    async def dispatch(
        self, case_id: str, *, actor: str, scope: Scope, firm_code: str | None = None, note: str = ""
    ) -> Case:
        """Dispatch an accepted or returned case to `firm_code` (a firm the hub knows) or, when
        none is named, to the firm managing its estate; InvalidInput if there is none."""
        case = await self._seen(case_id, scope)
        if firm_code is not None:
            firm_code = firm_code.strip().upper()
            [known] = await self.store.firms([firm_code], EVERYTHING)
            if known is None:
                raise InvalidInput("firm", firm_code, "is not a property firm the hub knows")
        else:
            firm_code = await self.firm_for(case)
            if firm_code is None:
                raise InvalidInput(
                    "firm", None, f"no property firm manages the estate of case {case_id} today: name the firm to dispatch to"
                )
        return await self._dispatch(case_id, firm_code, actor=actor, scope=scope, note=note)

    async def _dispatch(self, case_id: str, firm_code: str, *, actor: str, scope: Scope, note: str) -> Case:
        now = self._now()
        case = await self._seen(case_id, scope)
        periods = self.policy.for_case(case.category, case.severity)
        on_site = self.policy.on_site.get(case.category)
        assignment = await self.assigner.choose(case, firm_code, now)
        changes = {
            "firm_code": firm_code,
            "sign_by": now + periods.sign_within,
            "signed_at": None,
            "resolved_at": None,
            "assignee": assignment.assignee,
            "arrive_by": now + on_site if on_site is not None else None,
            "arrived_at": None,
        }
        if assignment.note:
            note = f"{note}；{assignment.note}" if note else assignment.note
        moved = await self.work.advance_case(
            case_id, [CaseStatus.DISPATCHED], actor=actor, note=note, at=now, scope=scope, changes=changes
        )
        self._publish(moved, "dispatched")
        return moved

    async def sign(
        self, case_id: str, *, actor: str, scope: Scope, note: str = "", firm_code: str | None = None, assignee: str | None = None
    ) -> Case:
        """签收: dispatched → signed; the resolution deadline starts now. With `firm_code` (a
        firm acting), the case must be dispatched to that firm; with `assignee` (a member of
        staff acting), assigned to that member."""
        now = self._now()
        case = await self._seen(case_id, scope)
        periods = self.policy.for_case(case.category, case.severity)
        moved = await self.work.advance_case(
            case_id,
            [CaseStatus.SIGNED],
            actor=actor,
            note=note,
            at=now,
            scope=scope,
            changes={"deadline": now + periods.resolve_within},
            firm=firm_code,
            assignee=assignee,
        )
        self._publish(moved, "signed")
        return moved

    async def resolve(
        self, case_id: str, *, actor: str, scope: Scope, note: str, firm_code: str | None = None, assignee: str | None = None
    ) -> Case:
        """办结: signed or in progress → resolved (from signed through in progress, both kept);
        the note says what was done."""
        if not note.strip():
            raise InvalidInput("note", note, "must say what was done to resolve the case")
        case = await self._seen(case_id, scope)
        steps = [CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED] if case.status is CaseStatus.SIGNED else [CaseStatus.RESOLVED]
        moved = await self.work.advance_case(
            case_id,
            steps,
            actor=actor,
            note=note,
            at=self._now(),
            scope=scope,
            firm=firm_code,
            assignee=assignee,
        )
        self._publish(moved, "resolved")
        return moved

    async def arrive(self, case_id: str, point: Point, *, actor: str, scope: Scope, assignee: str | None = None) -> Case:
        """到场: the person on the case reports arriving at `point`, which must lie within the
        assigner's `arrive_within_m` of the case's point (InvalidInput naming `position`
        otherwise, nothing changed). A signed case goes in progress (办理); one in progress keeps
        its status; the first arrival's time is kept (the on-site target reads it)."""
        now = self._now()
        case = await self._seen(case_id, scope)
        if assignee is not None and case.assignee != assignee:
            raise _unseen(case_id)
        target = await self.assigner.case_point(case)
        limit = self.assigner.policy.arrive_within_m
        if target is None:
            raise InvalidInput("position", f"{point.lon},{point.lat}", f"cannot be checked: case {case_id} has no point or place with a geometry")
        distance = metres(target, point)
        if distance > limit:
            raise InvalidInput(
                "position", f"{point.lon},{point.lat}", f"is {distance:.0f} m from case {case_id}'s place; arriving needs at most {limit:.0f} m"
            )
        steps = [CaseStatus.IN_PROGRESS] if case.status is CaseStatus.SIGNED else []
        moved = await self.work.advance_case(
            case_id,
            steps,
            actor=actor,
            note=f"到场：距工单位置 {distance:.0f} 米",
            at=now,
            scope=scope,
            changes={"arrived_at": case.arrived_at or now},
            expect=[CaseStatus.SIGNED, CaseStatus.IN_PROGRESS],
            assignee=assignee,
        )
        self._publish(moved, "arrived")
        return moved

    async def rate(self, case_id: str, rating: int, *, actor: str, scope: Scope, note: str = "") -> Case:
        """回访 of a resolved case: 3–5 closes it (followed up, then archived); 1–2 reopens the
        work (in progress, a fresh resolution deadline), the rating kept either way."""
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            raise InvalidInput("rating", rating, "must be 1 (very unsatisfied) to 5 (very satisfied)")
        now = self._now()
        case = await self._seen(case_id, scope)
        if rating >= SATISFIED:
            moved = await self.work.advance_case(
                case_id,
                [CaseStatus.FOLLOWED_UP, CaseStatus.ARCHIVED],
                actor=actor,
                note=note or f"回访满意（{rating}分），归档",
                at=now,
                scope=scope,
                changes={"rating": rating},
                expect=[CaseStatus.RESOLVED],
            )
            self._publish(moved, "rated", "archived")
            return moved
        periods = self.policy.for_case(case.category, case.severity)
        reason = f"回访不满意（{rating}分），重新办理" + (f"：{note}" if note else "")
        moved = await self.work.advance_case(
            case_id,
            [CaseStatus.IN_PROGRESS],
            actor=actor,
            note=reason,
            at=now,
            scope=scope,
            changes={"rating": rating, "resolved_at": None, "deadline": now + periods.resolve_within},
            expect=[CaseStatus.RESOLVED],
        )
        self._publish(moved, "rated")
        return moved

    async def return_case(
        self, case_id: str, *, actor: str, scope: Scope, reason: str, firm_code: str | None = None
    ) -> Case:
        """退单: dispatched, signed or in progress → returned, with the reason; the firm and its
        deadlines are cleared until the case is dispatched again."""
        if not reason.strip():
            raise InvalidInput("reason", reason, "must say why the case is returned")
        moved = await self.work.advance_case(
            case_id,
            [CaseStatus.RETURNED],
            actor=actor,
            note=reason,
            at=self._now(),
            scope=scope,
            changes={
                "firm_code": None,
                "sign_by": None,
                "signed_at": None,
                "deadline": None,
                "assignee": None,
                "arrive_by": None,
                "arrived_at": None,
            },
            firm=firm_code,
        )
        self._publish(moved, "returned")
        return moved

    async def move(
        self, case_id: str, to: CaseStatus, *, actor: str, scope: Scope, note: str = "", rating: int | None = None
    ) -> Case:
        """One raw step (`moveCase`): checked like every step; a move to dispatched starts the
        response period and one to signed the resolution period, as the named steps do."""
        if to is CaseStatus.FOLLOWED_UP:
            if rating is None or not 1 <= rating <= 5:
                raise InvalidInput("rating", rating, "is required with followed_up (回访): 1 (very unsatisfied) to 5 (very satisfied)")
        elif rating is not None:
            raise InvalidInput("rating", rating, "is given only when a case is followed up (回访)")
        now = self._now()
        case = await self._seen(case_id, scope)
        periods = self.policy.for_case(case.category, case.severity)
        changes: dict[str, object] = {}
        if to is CaseStatus.DISPATCHED:
            changes = {"sign_by": now + periods.sign_within, "signed_at": None, "resolved_at": None}
        elif to is CaseStatus.SIGNED:
            changes = {"deadline": now + periods.resolve_within}
        elif to is CaseStatus.FOLLOWED_UP:
            changes = {"rating": rating}
        moved = await self.work.advance_case(case_id, [to], actor=actor, note=note, at=now, scope=scope, changes=changes)
        self._publish(moved, "moved")
        return moved

    # -- escalation ----------------------------------------------------------------------

    def rung_due(self, case: Case, now: dt.datetime) -> tuple[Escalation, str] | None:
        """The rung an overdue case should stand on at `now` and the Chinese note, or None when
        it is not overdue. See the module docstring for the rule."""
        periods = self.policy.for_case(case.category, case.severity)
        if case.status is CaseStatus.DISPATCHED and case.sign_by is not None and case.sign_by < now:
            missed, period, what = case.sign_by, periods.sign_within, "逾期未签收"
        elif case.overdue(now) and case.deadline is not None:
            missed, period, what = case.deadline, periods.resolve_within, "逾期未办结"
        else:
            return None
        rung = Escalation(min(int(max(Escalation)), 1 + int((now - missed) / period)))
        return rung, f"{what}，升级至{rung.label}"

    async def escalate_due(self, batch: int = 500) -> list[Case]:
        """Escalate every overdue case to the rung due now (run periodically by the server),
        reading the candidates `batch` at a time; returns the cases escalated by this sweep."""
        now = self._now()
        escalated: list[Case] = []
        after: str | None = None
        while True:
            candidates = await self.work.escalation_candidates(now, batch, after)
            for case in candidates:
                due = self.rung_due(case, now)
                if due is None:
                    continue
                rung, note = due
                if case.escalation is not None and rung <= case.escalation:
                    continue
                raised = await self.work.escalate_case(case.id, rung, actor=ESCALATION_ACTOR, note=note, at=now)
                if raised is not None:
                    escalated.append(raised)
                    self._publish(raised, "escalated")
            if len(candidates) < batch:
                return escalated
            after = candidates[-1].id
