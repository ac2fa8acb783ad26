"""Utility accounts, bills and outage notices in SQL: the bulk writer and the scoped reads.

Accounts hang on a house row (`utility_account.house_id`), bills on an account, outages on the
places they name (`outage_place`). Every read joins down to `place` and filters it with the
caller's scope, so an account of a house outside the scope, or an outage none of whose places
is in it, behaves exactly as if it did not exist.

Writes compare before they write, as `graph.sql.writes` does: a rerun of the same batch reports
everything unchanged, and provenance alone never counts as a change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, distinct, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.errors import StoreError
from graph.levels import Level
from graph.model import Batch, Page, WriteCounts
from graph.scope import Scope
from graph.sql import rows, tables
from graph.sql.rows import maybe_utc, utc
from graph.sql.bulk import insert_rows, update_rows
from graph.sql.scoping import Anchor, under
from graph.sql.writes import AnchorCache, anchors, select_in
from graph.store import MAX_PAGE
from graph.utilities import (
    Arrears,
    Bill,
    Outage,
    Utility,
    UtilityAccount,
    check_utilities,
    outage_cursor,
    outage_position,
)


_account, _bill, _outage, _affected, _place = (
    tables.utility_account,
    tables.bill,
    tables.outage,
    tables.outage_place,
    tables.place,
)


# -- writes -----------------------------------------------------------------------------------


async def write_utilities(connection: AsyncConnection, batch: Batch, cache: AnchorCache) -> WriteCounts:
    """Accounts, then bills, then outages of `batch` (accounts first: a bill may name an
    account written in the same batch). A reference to a house, account or place that is not
    stored is a StoreError naming it; the batch's transaction then leaves nothing behind."""
    check_utilities(batch.accounts, batch.bills, batch.outages)  # graph.utilities: the records' own rules
    counts = WriteCounts()
    if batch.accounts:
        counts += await _write_accounts(connection, batch.accounts)
    if batch.bills:
        counts += await _write_bills(connection, batch.bills)
    if batch.outages:
        counts += await _write_outages(connection, batch.outages, cache)
    return counts


def _latest(items: Iterable[Any], key: Any) -> dict[Any, Any]:
    """The last record for each key wins within a batch, as in the rest of the bulk path."""
    return {key(item): item for item in items}


