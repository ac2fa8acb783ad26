"""Cases (工单) in the graph: the case part of the port (`graph.cases.CaseStore`) — cases, their
history, the outbox and named counters. Storage only, like the SQL part: the rules are
`graph.casework`'s.

The model: a case is a `:Case` node (property names as the SQL columns', times in integer
microseconds, `place` and `firm` the codes it points at, `version` its writes so far, `events`
the length of its history) `AT` its place; its history is `:CaseEvent {case_id, seq, …}` nodes;
the outbox is `:Outbox {id, target, case_id, …}` nodes numbered by the `:Counter {name:
'outbox'}`; counters are `:Counter {name, value}` nodes. A case is in scope through its place
(the place's `line`), a case with no place only for a scope holding a whole city.

Every write is one statement. `update_case` is a compare-and-set on the case's version: the
statement takes the case's write lock (a `lock` property, dropped by the whole-map SET that
follows) and goes on only if the version is still the expected one, else writes nothing;
`insert_case` creates only when neither the id nor the (source, external id) is taken, tested
in the same statement; `next_number` is one MERGE. Cases written in a batch ride in the batch
statement (`graph.cypher.writes`), each row guarded by the version the planner read.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from graph.cases import (
    Case,
    CaseCategory,
    CaseEvent,
    CaseSource,
    CaseStatus,
    CaseTally,
    DuplicateCase,
    Escalation,
    OPEN_STATUSES,
    OutboxDraft,
    OutboxMessage,
    Point,
    check_case,
)
from graph.casework import merge_source_record, source_event
from graph.codes import place_code
from graph.cursors import decode_cursor, encode_cursor
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.model import provenance_of, provenance_props, scope_params, seen
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.cypher.writes import PARTS, STORED_FIRMS, Part, Plan
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.model import Batch, Page, WriteCounts
from graph.scope import Scope
from graph.store import MAX_PAGE

for _label, _prop, _unique in (
    ("Case", "id", True),
    ("Case", "external_id", False),
    ("Case", "firm", False),
    ("Case", "assignee", False),
    ("CaseEvent", "case_id", False),
    ("Outbox", "id", True),
    ("Outbox", "case_id", False),
    ("Counter", "name", True),
):
    index(_label, _prop, unique=_unique)

OPEN = sorted(status.value for status in OPEN_STATUSES)
CLOSED = sorted(status.value for status in CaseStatus if status.closed)

_VISIBLE = f"((p IS NOT NULL AND {seen('p')}) OR (p IS NULL AND $city))"
"""The scope on a case `cs` and its place `p` (OPTIONAL MATCH): through the place; no place, the city's."""
_OVERDUE = (
    "((cs.status = 'dispatched' AND coalesce(cs.sign_by < $now, false)) "
    "OR (cs.status IN $open AND coalesce(cs.deadline < $now, false)))"
)
"""`graph.cases.overdue_at` on a case `cs` (never null: a missing time is not overdue)."""
_PERIOD = "($since IS NULL OR cs.reported_at >= $since) AND ($until IS NULL OR cs.reported_at < $until)"
_TALLY = (
    "count(cs), "
    "sum(CASE WHEN cs.sign_by IS NOT NULL AND (cs.signed_at IS NOT NULL OR cs.sign_by <= $now) THEN 1 ELSE 0 END), "
    "sum(CASE WHEN cs.sign_by IS NOT NULL AND cs.signed_at IS NOT NULL AND cs.signed_at <= cs.sign_by THEN 1 ELSE 0 END), "
    "sum(CASE WHEN cs.status IN $closed THEN 1 ELSE 0 END), "
    "sum(CASE WHEN cs.rating IS NOT NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN cs.rating >= 4 THEN 1 ELSE 0 END), "
    f"sum(CASE WHEN {_OVERDUE} THEN 1 ELSE 0 END), "
    "collect(CASE WHEN cs.status IN $closed AND cs.resolved_at IS NOT NULL THEN cs.resolved_at - cs.reported_at END), "
    "sum(CASE WHEN cs.arrive_by IS NOT NULL AND (cs.arrived_at IS NOT NULL OR cs.arrive_by <= $now) THEN 1 ELSE 0 END), "
    "sum(CASE WHEN cs.arrive_by IS NOT NULL AND cs.arrived_at IS NOT NULL AND cs.arrived_at <= cs.arrive_by THEN 1 ELSE 0 END)"
)
_WITH_PLACE = "OPTIONAL MATCH (cs)-[:AT]->(p:Place) WITH cs, p"

