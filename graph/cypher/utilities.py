"""Utility accounts, bills and outage notices in the graph (graph.utilities.UtilityStore).

An account is an `(:Account {key, utility, account_no})` node `-[:FOR]->` its house; a bill a
`(:Bill {key, period, amount_fen, paid_fen, due})` node `-[:OF]->` its account, its money in
whole fen, integers as `graph.utilities.Bill` holds them (never floats: sums stay exact); an outage an `(:Outage {key, utility, notice_id, starts_at,
ends_at, reason, planned})` node `-[:AFFECTS]->` each place it names, its times in microseconds.
Keys are the records' natural keys (`utility|account_no`, `utility|account_no|period`,
`utility|notice_id`), indexed.

Every read reaches a place and tests it with the caller's scope, so an account of a house
outside the scope, or an outage none of whose places is in it, behaves as if it did not exist.
Writes go through the batch statement (graph.cypher.writes): the planners here check and compare
before anything is written, so a rerun reports everything unchanged, provenance alone is never
a change (an update keeps the first provenance), and a bad record fails the whole batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.model import provenance_of, provenance_props, scope_params, seen
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.cypher.writes import PARTS, Part, Plan
from graph.errors import StoreError
from graph.levels import Level
from graph.model import Batch, Page, WriteCounts
from graph.scope import Scope
from graph.store import MAX_PAGE
from graph.utilities import (
    Arrears,
    Outage,
    Utility,
    UtilityAccount,
    check_account,
    check_bill,
    check_outage,
    outage_cursor,
    outage_position,
)

for _label in ("Account", "Bill", "Outage"):
    index(_label, "key", unique=True)

_PROVENANCE = ("source", "source_record", "fetched_at", "run_id")
_ACCOUNT_COLUMNS = ", ".join(f"a.{name}" for name in ("utility", "account_no", *_PROVENANCE))
"""An account as columns: the client reads maps (`properties(a)`) several times slower."""

# The planners ask the graph what differs rather than reading every stored record back: a rerun
# of a stream (every bill it sent, again) then reads nothing, and the client reads no maps (it
# parses them several times slower than the columns of a few rows); what differs comes back as
# two lists in one row (new keys, changed keys), which the client reads fastest.
NOT_HOUSES = st.read(
    "utilities.not_houses",
    "UNWIND $codes AS c OPTIONAL MATCH (p:Place {code: c}) WITH c, p WHERE p IS NULL OR p.level <> 8 RETURN c",
)
NOT_PLACES = st.read(
    "utilities.not_places",
    "UNWIND $codes AS c OPTIONAL MATCH (p:Place {code: c}) WITH c, p WHERE p IS NULL RETURN c",
)
STALE_ACCOUNTS = st.read(
    "utilities.stale_accounts",
    "UNWIND $rows AS r OPTIONAL MATCH (a:Account {key: r.key}) OPTIONAL MATCH (a)-[:FOR]->(h:Place) "
    "WITH r, a, h WHERE a IS NULL OR h IS NULL OR h.code <> r.house "
    "RETURN collect(CASE WHEN a IS NULL THEN r.key END), collect(CASE WHEN a IS NOT NULL THEN r.key END)",
)
UNKNOWN_ACCOUNTS = st.read(
    "utilities.unknown_accounts",
    "UNWIND $keys AS k OPTIONAL MATCH (a:Account {key: k}) WITH k, a WHERE a IS NULL RETURN k",
)
STALE_BILLS = st.read(
    "utilities.stale_bills",
    "UNWIND $rows AS r OPTIONAL MATCH (b:Bill {key: r.key}) WITH r, b "
    "WHERE b IS NULL OR b.amount_fen <> r.amount_fen OR b.paid_fen <> r.paid_fen OR b.due <> r.due "
    "RETURN collect(CASE WHEN b IS NULL THEN r.key END), collect(CASE WHEN b IS NOT NULL THEN r.key END)",
)
STORED_OUTAGES = st.read(
    "utilities.stored_outages",
    "UNWIND $keys AS k MATCH (o:Outage {key: k}) OPTIONAL MATCH (o)-[:AFFECTS]->(p:Place) "
    "WITH o, collect(p.code) AS codes RETURN properties(o), codes",
)

ACCOUNTS_OF = st.read(
    "utilities.accounts_of",
    f"UNWIND $codes AS c MATCH (h:Place {{code: c}}) WHERE h.level = 8 AND {seen('h')} "
    f"MATCH (a:Account)-[:FOR]->(h) RETURN c, {_ACCOUNT_COLUMNS}",
)
ACCOUNTS = st.read(
    "utilities.accounts",
    # the scope test after a WITH: in the MATCH's WHERE it makes FalkorDB scan every account
    f"UNWIND $keys AS k MATCH (a:Account {{key: k}})-[:FOR]->(h:Place) WITH a, h WHERE {seen('h')} "
    f"RETURN h.code, {_ACCOUNT_COLUMNS}",
)
ARREARS = st.read(
    "utilities.arrears",
    f"UNWIND $codes AS c MATCH (h:Place {{code: c}}) WHERE h.level = 8 AND {seen('h')} "
    # the WITH keeps FalkorDB walking from the house: with the bill's test in the MATCH's WHERE
    # it scans every bill for every house asked
    "MATCH (a:Account)-[:FOR]->(h) MATCH (b:Bill)-[:OF]->(a) WITH c, a, b WHERE b.due < $as_of AND b.amount_fen > b.paid_fen "
    "RETURN c, a.utility, a.account_no, sum(b.amount_fen - b.paid_fen), count(b), collect(b.period)",
)
OWING_OF_HOUSES = st.read(
    "utilities.owing_of_houses",
    f"UNWIND $codes AS c MATCH (h:Place {{code: c}}) WHERE h.level = 8 AND {seen('h')} "
    "MATCH (a:Account)-[:FOR]->(h) MATCH (b:Bill)-[:OF]->(a) WITH c, b WHERE b.due < $as_of AND b.amount_fen > b.paid_fen "
    "RETURN DISTINCT c",
)
SEEN_PLACES = st.read(
    "utilities.seen_places",
    f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WHERE {seen('p')} RETURN c, p.level",
)
OWING_COUNTS = st.read(
    "utilities.owing_counts",
    "MATCH (b:Bill) WHERE b.due < $as_of AND b.amount_fen > b.paid_fen "
    "MATCH (b)-[:OF]->(:Account)-[:FOR]->(h:Place) "
    f"WHERE any(c IN h.line WHERE c IN $codes) AND {seen('h')} "
    "WITH DISTINCT h UNWIND h.line AS c WITH c, h WHERE c IN $codes RETURN c, count(h)",
)
LINE = st.read("utilities.line", "MATCH (w:Place {code: $within}) RETURN w.line")
OUTAGES = st.read(
    "utilities.outages",
    "MATCH (o:Outage) WHERE ($utility IS NULL OR o.utility = $utility) "
    "AND ($active IS NULL OR (o.starts_at <= $active AND (o.ends_at IS NULL OR o.ends_at > $active))) "
    "AND ($start IS NULL OR o.starts_at < $start OR (o.starts_at = $start AND (o.utility < $after_utility "
    "OR (o.utility = $after_utility AND o.notice_id < $notice)))) "
    f"MATCH (o)-[:AFFECTS]->(p:Place) WHERE {seen('p')} AND ($within IS NULL OR $within IN p.line OR p.code IN $above) "
    "WITH DISTINCT o ORDER BY o.starts_at DESC, o.utility DESC, o.notice_id DESC LIMIT $limit "
    f"OPTIONAL MATCH (o)-[:AFFECTS]->(q:Place) WHERE {seen('q')} RETURN properties(o), collect(q.code)",
)


def record_key(utility: Utility | str, number: str) -> str:
    """A record's natural key as one indexed property: `utility|account_no` (an account, and
    with `|period` a bill) or `utility|notice_id` (an outage); the utility never holds a `|`."""
    return f"{utility.value if isinstance(utility, Utility) else utility}|{number}"


def _kept(old: dict[str, Any]) -> dict[str, Any]:
    """The stored provenance an update keeps (the first one seen)."""
    return {name: old[name] for name in _PROVENANCE if old.get(name) is not None}


# -- writes: planners of the batch statement ----------------------------------------------------


async def _missing(plan: Plan, statement: st.Statement, codes: Sequence[str], level: Level | None) -> set[str]:
    """The codes that are not places (of `level`) once the batch is written: planned places
    are taken from the plan, the others asked of the graph."""
    planned = {code: plan.places[code] for code in dict.fromkeys(codes) if code in plan.places}
    missing = {code for code, props in planned.items() if level is not None and props["level"] != level}
    asked = [code for code in dict.fromkeys(codes) if code not in planned]
    if asked:
        missing.update(code for (code,) in await plan.transport.run(statement, {"codes": asked}))
    return missing


async def _plan_accounts(batch: Batch, plan: Plan) -> WriteCounts:
    if not batch.accounts:
        return WriteCounts()
    for account in batch.accounts:
        check_account(account)
    latest = {record_key(a.utility, a.account_no): a for a in batch.accounts}  # the last record of a key wins
    missing = await _missing(plan, NOT_HOUSES, [a.house_code for a in latest.values()], Level.HOUSE)
    for account in latest.values():
        if account.house_code in missing:
            raise StoreError(
                f"{account.utility.value} account {account.account_no}: house {account.house_code} is not in the store"
            )
    rows = [{"key": key, "house": account.house_code} for key, account in latest.items()]
    [(new, changed)] = await plan.transport.run(STALE_ACCOUNTS, {"rows": rows})
    for key in new:
        account = latest[key]
        props = values.present(
            {"key": key, "utility": account.utility.value, "account_no": account.account_no, **provenance_props(account.provenance)}
        )
        plan.add("new_account", [{"house": account.house_code, "props": props}])
    for key in changed:  # moved to another house: the account keeps its first provenance
        plan.add("account_unlink", [{"key": key}])
        plan.add("account_link", [{"key": key, "house": latest[key].house_code}])
    return WriteCounts(len(new), len(changed), len(batch.accounts) - len(new) - len(changed))


async def _plan_bills(batch: Batch, plan: Plan) -> WriteCounts:
    if not batch.bills:
        return WriteCounts()
    for bill in batch.bills:
        check_bill(bill)
    latest = {f"{record_key(b.utility, b.account_no)}|{b.period}": b for b in batch.bills}
    in_batch = {record_key(a.utility, a.account_no) for a in batch.accounts}
    asked = [key for key in dict.fromkeys(record_key(b.utility, b.account_no) for b in latest.values()) if key not in in_batch]
    unknown = {key for (key,) in await plan.transport.run(UNKNOWN_ACCOUNTS, {"keys": asked})} if asked else set()
    rows: list[dict[str, Any]] = []
    for key, bill in latest.items():
        account = record_key(bill.utility, bill.account_no)
        if account in unknown:
            raise StoreError(
                f"{bill.utility.value} bill {bill.account_no}|{bill.period}: account {bill.account_no} is not in the store"
            )
        rows.append({"key": key, "account": account, "amount_fen": bill.amount_fen, "paid_fen": bill.paid_fen, "due": values.day(bill.due)})
    by_key = {row["key"]: row for row in rows}
    [(new, changed)] = await plan.transport.run(STALE_BILLS, {"rows": rows})
    for key in new:
        row, bill = by_key[key], latest[key]
        props = values.present(
            {"key": key, "period": bill.period, **{name: row[name] for name in ("amount_fen", "paid_fen", "due")},
             **provenance_props(bill.provenance)}
        )
        plan.add("new_bill", [{"account": row["account"], "props": props}])
    # the facts change, the first provenance stays
    plan.add("update_bill", [{name: by_key[key][name] for name in ("key", "amount_fen", "paid_fen", "due")} for key in changed])
    return WriteCounts(len(new), len(changed), len(batch.bills) - len(new) - len(changed))


def _outage_facts(outage: Outage) -> dict[str, Any]:
    return values.present(
        {
            "starts_at": values.micros(outage.starts_at),
            "ends_at": values.micros(outage.ends_at),
            "reason": outage.reason,
            "planned": bool(outage.planned),
        }
    )


_OUTAGE_FACTS = ("starts_at", "ends_at", "reason", "planned")


async def _plan_outages(batch: Batch, plan: Plan) -> WriteCounts:
    if not batch.outages:
        return WriteCounts()
    for outage in batch.outages:
        check_outage(outage)
    latest = {record_key(o.utility, o.notice_id): o for o in batch.outages}
    missing = await _missing(plan, NOT_PLACES, [code for o in latest.values() for code in o.place_codes], None)
    stored: dict[str, tuple[dict[str, Any], set[str]]] = {}
    for props, codes in await plan.transport.run(STORED_OUTAGES, {"keys": list(latest)}):
        stored[props["key"]] = (props, set(codes))
    inserted = updated = 0
    for key, outage in latest.items():
        for code in outage.place_codes:
            if code in missing:
                raise StoreError(f"{outage.utility.value} outage {outage.notice_id}: place {code} is not in the store")
        wanted = set(outage.place_codes)
        facts = _outage_facts(outage)
        named = {"key": key, "utility": outage.utility.value, "notice_id": outage.notice_id}
        if key not in stored:
            inserted += 1
            plan.add("new_outage", [{**named, **facts, **values.present(provenance_props(outage.provenance))}])
            plan.add("outage_link", [{"key": key, "code": code} for code in sorted(wanted)])
            continue
        old, had = stored[key]
        same = all(old.get(name) == facts.get(name) for name in _OUTAGE_FACTS)
        if same and had == wanted:
            continue
        updated += 1
        if not same:
            plan.add("update_outage", [{**named, **facts, **_kept(old)}])
        plan.add("outage_unlink", [{"key": key, "code": code} for code in sorted(had - wanted)])
        plan.add("outage_link", [{"key": key, "code": code} for code in sorted(wanted - had)])
    return WriteCounts(inserted, updated, len(batch.outages) - inserted - updated)


_ACCOUNT_FRAGMENTS = (
    ("new_account", "MATCH (h:Place {code: r.house}) CREATE (a:Account)-[:FOR]->(h) SET a = r.props"),
    ("account_unlink", "MATCH (a:Account {key: r.key})-[e:FOR]->(:Place) DELETE e"),
    ("account_link", "MATCH (a:Account {key: r.key}) MATCH (h:Place {code: r.house}) CREATE (a)-[:FOR]->(h)"),
)
_BILL_FRAGMENTS = (
    ("new_bill", "MATCH (a:Account {key: r.account}) CREATE (b:Bill)-[:OF]->(a) SET b = r.props"),
    # a bill's facts are never null: setting them one by one removes nothing (see the preamble
    # of graph.cypher on FalkorDB's removals) and keeps the node's provenance
    ("update_bill", "MATCH (b:Bill {key: r.key}) SET b.amount_fen = r.amount_fen, b.paid_fen = r.paid_fen, b.due = r.due"),
)
_OUTAGE_FRAGMENTS = (
    ("new_outage", "CREATE (o:Outage) SET o = r"),
    ("update_outage", "MATCH (o:Outage {key: r.key}) SET o = r"),
    ("outage_unlink", "MATCH (o:Outage {key: r.key})-[e:AFFECTS]->(p:Place {code: r.code}) DELETE e"),
    ("outage_link", "MATCH (o:Outage {key: r.key}) MATCH (p:Place {code: r.code}) CREATE (o)-[:AFFECTS]->(p)"),
)

_PARTS = (
    Part("accounts", _ACCOUNT_FRAGMENTS, _plan_accounts),
    Part("bills", _BILL_FRAGMENTS, _plan_bills),
    Part("outages", _OUTAGE_FRAGMENTS, _plan_outages),
)
_present = {part.name for part in PARTS}
PARTS.extend(part for part in _PARTS if part.name not in _present)  # before graph.cypher.store builds BATCH


# -- reads ---------------------------------------------------------------------------------------


def _account_of(house: str, utility: str, number: str, *provenance: Any) -> UtilityAccount:
    return UtilityAccount(
        utility=Utility(utility),
        account_no=number,
        house_code=house,
        provenance=provenance_of(dict(zip(_PROVENANCE, provenance))),
    )


def _outage_of(props: dict[str, Any], codes: Sequence[str]) -> Outage:
    starts = values.from_micros(props["starts_at"])
    assert starts is not None
    return Outage(
        utility=Utility(props["utility"]),
        notice_id=props["notice_id"],
        place_codes=tuple(sorted(set(codes))),
        starts_at=starts,
        ends_at=values.from_micros(props.get("ends_at")),
        reason=props["reason"],
        planned=bool(props["planned"]),
        provenance=provenance_of(props),
    )


class UtilityRecords:
    """The utility part of the store port (a base of CypherStore)."""

    transport: Transport

    async def utility_accounts(self, house_codes: Sequence[str], scope: Scope) -> list[list[UtilityAccount]]:
        rows = await self.transport.run(ACCOUNTS_OF, {"codes": list(dict.fromkeys(house_codes)), **scope_params(scope)})
        groups: dict[str, list[UtilityAccount]] = {}
        for row in rows:
            groups.setdefault(row[0], []).append(_account_of(*row))
        return [sorted(groups.get(code, []), key=lambda a: (a.utility.value, a.account_no)) for code in house_codes]

    async def accounts(self, keys: Sequence[tuple[Utility, str]], scope: Scope) -> list[UtilityAccount | None]:
        wanted = list(dict.fromkeys(record_key(utility, number) for utility, number in keys))
        found = {
            record_key(account.utility, account.account_no): account
            for account in (_account_of(*row) for row in await self.transport.run(ACCOUNTS, {"keys": wanted, **scope_params(scope)}))
        }
        return [found.get(record_key(utility, number)) for utility, number in keys]

    async def arrears(self, house_codes: Sequence[str], as_of: dt.date, scope: Scope) -> list[list[Arrears]]:
        params = {"codes": list(dict.fromkeys(house_codes)), "as_of": values.day(as_of), **scope_params(scope)}
        groups: dict[str, list[Arrears]] = {}
        for code, utility, number, owed, bills, periods in await self.transport.run(ARREARS, params):
            groups.setdefault(code, []).append(Arrears(Utility(utility), number, code, int(owed), int(bills), min(periods)))
        return [sorted(groups.get(code, []), key=lambda a: (a.utility.value, a.account_no)) for code in house_codes]

    async def outages(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        active_at: dt.datetime | None = None,
        utility: Utility | None = None,
    ) -> Page[Outage]:
        first = max(1, min(first, MAX_PAGE))
        position = outage_position(after)
        above: list[str] = []
        if within is not None:
            rows = await self.transport.run(LINE, {"within": within})
            if not rows:
                return Page(items=[], has_next=False, end_cursor=None)
            # under `within`, or a place above it (an outage of a whole estate reaches every
            # building in it)
            above = list(rows[0][0][:-1])
        start, after_utility, notice = position if position is not None else (None, None, None)
        params = {
            "utility": utility.value if utility is not None else None,
            "active": values.micros(active_at),
            "start": values.micros(start),
            "after_utility": after_utility.value if after_utility is not None else None,
            "notice": notice,
            "within": within,
            "above": above,
            "limit": first + 1,
            **scope_params(scope),
        }
        found = [_outage_of(props, codes) for props, codes in await self.transport.run(OUTAGES, params)]
        found.sort(key=lambda o: (values.micros(o.starts_at), o.utility.value, o.notice_id), reverse=True)
        items = found[:first]
        return Page(
            items=items,
            has_next=len(found) > first,
            end_cursor=outage_cursor(items[-1]) if items else None,
            start_cursor=outage_cursor(items[0]) if items else None,
        )

    async def arrears_counts(self, codes: Sequence[str], as_of: dt.date, scope: Scope) -> list[int | None]:
        unique = list(dict.fromkeys(codes))
        params = {"codes": unique, **scope_params(scope)}
        seen_levels = {code: level for code, level in await self.transport.run(SEEN_PLACES, params)}
        counts = {code: 0 for code in seen_levels}
        houses = [code for code, level in seen_levels.items() if level == Level.HOUSE]
        areas = [code for code, level in seen_levels.items() if level != Level.HOUSE]
        day = values.day(as_of)
        if houses:
            # a house: from it to its bills
            for (code,) in await self.transport.run(OWING_OF_HOUSES, {**params, "codes": houses, "as_of": day}):
                counts[code] = 1
        if areas:
            # houses in arrears under each place, counted by the graph from the overdue bills:
            # proportional to those, not to the houses under the places
            rows = await self.transport.run(OWING_COUNTS, {**params, "codes": areas, "as_of": day})
            counts.update((code, int(number)) for code, number in rows)
        return [counts.get(code) for code in codes]


__all__ = ["UtilityRecords", "record_key"]
