"""Utility accounts, bills and outage notices on Cypher (`graph.utilities.UtilityStore`).

An account is an `:Account` node naming its house (`house_code`), a bill a `:Bill` node naming
its account (`account`: the account's key), an outage an `:Outage` node that `AFFECTS` the
places it names. Keys are the natural keys as JSON text. They are written by the batch
statement (a `Part` of graph.cypher.writes): planned here against what is stored — checked with
`graph.utilities.check_utilities`, a reference to a house, account or place the store does not
hold refused naming it, unchanged records (provenance alone is no change) left alone, updates
keeping the provenance first written — so a refused batch writes nothing.

Reads go through the place a record hangs on and test it with the caller's scope: an account
or bill of a house out of scope, an outage none of whose places is in scope, is absent.
"""

from __future__ import annotations

import datetime as dt
import json
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
    OWED_ABOVE,
    Arrears,
    Bill,
    Outage,
    Utility,
    UtilityAccount,
    arrears_of,
    check_utilities,
    outage_cursor,
    outage_position,
)

index("Account", "key", unique=True)
index("Account", "house_code")
index("Bill", "key", unique=True)
index("Bill", "account")
index("Outage", "key", unique=True)

STORED_ACCOUNTS = st.read("utilities.stored_accounts", "UNWIND $keys AS k MATCH (a:Account {key: k}) RETURN properties(a)")
STORED_BILLS = st.read("utilities.stored_bills", "UNWIND $keys AS k MATCH (b:Bill {key: k}) RETURN properties(b)")
STORED_OUTAGES = st.read(
    "utilities.stored_outages",
    "UNWIND $keys AS k MATCH (o:Outage {key: k}) OPTIONAL MATCH (o)-[:AFFECTS]->(p:Place) "
    "RETURN properties(o), collect(p.code)",
)

ACCOUNTS_OF = st.read(
    "utilities.accounts_of",
    f"UNWIND $codes AS c MATCH (h:Place {{code: c}}) WHERE h.level = 8 AND {seen('h')} "
    "MATCH (a:Account {house_code: c}) RETURN c, properties(a)",
)
ACCOUNTS = st.read(
    "utilities.accounts",
    f"UNWIND $keys AS k MATCH (a:Account {{key: k}}) MATCH (h:Place {{code: a.house_code}}) WHERE {seen('h')} "
    "RETURN k, properties(a)",
)
ARREARS = st.read(
    "utilities.arrears",
    f"UNWIND $codes AS c MATCH (h:Place {{code: c}}) WHERE h.level = 8 AND {seen('h')} "
    "MATCH (a:Account {house_code: c}) MATCH (b:Bill {account: a.key}) WHERE b.due < $as_of AND b.amount - b.paid > $owed "
    "RETURN c, properties(a), properties(b)",
)
OWING_HOUSES = st.read(
    "utilities.owing_houses",
    "MATCH (b:Bill) WHERE b.due < $as_of AND b.amount - b.paid > $owed MATCH (a:Account {key: b.account}) "
    f"MATCH (h:Place {{code: a.house_code}}) WHERE {seen('h')} RETURN DISTINCT h.line",
)
SEEN_PLACES = st.read(
    "utilities.seen_places", f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WHERE {seen('p')} RETURN c"
)
WITHIN_LINE = st.read("utilities.within_line", "MATCH (w:Place {code: $within}) RETURN w.line")
OUTAGES = st.read(
    "utilities.outages",
    "MATCH (o:Outage) WHERE ($utility IS NULL OR o.utility = $utility) "
    "AND ($active IS NULL OR (o.starts_at <= $active AND (o.ends_at IS NULL OR o.ends_at > $active))) "
    "AND ($starts IS NULL OR o.starts_at < $starts OR (o.starts_at = $starts AND (o.utility < $after_utility "
    "OR (o.utility = $after_utility AND o.notice_id < $notice)))) "
    f"MATCH (o)-[:AFFECTS]->(p:Place) WHERE {seen('p')} "
    "AND ($within IS NULL OR $within IN p.line OR p.code IN $above) "
    "WITH DISTINCT o RETURN properties(o) ORDER BY o.starts_at DESC, o.utility DESC, o.notice_id DESC LIMIT $limit",
)
AFFECTED = st.read(
    "utilities.affected",
    f"UNWIND $keys AS k MATCH (o:Outage {{key: k}})-[:AFFECTS]->(p:Place) WHERE {seen('p')} RETURN k, p.code",
)