CASES = st.read(
    "cases.by_id",
    f"UNWIND $ids AS i MATCH (cs:Case {{id: i}}) {_WITH_PLACE} WHERE {_VISIBLE} RETURN properties(cs)",
)
STORED = st.read("cases.stored", "UNWIND $ids AS i MATCH (cs:Case {id: i}) RETURN properties(cs)")
PAGE = st.read(
    "cases.page",
    f"MATCH (cs:Case) {_WITH_PLACE} WHERE {_VISIBLE} "
    "AND ($within IS NULL OR (p IS NOT NULL AND $within IN p.line) OR (p IS NULL AND $within_city)) "
    "AND ($statuses IS NULL OR cs.status IN $statuses) AND ($categories IS NULL OR cs.category IN $categories) "
    "AND ($source IS NULL OR cs.source_kind = $source) AND ($firm IS NULL OR cs.firm = $firm) "
    "AND ($assignee IS NULL OR cs.assignee = $assignee) "
    "AND ($since IS NULL OR (CASE WHEN $by_update THEN cs.updated_at ELSE cs.reported_at END) >= $since) "
    "AND ($until IS NULL OR (CASE WHEN $by_update THEN cs.updated_at ELSE cs.reported_at END) < $until) "
    f"AND ($overdue IS NULL OR {_OVERDUE} = $overdue) "
    "AND ($at IS NULL OR cs.reported_at < $at OR (cs.reported_at = $at AND cs.id < $after)) "
    "RETURN properties(cs) ORDER BY cs.reported_at DESC, cs.id DESC LIMIT $limit",
)
LOADS = st.read(
    "cases.assigned_loads",
    "UNWIND $ids AS a MATCH (cs:Case {assignee: a}) WITH a, cs WHERE cs.status IN $open RETURN a AS assignee, count(cs) AS load",
)
REPORTED = st.read("cases.reported_at", "MATCH (cs:Case {id: $id}) RETURN cs.reported_at")
WITHIN = st.read("cases.within", "MATCH (w:Place {code: $code}) RETURN w.level")
BY_EXTERNAL = st.read(
    "cases.by_external",
    "UNWIND $ids AS x MATCH (cs:Case {external_id: x}) WHERE cs.source_kind = $source RETURN properties(cs)",
)
HOLDERS = st.read(
    "cases.external_holders", "UNWIND $ids AS x MATCH (cs:Case {external_id: x}) RETURN cs.source_kind, x, cs.id"
)
EVENTS = st.read("cases.events", "UNWIND $ids AS i MATCH (v:CaseEvent {case_id: i}) RETURN properties(v)")
OVERDUE = st.read(
    "cases.overdue",
    f"MATCH (cs:Case) WHERE {_OVERDUE} AND (cs.escalation IS NULL OR cs.escalation < $below) "
    "AND ($after IS NULL OR cs.id > $after) RETURN properties(cs) ORDER BY cs.id LIMIT $limit",
)
PLACES_SEEN = st.read(
    "cases.places_seen", f"UNWIND $codes AS k MATCH (w:Place {{code: k}}) WHERE {seen('w')} RETURN k"
)
PLACE_REFS = st.read("cases.place_refs", "UNWIND $codes AS k MATCH (w:Place {code: k}) RETURN k")
PLACE_TALLIES = st.read(
    "cases.tallies.places",
    f"UNWIND $codes AS k MATCH (cs:Case)-[:AT]->(p:Place) WHERE k IN p.line AND {seen('p')} AND {_PERIOD} "
    f"RETURN k, {_TALLY}",
)
FIRM_TALLIES = st.read(
    "cases.tallies.firms",
    f"UNWIND $codes AS k MATCH (cs:Case {{firm: k}}) {_WITH_PLACE}, k WHERE {_VISIBLE} AND {_PERIOD} RETURN k, {_TALLY}",
)
WAITING = st.read(
    "cases.waiting",
    "UNWIND $ids AS i MATCH (o:Outbox {case_id: i}) WHERE o.sent_at IS NULL AND o.next_attempt_at IS NOT NULL "
    "RETURN DISTINCT i",
)

