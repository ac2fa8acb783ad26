"""Dispatch to a person, by place and skill (LBS 智能派单).

A case dispatched to a firm is assigned to one member of the firm's staff (`Assigner.choose`):

1. holding the skill the case needs: a certificate of an accepted kind, valid on the day
   (China), by the skill table (`AssignmentPolicy.skills`; defaults below);
2. on shift at that moment (`graph.staff.shifts`);
3. nearest to the case's point — the member's last reported position if it is recent
   (`AssignmentPolicy.fresh_for`, 30 minutes by default), else the nearest point of the estates it
   works in — by haversine (`graph.staff.distance`); a member with neither is ranked last;
4. then least loaded (open cases assigned to it), then by id.

The choice is explained in the case's history (the dispatch event's note): who, the distance
and where it was measured from, the load, and in summary why the others were passed over (each
counted once, at the first rule it fails: no valid certificate, then not on shift). No one
qualifying leaves the case with the firm, unassigned, and the note says why; a firm with no
staff recorded in the hub gets its cases as before, with nothing added to the note.

Skills (`DEFAULT_SKILLS`): a device alarm is matched by its rule's name (`elevator.*` → elevator),
any other case by words of its title and description:

| skill       | alarm rules     | words                         | certificates accepted                         |
|-------------|-----------------|-------------------------------|-----------------------------------------------|
| 电梯 elevator | `elevator.`     | 电梯, 困人                    | 特种设备作业人员证 电梯修理 T, 电梯安全管理 A   |
| 电工 electrical | `transformer.` | 停电, 跳闸, 漏电, 电路, 配电, 电线, 插座 | 特种作业操作证 低压 / 高压电工作业 |
| 水暖 water  | `water_pump.`   | 漏水, 水管, 停水, 水压, 水泵, 下水, 暖气 | 职业技能等级证书 管工                   |

A case matching no skill goes to anyone on shift, by the same distance and load.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shapely.geometry import shape

from graph.cases import Case, CaseSource, Point
from graph.clock import CHINA_STANDARD_TIME
from graph.scope import Scope
from graph.staff.distance import metres
from graph.staff.records import CertificateKind, StaffMember
from graph.staff.shifts import on_shift
from graph.store import Store

EVERYTHING = Scope.everything()


@dataclass(frozen=True, slots=True)
class Skill:
    name: str
    label: str
    """What the note calls it (电梯, 电工, 水暖)."""
    certificates: frozenset[CertificateKind]
    rules: tuple[str, ...] = ()
    """Prefixes of device alarm rules (graph.rules) that need it."""
    words: tuple[str, ...] = ()
    """Words of a case's title or description that need it."""


DEFAULT_SKILLS: tuple[Skill, ...] = (
    Skill(
        "elevator",
        "电梯",
        frozenset({CertificateKind.ELEVATOR_REPAIR, CertificateKind.ELEVATOR_SAFETY}),
        rules=("elevator.",),
        words=("电梯", "困人"),
    ),
    Skill(
        "electrical",
        "电工",
        frozenset({CertificateKind.LOW_VOLTAGE, CertificateKind.HIGH_VOLTAGE}),
        rules=("transformer.",),
        words=("停电", "跳闸", "漏电", "电路", "配电", "电线", "插座"),
    ),
    Skill(
        "water",
        "水暖",
        frozenset({CertificateKind.PLUMBING}),
        rules=("water_pump.",),
        words=("漏水", "水管", "停水", "水压", "水泵", "下水", "暖气"),
    ),
)