def account_key(utility: Utility | str, number: str) -> str:
    return json.dumps([utility.value if isinstance(utility, Utility) else utility, number], ensure_ascii=False)


def bill_key(utility: Utility, number: str, period: str) -> str:
    return json.dumps([utility.value, number, period], ensure_ascii=False)


def outage_key(utility: Utility, notice: str) -> str:
    return json.dumps([utility.value, notice], ensure_ascii=False)


def _account_of(props: dict[str, Any]) -> UtilityAccount:
    return UtilityAccount(Utility(props["utility"]), props["account_no"], props["house_code"], provenance_of(props))


def _bill_of(props: dict[str, Any]) -> Bill:
    due = values.from_day(props["due"])
    assert due is not None
    return Bill(
        Utility(props["utility"]), props["account_no"], props["period"], float(props["amount"]), float(props["paid"]), due,
        provenance_of(props),
    )


# -- writes -----------------------------------------------------------------------------------


async def _plan_utilities(batch: Batch, plan: Plan) -> WriteCounts:
    if not (batch.accounts or batch.bills or batch.outages):
        return WriteCounts()
    check_utilities(batch.accounts, batch.bills, batch.outages)
    counts = WriteCounts()
    accounts: dict[str, dict[str, Any]] = {}
    if batch.accounts:
        part, accounts = await _plan_accounts(batch.accounts, plan)
        counts += part
    if batch.bills:
        counts += await _plan_bills(batch.bills, accounts, plan)
    if batch.outages:
        counts += await _plan_outages(batch.outages, plan)
    return counts