NEXT_NUMBER = st.write(
    "cases.next_number",
    "MERGE (n:Counter {name: $key}) ON CREATE SET n.value = 0 SET n.value = n.value + 1 RETURN n.value",
)
_LINK = "OPTIONAL MATCH (p:Place {code: $place}) FOREACH (x IN CASE WHEN p IS NULL THEN [] ELSE [p] END | CREATE (cs)-[:AT]->(x))"
INSERT = st.write(
    "cases.insert",
    # the tests gate the CREATE through UNWIND: FalkorDB may run a WHERE placed before a CREATE after it
    "OPTIONAL MATCH (x:Case {id: $id}) WITH count(x) AS taken "
    "OPTIONAL MATCH (y:Case {external_id: $external}) WHERE y.source_kind = $source WITH taken, count(y) AS held "
    "UNWIND CASE WHEN taken = 0 AND held = 0 THEN [1] ELSE [] END AS go "
    f"CREATE (cs:Case) SET cs = $props WITH cs {_LINK} "
    "WITH cs CREATE (v:CaseEvent) SET v = $event RETURN properties(cs)",
)
UPDATE = st.write(
    "cases.update",
    # the lock property takes Neo4j's write lock before the version is read, so two writers over
    # one version cannot both pass (FalkorDB runs writes one at a time anyway); `SET cs = $props`
    # drops it again
    "MATCH (cs:Case {id: $id}) SET cs.lock = $lock "
    "WITH cs UNWIND CASE WHEN cs.version = $expect THEN [1] ELSE [] END AS go SET cs = $props "
    "WITH cs OPTIONAL MATCH (cs)-[a:AT]->(:Place) DELETE a "
    f"WITH DISTINCT cs {_LINK} "
    "WITH cs FOREACH (e IN $events | CREATE (v:CaseEvent) SET v = e) "
    # the counter is read in the SET that raises it: Neo4j takes the write lock before that read
    "MERGE (n:Counter {name: 'outbox'}) ON CREATE SET n.value = 0 SET n.value = n.value + size($messages) "
    "WITH cs, n.value - size($messages) AS base "
    "FOREACH (i IN range(0, size($messages) - 1) | CREATE (o:Outbox) SET o = $messages[i], o.id = base + i + 1) "
    "RETURN properties(cs)",
)

OUTBOX = st.read(
    "cases.outbox",
    "MATCH (o:Outbox) WHERE o.sent_at IS NULL AND ($target IS NULL OR o.target = $target) "
    "AND (($dead AND o.next_attempt_at IS NULL) OR (NOT $dead AND o.next_attempt_at IS NOT NULL)) "
    "RETURN properties(o) ORDER BY o.id LIMIT $limit",
)
PENDING = st.read(
    "cases.outbox_pending",
    "MATCH (o:Outbox) WHERE o.sent_at IS NULL AND o.next_attempt_at IS NOT NULL "
    "AND ($target IS NULL OR o.target = $target) RETURN count(o)",
)
MESSAGE = st.read("cases.outbox_message", "MATCH (o:Outbox {id: $id}) RETURN properties(o)")
SENT = st.write(
    "cases.outbox_sent",
    "UNWIND $ids AS i MATCH (o:Outbox {id: i}) WHERE o.sent_at IS NULL SET o.sent_at = $at RETURN count(o)",
)
FAILED = st.write(
    "cases.outbox_failed",
    "MATCH (o:Outbox {id: $id, attempts: $attempts}) WHERE o.sent_at IS NULL SET o = $props RETURN o.id",
)