@dataclass(frozen=True, slots=True)
class AssignmentPolicy:
    skills: tuple[Skill, ...] = DEFAULT_SKILLS
    fresh_for: dt.timedelta = dt.timedelta(minutes=30)
    """How recent a reported position must be to count; older ones give way to the estate's point."""
    arrive_within_m: float = 300.0
    """How far from the case's point an arrival may be reported (metres)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    member: StaffMember
    distance_m: float
    measured_from: str
    """实时位置 (its reported position) or 所在小区 (an estate's point)."""
    load: int = 0


@dataclass(frozen=True, slots=True)
class Assignment:
    assignee: str | None
    note: str
    skill: Skill | None = None
    chosen: Candidate | None = None
    passed_over: Mapping[str, int] = field(default_factory=dict)


def _fmt(distance: float) -> str:
    return "未知距离" if math.isinf(distance) else f"{distance:.0f} 米"


class Assigner:
    """Chooses the person for a case; cheap to build, and caches the points of places it
    looked up (a long-lived one serves a stream of cases)."""

    def __init__(self, store: Store, policy: AssignmentPolicy | None = None) -> None:
        self.store = store
        self.policy = policy or AssignmentPolicy()
        self._points: dict[str, Point | None] = {}

    async def skill_for(self, case: Case) -> Skill | None:
        """The skill the case needs (see the module docstring), or None."""
        if case.source is CaseSource.DEVICE_ALARM and case.external_id:
            [alarm] = await self.store.alarms([case.external_id], EVERYTHING)
            if alarm is not None:
                for skill in self.policy.skills:
                    if any(alarm.rule.startswith(prefix) for prefix in skill.rules):
                        return skill
        text = f"{case.title} {case.description}"
        for skill in self.policy.skills:
            if any(word in text for word in skill.words):
                return skill
        return None

    async def points(self, codes: Sequence[str]) -> dict[str, Point | None]:
        """A point for each place: a point of its own geometry, else of the nearest ancestor
        that has one (cached)."""
        missing = [code for code in dict.fromkeys(codes) if code not in self._points]
        if missing:
            places = await self.store.places(missing, EVERYTHING)
            bare: list[str] = []
            for code, place in zip(missing, places):
                if place is not None and place.geometry is not None:
                    inner = shape(place.geometry).representative_point()
                    self._points[code] = Point(inner.x, inner.y)
                else:
                    bare.append(code)
            if bare:
                lineages = await self.store.ancestors(bare, EVERYTHING)
                for code, lineage in zip(bare, lineages):
                    found = None
                    for place in reversed(lineage):
                        if place.geometry is not None:
                            inner = shape(place.geometry).representative_point()
                            found = Point(inner.x, inner.y)
                            break
                    self._points[code] = found
        return {code: self._points.get(code) for code in codes}

    async def case_point(self, case: Case) -> Point | None:
        if case.point is not None:
            return case.point
        if case.place_code is None:
            return None
        return (await self.points([case.place_code]))[case.place_code]

    def qualified(self, member: StaffMember, skill: Skill | None, day: dt.date) -> bool:
        if skill is None:
            return True
        return any(c.kind in skill.certificates and c.valid_on(day) for c in member.certificates)

    async def choose(self, case: Case, firm: str, at: dt.datetime, members: Sequence[StaffMember] | None = None) -> Assignment:
        """The member of `firm`'s staff to assign `case` to at `at`, with the note explaining
        it (see the module docstring); `members` may be given (the firm's staff, read once)."""
        if members is None:
            [members] = await self.store.staff_of([firm], EVERYTHING, personal=False)
        if not members:
            return Assignment(None, "")  # a firm that keeps no staff in the hub: nothing to say
        skill = await self.skill_for(case)
        day = at.astimezone(CHINA_STANDARD_TIME).date()
        off_shift = unqualified = 0
        able: list[StaffMember] = []
        for member in members:  # the skill first: it is cheaper to tell than the shift
            if not self.qualified(member, skill, day):
                unqualified += 1
            elif not on_shift(member.shifts, at):
                off_shift += 1
            else:
                able.append(member)
        need = f"有效{skill.label}证书" if skill else "证书（无特定技能要求）"
        if not able:
            note = f"未能指派到人：{firm} 的 {len(members)} 名员工中，{off_shift} 人不在班，{unqualified} 人无{need}"
            return Assignment(None, note, skill, None, {"off_shift": off_shift, "unqualified": unqualified})
        target = await self.case_point(case)
        estate_points = await self.points(sorted({code for member in able for code in member.estates}))
        fresh_since = at - self.policy.fresh_for
        ranked: list[Candidate] = []
        for member in able:
            distance, source = math.inf, "无位置"
            if target is not None:
                position = member.position
                if position is not None and fresh_since <= position.at <= at + dt.timedelta(minutes=1):
                    distance, source = metres(target, position.point), "实时位置"
                else:
                    for code in member.estates:
                        point = estate_points.get(code)
                        if point is not None and metres(target, point) < distance:
                            distance, source = metres(target, point), "所在小区"
            ranked.append(Candidate(member, distance, source))
        loads = await self.store.assigned_loads([c.member.id for c in ranked])
        ranked = [Candidate(c.member, c.distance_m, c.measured_from, load) for c, load in zip(ranked, loads)]
        ranked.sort(key=lambda c: (c.distance_m, c.load, c.member.id))
        best = ranked[0]
        others = len(ranked) - 1
        note = (
            f"指派给 {best.member.id}（{best.member.post.label}）：距离 {_fmt(best.distance_m)}（{best.measured_from}），"
            f"在办工单 {best.load} 件；需{need}；未选：{off_shift} 人不在班，{unqualified} 人无{need}，{others} 人更远或更忙"
        )
        passed = {"off_shift": off_shift, "unqualified": unqualified, "farther_or_busier": others}
        return Assignment(best.member.id, note, skill, best, passed)
