"""The bulk write path: a batch is planned in Python against what is stored (checks, what is
new, what changed, what is already so), then written by ONE statement — every part's rows in
`UNWIND` lists, each row guarded by the write lease — so a refused batch writes nothing on any
backend, FalkorDB included. Roll-ups are then brought up to date (graph.cypher.rollups).

A part (places, firms, owners, managements, ownerships; utilities and cases add theirs) gives
its Cypher fragments and a `plan` that fills the statement's parameters for its records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.checks import check_firm, check_owner, check_place, check_share, check_span, missing
from graph.ciphers.sealing import Sealer
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.lease import GUARD
from graph.cypher.model import LABELS, PLACE_FACTS, firm_props, place_props, span_props
from graph.cypher.owners import owner_props
from graph.cypher.transport import Transport
from graph.errors import StoreError
from graph.levels import Level
from graph.model import Batch, WriteCounts


@dataclass(slots=True)
class Plan:
    """What one batch will write: the statement's parameters, and what the roll-ups must count
    again (places whose subtree changed, owners whose holdings changed)."""

    transport: Transport
    sealer: Sealer
    today: dt.date
    params: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)
    moved: list[str] = field(default_factory=list)
    places: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Places as they will be once written (stored ones read, batch ones planned): code → props."""

    def add(self, name: str, rows: list[dict[str, Any]]) -> None:
        self.params.setdefault(name, []).extend(rows)

    async def place_props(self, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The planned or stored props of these places (missing codes left out)."""
        wanted = [code for code in dict.fromkeys(codes) if code not in self.places]
        if wanted:
            for (props,) in await self.transport.run(STORED_PLACES, {"codes": wanted}):
                self.places[props["code"]] = props
        return {code: self.places[code] for code in codes if code in self.places}

    def holdings(self, owners: set[str]) -> dict[str, frozenset[str]]:
        """Where each of these owners is counted once the batch is written, from the batch
        alone: right for owners the batch creates (they hold nothing else)."""
        found: dict[str, set[str]] = {oid: set() for oid in owners}
        today = self.today.isoformat()
        for name in ("new_ownership", "update_ownership"):
            for row in self.params.get(name, []):
                props = row["props"]
                if row["owner"] in found and props["since"] <= today and props.get("until", "9999") > today:
                    found[row["owner"]].update(self.places[row["house"]]["line"][:-1])
        return {oid: frozenset(places) for oid, places in found.items()}

    @property
    def empty(self) -> bool:
        return not any(self.params.values())


@dataclass(frozen=True, slots=True)
class Part:
    """One kind of record in the batch statement: its fragments (each an `UNWIND $param AS r`
    clause list, guarded by `GUARD`) and its planner."""

    name: str
    fragments: tuple[tuple[str, str], ...]
    """(parameter, Cypher after `UNWIND $parameter AS r <GUARD>`)"""
    plan: Callable[[Batch, Plan], Awaitable[WriteCounts]]


STORED_PLACES = st.read("writes.places", "UNWIND $codes AS c MATCH (p:Place {code: c}) RETURN properties(p)")
STORED_FIRMS = st.read("writes.firms", "UNWIND $codes AS c MATCH (f:Firm {code: c}) RETURN properties(f)")
STORED_OWNERS = st.read(
    "writes.owners",
    "UNWIND $ids AS i MATCH (o:Owner {id: i}) RETURN o.id, o.kind, o.name_index, o.id_number_index, o.phone_index",
)
STORED_MANAGEMENTS = st.read(
    "writes.managements",
    "UNWIND $codes AS c MATCH (f:Firm)-[m:MANAGES]->(e:Place {code: c}) RETURN c, f.code, m.since, m.until",
)
STORED_OWNERSHIPS = st.read(
    "writes.ownerships",
    "UNWIND $codes AS c MATCH (o:Owner)-[s:OWNS]->(h:Place {code: c}) RETURN c, o.id, s.since, s.share, s.until, s.origin",
)


def _labels(level: Level) -> str:
    return f"Place:{LABELS[level]}" if level == Level.HOUSE else f"Place:Area:{LABELS[level]}"


# -- places ------------------------------------------------------------------------------


async def _plan_places(batch: Batch, plan: Plan) -> WriteCounts:
    if not batch.places:
        return WriteCounts()
    for place in batch.places:
        check_place(place)
    latest = {place.code: place for place in batch.places}  # the last record for a code wins
    ordered = sorted(latest.values(), key=lambda place: place.level)
    stored = await plan.place_props([*latest, *(p.parent_code for p in ordered if p.parent_code)])
    stored = dict(stored)
    inserted = updated = unchanged = 0
    for place in ordered:
        parent = plan.places.get(place.parent_code) if place.parent_code else None
        if place.parent_code and parent is None:
            raise StoreError(f"place {place.code}: parent {place.parent_code} is not in the store")
        if parent is not None and parent["level"] >= place.level:
            raise StoreError(f"place {place.code}: parent {place.parent_code} is not above it")
        line = [*(parent["line"] if parent else []), place.code]
        props = place_props(place, line)
        old = stored.get(place.code)
        plan.places[place.code] = props
        if old is None:
            inserted += 1
            plan.add(f"new_{place.level.name.lower()}", [props])
            if place.parent_code:
                plan.add("link", [{"code": place.code, "parent": place.parent_code}])
            plan.dirty.update(line if place.level < Level.HOUSE else line[:-1])
            continue
        if all(old.get(name) == props.get(name) for name in PLACE_FACTS) and old.get("line") == line:
            plan.places[place.code] = old
            unchanged += 1
            continue
        updated += 1
        plan.add("update", [props])
        plan.dirty.update(line if place.level < Level.HOUSE else line[:-1])
        if old.get("line") != line:
            plan.dirty.update(old["line"][:-1])
            plan.moved.append(place.code)
            plan.add("unlink", [{"code": place.code}])
            if place.parent_code:
                plan.add("link", [{"code": place.code, "parent": place.parent_code}])
            plan.add("move", [{"code": place.code, "line": line, "depth": len(old["line"])}])
    plan.add("written", [{"code": code} for code in latest])
    return WriteCounts(inserted, updated, unchanged + len(batch.places) - len(latest))


_PLACE_FRAGMENTS = (
    *((f"new_{level.name.lower()}", f"CREATE (p:{_labels(level)}) SET p = r") for level in Level),
    ("update", "MATCH (p:Place {code: r.code}) SET p = r"),
    ("unlink", "MATCH (p:Place {code: r.code})-[e:IN]->(:Place) DELETE e"),
    ("link", "MATCH (p:Place {code: r.code}) MATCH (q:Place {code: r.parent}) CREATE (p)-[:IN]->(q)"),
    (
        "move",
        "MATCH (d:Place)-[:IN*1..7]->(:Place {code: r.code}) WHERE NOT d.code IN $written_codes "
        "SET d.line = r.line + d.line[r.depth..]",
    ),
)

# -- firms and owners ----------------------------------------------------------------------


async def _plan_firms(batch: Batch, plan: Plan) -> WriteCounts:
    if not batch.firms:
        return WriteCounts()
    for firm in batch.firms:
        check_firm(firm)
    latest = {firm.code: firm for firm in batch.firms}
    stored = {props["code"]: props for (props,) in await plan.transport.run(STORED_FIRMS, {"codes": list(latest)})}
    inserted = updated = 0
    for code, firm in latest.items():
        props = firm_props(firm)
        old = stored.get(code)
        if old is None:
            inserted += 1
            plan.add("new_firm", [props])
        elif (old.get("name"), old.get("phone")) != (firm.name, firm.phone):
            updated += 1
            plan.add("update_firm", [props])
    return WriteCounts(inserted, updated, len(batch.firms) - inserted - updated)


async def _plan_owners(batch: Batch, plan: Plan) -> WriteCounts:
    if not batch.owners:
        return WriteCounts()
    for owner in batch.owners:
        check_owner(owner)
    latest = {owner.id: owner for owner in batch.owners}
    stored = {row[0]: row[1:] for row in await plan.transport.run(STORED_OWNERS, {"ids": list(latest)})}
    inserted = updated = 0
    for oid, owner in latest.items():
        facts = owner_props(owner, plan.sealer, sealed=False)
        old = stored.get(oid)
        now = (facts["kind"], facts.get("name_index"), facts.get("id_number_index"), facts.get("phone_index"))
        if old is not None and tuple(old) == now:
            continue
        # seal only what is written: sealing is the costly part of an owner
        props = owner_props(owner, plan.sealer)
        if old is None:
            inserted += 1
            plan.add("new_owner", [props])
        else:
            updated += 1
            plan.add("update_owner", [props])
    return WriteCounts(inserted, updated, len(batch.owners) - inserted - updated)


_PARTY_FRAGMENTS = (
    ("new_firm", "CREATE (f:Firm) SET f = r"),
    ("update_firm", "MATCH (f:Firm {code: r.code}) SET f = r"),
    ("new_owner", "CREATE (o:Owner) SET o = r"),
    ("update_owner", "MATCH (o:Owner {id: r.id}) SET o = r"),
)

# -- spans: managements and ownerships -------------------------------------------------------


async def _known_firms(plan: Plan, batch: Batch, codes: Sequence[str]) -> set[str]:
    known = {firm.code for firm in batch.firms}
    wanted = [code for code in dict.fromkeys(codes) if code not in known]
    if wanted:
        known.update(props["code"] for (props,) in await plan.transport.run(STORED_FIRMS, {"codes": wanted}))
    return known


async def _known_owners(plan: Plan, batch: Batch, ids: Sequence[str]) -> set[str]:
    known = {owner.id for owner in batch.owners}
    wanted = [oid for oid in dict.fromkeys(ids) if oid not in known]
    if wanted:
        known.update(row[0] for row in await plan.transport.run(STORED_OWNERS, {"ids": wanted}))
    return known


async def _plan_managements(batch: Batch, plan: Plan) -> WriteCounts:
    if not batch.managements:
        return WriteCounts()
    estates = await plan.place_props([m.estate_code for m in batch.managements])
    firms = await _known_firms(plan, batch, [m.firm_code for m in batch.managements])
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in batch.managements:
        what = f"management of estate {item.estate_code} by firm {item.firm_code}"
        estate = estates.get(item.estate_code)
        if estate is None or estate["level"] != Level.ESTATE:
            raise missing(what, item.estate_code, "estate")
        if item.firm_code not in firms:
            raise missing(what, item.firm_code, "firm")
        check_span(what, item.since, item.until)
        props = span_props(item.since, item.until, item.provenance)
        rows[(item.estate_code, item.firm_code, props["since"])] = {
            "estate": item.estate_code, "firm": item.firm_code, "since": props["since"], "props": props,
        }
    stored: dict[tuple[str, str, str], str | None] = {}
    for estate, firm, since, until in await plan.transport.run(STORED_MANAGEMENTS, {"codes": list({k[0] for k in rows})}):
        stored[(estate, firm, since)] = until
    inserted = updated = 0
    for key, row in rows.items():
        if key not in stored:
            inserted += 1
            plan.add("new_management", [row])
        elif stored[key] != row["props"].get("until"):
            updated += 1
            plan.add("update_management", [row])
    return WriteCounts(inserted, updated, len(batch.managements) - inserted - updated)


async def _plan_ownerships(batch: Batch, plan: Plan) -> WriteCounts:
    if not batch.ownerships:
        return WriteCounts()
    houses = await plan.place_props([o.house_code for o in batch.ownerships])
    owners = await _known_owners(plan, batch, [o.owner_id for o in batch.ownerships])
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in batch.ownerships:
        what = f"ownership of house {item.house_code} by owner {item.owner_id}"
        house = houses.get(item.house_code)
        if house is None or house["level"] != Level.HOUSE:
            raise missing(what, item.house_code, "house")
        if item.owner_id not in owners:
            raise missing(what, item.owner_id, "owner")
        check_share(what, item.share)
        check_span(what, item.since, item.until)
        props = span_props(item.since, item.until, item.provenance, share=float(item.share), origin=item.source)
        rows[(item.house_code, item.owner_id, props["since"])] = {
            "house": item.house_code, "owner": item.owner_id, "since": props["since"], "props": props,
        }
    stored: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    for house, owner, since, *facts in await plan.transport.run(STORED_OWNERSHIPS, {"codes": list({k[0] for k in rows})}):
        stored[(house, owner, since)] = tuple(facts)
    inserted = updated = 0
    for key, row in rows.items():
        props = row["props"]
        if key not in stored:
            inserted += 1
            plan.add("new_ownership", [row])
        elif stored[key] != (props["share"], props.get("until"), props["origin"]):
            updated += 1
            plan.add("update_ownership", [row])
        else:
            continue
        plan.owners.add(row["owner"])
    return WriteCounts(inserted, updated, len(batch.ownerships) - inserted - updated)


_SPAN_FRAGMENTS = (
    (
        "new_management",
        "MATCH (f:Firm {code: r.firm}) MATCH (e:Place {code: r.estate}) CREATE (f)-[m:MANAGES]->(e) SET m = r.props",
    ),
    (
        "update_management",
        "MATCH (f:Firm {code: r.firm})-[m:MANAGES]->(e:Place {code: r.estate}) WHERE m.since = r.since SET m = r.props",
    ),
    (
        "new_ownership",
        "MATCH (o:Owner {id: r.owner}) MATCH (h:Place {code: r.house}) CREATE (o)-[s:OWNS]->(h) SET s = r.props",
    ),
    (
        "update_ownership",
        "MATCH (o:Owner {id: r.owner})-[s:OWNS]->(h:Place {code: r.house}) WHERE s.since = r.since SET s = r.props",
    ),
)

PARTS: list[Part] = [
    Part("places", _PLACE_FRAGMENTS, _plan_places),
    Part("firms", _PARTY_FRAGMENTS[:2], _plan_firms),
    Part("owners", _PARTY_FRAGMENTS[2:], _plan_owners),
    Part("managements", _SPAN_FRAGMENTS[:2], _plan_managements),
    Part("ownerships", _SPAN_FRAGMENTS[2:], _plan_ownerships),
]
"""The parts of the batch statement, in the order they write (parents before what hangs on
them); other modules append theirs before `batch_statement()` assembles it."""


def batch_statement(parts: Sequence[Part]) -> st.Statement:
    """The one statement writing a whole batch, every row guarded by the lease; it marks the
    roll-ups pending and returns 1 only if the writer still held the lease."""
    clauses = [
        f"UNWIND ${parameter} AS r {GUARD} {cypher} WITH count(*) AS _{index}"
        for index, (parameter, cypher) in enumerate(fragment for part in parts for fragment in part.fragments)
    ]
    tail = f"{GUARD} MERGE (k:Meta {{name: 'rollups'}}) SET k.pending = $token RETURN count(lease)"
    return st.write("writes.batch", " ".join([*clauses, tail]))


def batch_parameters(parts: Sequence[Part], plan: Plan) -> dict[str, Any]:
    names = [parameter for part in parts for parameter, _ in part.fragments]
    params: dict[str, Any] = {name: plan.params.get(name, []) for name in names}
    params["written_codes"] = [row["code"] for row in plan.params.get("written", [])]
    return params


__all__ = ["PARTS", "Part", "Plan", "batch_parameters", "batch_statement", "values"]