CASE_FACTS = (
    "source_kind", "category", "status", "title", "description", "place", "lon", "lat", "address", "external_id",
    "firm", "severity", "deadline", "rating", "push_to", "reported_at", "updated_at",
)
"""What decides whether a source's rewrite changes a case (provenance is not a fact)."""


# -- records ↔ nodes -------------------------------------------------------------------------


def case_props(case: Case, *, version: int, events: int) -> dict[str, Any]:
    """The whole property map of a case node (nodes are always set whole)."""
    return values.present(
        {
            "id": case.id,
            "source_kind": case.source.value,
            "category": case.category.value,
            "status": case.status.value,
            "title": case.title,
            "description": case.description,
            "place": case.place_code,
            "lon": float(case.point.lon) if case.point else None,
            "lat": float(case.point.lat) if case.point else None,
            "address": case.address,
            "external_id": case.external_id,
            "firm": case.firm_code,
            "severity": case.severity,
            "deadline": values.micros(case.deadline),
            "rating": case.rating,
            "push_to": case.push_to,
            "reported_at": values.micros(case.reported_at),
            "updated_at": values.micros(case.updated_at),
            **provenance_props(case.provenance),
            "dispatched_at": values.micros(case.dispatched_at),
            "sign_by": values.micros(case.sign_by),
            "signed_at": values.micros(case.signed_at),
            "resolved_at": values.micros(case.resolved_at),
            "escalation": int(case.escalation) if case.escalation is not None else None,
            "escalated_at": values.micros(case.escalated_at),
            "assignee": case.assignee,
            "arrive_by": values.micros(case.arrive_by),
            "arrived_at": values.micros(case.arrived_at),
            "version": version,
            "events": events,
        }
    )


def _time(props: dict[str, Any], name: str) -> dt.datetime:
    moment = values.from_micros(props[name])
    assert moment is not None
    return moment


def case_of(props: dict[str, Any]) -> Case:
    return Case(
        id=props["id"],
        source=CaseSource(props["source_kind"]),
        category=CaseCategory(props["category"]),
        status=CaseStatus(props["status"]),
        title=props["title"],
        reported_at=_time(props, "reported_at"),
        updated_at=_time(props, "updated_at"),
        description=props.get("description", ""),
        place_code=props.get("place"),
        point=Point(props["lon"], props["lat"]) if props.get("lon") is not None else None,
        address=props.get("address"),
        external_id=props.get("external_id"),
        firm_code=props.get("firm"),
        severity=props.get("severity"),
        deadline=values.from_micros(props.get("deadline")),
        rating=props.get("rating"),
        push_to=props.get("push_to"),
        provenance=provenance_of(props),
        dispatched_at=values.from_micros(props.get("dispatched_at")),
        sign_by=values.from_micros(props.get("sign_by")),
        signed_at=values.from_micros(props.get("signed_at")),
        resolved_at=values.from_micros(props.get("resolved_at")),
        escalation=Escalation(props["escalation"]) if props.get("escalation") is not None else None,
        escalated_at=values.from_micros(props.get("escalated_at")),
        assignee=props.get("assignee"),
        arrive_by=values.from_micros(props.get("arrive_by")),
        arrived_at=values.from_micros(props.get("arrived_at")),
        version=int(props["version"]),
    )


def event_props(event: CaseEvent, case_id: str, seq: int) -> dict[str, Any]:
    return values.present(
        {
            "case_id": case_id,
            "seq": seq,
            "from_status": event.from_status.value if event.from_status else None,
            "to_status": event.to_status.value,
            "at": values.micros(event.at),
            "actor": event.actor,
            "note": event.note,
        }
    )