async def _stored(plan: Plan, statement: st.Statement, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {props["key"]: props for (props,) in await plan.transport.run(statement, {"keys": list(keys)})}


async def _plan_accounts(
    records: Sequence[UtilityAccount], plan: Plan
) -> tuple[WriteCounts, dict[str, dict[str, Any]]]:
    latest = {account_key(a.utility, a.account_no): a for a in records}  # the last record of a key wins
    houses = await plan.place_props([a.house_code for a in latest.values()])
    stored = await _stored(plan, STORED_ACCOUNTS, list(latest))
    planned: dict[str, dict[str, Any]] = {}
    inserted = updated = 0
    for key, account in latest.items():
        house = houses.get(account.house_code)
        if house is None or house["level"] != Level.HOUSE:
            raise StoreError(f"{account.utility.value} account {account.account_no}: house {account.house_code} is not in the store")
        old = stored.get(key)
        if old is None:
            props = values.present({
                "key": key, "utility": account.utility.value, "account_no": account.account_no,
                "house_code": account.house_code, **provenance_props(account.provenance),
            })
            plan.add("new_account", [props])
            inserted += 1
        elif old["house_code"] != account.house_code:
            props = {**old, "house_code": account.house_code}
            plan.add("update_account", [props])
            updated += 1
        else:
            props = old
        planned[key] = props
    return WriteCounts(inserted, updated, len(records) - inserted - updated), planned


async def _plan_bills(records: Sequence[Bill], accounts: dict[str, dict[str, Any]], plan: Plan) -> WriteCounts:
    latest = {bill_key(b.utility, b.account_no, b.period): b for b in records}
    wanted = [account_key(b.utility, b.account_no) for b in latest.values()]
    known = set(accounts) | set(await _stored(plan, STORED_ACCOUNTS, [k for k in dict.fromkeys(wanted) if k not in accounts]))
    stored = await _stored(plan, STORED_BILLS, list(latest))
    inserted = updated = 0
    for key, bill in latest.items():
        owner = account_key(bill.utility, bill.account_no)
        if owner not in known:
            raise StoreError(
                f"{bill.utility.value} bill {bill.account_no}|{bill.period}: account {bill.account_no} is not in the store"
            )
        facts = {"amount": round(bill.amount, 2), "paid": round(bill.paid, 2), "due": values.day(bill.due)}
        old = stored.get(key)
        if old is None:
            plan.add("new_bill", [values.present({
                "key": key, "account": owner, "utility": bill.utility.value, "account_no": bill.account_no,
                "period": bill.period, **facts, **provenance_props(bill.provenance),
            })])
            inserted += 1
        elif (round(float(old["amount"]), 2), round(float(old["paid"]), 2), old["due"]) != tuple(facts.values()):
            plan.add("update_bill", [{**old, **facts}])
            updated += 1
    return WriteCounts(inserted, updated, len(records) - inserted - updated)


async def _plan_outages(records: Sequence[Outage], plan: Plan) -> WriteCounts:
    latest = {outage_key(o.utility, o.notice_id): o for o in records}
    places = await plan.place_props([code for o in latest.values() for code in o.place_codes])
    stored: dict[str, tuple[dict[str, Any], set[str]]] = {
        props["key"]: (props, set(codes))
        for props, codes in await plan.transport.run(STORED_OUTAGES, {"keys": list(latest)})
    }
    inserted = updated = 0
    for key, outage in latest.items():
        for code in outage.place_codes:
            if code not in places:
                raise StoreError(f"{outage.utility.value} outage {outage.notice_id}: place {code} is not in the store")
        wanted = set(outage.place_codes)
        facts = values.present({
            "starts_at": values.micros(outage.starts_at),
            "ends_at": values.micros(outage.ends_at),
            "reason": outage.reason,
            "planned": outage.planned,
        })
        found = stored.get(key)
        if found is None:
            plan.add("new_outage", [values.present({
                "key": key, "utility": outage.utility.value, "notice_id": outage.notice_id,
                **facts, **provenance_props(outage.provenance),
            })])
            plan.add("affect", [{"key": key, "code": code} for code in sorted(wanted)])
            inserted += 1
            continue
        old, had = found
        kept = {name: old[name] for name in old if name not in ("starts_at", "ends_at", "reason", "planned")}
        same = all(old.get(name) == facts.get(name) for name in ("starts_at", "ends_at", "reason", "planned"))
        if same and had == wanted:
            continue
        if not same:
            plan.add("update_outage", [{**kept, **facts}])
        plan.add("unaffect", [{"key": key, "code": code} for code in sorted(had - wanted)])
        plan.add("affect", [{"key": key, "code": code} for code in sorted(wanted - had)])
        updated += 1
    return WriteCounts(inserted, updated, len(records) - inserted - updated)


FRAGMENTS = (
    ("new_account", "CREATE (a:Account) SET a = r"),
    ("update_account", "MATCH (a:Account {key: r.key}) SET a = r"),
    ("new_bill", "CREATE (b:Bill) SET b = r"),
    ("update_bill", "MATCH (b:Bill {key: r.key}) SET b = r"),
    ("new_outage", "CREATE (o:Outage) SET o = r"),
    ("update_outage", "MATCH (o:Outage {key: r.key}) SET o = r"),
    ("unaffect", "MATCH (o:Outage {key: r.key})-[e:AFFECTS]->(p:Place {code: r.code}) DELETE e"),
    ("affect", "MATCH (o:Outage {key: r.key}) MATCH (p:Place {code: r.code}) CREATE (o)-[:AFFECTS]->(p)"),
)

PARTS.append(Part("utilities", FRAGMENTS, _plan_utilities))


# -- reads -------------------------------------------------------------------------------------


class UtilityReads:
    """The utility part of the store port on Cypher (writes are the batch's `utilities` part)."""

    transport: Transport

    async def utility_accounts(self, house_codes: Sequence[str], scope: Scope) -> list[list[UtilityAccount]]:
        groups: dict[str, list[UtilityAccount]] = {code: [] for code in house_codes}
        if house_codes:
            params = {"codes": sorted(set(house_codes)), **scope_params(scope)}
            for code, props in await self.transport.run(ACCOUNTS_OF, params):
                groups[code].append(_account_of(props))
        return [sorted(groups[code], key=lambda a: (a.utility.value, a.account_no)) for code in house_codes]

    async def accounts(self, keys: Sequence[tuple[Utility, str]], scope: Scope) -> list[UtilityAccount | None]:
        wanted = [account_key(utility, number) for utility, number in keys]
        found: dict[str, UtilityAccount] = {}
        if wanted:
            params = {"keys": sorted(set(wanted)), **scope_params(scope)}
            found = {key: _account_of(props) for key, props in await self.transport.run(ACCOUNTS, params)}
        return [found.get(key) for key in wanted]

    async def arrears(self, house_codes: Sequence[str], as_of: dt.date, scope: Scope) -> list[list[Arrears]]:
        groups: dict[str, list[Arrears]] = {code: [] for code in house_codes}
        if house_codes:
            params = {"codes": sorted(set(house_codes)), "as_of": values.day(as_of), "owed": OWED_ABOVE, **scope_params(scope)}
            bills: dict[str, tuple[UtilityAccount, list[Bill]]] = {}
            for _, account, bill in await self.transport.run(ARREARS, params):
                bills.setdefault(account["key"], (_account_of(account), []))[1].append(_bill_of(bill))
            for account, owed in bills.values():
                found = arrears_of(account, owed, as_of)  # the rule, graph.utilities'
                if found is not None:
                    groups[account.house_code].append(found)
        return [sorted(groups[code], key=lambda a: (a.utility.value, a.account_no)) for code in house_codes]

    async def arrears_counts(self, codes: Sequence[str], as_of: dt.date, scope: Scope) -> list[int | None]:
        if not codes:
            return []
        params = scope_params(scope)
        seen_codes = {row[0] for row in await self.transport.run(SEEN_PLACES, {"codes": sorted(set(codes)), **params})}
        lines = await self.transport.run(OWING_HOUSES, {"as_of": values.day(as_of), "owed": OWED_ABOVE, **params})
        counts = dict.fromkeys(seen_codes, 0)
        for (line,) in lines:
            for code in set(line) & seen_codes:
                counts[code] += 1  # a house under the place (or the house itself)
        return [counts.get(code) for code in codes]

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
            rows = await self.transport.run(WITHIN_LINE, {"within": within})
            if not rows:
                return Page(items=[], has_next=False, end_cursor=None)
            above = list(rows[0][0][:-1])  # an outage of a place above `within` reaches it
        params = {
            "utility": None if utility is None else utility.value,
            "active": values.micros(active_at),
            "starts": None if position is None else values.micros(position[0]),
            "after_utility": None if position is None else position[1].value,
            "notice": None if position is None else position[2],
            "within": within,
            "above": above,
            "limit": first + 1,
            **scope_params(scope),
        }
        found = [row[0] for row in await self.transport.run(OUTAGES, params)]
        shown = found[:first]
        codes: dict[str, list[str]] = {props["key"]: [] for props in shown}
        if shown:
            for key, code in await self.transport.run(AFFECTED, {"keys": list(codes), **scope_params(scope)}):
                codes[key].append(code)
        items = []
        for props in shown:
            starts = values.from_micros(props["starts_at"])
            assert starts is not None
            items.append(Outage(
                utility=Utility(props["utility"]),
                notice_id=props["notice_id"],
                place_codes=tuple(sorted(codes[props["key"]])),
                starts_at=starts,
                ends_at=values.from_micros(props.get("ends_at")),
                reason=props["reason"],
                planned=bool(props["planned"]),
                provenance=provenance_of(props),
            ))
        return Page(
            items=items,
            has_next=len(found) > first,
            end_cursor=outage_cursor(items[-1]) if items else None,
            start_cursor=outage_cursor(items[0]) if items else None,
        )
