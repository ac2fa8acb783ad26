"""Repair projects and the fund and revenue journals folded, in SQL (a base of SqlStore): the
storage side of `graph.funds.records.FundStore`, whose docstrings hold each member's contract.
The field checks are `graph.funds.checks` (no SQL in them); this module stores, finds and sums.

Tables (graph.sql.tables): `fund_project` (a row per project, its part and estate by place id),
`fund_account` (a row per house, with the house's code beside its id so an estate's accounts
page by code through one index), `fund_year` and `revenue_year` (a row per estate and calendar
year) and `fund_applied` (per estate and journal, `fund` or `revenue`, the journal size the rows
are folded up to).

Compare-and-set: finishing a project is one UPDATE guarded by its version and APPROVED status,
whose row count says whether this call made the change. Applying a journal first moves its
`fund_applied` row from `from_size` to `to_size` (an UPDATE guarded by the size; the first apply
of an estate's journal inserts the row, and a concurrent first apply meets its primary key),
then replaces the rows, all in one transaction: the loser of two appliers writes nothing.

Scope: a project is in scope when its part's place row is, an account when its house's is, an
estate's yearly rows when the estate's is (the `within_any` predicate of places). Roll-ups
(`fund_totals`) answer for a place in scope only, and everything under a place in scope is in
scope, so their sums need no scope predicate: one grouped query per level asked (accounts by
the houses' ancestor columns, yearly rows and applied journals by the estates'), never a loop
over houses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.cursors import decode_cursor, encode_cursor
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
from graph.sql import tables
from graph.sql.bulk import insert_rows
from graph.funds.checks import (
    FUND,
    REVENUE,
    check_accounts,
    check_finish,
    check_new_project,
    check_sizes,
    check_years,
    journal_of,
)
from graph.sql.rows import maybe_utc, utc
from graph.sql.scoping import under
from graph.sql.writes import AnchorCache, anchors, select_in
from graph.sql.writers import WriteTurns
from graph.store import MAX_PAGE
from graph.votes.checks import check_time

if TYPE_CHECKING:
    from graph.sql.scoping import Anchor

_PROJECT = tables.fund_project
_ACCOUNT = tables.fund_account
_FUND_YEAR = tables.fund_year
_REVENUE_YEAR = tables.revenue_year
_APPLIED = tables.fund_applied
_PLACE = tables.place  # a project's part, an account's house: where scope is decided
_ESTATE = tables.place.alias("fund_estate")

_LOW = and_(
    _ACCOUNT.c.first_deposit_fen > 0,
    _ACCOUNT.c.balance_fen * LOW_BALANCE[1] < _ACCOUNT.c.first_deposit_fen * LOW_BALANCE[0],
)
"""FundAccount.low in SQL: balance·10 < first·3, a house with no first deposit never low."""


def _project_query() -> Select[Any]:
    return (
        select(_PROJECT, _PLACE.c.code.label("part_code"), _ESTATE.c.code.label("estate_code"))
        .select_from(_PROJECT)
        .join(_PLACE, _PLACE.c.id == _PROJECT.c.part_id)
        .join(_ESTATE, _ESTATE.c.id == _PROJECT.c.estate_id)
    )


def _project(row: Any) -> RepairProject:
    m = row._mapping
    return RepairProject(
        id=m["key"],
        estate=m["estate_code"],
        part=m["part_code"],
        title=m["title"],
        budget_fen=int(m["budget_fen"]),
        authority=Authority(m["authority"]),
        authority_ref=m["authority_ref"],
        raised_by=m["raised_by"],
        raised_at=utc(m["raised_at"]),
        emergency=None if m["emergency"] is None else Emergency(m["emergency"]),
        case_id=m["case_id"],
        status=ProjectStatus(m["status"]),
        cost_fen=_maybe_int(m["cost_fen"]),
        completed_at=maybe_utc(m["completed_at"]),
        first_index=_maybe_int(m["first_index"]),
        debit_entries=_maybe_int(m["debit_entries"]),
        version=int(m["version"]),
    )


def _maybe_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _account_query() -> Select[Any]:
    return (
        select(_ACCOUNT, _ESTATE.c.code.label("estate_code"))
        .select_from(_ACCOUNT)
        .join(_PLACE, _PLACE.c.id == _ACCOUNT.c.house_id)
        .join(_ESTATE, _ESTATE.c.id == _ACCOUNT.c.estate_id)
    )


def _account(row: Any) -> FundAccount:
    m = row._mapping
    return FundAccount(
        house=m["house_code"],
        estate=m["estate_code"],
        balance_fen=int(m["balance_fen"]),
        first_deposit_fen=int(m["first_deposit_fen"]),
        entries=int(m["entries"]),
        last_index=int(m["last_index"]),
        last_at=utc(m["last_at"]),
    )


def _bad_cursor(after: str | None) -> InvalidInput:
    return InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")


def _holds(part: Anchor, estate: Anchor) -> bool:
    """Whether `part` is the estate itself or a building or entrance under it."""
    if part.id == estate.id:
        return True
    return part.level in (Level.BUILDING, Level.ENTRANCE) and part.ancestor(Level.ESTATE) == estate.id


def _sum(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


class FundRecords:
    """The fund part of the store port (a base of SqlStore)."""

    engine: AsyncEngine
    turns: WriteTurns

    if TYPE_CHECKING:
        _anchors: AnchorCache

        async def _visible(
            self, connection: AsyncConnection, scope: Scope, table: Any = tables.place, *, drive: bool = False
        ) -> Any: ...

        async def _anchor(self, connection: AsyncConnection, code: str | None) -> Anchor | None: ...

    # -- repair projects -------------------------------------------------------------------

    async def save_project(self, project: RepairProject) -> None:
        check_new_project(project)
        where = f"project {project.id}"
        try:
            async with self.turns.writing() as connection:
                found = await anchors(connection, [project.estate, project.part], self._anchors)
                estate, part = found.get(project.estate), found.get(project.part)
                if estate is None or estate.level != Level.ESTATE:
                    raise InvalidInput(f"{where} estate", project.estate, "is not an estate in the store")
                if part is None or not _holds(part, estate):
                    raise InvalidInput(f"{where} part", project.part, f"is not {project.estate} or a building or entrance under it")
                taken = (await connection.execute(select(_PROJECT.c.id).where(_PROJECT.c.key == project.id))).first()
                if taken is not None:
                    raise StoreError(f"project {project.id} already exists")
                await connection.execute(
                    _PROJECT.insert().values(
                        key=project.id,
                        estate_id=estate.id,
                        part_id=part.id,
                        title=project.title,
                        budget_fen=project.budget_fen,
                        authority=Authority(project.authority).value,
                        authority_ref=project.authority_ref,
                        raised_by=project.raised_by,
                        raised_at=utc(project.raised_at),
                        emergency=None if project.emergency is None else Emergency(project.emergency).value,
                        case_id=project.case_id,
                        status=ProjectStatus.APPROVED.value,
                        cost_fen=None,
                        completed_at=None,
                        first_index=None,
                        debit_entries=None,
                        version=1,
                    )
                )
        except IntegrityError:
            # a writer that bypassed the write turns stored the id first
            raise StoreError(f"project {project.id} already exists") from None

    async def projects(self, ids: Sequence[str], scope: Scope) -> list[RepairProject | None]:
        async with self.engine.connect() as connection:
            query = _project_query().where(await self._visible(connection, scope))
            found = {row.key: _project(row) for row in await select_in(connection, query, _PROJECT.c.key, ids)}
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
        first = max(1, min(first, MAX_PAGE))
        mark = decode_cursor(after)
        if raised_from is not None:
            check_time(raised_from, "raised_from")
        if raised_until is not None:
            check_time(raised_until, "raised_until")
        async with self.engine.connect() as connection:
            if mark is not None:
                known = (await connection.execute(select(_PROJECT.c.id).where(_PROJECT.c.key == mark))).first()
                if known is None:
                    raise _bad_cursor(after)
            clauses: list[Any] = [await self._visible(connection, scope)]
            if within is not None:
                root = await self._anchor(connection, within)
                if root is None:
                    return Page(items=[], has_next=False, end_cursor=None)
                clauses.append(under(_PLACE, root))
            if raised_from is not None:
                clauses.append(_PROJECT.c.raised_at >= utc(raised_from))
            if raised_until is not None:
                clauses.append(_PROJECT.c.raised_at < utc(raised_until))
            if statuses is not None:
                clauses.append(_PROJECT.c.status.in_([ProjectStatus(status).value for status in statuses]))
            if mark is not None:
                clauses.append(_PROJECT.c.key > mark)
            query = _project_query().where(and_(*clauses)).order_by(_PROJECT.c.key).limit(first + 1)
            found = [_project(row) for row in await connection.execute(query)]
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
        async with self.turns.writing() as connection:
            changed = await connection.execute(
                update(_PROJECT)
                .where(
                    _PROJECT.c.key == project_id,
                    _PROJECT.c.version == version,
                    _PROJECT.c.status == ProjectStatus.APPROVED.value,
                )
                .values(
                    status=ProjectStatus(status).value,
                    completed_at=utc(at),
                    cost_fen=cost_fen,
                    first_index=first_index,
                    debit_entries=debit_entries,
                    version=version + 1,
                )
            )
            return changed.rowcount > 0

    # -- the journals folded ---------------------------------------------------------------

    async def fund_applied(self, logs: Sequence[str]) -> list[int]:
        named = {log: journal_of(log) for log in logs}
        sizes: dict[tuple[int, str], int] = {}
        async with self.engine.connect() as connection:
            codes = [parsed[1] for parsed in named.values() if parsed is not None]
            estates = await anchors(connection, codes, self._anchors)
            ids = [anchor.id for anchor in estates.values() if anchor.level == Level.ESTATE]
            if ids:
                query = select(_APPLIED.c.estate_id, _APPLIED.c.journal, _APPLIED.c.size)
                for row in await select_in(connection, query, _APPLIED.c.estate_id, ids):
                    sizes[(row.estate_id, row.journal)] = int(row.size)
        answers: list[int] = []
        for log in logs:
            parsed = named[log]
            anchor = estates.get(parsed[1]) if parsed is not None else None
            answers.append(0 if parsed is None or anchor is None else sizes.get((anchor.id, parsed[0]), 0))
        return answers

    async def apply_fund(
        self,
        estate: str,
        from_size: int,
        to_size: int,
        accounts: Sequence[FundAccount],
        years: Sequence[FundYear],
    ) -> bool:
        where = f"apply_fund {estate}"
        check_sizes(where, from_size, to_size)
        check_accounts(where, estate, accounts)
        check_years(where, estate, years)
        return await self._apply(FUND, where, estate, from_size, to_size, accounts, _FUND_YEAR, [_fund_year_row(y) for y in years])

    async def apply_revenue(self, estate: str, from_size: int, to_size: int, years: Sequence[RevenueYear]) -> bool:
        where = f"apply_revenue {estate}"
        check_sizes(where, from_size, to_size)
        check_years(where, estate, years)
        return await self._apply(REVENUE, where, estate, from_size, to_size, [], _REVENUE_YEAR, [_revenue_year_row(y) for y in years])

    async def _apply(
        self,
        journal: str,
        where: str,
        estate: str,
        from_size: int,
        to_size: int,
        accounts: Sequence[FundAccount],
        year_table: Any,
        year_rows: list[dict[str, Any]],
    ) -> bool:
        """Check the estate and the accounts' houses, then move the journal's applied size from
        `from_size` to `to_size` and, if this call moved it, replace the rows: one transaction."""
        try:
            async with self.turns.writing() as connection:
                estate_row = await self._anchor(connection, estate)
                if estate_row is None or estate_row.level != Level.ESTATE:
                    raise InvalidInput(f"{where} estate", estate, "is not an estate in the store")
                houses = await anchors(connection, [account.house for account in accounts])
                house_ids: list[int] = []
                for index, account in enumerate(accounts):
                    house = houses.get(account.house)
                    if house is None or house.level != Level.HOUSE or house.ancestor(Level.ESTATE) != estate_row.id:
                        raise InvalidInput(f"{where} accounts[{index}].house", account.house, f"is not a house of {estate} in the store")
                    house_ids.append(house.id)
                keyed = and_(_APPLIED.c.estate_id == estate_row.id, _APPLIED.c.journal == journal)
                stored = (await connection.execute(select(_APPLIED.c.size).where(keyed))).scalar_one_or_none()
                if stored is None:
                    if from_size != 0:
                        return False
                    await connection.execute(_APPLIED.insert().values(estate_id=estate_row.id, journal=journal, size=to_size))
                else:
                    moved = await connection.execute(
                        update(_APPLIED).where(keyed, _APPLIED.c.size == from_size).values(size=to_size)
                    )
                    if moved.rowcount == 0:
                        return False
                await _replace_accounts(connection, estate_row.id, house_ids, accounts)
                await _replace_years(connection, year_table, estate_row.id, year_rows)
        except IntegrityError:
            # a concurrent first apply of the same journal inserted its row first (PostgreSQL)
            return False
        return True

    # -- reading the folded rows -----------------------------------------------------------

    async def fund_accounts(self, houses: Sequence[str], scope: Scope) -> list[FundAccount | None]:
        async with self.engine.connect() as connection:
            query = _account_query().where(await self._visible(connection, scope))
            found = {row.house_code: _account(row) for row in await select_in(connection, query, _ACCOUNT.c.house_code, houses)}
        return [found.get(code) for code in houses]

    async def fund_account_page(self, estate: str, scope: Scope, first: int, after: str | None = None) -> Page[FundAccount]:
        first = max(1, min(first, MAX_PAGE))
        mark = decode_cursor(after)
        async with self.engine.connect() as connection:
            root = await self._anchor(connection, estate)
            if mark is not None:
                known = None
                if root is not None:
                    query = select(_ACCOUNT.c.house_id).where(_ACCOUNT.c.estate_id == root.id, _ACCOUNT.c.house_code == mark)
                    known = (await connection.execute(query)).first()
                if known is None:
                    raise _bad_cursor(after)
            if root is None:
                return Page(items=[], has_next=False, end_cursor=None)
            clauses = [_ACCOUNT.c.estate_id == root.id, await self._visible(connection, scope)]
            if mark is not None:
                clauses.append(_ACCOUNT.c.house_code > mark)
            query = _account_query().where(and_(*clauses)).order_by(_ACCOUNT.c.house_code).limit(first + 1)
            found = [_account(row) for row in await connection.execute(query)]
        shown = found[:first]
        return Page(
            items=shown,
            has_next=len(found) > first,
            end_cursor=encode_cursor(shown[-1].house) if shown else None,
            start_cursor=encode_cursor(shown[0].house) if shown else None,
        )

    async def fund_years(
        self, estates: Sequence[str], year: int, scope: Scope
    ) -> list[tuple[FundYear | None, RevenueYear | None]]:
        async with self.engine.connect() as connection:
            visible = await self._visible(connection, scope)

            async def rows(table: Any) -> dict[str, Any]:
                query = (
                    select(table, _PLACE.c.code.label("estate_code"))
                    .select_from(table.join(_PLACE, _PLACE.c.id == table.c.estate_id))
                    .where(table.c.year == year, visible)
                )
                return {row.estate_code: row._mapping for row in await select_in(connection, query, _PLACE.c.code, estates)}

            funds = {code: _fund_year(row) for code, row in (await rows(_FUND_YEAR)).items()}
            revenue = {code: _revenue_year(row) for code, row in (await rows(_REVENUE_YEAR)).items()}
        return [(funds.get(code), revenue.get(code)) for code in estates]

    async def fund_totals(self, codes: Sequence[str], year: int, scope: Scope) -> list[FundTotals | None]:
        totals: dict[str, dict[str, int]] = {}
        async with self.engine.connect() as connection:
            places = await anchors(connection, codes, self._anchors)
            seen: set[int] = set()
            if places:
                query = select(_PLACE.c.id).where(await self._visible(connection, scope))
                seen = {row.id for row in await select_in(connection, query, _PLACE.c.id, [a.id for a in places.values()])}
            by_level: dict[Level, dict[int, str]] = {}
            for code, anchor in places.items():
                if anchor.id in seen:
                    by_level.setdefault(anchor.level, {})[anchor.id] = code
            sums: dict[int, dict[str, int]] = {}
            for level, asked in sorted(by_level.items()):
                ids = list(asked)
                sums.update((place_id, dict.fromkeys(_TOTALS, 0)) for place_id in ids)
                await _sum_accounts(connection, level, ids, sums)
                if level <= Level.ESTATE:  # below an estate there are no estates' yearly rows
                    await _sum_estates(connection, level, ids, year, sums)
                totals.update((code, sums[place_id]) for place_id, code in asked.items())
        return [None if code not in totals else FundTotals(code=code, **totals[code]) for code in codes]


_TOTALS = (
    "accounts",
    "balance_fen",
    "first_deposit_fen",
    "low_accounts",
    "estates",
    "credits_fen",
    "repairs_fen",
    "revenue_fen",
    "confirmed_revenue_fen",
    "unconfirmed_entries",
)


def _group(level: Level, rows_of: Any) -> tuple[Any, Any]:
    """For places of `level` above the rows' own (a house's accounts, an estate's yearly
    rows): the ancestor column of `level` on the place `rows_of` names (the account's house,
    the row's estate), to group by, and the join to that place. Rows asked for at their own
    level are grouped by `rows_of` itself, with no join (see the callers)."""
    return _PLACE.c[tables.ancestor_column(level)], _PLACE.c.id == rows_of


async def _sum_accounts(connection: AsyncConnection, level: Level, ids: list[int], sums: dict[int, dict[str, int]]) -> None:
    figures = (
        func.count(),
        _sum(_ACCOUNT.c.balance_fen),
        _sum(_ACCOUNT.c.first_deposit_fen),
        _sum(case((_LOW, 1), else_=0)),
    )
    if level == Level.HOUSE:
        query = select(_ACCOUNT.c.house_id.label("gid"), *figures).group_by(_ACCOUNT.c.house_id)
        column = _ACCOUNT.c.house_id
    else:
        group, joined = _group(level, _ACCOUNT.c.house_id)
        query = select(group.label("gid"), *figures).select_from(_ACCOUNT.join(_PLACE, joined)).group_by(group)
        column = group
    for row in await select_in(connection, query, column, ids):
        gid, count, balance, first, low = tuple(row)
        sums[gid].update(accounts=int(count), balance_fen=int(balance), first_deposit_fen=int(first), low_accounts=int(low))


async def _sum_estates(
    connection: AsyncConnection, level: Level, ids: list[int], year: int, sums: dict[int, dict[str, int]]
) -> None:
    """The yearly rows of `year` and the applied fund journals of the estates at or under the
    places `ids` (of `level`, the estate's level or above)."""

    def grouped(table: Any, *figures: Any) -> tuple[Select[Any], Any]:
        if level == Level.ESTATE:
            return select(table.c.estate_id.label("gid"), *figures).group_by(table.c.estate_id), table.c.estate_id
        group, joined = _group(level, table.c.estate_id)
        return select(group.label("gid"), *figures).select_from(table.join(_PLACE, joined)).group_by(group), group

    query, column = grouped(_FUND_YEAR, _sum(_FUND_YEAR.c.credits_fen), _sum(_FUND_YEAR.c.repairs_fen))
    for row in await select_in(connection, query.where(_FUND_YEAR.c.year == year), column, ids):
        gid, credits, repairs = tuple(row)
        sums[gid].update(credits_fen=int(credits), repairs_fen=int(repairs))
    query, column = grouped(
        _REVENUE_YEAR,
        _sum(_REVENUE_YEAR.c.income_fen),
        _sum(_REVENUE_YEAR.c.confirmed_income_fen),
        _sum(_REVENUE_YEAR.c.unconfirmed),
    )
    for row in await select_in(connection, query.where(_REVENUE_YEAR.c.year == year), column, ids):
        gid, income, confirmed, unconfirmed = tuple(row)
        sums[gid].update(revenue_fen=int(income), confirmed_revenue_fen=int(confirmed), unconfirmed_entries=int(unconfirmed))
    query, column = grouped(_APPLIED, func.count())
    applied = query.where(_APPLIED.c.journal == FUND)
    for row in await select_in(connection, applied, column, ids):
        gid, count = tuple(row)
        sums[gid]["estates"] = int(count)


async def _replace_accounts(connection: AsyncConnection, estate_id: int, ids: list[int], accounts: Sequence[FundAccount]) -> None:
    if not accounts:
        return
    for start in range(0, len(ids), 900):
        await connection.execute(delete(_ACCOUNT).where(_ACCOUNT.c.house_id.in_(ids[start : start + 900])))
    await insert_rows(
        connection,
        _ACCOUNT,
        [
            {
                "house_id": house_id,
                "estate_id": estate_id,
                "house_code": account.house,
                "balance_fen": account.balance_fen,
                "first_deposit_fen": account.first_deposit_fen,
                "entries": account.entries,
                "last_index": account.last_index,
                "last_at": utc(account.last_at),
            }
            for house_id, account in zip(ids, accounts, strict=True)
        ],
    )


async def _replace_years(connection: AsyncConnection, table: Any, estate_id: int, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    years = [row["year"] for row in rows]
    await connection.execute(delete(table).where(table.c.estate_id == estate_id, table.c.year.in_(years)))
    await insert_rows(connection, table, [{"estate_id": estate_id, **row} for row in rows])


def _fund_year_row(year: FundYear) -> dict[str, Any]:
    return {"year": year.year, "credits_fen": year.credits_fen, "interest_fen": year.interest_fen, "repairs_fen": year.repairs_fen}


def _revenue_year_row(year: RevenueYear) -> dict[str, Any]:
    return {
        "year": year.year,
        "income_fen": year.income_fen,
        "confirmed_income_fen": year.confirmed_income_fen,
        "cost_fen": year.cost_fen,
        "distributed_fen": year.distributed_fen,
        "entries": year.entries,
        "unconfirmed": year.unconfirmed,
    }


def _fund_year(m: Any) -> FundYear:
    return FundYear(
        estate=m["estate_code"],
        year=int(m["year"]),
        credits_fen=int(m["credits_fen"]),
        interest_fen=int(m["interest_fen"]),
        repairs_fen=int(m["repairs_fen"]),
    )


def _revenue_year(m: Any) -> RevenueYear:
    return RevenueYear(
        estate=m["estate_code"],
        year=int(m["year"]),
        income_fen=int(m["income_fen"]),
        confirmed_income_fen=int(m["confirmed_income_fen"]),
        cost_fen=int(m["cost_fen"]),
        distributed_fen=int(m["distributed_fen"]),
        entries=int(m["entries"]),
        unconfirmed=int(m["unconfirmed"]),
    )