async def _account_ids(
    connection: AsyncConnection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    """(utility, account_no) → stored row (id, house_id), read by account number in chunks."""
    wanted = set(keys)
    query = select(_account.c.id, _account.c.utility, _account.c.account_no, _account.c.house_id)
    found: dict[tuple[str, str], Any] = {}
    for row in await select_in(connection, query, _account.c.account_no, sorted({no for _, no in wanted})):
        natural = (row.utility, row.account_no)
        if natural in wanted:
            found[natural] = row
    return found


async def _write_accounts(connection: AsyncConnection, accounts: Sequence[UtilityAccount]) -> WriteCounts:
    latest = _latest(accounts, lambda a: (a.utility.value, a.account_no))
    houses: dict[str, int] = {
        row.code: row.id
        for row in await select_in(
            connection,
            select(_place.c.code, _place.c.id).where(_place.c.level == int(Level.HOUSE)),
            _place.c.code,
            (a.house_code for a in latest.values()),
        )
    }
    stored = await _account_ids(connection, latest)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for (utility, number), account in latest.items():
        house_id = houses.get(account.house_code)
        if house_id is None:
            raise StoreError(f"{utility} account {number}: house {account.house_code} is not in the store")
        old = stored.get((utility, number))
        row = {"utility": utility, "account_no": number, "house_id": house_id, **rows.provenance_row(account.provenance)}
        if old is None:
            inserts.append(row)
        elif old.house_id != house_id:
            updates.append({"row_id": old.id, "house_id": house_id})
    await insert_rows(connection, _account, inserts)
    await update_rows(connection, _account, updates)
    return WriteCounts(len(inserts), len(updates), len(accounts) - len(inserts) - len(updates))


async def _write_bills(connection: AsyncConnection, bills: Sequence[Bill]) -> WriteCounts:
    latest = _latest(bills, lambda b: (b.utility.value, b.account_no, b.period))
    accounts = await _account_ids(connection, ((utility, number) for utility, number, _ in latest))
    by_account: dict[int, list[tuple[str, Bill]]] = {}
    for (utility, number, period), bill in latest.items():
        account = accounts.get((utility, number))
        if account is None:
            raise StoreError(f"{utility} bill {number}|{period}: account {number} is not in the store")
        by_account.setdefault(account.id, []).append((period, bill))
    query = select(_bill.c.id, _bill.c.account_id, _bill.c.period, _bill.c.amount_fen, _bill.c.paid_fen, _bill.c.due)
    stored = {
        (row.account_id, row.period): row
        for row in await select_in(connection, query, _bill.c.account_id, by_account)
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for account_id, items in by_account.items():
        for period, bill in items:
            facts = {"amount_fen": bill.amount_fen, "paid_fen": bill.paid_fen, "due": bill.due}
            old = stored.get((account_id, period))
            if old is None:
                inserts.append({"account_id": account_id, "period": period, **facts, **rows.provenance_row(bill.provenance)})
            elif (int(old.amount_fen), int(old.paid_fen), old.due) != (facts["amount_fen"], facts["paid_fen"], facts["due"]):
                updates.append({"row_id": old.id, **facts})
    await insert_rows(connection, _bill, inserts)
    await update_rows(connection, _bill, updates)
    return WriteCounts(len(inserts), len(updates), len(bills) - len(inserts) - len(updates))


async def _write_outages(
    connection: AsyncConnection, outages: Sequence[Outage], cache: AnchorCache
) -> WriteCounts:
    latest = _latest(outages, lambda o: (o.utility.value, o.notice_id))
    places = await anchors(connection, (code for o in latest.values() for code in o.place_codes), cache)
    stored: dict[tuple[str, str], Any] = {}
    for row in await select_in(connection, select(_outage), _outage.c.notice_id, sorted({notice for _, notice in latest})):
        if (row.utility, row.notice_id) in latest:
            stored[(row.utility, row.notice_id)] = row
    linked: dict[int, set[int]] = {}
    if stored:
        ids = [row.id for row in stored.values()]
        for row in await select_in(
            connection, select(_affected.c.outage_id, _affected.c.place_id), _affected.c.outage_id, ids
        ):
            linked.setdefault(row.outage_id, set()).add(row.place_id)
    inserted = updated = 0
    for (utility, notice), outage in latest.items():
        wanted: set[int] = set()
        for code in outage.place_codes:
            anchor = places.get(code)
            if anchor is None:
                raise StoreError(f"{utility} outage {notice}: place {code} is not in the store")
            wanted.add(anchor.id)
        facts = {
            "starts_at": utc(outage.starts_at),
            "ends_at": maybe_utc(outage.ends_at),
            "reason": outage.reason,
            "planned": int(outage.planned),
        }
        old = stored.get((utility, notice))
        if old is None:
            result = await connection.execute(
                _outage.insert().values(utility=utility, notice_id=notice, **facts, **rows.provenance_row(outage.provenance))
            )
            outage_id = result.inserted_primary_key[0]  # type: ignore[index]
            await insert_rows(connection, _affected, [{"outage_id": outage_id, "place_id": pid} for pid in sorted(wanted)])
            inserted += 1
            continue
        same = (
            utc(old.starts_at) == facts["starts_at"]
            and maybe_utc(old.ends_at) == facts["ends_at"]
            and old.reason == facts["reason"]
            and old.planned == facts["planned"]
        )
        had = linked.get(old.id, set())
        if same and had == wanted:
            continue
        if not same:
            await connection.execute(update(_outage).where(_outage.c.id == old.id).values(**facts))
        if had != wanted:
            gone = sorted(had - wanted)
            if gone:
                await connection.execute(
                    delete(_affected).where(_affected.c.outage_id == old.id, _affected.c.place_id.in_(gone))
                )
            await insert_rows(connection, _affected, [{"outage_id": old.id, "place_id": pid} for pid in sorted(wanted - had)])
        updated += 1
    return WriteCounts(inserted, updated, len(outages) - inserted - updated)


# -- reads -------------------------------------------------------------------------------------


def _arrears_filter(as_of: dt.date) -> Any:
    """Bills overdue on `as_of` and not paid in full (`graph.utilities.Bill.overdue_on`)."""
    return and_(_bill.c.due < as_of, _bill.c.amount_fen > _bill.c.paid_fen)


_ACCOUNTS = select(_account.c.utility, _account.c.account_no, _place.c.code.label("house_code"), *(
    _account.c[name] for name in ("source", "source_record", "fetched_at", "run_id")
)).join(_place, _place.c.id == _account.c.house_id)


def _account_of(row: Any) -> UtilityAccount:
    return UtilityAccount(
        utility=Utility(row.utility),
        account_no=row.account_no,
        house_code=row.house_code,
        provenance=rows.provenance_of(row._mapping),
    )


class UtilityRecords:
    """The utility part of the store port (a base of SqlStore)."""

    engine: AsyncEngine

    if TYPE_CHECKING:  # provided by SqlStore, whose base this is

        async def _visible(
            self, connection: AsyncConnection, scope: Scope, table: Any = tables.place, *, drive: bool = False
        ) -> Any: ...

        async def _anchor(self, connection: AsyncConnection, code: str | None) -> Anchor | None: ...

    async def utility_accounts(self, house_codes: Sequence[str], scope: Scope) -> list[list[UtilityAccount]]:
        async with self.engine.connect() as connection:
            query = _ACCOUNTS.where(await self._visible(connection, scope))
            found = await select_in(connection, query, _place.c.code, house_codes)
        groups: dict[str, list[UtilityAccount]] = {code: [] for code in house_codes}
        for row in sorted(found, key=lambda r: (r.utility, r.account_no)):
            groups[row.house_code].append(_account_of(row))
        return [groups[code] for code in house_codes]

    async def accounts(self, keys: Sequence[tuple[Utility, str]], scope: Scope) -> list[UtilityAccount | None]:
        async with self.engine.connect() as connection:
            query = _ACCOUNTS.where(await self._visible(connection, scope))
            found = {
                (row.utility, row.account_no): _account_of(row)
                for row in await select_in(connection, query, _account.c.account_no, [number for _, number in keys])
            }
        return [found.get((utility.value, number)) for utility, number in keys]

    async def arrears(self, house_codes: Sequence[str], as_of: dt.date, scope: Scope) -> list[list[Arrears]]:
        query = (
            select(
                _account.c.utility,
                _account.c.account_no,
                _place.c.code.label("house_code"),
                func.sum(_bill.c.amount_fen - _bill.c.paid_fen).label("owed"),
                func.count().label("bills"),
                func.min(_bill.c.period).label("oldest"),
            )
            .select_from(_bill.join(_account, _account.c.id == _bill.c.account_id).join(_place, _place.c.id == _account.c.house_id))
            .where(_arrears_filter(as_of))
            .group_by(_account.c.utility, _account.c.account_no, _place.c.code)
        )
        async with self.engine.connect() as connection:
            query = query.where(await self._visible(connection, scope))
            found = await select_in(connection, query, _place.c.code, house_codes)
        groups: dict[str, list[Arrears]] = {code: [] for code in house_codes}
        for row in sorted(found, key=lambda r: (r.utility, r.account_no)):
            groups[row.house_code].append(
                Arrears(Utility(row.utility), row.account_no, row.house_code, int(row.owed), int(row.bills), row.oldest)
            )
        return [groups[code] for code in house_codes]

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
        async with self.engine.connect() as connection:
            visible = await self._visible(connection, scope)
            affected = [_affected.c.outage_id == _outage.c.id, visible]
            if within is not None:
                root = await self._anchor(connection, within)
                if root is None:
                    return Page(items=[], has_next=False, end_cursor=None)
                # under `within`, or a place above it (an outage of a whole estate reaches
                # every building in it)
                above = [pid for pid in root.ancestors if pid is not None and pid != root.id]
                affected.append(or_(under(_place, root), _place.c.id.in_(above)) if above else under(_place, root))
            touching = select(_affected.c.outage_id).join(_place, _place.c.id == _affected.c.place_id).where(*affected)
            query = select(_outage).where(exists(touching))
            if utility is not None:
                query = query.where(_outage.c.utility == utility.value)
            if active_at is not None:
                moment = utc(active_at)
                query = query.where(_outage.c.starts_at <= moment, or_(_outage.c.ends_at.is_(None), _outage.c.ends_at > moment))
            if position is not None:
                # keyset on the notice's natural key (see graph.utilities.outage_cursor)
                starts, after_utility, notice = position
                query = query.where(
                    or_(
                        _outage.c.starts_at < starts,
                        and_(
                            _outage.c.starts_at == starts,
                            or_(
                                _outage.c.utility < after_utility.value,
                                and_(_outage.c.utility == after_utility.value, _outage.c.notice_id < notice),
                            ),
                        ),
                    )
                )
            order = (_outage.c.starts_at.desc(), _outage.c.utility.desc(), _outage.c.notice_id.desc())
            query = query.order_by(*order).limit(first + 1)
            found = list(await connection.execute(query))
            shown = found[:first]
            codes: dict[int, list[str]] = {row.id: [] for row in shown}
            if shown:
                places = (
                    select(_affected.c.outage_id, _place.c.code)
                    .join(_place, _place.c.id == _affected.c.place_id)
                    .where(visible)
                )
                for row in await select_in(connection, places, _affected.c.outage_id, codes):
                    codes[row.outage_id].append(row.code)
        items = [
            Outage(
                utility=Utility(row.utility),
                notice_id=row.notice_id,
                place_codes=tuple(sorted(codes[row.id])),
                starts_at=utc(row.starts_at),
                ends_at=maybe_utc(row.ends_at),
                reason=row.reason,
                planned=bool(row.planned),
                provenance=rows.provenance_of(row._mapping),
            )
            for row in shown
        ]
        return Page(
            items=items,
            has_next=len(found) > first,
            end_cursor=outage_cursor(items[-1]) if items else None,
            start_cursor=outage_cursor(items[0]) if items else None,
        )

    async def arrears_counts(self, codes: Sequence[str], as_of: dt.date, scope: Scope) -> list[int | None]:
        counts: dict[str, int | None] = {}
        async with self.engine.connect() as connection:
            visible = await self._visible(connection, scope)
            query = select(_place.c.id, _place.c.code, _place.c.level).where(visible)
            seen = {row.code: row for row in await select_in(connection, query, _place.c.code, codes)}
            by_level: dict[Level, dict[int, str]] = {}
            for code, row in seen.items():
                by_level.setdefault(Level(row.level), {})[row.id] = code
                counts[code] = 0
            owing = (
                select(_account.c.house_id)
                .join(_bill, _bill.c.account_id == _account.c.id)
                .where(_arrears_filter(as_of))
            )
            for level, ids in by_level.items():
                # houses under each place: one grouped query per level asked, on the ancestor
                # id column of that level (a house counts itself)
                group = _place.c.id if level == Level.HOUSE else _place.c[tables.ancestor_column(level)]
                counted = (
                    select(group.label("gid"), func.count(distinct(_place.c.id)).label("houses"))
                    .where(_place.c.level == int(Level.HOUSE))
                    .where(_place.c.id.in_(owing))
                    .where(visible)
                    .group_by(group)
                )
                for row in await select_in(connection, counted, group, ids):
                    counts[ids[row.gid]] = int(row.houses)
        return [counts.get(code) for code in codes]


__all__ = ["UtilityRecords", "write_utilities"]
