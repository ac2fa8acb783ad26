"""Repair projects and the fund journals folded, in the graph (`graph.funds.records.FundStore`;
each member's contract is in its docstring there).

The model:
- `(:RepairProject {id, estate, part, title, budget_fen, authority, authority_ref, raised_by,
  raised_at, emergency, case_id, status, cost_fen, completed_at, first_index, debit_entries,
  version})-[:AT]->(:Place)`, AT its part (the estate, a building or an entrance of it);
- `(:FundAccount {house, estate, balance_fen, first_deposit_fen, entries, last_index,
  last_at})-[:OF]->(:Place)`, OF its house, keyed by the house's code;
- `(:FundYear {key, estate, year, credits_fen, interest_fen, repairs_fen})` and
  `(:RevenueYear {key, estate, year, income_fen, confirmed_income_fen, cost_fen,
  distributed_fen, entries, unconfirmed})`, each `-[:OF]->` its estate, keyed by estate and year;
- `(:FundFold {log, kind, estate, size})-[:OF]->(:Place)`: how far the journal `log`
  (`fund:<estate>` or `revenue:<estate>`, `kind` fund or revenue) is folded into the rows above;
  `fund_totals` counts as `estates` those whose fund journal an apply went through (kind and
  edge are set only then: a refused first apply leaves its node with `log` and `lock` alone).
Times are integer microseconds (graph.cypher.values), money integer fen: sums are added up with
`reduce` over the collected integers, never `sum()` (FalkorDB's sum is a double, and fen go
up to 2^53).

Scope: a project is in scope when the place it is AT is, an account when its house is, an
estate's yearly rows when the estate is (`model.seen` on that place). Lists "under `within`"
and the roll-ups test a code against the `line` of the place a record hangs from, read through
its edge (never copied onto the record, so a place that moves takes its records with it).

Every write is one statement. A project's finish and an apply are compare-and-sets as the vote
writes are (graph.cypher.votes): the statement takes the node's write lock (a `lock` property,
dropped by the whole-map SET that follows; Neo4j takes the lock before the value is read,
FalkorDB runs writes one at a time) and goes on through an UNWIND only from the value it
expects. An apply MERGEs its `FundFold` node (unique on `log`, so two first appliers meet on
one node), locks it, and only at `from_size` sets the new size and replaces the given rows in
the same statement. The field checks are shared with SQL (`graph.funds.checks`, plain Python), so
both refuse the same input naming the same field; what needs the store (the estate, the part,
the houses under the estate) is read and checked before the write; places are never deleted.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from graph.cursors import decode_cursor, encode_cursor
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.model import scope_params, seen
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.errors import InvalidInput, StoreError
from graph.funds.records import (
    LOW_BALANCE,
    Authority,
    Emergency,
    FundAccount,
    FundTotals,
    FundYear,
    ProjectStatus,
    RepairProject,
    RevenueYear,
)
from graph.levels import Level
from graph.model import Page
from graph.scope import Scope
from graph.store import MAX_PAGE
from graph.funds.checks import check_accounts, check_finish, check_new_project, check_sizes, check_years
from graph.votes.checks import check_time

for _label, _prop, _unique in (
    ("RepairProject", "id", True),
    ("FundAccount", "house", True),
    ("FundAccount", "estate", False),
    ("FundYear", "key", True),
    ("FundYear", "year", False),
    ("RevenueYear", "key", True),
    ("RevenueYear", "year", False),
    ("FundFold", "log", True),
):
    index(_label, _prop, unique=_unique)

PART_LEVELS = (Level.ESTATE, Level.BUILDING, Level.ENTRANCE)
"""What a repair may serve: the estate, or one building or entrance of it."""

_PROJECT = (
    "id", "estate", "part", "title", "budget_fen", "authority", "authority_ref", "raised_by", "raised_at", "emergency",
    "case_id", "status", "cost_fen", "completed_at", "first_index", "debit_entries", "version",
)
_ACCOUNT = ("house", "estate", "balance_fen", "first_deposit_fen", "entries", "last_index", "last_at")
_FUND_YEAR = ("estate", "year", "credits_fen", "interest_fen", "repairs_fen")
_REVENUE_YEAR = (
    "estate", "year", "income_fen", "confirmed_income_fen", "cost_fen", "distributed_fen", "entries", "unconfirmed",
)


def _columns(node: str, props: Sequence[str]) -> str:
    return ", ".join(f"{node}.`{name}`" for name in props)


def _whole(node: str, source: dict[str, str], props: Sequence[str]) -> str:
    """A map literal of every property of `props`: `source[name]` where given, else the node's
    own value (so `SET n = {…}` rewrites the node whole, dropping its `lock`)."""
    return "{" + ", ".join(f"`{name}`: {source.get(name, f'{node}.`{name}`')}" for name in props) + "}"


def _total(values_: str) -> str:
    """The exact integer sum of a collected list (FalkorDB's sum() is a double)."""
    return f"reduce(s = 0, x IN {values_} | s + x)"


_SEEN_P = seen("p")
_SEEN_H = seen("h")
_SEEN_E = seen("e")

PLACES = st.read("funds.places", "UNWIND $codes AS c MATCH (p:Place {code: c}) RETURN p.code, p.level, p.line")

# -- projects --------------------------------------------------------------------------------

_PROJECT_RETURN = f"RETURN {_columns('r', _PROJECT)}"
SAVE_PROJECT = st.write(
    "funds.save_project",
    "MATCH (p:Place {code: $part}) OPTIONAL MATCH (x:RepairProject {id: $id}) WITH p, count(x) AS taken "
    "FOREACH (_ IN CASE WHEN taken = 0 THEN [1] ELSE [] END | CREATE (r:RepairProject)-[:AT]->(p) SET r = $props) "
    "RETURN taken",
)
PROJECTS = st.read(
    "funds.projects",
    f"UNWIND $ids AS i MATCH (r:RepairProject {{id: i}}) WITH r MATCH (r)-[:AT]->(p:Place) WHERE {_SEEN_P} {_PROJECT_RETURN}",
)
PROJECT_MARK = st.read("funds.project_mark", "MATCH (r:RepairProject {id: $id}) RETURN r.id")
PROJECT_PAGE = st.read(
    "funds.project_page",
    f"MATCH (r:RepairProject)-[:AT]->(p:Place) WHERE {_SEEN_P} AND ($within IS NULL OR $within IN p.line) "
    "AND ($from IS NULL OR r.raised_at >= $from) AND ($until IS NULL OR r.raised_at < $until) "
    "AND ($statuses IS NULL OR r.status IN $statuses) AND ($after IS NULL OR r.id > $after) "
    f"WITH r ORDER BY r.id LIMIT $limit {_PROJECT_RETURN}",
)
# the test gates the SET through UNWIND: FalkorDB may run a WHERE placed before a write after it
FINISH = st.write(
    "funds.finish_project",
    "MATCH (r:RepairProject {id: $id}) SET r.lock = $lock WITH r "
    "UNWIND CASE WHEN r.status = $approved AND r.version = $version THEN [1] ELSE [] END AS go SET r = "
    + _whole(
        "r",
        {
            "status": "$status",
            "cost_fen": "$cost",
            "completed_at": "$at",
            "first_index": "$first",
            "debit_entries": "$entries",
            "version": "r.version + 1",
        },
        _PROJECT,
    )
    + " RETURN r.id",
)

# -- the journals folded ---------------------------------------------------------------------

APPLIED = st.read("funds.applied", "UNWIND $logs AS l MATCH (f:FundFold {log: l}) RETURN f.log, f.size")
_FOLD = (
    "MATCH (e:Place {code: $estate}) MERGE (f:FundFold {log: $log}) SET f.lock = $lock WITH e, f "
    "UNWIND CASE WHEN coalesce(f.size, 0) = $from THEN [1] ELSE [] END AS go "
    "SET f = {log: $log, kind: $kind, estate: $estate, size: $to} MERGE (f)-[:OF]->(e) "
)
APPLY_FUND = st.write(
    "funds.apply_fund",
    _FOLD + "WITH e, f UNWIND CASE WHEN size($houses) = 0 THEN [''] ELSE $houses END AS c "
    "OPTIONAL MATCH (h:Place {code: c}) WITH e, f, collect(h) AS hs "
    "FOREACH (a IN $accounts | MERGE (n:FundAccount {house: a.house}) SET n = a) "
    "FOREACH (h IN hs | MERGE (n:FundAccount {house: h.code}) MERGE (n)-[:OF]->(h)) "
    "FOREACH (y IN $years | MERGE (n:FundYear {key: y.key}) SET n = y MERGE (n)-[:OF]->(e)) "
    "RETURN f.size",
)
APPLY_REVENUE = st.write(
    "funds.apply_revenue",
    _FOLD + "FOREACH (y IN $years | MERGE (n:RevenueYear {key: y.key}) SET n = y MERGE (n)-[:OF]->(e)) RETURN f.size",
)
_ACCOUNT_RETURN = f"RETURN {_columns('a', _ACCOUNT)}"
ACCOUNTS = st.read(
    "funds.accounts",
    f"UNWIND $houses AS c MATCH (a:FundAccount {{house: c}}) WITH a MATCH (a)-[:OF]->(h:Place) WHERE {_SEEN_H} {_ACCOUNT_RETURN}",
)
ACCOUNT_MARK = st.read("funds.account_mark", "MATCH (a:FundAccount {house: $house}) WITH a WHERE a.estate = $estate RETURN a.house")
ACCOUNT_PAGE = st.read(
    "funds.account_page",
    "MATCH (a:FundAccount {estate: $estate}) WITH a WHERE $after IS NULL OR a.house > $after "
    f"MATCH (a)-[:OF]->(h:Place) WHERE {_SEEN_H} WITH a ORDER BY a.house LIMIT $limit {_ACCOUNT_RETURN}",
)
FUND_YEARS = st.read(
    "funds.fund_years",
    f"UNWIND $keys AS k MATCH (y:FundYear {{key: k}}) WITH y MATCH (y)-[:OF]->(e:Place) WHERE {_SEEN_E} "
    f"RETURN {_columns('y', _FUND_YEAR)}",
)
REVENUE_YEARS = st.read(
    "funds.revenue_years",
    f"UNWIND $keys AS k MATCH (y:RevenueYear {{key: k}}) WITH y MATCH (y)-[:OF]->(e:Place) WHERE {_SEEN_E} "
    f"RETURN {_columns('y', _REVENUE_YEAR)}",
)

# -- roll-ups: each scans its records once and adds each up at every given code on its line ---

SEEN = st.read("funds.seen", f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WHERE {_SEEN_P} RETURN p.code")
ACCOUNT_TOTALS = st.read(
    "funds.account_totals",
    "MATCH (a:FundAccount)-[:OF]->(h:Place) WITH a, h UNWIND [x IN $codes WHERE x IN h.line] AS c "
    "WITH c, count(a) AS accounts, collect(a.balance_fen) AS balances, collect(a.first_deposit_fen) AS firsts, "
    "count(CASE WHEN a.first_deposit_fen > 0 AND a.balance_fen * $denominator < a.first_deposit_fen * $numerator "
    "THEN 1 END) AS low "
    f"RETURN c, accounts, {_total('balances')} AS balance, {_total('firsts')} AS first, low",
)
FUND_YEAR_TOTALS = st.read(
    "funds.fund_year_totals",
    "MATCH (y:FundYear {year: $year}) WITH y MATCH (y)-[:OF]->(e:Place) WITH y, e "
    "UNWIND [x IN $codes WHERE x IN e.line] AS c "
    "WITH c, collect(y.credits_fen) AS credits, collect(y.repairs_fen) AS repairs "
    f"RETURN c, {_total('credits')} AS credits, {_total('repairs')} AS repairs",
)
REVENUE_YEAR_TOTALS = st.read(
    "funds.revenue_year_totals",
    "MATCH (y:RevenueYear {year: $year}) WITH y MATCH (y)-[:OF]->(e:Place) WITH y, e "
    "UNWIND [x IN $codes WHERE x IN e.line] AS c "
    "WITH c, collect(y.income_fen) AS income, collect(y.confirmed_income_fen) AS confirmed, "
    "collect(y.unconfirmed) AS unconfirmed "
    f"RETURN c, {_total('income')} AS income, {_total('confirmed')} AS confirmed, {_total('unconfirmed')} AS unconfirmed",
)
ESTATE_TOTALS = st.read(
    "funds.estate_totals",
    "MATCH (f:FundFold {kind: 'fund'})-[:OF]->(e:Place) WITH DISTINCT e "
    "UNWIND [x IN $codes WHERE x IN e.line] AS c RETURN c, count(e) AS estates",
)


# -- journals --------------------------------------------------------------------------------


def fund_log(estate: str) -> str:
    """The estate's maintenance-fund journal (graph.funds.ledger.log_name)."""
    return f"fund:{estate}"


def revenue_log(estate: str) -> str:
    """The estate's public-revenue journal."""
    return f"revenue:{estate}"


# -- records ---------------------------------------------------------------------------------


def _key(estate: str, year: int) -> str:
    return f"{estate}\n{year}"


def _at(value: int) -> dt.datetime:
    moment = values.from_micros(value)
    assert moment is not None
    return moment


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _project_props(project: RepairProject) -> dict[str, Any]:
    return values.present(
        {
            "id": project.id,
            "estate": project.estate,
            "part": project.part,
            "title": project.title,
            "budget_fen": project.budget_fen,
            "authority": project.authority.value,
            "authority_ref": project.authority_ref,
            "raised_by": project.raised_by,
            "raised_at": values.micros(project.raised_at),
            "emergency": None if project.emergency is None else project.emergency.value,
            "case_id": project.case_id,
            "status": ProjectStatus.APPROVED.value,
            "version": 1,
        }
    )


def _project(row: Sequence[Any]) -> RepairProject:
    p = dict(zip(_PROJECT, row))
    return RepairProject(
        id=p["id"],
        estate=p["estate"],
        part=p["part"],
        title=p["title"],
        budget_fen=int(p["budget_fen"]),
        authority=Authority(p["authority"]),
        authority_ref=p["authority_ref"],
        raised_by=p["raised_by"],
        raised_at=_at(p["raised_at"]),
        emergency=None if p["emergency"] is None else Emergency(p["emergency"]),
        case_id=p["case_id"],
        status=ProjectStatus(p["status"]),
        cost_fen=_int(p["cost_fen"]),
        completed_at=values.from_micros(p["completed_at"]),
        first_index=_int(p["first_index"]),
        debit_entries=_int(p["debit_entries"]),
        version=int(p["version"]),
    )


def _account_props(account: FundAccount) -> dict[str, Any]:
    return {
        "house": account.house,
        "estate": account.estate,
        "balance_fen": account.balance_fen,
        "first_deposit_fen": account.first_deposit_fen,
        "entries": account.entries,
        "last_index": account.last_index,
        "last_at": values.micros(account.last_at),
    }


def _account(row: Sequence[Any]) -> FundAccount:
    a = dict(zip(_ACCOUNT, row))
    return FundAccount(
        house=a["house"],
        estate=a["estate"],
        balance_fen=int(a["balance_fen"]),
        first_deposit_fen=int(a["first_deposit_fen"]),
        entries=int(a["entries"]),
        last_index=int(a["last_index"]),
        last_at=_at(a["last_at"]),
    )


def _fund_year(row: Sequence[Any]) -> FundYear:
    y = dict(zip(_FUND_YEAR, row))
    return FundYear(y["estate"], int(y["year"]), int(y["credits_fen"]), int(y["interest_fen"]), int(y["repairs_fen"]))


def _revenue_year(row: Sequence[Any]) -> RevenueYear:
    y = dict(zip(_REVENUE_YEAR, row))
    return RevenueYear(
        y["estate"], int(y["year"]), int(y["income_fen"]), int(y["confirmed_income_fen"]), int(y["cost_fen"]),
        int(y["distributed_fen"]), int(y["entries"]), int(y["unconfirmed"]),
    )


def _taken(error: StoreError) -> bool:
    """Whether a write failed on Neo4j's unique constraint (a racing twin wrote the key first)."""
    text = str(error)
    return "already exists" in text or "constraint" in text.lower()


def _bad_cursor(after: str | None) -> InvalidInput:
    return InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")


def _page_size(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


def _optional_time(value: dt.datetime | None, field: str) -> int | None:
    if value is None:
        return None
    return values.micros(check_time(value, field))


class FundRecords:
    """The fund part of the store port on Cypher (a base of CypherStore)."""

    transport: Transport

    async def _places(self, codes: Sequence[str]) -> dict[str, tuple[Level, list[str]]]:
        rows = await self.transport.run(PLACES, {"codes": list(dict.fromkeys(codes))})
        return {code: (Level(level), list(line)) for code, level, line in rows}

    async def _estate(self, estate: str, field: str) -> list[str]:
        """The line of `estate`, which must be a stored estate (InvalidInput naming `field`)."""
        found = (await self._places([estate])).get(estate) if isinstance(estate, str) else None
        if found is None or found[0] != Level.ESTATE:
            raise InvalidInput(field, estate, "is not an estate in the store")
        return found[1]

    # -- projects ------------------------------------------------------------------------

    async def save_project(self, project: RepairProject) -> None:
        check_new_project(project)
        where = f"project {project.id}"
        found = await self._places([project.estate, project.part])
        estate, part = found.get(project.estate), found.get(project.part)
        if estate is None or estate[0] != Level.ESTATE:
            raise InvalidInput(f"{where} estate", project.estate, "is not an estate in the store")
        if part is None or part[0] not in PART_LEVELS or project.estate not in part[1]:
            raise InvalidInput(
                f"{where} part", project.part, f"is not the estate {project.estate} or a building or entrance under it"
            )
        duplicate = StoreError(f"repair project {project.id} already exists")
        try:
            rows = await self.transport.run(SAVE_PROJECT, {"part": project.part, "id": project.id, "props": _project_props(project)})
        except StoreError as error:
            if _taken(error):
                raise duplicate from None
            raise
        if not rows:
            raise InvalidInput(f"{where} part", project.part, "is not a place in the store")
        if rows[0][0]:
            raise duplicate

    async def projects(self, ids: Sequence[str], scope: Scope) -> list[RepairProject | None]:
        rows = await self.transport.run(PROJECTS, {"ids": list(dict.fromkeys(ids)), **scope_params(scope)})
        found = {project.id: project for project in map(_project, rows)}
        return [found.get(key) for key in ids]

    async def project_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        raised_from: dt.datetime | None = None,
        raised_until: dt.datetime | None = None,
        statuses: Sequence[ProjectStatus] | None = None,
    ) -> Page[RepairProject]:
        first = _page_size(first)
        mark = decode_cursor(after)
        params = {
            "within": within,
            "from": _optional_time(raised_from, "raised_from"),
            "until": _optional_time(raised_until, "raised_until"),
            "statuses": None if statuses is None else [ProjectStatus(status).value for status in statuses],
        }
        if mark is not None and not await self.transport.run(PROJECT_MARK, {"id": mark}):
            raise _bad_cursor(after)
        rows = await self.transport.run(PROJECT_PAGE, {**params, "after": mark, "limit": first + 1, **scope_params(scope)})
        found = sorted(map(_project, rows), key=lambda project: project.id)
        shown = found[:first]
        return Page(
            items=shown,
            has_next=len(found) > first,
            end_cursor=encode_cursor(shown[-1].id) if shown else None,
            start_cursor=encode_cursor(shown[0].id) if shown else None,
        )

    async def finish_project(
        self,
        project_id: str,
        version: int,
        status: ProjectStatus,
        at: dt.datetime,
        *,
        cost_fen: int | None = None,
        first_index: int | None = None,
        debit_entries: int | None = None,
    ) -> bool:
        check_finish(project_id, status, at, cost_fen, first_index, debit_entries)
        params = {
            "id": project_id,
            "lock": secrets.token_hex(8),
            "approved": ProjectStatus.APPROVED.value,
            "version": version,
            "status": status.value,
            "cost": cost_fen,
            "at": values.micros(at),
            "first": first_index,
            "entries": debit_entries,
        }
        return bool(await self.transport.run(FINISH, params))

    # -- the journals folded -------------------------------------------------------------

    async def fund_applied(self, logs: Sequence[str]) -> list[int]:
        if not logs:
            return []
        found = {log: int(size or 0) for log, size in await self.transport.run(APPLIED, {"logs": list(dict.fromkeys(logs))})}
        return [found.get(log, 0) for log in logs]

    async def apply_fund(
        self,
        estate: str,
        from_size: int,
        to_size: int,
        accounts: Sequence[FundAccount],
        years: Sequence[FundYear],
    ) -> bool:
        log, where = fund_log(estate), f"apply_fund {estate}"
        check_sizes(where, from_size, to_size)
        check_accounts(where, estate, accounts)
        check_years(where, estate, years)
        await self._estate(estate, f"{where} estate")
        houses = [account.house for account in accounts]
        places = await self._places(houses) if houses else {}
        for position, house in enumerate(houses):
            place = places.get(house)
            if place is None or place[0] != Level.HOUSE or estate not in place[1]:
                raise InvalidInput(f"{where} accounts[{position}].house", house, f"is not a house of {estate} in the store")
        params = {
            "estate": estate,
            "log": log,
            "kind": "fund",
            "lock": secrets.token_hex(8),
            "from": from_size,
            "to": to_size,
            "houses": sorted(set(houses)),
            "accounts": [_account_props(account) for account in accounts],
            "years": [{"key": _key(estate, row.year), **{name: getattr(row, name) for name in _FUND_YEAR}} for row in years],
        }
        return bool(await self._run_fold(APPLY_FUND, params))

    async def apply_revenue(self, estate: str, from_size: int, to_size: int, years: Sequence[RevenueYear]) -> bool:
        log, where = revenue_log(estate), f"apply_revenue {estate}"
        check_sizes(where, from_size, to_size)
        check_years(where, estate, years)
        await self._estate(estate, f"{where} estate")
        params = {
            "estate": estate,
            "log": log,
            "kind": "revenue",
            "lock": secrets.token_hex(8),
            "from": from_size,
            "to": to_size,
            "years": [{"key": _key(estate, row.year), **{name: getattr(row, name) for name in _REVENUE_YEAR}} for row in years],
        }
        return bool(await self._run_fold(APPLY_REVENUE, params))

    async def _run_fold(self, statement: st.Statement, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """An apply; on Neo4j two first appliers of a journal may race to create its FundFold
        (a unique key): the one refused runs again, to find the size moved."""
        for attempt in range(3):
            try:
                return await self.transport.run(statement, params)
            except StoreError as error:
                if not _taken(error) or attempt == 2:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def fund_accounts(self, houses: Sequence[str], scope: Scope) -> list[FundAccount | None]:
        if not houses:
            return []
        rows = await self.transport.run(ACCOUNTS, {"houses": list(dict.fromkeys(houses)), **scope_params(scope)})
        found = {account.house: account for account in map(_account, rows)}
        return [found.get(house) for house in houses]

    async def fund_account_page(self, estate: str, scope: Scope, first: int, after: str | None = None) -> Page[FundAccount]:
        first = _page_size(first)
        mark = decode_cursor(after)
        if mark is not None and not await self.transport.run(ACCOUNT_MARK, {"house": mark, "estate": estate}):
            raise _bad_cursor(after)
        rows = await self.transport.run(
            ACCOUNT_PAGE, {"estate": estate, "after": mark, "limit": first + 1, **scope_params(scope)}
        )
        found = sorted(map(_account, rows), key=lambda account: account.house)
        shown = found[:first]
        return Page(
            items=shown,
            has_next=len(found) > first,
            end_cursor=encode_cursor(shown[-1].house) if shown else None,
            start_cursor=encode_cursor(shown[0].house) if shown else None,
        )

    async def fund_years(self, estates: Sequence[str], year: int, scope: Scope) -> list[tuple[FundYear | None, RevenueYear | None]]:
        if not estates:
            return []
        params = {"keys": [_key(estate, year) for estate in dict.fromkeys(estates)], **scope_params(scope)}
        funds = {row.estate: row for row in map(_fund_year, await self.transport.run(FUND_YEARS, params))}
        revenue = {row.estate: row for row in map(_revenue_year, await self.transport.run(REVENUE_YEARS, params))}
        return [(funds.get(estate), revenue.get(estate)) for estate in estates]

    async def fund_totals(self, codes: Sequence[str], year: int, scope: Scope) -> list[FundTotals | None]:
        if not codes:
            return []
        params: dict[str, Any] = {"codes": list(dict.fromkeys(codes)), **scope_params(scope)}
        shown = sorted(code for (code,) in await self.transport.run(SEEN, params))
        if not shown:
            return [None for _ in codes]
        numerator, denominator = LOW_BALANCE
        params = {"codes": shown, "year": year, "numerator": numerator, "denominator": denominator}
        accounts = {row[0]: tuple(map(int, row[1:])) for row in await self.transport.run(ACCOUNT_TOTALS, params)}
        funds = {row[0]: tuple(map(int, row[1:])) for row in await self.transport.run(FUND_YEAR_TOTALS, params)}
        revenue = {row[0]: tuple(map(int, row[1:])) for row in await self.transport.run(REVENUE_YEAR_TOTALS, params)}
        estates = {code: int(count) for code, count in await self.transport.run(ESTATE_TOTALS, params)}
        totals: dict[str, FundTotals] = {}
        for code in shown:
            houses, balance, first, low = accounts.get(code, (0, 0, 0, 0))
            credits, repairs = funds.get(code, (0, 0))
            income, confirmed, unconfirmed = revenue.get(code, (0, 0, 0))
            totals[code] = FundTotals(
                code=code,
                accounts=houses,
                balance_fen=balance,
                first_deposit_fen=first,
                low_accounts=low,
                estates=estates.get(code, 0),
                credits_fen=credits,
                repairs_fen=repairs,
                revenue_fen=income,
                confirmed_revenue_fen=confirmed,
                unconfirmed_entries=unconfirmed,
            )
        return [totals.get(code) for code in codes]
