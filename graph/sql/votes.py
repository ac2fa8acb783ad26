"""Owners' votes, their electorates and proxies, owners' committees and first meetings in SQL (a
base of SqlStore): the storage side of `graph.votes.records.VoteStore`, whose docstrings hold
each member's contract. The field checks are `graph.votes.checks`, the same for every adapter;
this module stores, finds and counts.

A vote's items, candidates and documents are JSON text on its row (they are read with the vote,
never on their own). The electorate frozen at the open is a row per house (`elector`, keyed by
vote and house) and a row per holder and house (`vote_holder`, keyed by vote, owner and house)
to find an owner's houses; a proxy is a row per vote and house, found by vote and delegate, or
by delegate alone (the votes an owner is a delegate in), each through its index.

Scope: a vote (its electors and proxies: the service checks the vote first) is in a caller's
scope when its place is, a committee or a meeting step when its estate is — the same
`within_any` predicate as places, on the place row they point at. Out of scope is absent.

Status changes are compare-and-set: one UPDATE guarded by the status it changes from, whose row
count says whether this call made the change (two closers: one publishes). Opening inserts the
electorate in the same transaction as its guarded UPDATE, after it: a call that loses the race
inserts nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.cursors import decode_cursor, encode_cursor
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.model import Page
from graph.scope import Scope
from graph.sql import tables
from graph.sql.bulk import insert_rows
from graph.sql.rows import maybe_utc, utc
from graph.sql.scoping import under
from graph.sql.writes import AnchorCache, anchors, select_in
from graph.sql.writers import WriteTurns
from graph.store import MAX_PAGE
from graph.votes.checks import (
    STEP_ORDER,
    check_committee,
    check_day,
    check_electors,
    check_new_vote,
    check_proxy,
    check_result,
    check_step,
    check_time,
    check_vote_place,
)
from graph.votes.records import (
    Committee,
    CommitteeCount,
    Elector,
    Electorate,
    MeetingStep,
    MeetingStepKind,
    Organiser,
    Proxy,
    Vote,
    VoteStatus,
)
from graph.votes.texts import documents_json, documents_of, items_json, items_of, members_json, members_of

if TYPE_CHECKING:
    from graph.sql.scoping import Anchor

_VOTE = tables.vote
_ELECTOR = tables.elector
_HOLDER = tables.vote_holder
_PROXY = tables.vote_proxy
_COMMITTEE = tables.committee
_STEP = tables.meeting_step
_PLACE = tables.place
_ESTATE = tables.place.alias("vote_estate")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _vote_query() -> Select[Any]:
    return (
        select(_VOTE, _PLACE.c.code.label("place_code"), _ESTATE.c.code.label("estate_code"))
        .select_from(_VOTE)
        .join(_PLACE, _PLACE.c.id == _VOTE.c.place_id)
        .join(_ESTATE, _ESTATE.c.id == _VOTE.c.estate_id)
    )


def _vote(row: Any) -> Vote:
    m = row._mapping
    electorate = None
    if m["electorate_houses"] is not None:
        electorate = Electorate(
            houses=int(m["electorate_houses"]), heads=int(m["electorate_heads"]), area_centi_m2=int(m["electorate_area_centi_m2"])
        )
    return Vote(
        id=m["key"],
        place_code=m["place_code"],
        estate_code=m["estate_code"],
        organiser=Organiser(
            role=m["organiser_role"], scope=m["organiser_scope"], name=m["organiser_name"], capacity=m["organiser_capacity"]
        ),
        title=m["title"],
        record_date=m["record_date"],
        notice_at=utc(m["notice_at"]),
        opens_at=utc(m["opens_at"]),
        closes_at=utc(m["closes_at"]),
        items=items_of(m["items"]),
        documents=documents_of(m["documents"]),
        status=VoteStatus(m["status"]),
        created_at=maybe_utc(m["created_at"]),
        first_meeting=bool(m["first_meeting"]),
        electorate=electorate,
        opened_at=maybe_utc(m["opened_at"]),
        closed_at=maybe_utc(m["closed_at"]),
        result=m["result"],
    )


def _elector(vote_id: str, row: Any) -> Elector:
    return Elector(
        vote_id=vote_id,
        house_code=row.house_code,
        area_centi_m2=int(row.area_centi_m2),
        holders=tuple(json.loads(row.holders)),
        head=row.head,
        designated=row.designated,
    )


def _proxy(vote_id: str, row: Any) -> Proxy:
    return Proxy(
        vote_id=vote_id,
        house_code=row.house_code,
        grantor=row.grantor,
        delegate=row.delegate,
        reference=row.reference,
        registered_by=row.registered_by,
        at=utc(row.at),
    )


def _committee_query() -> Select[Any]:
    return select(_COMMITTEE, _PLACE.c.code.label("estate_code")).join(_PLACE, _PLACE.c.id == _COMMITTEE.c.estate_id)


def _committee(row: Any) -> Committee:
    m = row._mapping
    return Committee(
        id=m["key"],
        estate_code=m["estate_code"],
        members=members_of(m["members"]),
        term_start=m["term_start"],
        term_end=m["term_end"],
        elected_by=m["elected_by"],
        filed_on=m["filed_on"],
    )


def _step_query() -> Select[Any]:
    return select(_STEP, _PLACE.c.code.label("estate_code")).join(_PLACE, _PLACE.c.id == _STEP.c.estate_id)


def _step(row: Any) -> MeetingStep:
    m = row._mapping
    return MeetingStep(
        estate_code=m["estate_code"],
        kind=MeetingStepKind(m["kind"]),
        at=utc(m["at"]),
        actor=m["actor"],
        role=m["role"],
        detail=m["detail"],
    )


def _bad_cursor(after: str | None) -> InvalidInput:
    return InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")


def _holds(place: Anchor, estate: Anchor) -> bool:
    return place.id == estate.id or (place.level > Level.ESTATE and place.ancestor(Level.ESTATE) == estate.id)


class VoteRecords:
    """The vote part of the store port (a base of SqlStore)."""

    engine: AsyncEngine
    turns: WriteTurns

    if TYPE_CHECKING:
        _anchors: AnchorCache

        async def _visible(
            self, connection: AsyncConnection, scope: Scope, table: Any = tables.place, *, drive: bool = False
        ) -> Any: ...

        async def _anchor(self, connection: AsyncConnection, code: str | None) -> Anchor | None: ...

    # -- votes ---------------------------------------------------------------------------

    async def save_vote(self, vote: Vote) -> None:
        check_new_vote(vote)
        created = vote.created_at or dt.datetime.now(dt.timezone.utc)
        try:
            async with self.turns.writing() as connection:
                found = await anchors(connection, [vote.place_code, vote.estate_code], self._anchors)
                place, estate = found.get(vote.place_code), found.get(vote.estate_code)
                check_vote_place(
                    vote,
                    None if place is None else place.level,
                    None if estate is None else estate.level,
                    place is not None and estate is not None and _holds(place, estate),
                )
                assert place is not None and estate is not None
                taken = (await connection.execute(select(_VOTE.c.id).where(_VOTE.c.key == vote.id))).first()
                if taken is not None:
                    raise StoreError(f"vote {vote.id} already exists")
                await connection.execute(
                    _VOTE.insert().values(
                        key=vote.id,
                        place_id=place.id,
                        estate_id=estate.id,
                        organiser_role=vote.organiser.role,
                        organiser_scope=vote.organiser.scope,
                        organiser_name=vote.organiser.name,
                        organiser_capacity=vote.organiser.capacity,
                        title=vote.title,
                        record_date=vote.record_date,
                        notice_at=utc(vote.notice_at),
                        opens_at=utc(vote.opens_at),
                        closes_at=utc(vote.closes_at),
                        items=items_json(vote.items),
                        documents=documents_json(vote.documents),
                        status=VoteStatus.NOTICED.value,
                        created_at=utc(created),
                        first_meeting=1 if vote.first_meeting else 0,
                        electorate_houses=None,
                        electorate_heads=None,
                        electorate_area_centi_m2=None,
                        opened_at=None,
                        closed_at=None,
                        result=None,
                    )
                )
        except IntegrityError:
            # a writer that bypassed the write turns stored the id first
            raise StoreError(f"vote {vote.id} already exists") from None

    async def votes(self, ids: Sequence[str], scope: Scope) -> list[Vote | None]:
        async with self.engine.connect() as connection:
            query = _vote_query().where(await self._visible(connection, scope))
            found = {row.key: _vote(row) for row in await select_in(connection, query, _VOTE.c.key, ids)}
        return [found.get(key) for key in ids]

    async def votes_at(
        self, place_codes: Sequence[str], scope: Scope, statuses: Sequence[VoteStatus] | None = None
    ) -> list[Vote]:
        async with self.engine.connect() as connection:
            query = _vote_query().where(await self._visible(connection, scope))
            if statuses is not None:
                query = query.where(_VOTE.c.status.in_([status.value for status in statuses]))
            found = [_vote(row) for row in await select_in(connection, query, _PLACE.c.code, place_codes)]
        return sorted(found, key=lambda vote: vote.id)

    async def vote_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        statuses: Sequence[VoteStatus] | None = None,
    ) -> Page[Vote]:
        first = max(1, min(first, MAX_PAGE))
        mark = decode_cursor(after)
        async with self.engine.connect() as connection:
            if mark is not None:
                known = (await connection.execute(select(_VOTE.c.id).where(_VOTE.c.key == mark))).first()
                if known is None:
                    raise _bad_cursor(after)
            clauses: list[Any] = [await self._visible(connection, scope)]
            if within is not None:
                root = await self._anchor(connection, within)
                if root is None:
                    return Page(items=[], has_next=False, end_cursor=None)
                clauses.append(under(_PLACE, root))
            if statuses is not None:
                clauses.append(_VOTE.c.status.in_([status.value for status in statuses]))
            if mark is not None:
                clauses.append(_VOTE.c.key > mark)
            query = _vote_query().where(and_(*clauses)).order_by(_VOTE.c.key).limit(first + 1)
            found = [_vote(row) for row in await connection.execute(query)]
        shown = found[:first]
        return Page(
            items=shown,
            has_next=len(found) > first,
            end_cursor=encode_cursor(shown[-1].id) if shown else None,
            start_cursor=encode_cursor(shown[0].id) if shown else None,
        )

    async def open_vote(
        self, vote_id: str, electors: Sequence[Elector], electorate: Electorate, at: dt.datetime
    ) -> bool:
        check_electors(vote_id, electors, electorate)
        check_time(at, f"vote {vote_id} opened_at")
        async with self.turns.writing() as connection:
            row_id = (await connection.execute(select(_VOTE.c.id).where(_VOTE.c.key == vote_id))).scalar_one_or_none()
            if row_id is None:
                return False
            opened = await connection.execute(
                update(_VOTE)
                .where(_VOTE.c.id == row_id, _VOTE.c.status == VoteStatus.NOTICED.value)
                .values(
                    status=VoteStatus.OPEN.value,
                    opened_at=utc(at),
                    electorate_houses=electorate.houses,
                    electorate_heads=electorate.heads,
                    electorate_area_centi_m2=electorate.area_centi_m2,
                )
            )
            if opened.rowcount == 0:
                return False
            await insert_rows(
                connection,
                _ELECTOR,
                [
                    {
                        "vote_id": row_id,
                        "house_code": e.house_code,
                        "area_centi_m2": e.area_centi_m2,
                        "holders": _json(list(e.holders)),
                        "head": e.head,
                        "designated": e.designated,
                    }
                    for e in electors
                ],
            )
            await insert_rows(
                connection,
                _HOLDER,
                [{"vote_id": row_id, "owner": owner, "house_code": e.house_code} for e in electors for owner in e.holders],
            )
        return True

    async def _change_status(self, vote_id: str, before: VoteStatus, values: dict[str, Any]) -> bool:
        async with self.turns.writing() as connection:
            changed = await connection.execute(
                update(_VOTE).where(_VOTE.c.key == vote_id, _VOTE.c.status == before.value).values(**values)
            )
            return changed.rowcount > 0

    async def close_vote(self, vote_id: str, result: str, at: dt.datetime) -> bool:
        check_result(result, vote_id)
        check_time(at, f"vote {vote_id} closed_at")
        return await self._change_status(
            vote_id, VoteStatus.OPEN, {"status": VoteStatus.CLOSED.value, "closed_at": utc(at), "result": result}
        )

    async def cancel_vote(self, vote_id: str, at: dt.datetime) -> bool:
        check_time(at, f"vote {vote_id} closed_at")
        return await self._change_status(
            vote_id, VoteStatus.NOTICED, {"status": VoteStatus.CANCELLED.value, "closed_at": utc(at)}
        )

    # -- electors ------------------------------------------------------------------------

    async def _vote_row(self, connection: AsyncConnection, vote_id: str) -> int | None:
        """The row id of a vote (kept once found: a vote's row is never deleted or renumbered)."""
        known: dict[str, int] = self.__dict__.setdefault("_vote_row_ids", {})
        row_id = known.get(vote_id)
        if row_id is None:
            found = (await connection.execute(select(_VOTE.c.id).where(_VOTE.c.key == vote_id))).scalar_one_or_none()
            if found is None:
                return None
            if len(known) > 10_000:
                known.clear()
            row_id = known[vote_id] = int(found)
        return row_id

    async def electors(self, vote_id: str, house_codes: Sequence[str]) -> list[Elector | None]:
        async with self.engine.connect() as connection:
            row_id = await self._vote_row(connection, vote_id)
            if row_id is None:
                return [None for _ in house_codes]
            query = select(_ELECTOR).where(_ELECTOR.c.vote_id == row_id)
            found = {row.house_code: _elector(vote_id, row) for row in await select_in(connection, query, _ELECTOR.c.house_code, house_codes)}
        return [found.get(code) for code in house_codes]

    async def electors_of(self, vote_id: str, owner_ids: Sequence[str]) -> list[list[Elector]]:
        by_owner: dict[str, list[Elector]] = {owner: [] for owner in owner_ids}
        async with self.engine.connect() as connection:
            row_id = await self._vote_row(connection, vote_id)
            if row_id is not None and by_owner:
                query = (
                    select(_HOLDER.c.owner, _ELECTOR)
                    .select_from(_HOLDER)
                    .join(_ELECTOR, and_(_ELECTOR.c.vote_id == _HOLDER.c.vote_id, _ELECTOR.c.house_code == _HOLDER.c.house_code))
                    .where(_HOLDER.c.vote_id == row_id)
                )
                for row in await select_in(connection, query, _HOLDER.c.owner, list(by_owner)):
                    by_owner[row.owner].append(_elector(vote_id, row))
        return [sorted(by_owner[owner], key=lambda e: e.house_code) for owner in owner_ids]

    async def elector_page(self, vote_id: str, first: int, after: str | None = None) -> Page[Elector]:
        first = max(1, min(first, MAX_PAGE))
        mark = decode_cursor(after)
        async with self.engine.connect() as connection:
            row_id = await self._vote_row(connection, vote_id)
            if mark is not None:
                known = None
                if row_id is not None:
                    query = select(_ELECTOR.c.house_code).where(_ELECTOR.c.vote_id == row_id, _ELECTOR.c.house_code == mark)
                    known = (await connection.execute(query)).first()
                if known is None:
                    raise _bad_cursor(after)
            if row_id is None:
                return Page(items=[], has_next=False, end_cursor=None)
            query = select(_ELECTOR).where(_ELECTOR.c.vote_id == row_id)
            if mark is not None:
                query = query.where(_ELECTOR.c.house_code > mark)
            found = [_elector(vote_id, row) for row in await connection.execute(query.order_by(_ELECTOR.c.house_code).limit(first + 1))]
        shown = found[:first]
        return Page(
            items=shown,
            has_next=len(found) > first,
            end_cursor=encode_cursor(shown[-1].house_code) if shown else None,
            start_cursor=encode_cursor(shown[0].house_code) if shown else None,
        )

    # -- proxies -------------------------------------------------------------------------

    async def save_proxy(self, proxy: Proxy) -> None:
        check_proxy(proxy)
        where = f"vote {proxy.vote_id} proxy for {proxy.house_code!r}"
        try:
            async with self.turns.writing() as connection:
                row_id = await self._vote_row(connection, proxy.vote_id)
                if row_id is None:
                    raise InvalidInput(f"{where} vote_id", proxy.vote_id, "is not a stored vote")
                query = select(_ELECTOR.c.house_code).where(_ELECTOR.c.vote_id == row_id, _ELECTOR.c.house_code == proxy.house_code)
                if (await connection.execute(query)).first() is None:
                    raise InvalidInput(f"{where} house_code", proxy.house_code, "is not in the vote's electorate")
                query = select(_PROXY.c.house_code).where(_PROXY.c.vote_id == row_id, _PROXY.c.house_code == proxy.house_code)
                if (await connection.execute(query)).first() is not None:
                    raise StoreError(f"vote {proxy.vote_id}: house {proxy.house_code} already has a proxy")
                await connection.execute(
                    _PROXY.insert().values(
                        vote_id=row_id,
                        house_code=proxy.house_code,
                        grantor=proxy.grantor,
                        delegate=proxy.delegate,
                        reference=proxy.reference,
                        registered_by=proxy.registered_by,
                        at=utc(proxy.at),
                    )
                )
        except IntegrityError:
            raise StoreError(f"vote {proxy.vote_id}: house {proxy.house_code} already has a proxy") from None

    async def proxies(self, vote_id: str, house_codes: Sequence[str]) -> list[Proxy | None]:
        async with self.engine.connect() as connection:
            row_id = await self._vote_row(connection, vote_id)
            if row_id is None:
                return [None for _ in house_codes]
            query = select(_PROXY).where(_PROXY.c.vote_id == row_id)
            found = {row.house_code: _proxy(vote_id, row) for row in await select_in(connection, query, _PROXY.c.house_code, house_codes)}
        return [found.get(code) for code in house_codes]

    async def proxies_for(self, vote_id: str, delegates: Sequence[str]) -> list[list[Proxy]]:
        by_delegate: dict[str, list[Proxy]] = {delegate: [] for delegate in delegates}
        async with self.engine.connect() as connection:
            row_id = await self._vote_row(connection, vote_id)
            if row_id is not None and by_delegate:
                query = select(_PROXY).where(_PROXY.c.vote_id == row_id)
                for row in await select_in(connection, query, _PROXY.c.delegate, list(by_delegate)):
                    by_delegate[row.delegate].append(_proxy(vote_id, row))
        return [sorted(by_delegate[d], key=lambda p: p.house_code) for d in delegates]

    async def delegations(self, delegate: str) -> list[str]:
        query = (
            select(_VOTE.c.key)
            .select_from(_PROXY.join(_VOTE, _VOTE.c.id == _PROXY.c.vote_id))
            .where(_PROXY.c.delegate == delegate)
            .distinct()
            .order_by(_VOTE.c.key)
        )
        async with self.engine.connect() as connection:
            return [row.key for row in await connection.execute(query)]

    # -- committees ----------------------------------------------------------------------

    async def save_committee(self, committee: Committee) -> None:
        check_committee(committee)
        where = f"committee {committee.id}"
        try:
            async with self.turns.writing() as connection:
                estate = await self._anchor(connection, committee.estate_code)
                if estate is None or estate.level != Level.ESTATE:
                    raise InvalidInput(f"{where} estate_code", committee.estate_code, "is not an estate in the store")
                taken = (await connection.execute(select(_COMMITTEE.c.id).where(_COMMITTEE.c.key == committee.id))).first()
                if taken is not None:
                    raise StoreError(f"committee {committee.id} already exists")
                await connection.execute(
                    _COMMITTEE.insert().values(
                        key=committee.id,
                        estate_id=estate.id,
                        members=members_json(committee.members),
                        term_start=committee.term_start,
                        term_end=committee.term_end,
                        elected_by=committee.elected_by,
                        filed_on=committee.filed_on,
                    )
                )
        except IntegrityError:
            raise StoreError(f"committee {committee.id} already exists") from None

    async def file_committee(self, committee_id: str, on: dt.date) -> bool:
        check_day(on, f"committee {committee_id} filed_on")
        async with self.turns.writing() as connection:
            filed = await connection.execute(
                update(_COMMITTEE).where(_COMMITTEE.c.key == committee_id, _COMMITTEE.c.filed_on.is_(None)).values(filed_on=on)
            )
            return filed.rowcount > 0

    async def committees(
        self, estate_codes: Sequence[str], as_of: dt.date | None, scope: Scope
    ) -> list[list[Committee]]:
        by_estate: dict[str, list[Committee]] = {code: [] for code in estate_codes}
        async with self.engine.connect() as connection:
            query = _committee_query().where(await self._visible(connection, scope))
            if as_of is not None:
                query = query.where(_COMMITTEE.c.term_start <= as_of, _COMMITTEE.c.term_end >= as_of)
            for row in await select_in(connection, query, _PLACE.c.code, list(by_estate)):
                by_estate[row.estate_code].append(_committee(row))
        return [sorted(by_estate[code], key=lambda c: (c.term_start, c.id)) for code in estate_codes]

    async def committee_counts(
        self, codes: Sequence[str], as_of: dt.date, scope: Scope
    ) -> list[CommitteeCount | None]:
        check_day(as_of, "as_of")
        found: dict[str, CommitteeCount] = {}
        async with self.engine.connect() as connection:
            visible = await self._visible(connection, scope)
            places = await anchors(connection, codes, self._anchors)
            for code, anchor in places.items():
                seen = select(_PLACE.c.id).where(_PLACE.c.id == anchor.id, visible)
                if (await connection.execute(seen)).first() is None:
                    continue
                estates_under = and_(_PLACE.c.level == int(Level.ESTATE), under(_PLACE, anchor), visible)
                estates = (await connection.execute(select(func.count()).select_from(_PLACE).where(estates_under))).scalar_one()
                in_office = (
                    await connection.execute(
                        select(func.count(func.distinct(_COMMITTEE.c.estate_id)))
                        .select_from(_COMMITTEE.join(_PLACE, _PLACE.c.id == _COMMITTEE.c.estate_id))
                        .where(estates_under, _COMMITTEE.c.term_start <= as_of, _COMMITTEE.c.term_end >= as_of)
                    )
                ).scalar_one()
                found[code] = CommitteeCount(code=code, estates=int(estates), with_committee=int(in_office))
        return [found.get(code) for code in codes]

    # -- first meetings ------------------------------------------------------------------

    async def add_meeting_step(self, step: MeetingStep) -> bool:
        check_step(step)
        try:
            async with self.turns.writing() as connection:
                estate = await self._anchor(connection, step.estate_code)
                if estate is None or estate.level != Level.ESTATE:
                    raise InvalidInput(
                        f"meeting step {step.kind.value} of {step.estate_code} estate_code", step.estate_code, "is not an estate in the store"
                    )
                query = select(_STEP.c.kind).where(_STEP.c.estate_id == estate.id, _STEP.c.kind == step.kind.value)
                if (await connection.execute(query)).first() is not None:
                    return False
                await connection.execute(
                    _STEP.insert().values(
                        estate_id=estate.id, kind=step.kind.value, at=utc(step.at), actor=step.actor, role=step.role, detail=step.detail
                    )
                )
                return True
        except IntegrityError:
            return False  # a writer that bypassed the write turns recorded that step first

    async def meeting_steps(self, estate_codes: Sequence[str], scope: Scope) -> list[list[MeetingStep]]:
        by_estate: dict[str, list[MeetingStep]] = {code: [] for code in estate_codes}
        async with self.engine.connect() as connection:
            query = _step_query().where(await self._visible(connection, scope))
            for row in await select_in(connection, query, _PLACE.c.code, list(by_estate)):
                by_estate[row.estate_code].append(_step(row))
        return [sorted(by_estate[code], key=lambda s: STEP_ORDER[s.kind]) for code in estate_codes]

    async def meetings_under(self, within: str, scope: Scope) -> list[list[MeetingStep]]:
        by_estate: dict[str, list[MeetingStep]] = {}
        async with self.engine.connect() as connection:
            root = await self._anchor(connection, within)
            if root is None:
                return []
            query = _step_query().where(under(_PLACE, root), await self._visible(connection, scope))
            for row in await connection.execute(query):
                by_estate.setdefault(row.estate_code, []).append(_step(row))
        return [sorted(by_estate[code], key=lambda s: STEP_ORDER[s.kind]) for code in sorted(by_estate)]