def event_of(props: dict[str, Any]) -> CaseEvent:
    return CaseEvent(
        case_id=props["case_id"],
        seq=int(props["seq"]),
        from_status=CaseStatus(props["from_status"]) if props.get("from_status") else None,
        to_status=CaseStatus(props["to_status"]),
        at=_time(props, "at"),
        actor=props["actor"],
        note=props.get("note", ""),
    )


def message_of(props: dict[str, Any]) -> OutboxMessage:
    payload = values.from_document(props["payload"])
    return OutboxMessage(
        id=int(props["id"]),
        target=props["target"],
        case_id=props["case_id"],
        external_id=props.get("external_id"),
        payload=payload,
        created_at=_time(props, "created_at"),
        attempts=int(props["attempts"]),
        next_attempt_at=values.from_micros(props.get("next_attempt_at")),
        sent_at=values.from_micros(props.get("sent_at")),
        last_error=props.get("last_error"),
        dead=props.get("sent_at") is None and props.get("next_attempt_at") is None,
    )


def tally_of(key: str, row: Sequence[Any]) -> CaseTally:
    cases, due, in_time, resolved, rated, satisfied, overdue, durations, on_site_due, on_site_in_time = row
    return CaseTally(
        key=key,
        cases=int(cases),
        due=int(due or 0),
        signed_in_time=int(in_time or 0),
        resolved=int(resolved or 0),
        rated=int(rated or 0),
        satisfied=int(satisfied or 0),
        overdue=int(overdue or 0),
        resolve_durations=tuple(dt.timedelta(microseconds=int(d)) for d in durations or ()),
        on_site_due=int(on_site_due or 0),
        on_site_in_time=int(on_site_in_time or 0),
    )


def _city(scope: Scope) -> bool:
    """Whether the scope sees cases linked to no place: everything, or a whole city."""
    return scope.roots is None or any(place_code(root)[1] == Level.CITY for root in scope.roots)


def _case_scope(scope: Scope) -> dict[str, Any]:
    return {**scope_params(scope), "city": _city(scope)}


async def _check_references(
    transport: Transport, cases: Sequence[Case], known_firms: frozenset[str] | set[str] = frozenset()
) -> None:
    """StoreError naming the case when a place or firm it points at is not in the store."""
    codes = list({case.place_code for case in cases if case.place_code})
    places = {code for (code,) in await transport.run(PLACE_REFS, {"codes": codes})} if codes else set()
    firm_codes = [code for code in {case.firm_code for case in cases if case.firm_code} if code not in known_firms]
    firms: set[str] = set(known_firms)
    if firm_codes:
        firms.update(props["code"] for (props,) in await transport.run(STORED_FIRMS, {"codes": firm_codes}))
    for case in cases:
        if case.place_code and case.place_code not in places:
            raise StoreError(f"case {case.id}: place {case.place_code} is not in the store")
        if case.firm_code and case.firm_code not in firms:
            raise StoreError(f"case {case.id}: firm {case.firm_code} is not in the store")


async def _check_external_ids(transport: Transport, cases: Sequence[Case]) -> None:
    """A new case may not take a (source, external id) another case already holds."""
    if not cases:
        return
    rows = await transport.run(HOLDERS, {"ids": list({case.external_id for case in cases})})
    taken = {(source, external): key for source, external, key in rows}
    seen_here: dict[tuple[str, str | None], str] = {}
    for case in cases:
        pair = (case.source.value, case.external_id)
        holder = taken.get(pair) or seen_here.get(pair)
        if holder is not None and holder != case.id:
            raise StoreError(f"case {case.id}: {case.source.value} id {case.external_id} is already case {holder}")
        seen_here[pair] = case.id


# -- the batch path ------------------------------------------------------------------------


async def _plan_cases(batch: Batch, plan: Plan) -> WriteCounts:
    """`Batch.cases`: upsert by id; what a rewrite keeps is `merge_source_record`'s, a status
    change read from a source is kept as its `source_event` (never queued to the outbox)."""
    if not batch.cases:
        return WriteCounts()
    for case in batch.cases:
        check_case(case)
    latest = {case.id: case for case in batch.cases}  # the last record for an id wins
    planned_places = await plan.place_props([c.place_code for c in latest.values() if c.place_code])
    for case in latest.values():
        if case.place_code and case.place_code not in planned_places:
            raise StoreError(f"case {case.id}: place {case.place_code} is not in the store")
    await _check_references(plan.transport, [replace(c, place_code=None) for c in latest.values()], {f.code for f in batch.firms})
    stored = {props["id"]: props for (props,) in await plan.transport.run(STORED, {"ids": list(latest)})}
    waiting = {key for (key,) in await plan.transport.run(WAITING, {"ids": list(stored)})} if stored else set()
    await _check_external_ids(plan.transport, [c for c in latest.values() if c.id not in stored and c.external_id])
    inserted = updated = unchanged = 0
    for case in latest.values():
        old = stored.get(case.id)
        if old is None:
            inserted += 1
            props = case_props(case, version=1, events=1)
            plan.add("case_new", [{"props": props}])
            if case.place_code:
                plan.add("case_link", [{"id": case.id, "version": 1, "place": case.place_code}])
            event = source_event(case, None, case.reported_at)
            plan.add("case_event", [{"id": case.id, "version": 1, "props": event_props(event, case.id, 1)}])
            continue
        before = case_of(old)
        kept = merge_source_record(before, case, waiting=case.id in waiting)
        moved = kept.status is not before.status
        props = case_props(kept, version=before.version + 1, events=int(old["events"]) + (1 if moved else 0))
        if all(old.get(name) == props.get(name) for name in CASE_FACTS):
            unchanged += 1
            continue
        updated += 1
        version = before.version + 1
        plan.add("case_update", [{"id": case.id, "expect": before.version, "props": props}])
        if old.get("place") != props.get("place"):
            plan.add("case_unlink", [{"id": case.id, "version": version}])
            if kept.place_code:
                plan.add("case_link", [{"id": case.id, "version": version, "place": kept.place_code}])
        if moved:
            event = source_event(kept, before.status, kept.updated_at)
            plan.add("case_event", [{"id": case.id, "version": version, "props": event_props(event, case.id, props["events"])}])
    return WriteCounts(inserted, updated, unchanged + len(batch.cases) - len(latest))


_CASE_FRAGMENTS = (
    ("case_new", "CREATE (cs:Case) SET cs = r.props"),
    (
        "case_update",
        "MATCH (cs:Case {id: r.id}) SET cs.lock = $token "
        "WITH cs, r UNWIND CASE WHEN cs.version = r.expect THEN [1] ELSE [] END AS go SET cs = r.props",
    ),
    ("case_unlink", "MATCH (cs:Case {id: r.id, version: r.version})-[a:AT]->(:Place) DELETE a"),
    ("case_link", "MATCH (cs:Case {id: r.id, version: r.version}) MATCH (p:Place {code: r.place}) CREATE (cs)-[:AT]->(p)"),
    ("case_event", "MATCH (cs:Case {id: r.id, version: r.version}) CREATE (v:CaseEvent) SET v = r.props"),
)

PARTS.append(Part("cases", _CASE_FRAGMENTS, _plan_cases))


# -- the port ------------------------------------------------------------------------------


class CaseRecords:
    """The case part of the store port (a base of CypherStore)."""

    transport: Transport

    # -- finds ---------------------------------------------------------------------------

    async def cases(self, ids: Sequence[str], scope: Scope) -> list[Case | None]:
        rows = await self.transport.run(CASES, {"ids": list(dict.fromkeys(ids)), **_case_scope(scope)})
        found = {props["id"]: case_of(props) for (props,) in rows}
        return [found.get(key) for key in ids]

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
        if overdue is not None and now is None:
            raise InvalidInput("now", None, "is required to tell overdue cases")
        first = max(1, min(first, MAX_PAGE))
        after_key = decode_cursor(after)
        at = None
        if after_key is not None:
            rows = await self.transport.run(REPORTED, {"id": after_key})
            if not rows:
                raise InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")
            at = rows[0][0]
        within_city = False
        if within is not None:
            rows = await self.transport.run(WITHIN, {"code": within})
            if not rows:
                return Page(items=[], has_next=False, end_cursor=None)
            within_city = int(rows[0][0]) == Level.CITY
        params = {
            **_case_scope(scope),
            "within": within,
            "within_city": within_city,
            "statuses": [status.value for status in statuses] if statuses is not None else None,
            "categories": [category.value for category in categories] if categories is not None else None,
            "source": source.value if source is not None else None,
            "firm": firm_code,
            "assignee": assignee,
            "since": values.micros(since),
            "until": values.micros(until),
            "by_update": by_update,
            "overdue": overdue,
            "now": values.micros(now) if now is not None else 0,
            "open": OPEN,
            "at": at,
            "after": after_key,
            "limit": first + 1,
        }
        items = [case_of(props) for (props,) in await self.transport.run(PAGE, params)]
        shown = items[:first]
        return Page(
            items=shown,
            has_next=len(items) > first,
            end_cursor=encode_cursor(shown[-1].id) if shown else None,
            start_cursor=encode_cursor(shown[0].id) if shown else None,
        )

    async def cases_by_external(self, source: CaseSource, external_ids: Sequence[str]) -> list[Case | None]:
        rows = await self.transport.run(BY_EXTERNAL, {"ids": list(dict.fromkeys(external_ids)), "source": source.value})
        found = {props["external_id"]: case_of(props) for (props,) in rows}
        return [found.get(key) for key in external_ids]

    async def case_events(self, ids: Sequence[str], scope: Scope) -> list[list[CaseEvent]]:
        seen_ids = [case.id for case in await self.cases(list(dict.fromkeys(ids)), scope) if case is not None]
        history: dict[str, list[CaseEvent]] = {key: [] for key in seen_ids}
        if seen_ids:
            for (props,) in await self.transport.run(EVENTS, {"ids": seen_ids}):
                history[props["case_id"]].append(event_of(props))
        return [sorted(history.get(key, []), key=lambda event: event.seq) for key in ids]

    async def overdue_cases(
        self, now: dt.datetime, below: Escalation, limit: int = 500, after: str | None = None
    ) -> list[Case]:
        params = {"now": values.micros(now), "open": OPEN, "below": int(below), "after": after, "limit": max(1, min(limit, 10 * MAX_PAGE))}
        return [case_of(props) for (props,) in await self.transport.run(OVERDUE, params)]

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
        unique = list(dict.fromkeys(keys))
        params = {
            **_case_scope(scope),
            "now": values.micros(now),
            "open": OPEN,
            "closed": CLOSED,
            "since": values.micros(since),
            "until": values.micros(until),
        }
        if firms:
            rows = await self.transport.run(FIRM_TALLIES, {**params, "codes": unique})
            counted = {row[0]: tally_of(row[0], row[1:]) for row in rows}
            return [counted.get(key, CaseTally(key=key)) for key in keys]
        visible = [code for (code,) in await self.transport.run(PLACES_SEEN, {"codes": unique, **scope_params(scope)})]
        if not visible:
            return [None for _ in keys]
        rows = await self.transport.run(PLACE_TALLIES, {**params, "codes": visible})
        counted = {row[0]: tally_of(row[0], row[1:]) for row in rows}
        shown = set(visible)
        return [counted.get(key, CaseTally(key=key)) if key in shown else None for key in keys]

    # -- writes --------------------------------------------------------------------------

    async def next_number(self, key: str) -> int:
        if not isinstance(key, str) or not 1 <= len(key) <= 64:
            raise InvalidInput("key", key, "must be 1 to 64 characters")
        rows = await self.transport.run(NEXT_NUMBER, {"key": key})
        return int(rows[0][0])

    async def insert_case(self, case: Case, event: CaseEvent) -> Case:
        check_case(case)
        await _check_references(self.transport, [case])
        params = {
            "id": case.id,
            "external": case.external_id,
            "source": case.source.value,
            "props": case_props(case, version=1, events=1),
            "place": case.place_code,
            "event": event_props(event, case.id, 1),
        }
        refused: StoreError | None = None
        try:
            rows = await self.transport.run(INSERT, params)
        except StoreError as error:  # Neo4j: another writer's case took the id first (its constraint)
            rows, refused = [], error
        if rows:
            return case_of(rows[0][0])
        if await self.transport.run(STORED, {"ids": [case.id]}):
            raise DuplicateCase(f"case {case.id} already exists")
        await _check_external_ids(self.transport, [case])
        raise refused or StoreError(f"case {case.id} could not be stored")

    async def update_case(
        self,
        case: Case,
        *,
        expect: int,
        events: Sequence[CaseEvent] = (),
        messages: Sequence[OutboxDraft] = (),
    ) -> Case | None:
        check_case(case)
        await _check_references(self.transport, [case])
        rows = await self.transport.run(STORED, {"ids": [case.id]})
        if not rows or int(rows[0][0]["version"]) != expect:
            return None
        old = rows[0][0]
        kept = replace(
            case,
            source=CaseSource(old["source_kind"]),
            external_id=old.get("external_id"),
            reported_at=_time(old, "reported_at"),
        )
        last = int(old["events"])
        params = {
            "id": case.id,
            "lock": secrets.token_hex(8),
            "expect": expect,
            "props": case_props(kept, version=expect + 1, events=last + len(events)),
            "place": kept.place_code,
            "events": [event_props(event, case.id, last + index + 1) for index, event in enumerate(events)],
            "messages": [
                values.present(
                    {
                        "target": message.target,
                        "case_id": case.id,
                        "external_id": kept.external_id,
                        "payload": values.document(message.payload),
                        "created_at": values.micros(message.created_at),
                        "attempts": 0,
                        "next_attempt_at": values.micros(message.created_at),
                    }
                )
                for message in messages
            ],
        }
        written = await self.transport.run(UPDATE, params)
        return case_of(written[0][0]) if written else None

    # -- the outbox ----------------------------------------------------------------------

    async def outbox_messages(self, target: str | None, *, dead: bool = False, limit: int = 100) -> list[OutboxMessage]:
        params = {"target": target, "dead": dead, "limit": max(1, min(limit, MAX_PAGE))}
        return [message_of(props) for (props,) in await self.transport.run(OUTBOX, params)]

    async def outbox_sent(self, ids: Sequence[int], at: dt.datetime) -> None:
        if ids:
            await self.transport.run(SENT, {"ids": [int(i) for i in ids], "at": values.micros(at)})

    async def outbox_failed(self, message_id: int, error: str, next_attempt_at: dt.datetime | None) -> None:
        for _ in range(8):
            rows = await self.transport.run(MESSAGE, {"id": int(message_id)})
            if not rows or rows[0][0].get("sent_at") is not None:
                return
            old = rows[0][0]
            props = values.present(
                {
                    **{name: value for name, value in old.items() if name not in ("last_error", "next_attempt_at")},
                    "attempts": int(old["attempts"]) + 1,
                    "last_error": error[:2000],
                    "next_attempt_at": values.micros(next_attempt_at),
                }
            )
            if await self.transport.run(FAILED, {"id": int(message_id), "attempts": old["attempts"], "props": props}):
                return
        raise StoreError(f"outbox message {message_id} kept changing while its failure was counted")

    async def assigned_loads(self, assignees: Sequence[str]) -> list[int]:
        if not assignees:
            return []
        rows = await self.transport.run(LOADS, {"ids": sorted(set(assignees)), "open": OPEN})
        loads = {key: int(load) for key, load in rows}
        return [loads.get(key, 0) for key in assignees]

    async def outbox_pending(self, target: str | None = None) -> int:
        rows = await self.transport.run(PENDING, {"target": target})
        return int(rows[0][0]) if rows else 0
