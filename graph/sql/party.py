"""Party organisations, members and claims in SQL (a base of SqlStore): the storage side of
`graph.party.records.PartyStore`, whose docstrings hold each member's contract. The field checks
are `graph.party.checks` (shared with Cypher); this module stores, finds and counts.

Scope is decided on the place an organisation sits in (`party_organisation.place_id`), through
it for members, and on a claim's estate. One active claim per case and member is the unique
`active_lock` column (set while active, NULL once finished). Members' names are sealed with the
store's `Sealer` under `party-member:<id>`, a blind index beside them, as owners' names are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.ciphers.sealing import Sealer
from graph.cursors import decode_cursor
from graph.errors import InvalidInput, StoreError
from graph.model import Page
from graph.party.checks import check_claim, check_finish, check_left, check_member, check_organisation, check_organisation_place, claim_lock, page_by_id, sealed_under
from graph.party.records import (
    CaseClaim,
    ClaimOutcome,
    ClaimTaken,
    ClaimTally,
    HostKind,
    LinkKind,
    OrganisationKind,
    PartyMember,
    PartyOrganisation,
    PersonLink,
)
from graph.levels import Level
from graph.scope import Scope
from graph.sql import tables
from graph.sql.tables import ancestor_column
from graph.sql.rows import maybe_utc, utc
from graph.sql.scoping import under
from graph.sql.writes import AnchorCache, anchors, select_in
from graph.sql.writers import WriteTurns
from graph.store import MAX_PAGE
from graph.votes.checks import check_time

if TYPE_CHECKING:
    from graph.model import Place
    from graph.sql.scoping import Anchor

_ORG = tables.party_organisation
_MEMBER = tables.party_member
_CLAIM = tables.party_claim
_PLACE = tables.place


def _org_query() -> Select[Any]:
    return select(_ORG, _PLACE.c.code.label("place_code")).select_from(_ORG).join(_PLACE, _PLACE.c.id == _ORG.c.place_id)


def _organisation(row: Any) -> PartyOrganisation:
    m = row._mapping
    return PartyOrganisation(
        id=m["key"], name=m["name"], kind=OrganisationKind(m["kind"]), host_kind=HostKind(m["host_kind"]), host=m["host"],
        place_code=m["place_code"], founded_on=m["founded_on"], secretary=m["secretary"], version=int(m["version"]),
    )


def _member_query() -> Select[Any]:
    return (
        select(_MEMBER, _ORG.c.key.label("organisation_key"))
        .select_from(_MEMBER)
        .join(_ORG, _ORG.c.id == _MEMBER.c.organisation_id)
        .join(_PLACE, _PLACE.c.id == _ORG.c.place_id)
    )


def _claim_query() -> Select[Any]:
    return select(_CLAIM, _PLACE.c.code.label("estate_code")).select_from(_CLAIM).join(_PLACE, _PLACE.c.id == _CLAIM.c.estate_id)


def _claim(row: Any) -> CaseClaim:
    m = row._mapping
    return CaseClaim(
        id=m["key"], case_id=m["case_key"], member_id=m["member_key"], organisation_id=m["organisation_key"],
        estate_code=m["estate_code"], claimed_at=utc(m["claimed_at"]), claimed_by=m["claimed_by"], note=m["note"],
        outcome=None if m["outcome"] is None else ClaimOutcome(m["outcome"]), outcome_note=m["outcome_note"],
        finished_at=maybe_utc(m["finished_at"]), finished_by=m["finished_by"],
    )


def _bad_cursor(after: str | None) -> InvalidInput:
    return InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")


def _by_claim_time(claims: list[CaseClaim]) -> list[CaseClaim]:
    return sorted(claims, key=lambda item: (item.claimed_at, item.id))


class PartyRecords:
    """The party part of the store port (a base of SqlStore)."""

    engine: AsyncEngine
    turns: WriteTurns
    sealer: Sealer

    if TYPE_CHECKING:
        _anchors: AnchorCache

        async def _visible(
            self, connection: AsyncConnection, scope: Scope, table: Any = tables.place, *, drive: bool = False
        ) -> Any: ...

        async def _anchor(self, connection: AsyncConnection, code: str | None) -> Anchor | None: ...

        async def places(self, codes: Sequence[str], scope: Scope) -> list[Place | None]: ...

    def _member(self, row: Any) -> PartyMember:
        m = row._mapping
        link = None if m["link_kind"] is None else PersonLink(LinkKind(m["link_kind"]), m["link_id"])
        name = self.sealer.open(bytes(m["name_sealed"]), field="name", owner=sealed_under(m["key"]))
        return PartyMember(
            id=m["key"], organisation_id=m["organisation_key"], name=name, joined_on=m["joined_on"], post=m["post"],
            link=link, left_on=m["left_on"],
        )

    # -- organisations ---------------------------------------------------------------------

    async def save_party_organisation(self, organisation: PartyOrganisation) -> None:
        check_organisation(organisation)
        try:
            async with self.turns.writing() as connection:
                place = (await anchors(connection, [organisation.place_code], self._anchors)).get(organisation.place_code)
                check_organisation_place(organisation, None if place is None else place.level)
                assert place is not None
                taken = (await connection.execute(select(_ORG.c.id).where(_ORG.c.key == organisation.id))).first()
                if taken is not None:
                    raise StoreError(f"party organisation {organisation.id} already exists")
                await connection.execute(
                    _ORG.insert().values(
                        key=organisation.id, name=organisation.name, kind=OrganisationKind(organisation.kind).value,
                        host_kind=HostKind(organisation.host_kind).value, host=organisation.host, place_id=place.id,
                        founded_on=organisation.founded_on, secretary=organisation.secretary, version=1,
                    )
                )
        except IntegrityError:
            raise StoreError(f"party organisation {organisation.id} already exists") from None

    async def update_party_organisation(self, organisation: PartyOrganisation, expect: int) -> PartyOrganisation | None:
        check_organisation(organisation)
        async with self.turns.writing() as connection:
            changed = await connection.execute(
                update(_ORG)
                .where(_ORG.c.key == organisation.id, _ORG.c.version == expect)
                .values(
                    name=organisation.name, kind=OrganisationKind(organisation.kind).value, founded_on=organisation.founded_on,
                    secretary=organisation.secretary, version=expect + 1,
                )
            )
            if changed.rowcount == 0:
                return None
            row = (await connection.execute(_org_query().where(_ORG.c.key == organisation.id))).first()
        return None if row is None else _organisation(row)

    async def party_organisations(self, ids: Sequence[str], scope: Scope) -> list[PartyOrganisation | None]:
        async with self.engine.connect() as connection:
            query = _org_query().where(await self._visible(connection, scope))
            found = {row.key: _organisation(row) for row in await select_in(connection, query, _ORG.c.key, ids)}
        return [found.get(key) for key in ids]

    async def party_organisation_page(
        self, scope: Scope, first: int, after: str | None = None, *, within: str | None = None, host: str | None = None
    ) -> Page[PartyOrganisation]:
        first = max(1, min(first, MAX_PAGE))
        mark = decode_cursor(after)
        async with self.engine.connect() as connection:
            if mark is not None:
                known = (await connection.execute(select(_ORG.c.id).where(_ORG.c.key == mark))).first()
                if known is None:
                    raise _bad_cursor(after)
            clauses: list[Any] = [await self._visible(connection, scope)]
            if within is not None:
                root = await self._anchor(connection, within)
                if root is None:
                    return Page(items=[], has_next=False, end_cursor=None)
                clauses.append(under(_PLACE, root))
            if host is not None:
                clauses.append(_ORG.c.host == host)
            if mark is not None:
                clauses.append(_ORG.c.key > mark)
            query = _org_query().where(and_(*clauses)).order_by(_ORG.c.key).limit(first + 1)
            found = [_organisation(row) for row in await connection.execute(query)]
        return page_by_id(found, first)

    async def hosted_organisations(self, hosts: Sequence[str]) -> list[list[PartyOrganisation]]:
        async with self.engine.connect() as connection:
            rows = await select_in(connection, _org_query(), _ORG.c.host, hosts)
        found: dict[str, list[PartyOrganisation]] = {}
        for organisation in map(_organisation, rows):
            found.setdefault(organisation.host, []).append(organisation)
        return [sorted(found.get(host, []), key=lambda org: org.id) for host in hosts]

    # -- members ---------------------------------------------------------------------------

    async def save_party_member(self, member: PartyMember) -> None:
        check_member(member)
        sealed = self.sealer.seal(member.name, field="name", owner=sealed_under(member.id))
        try:
            async with self.turns.writing() as connection:
                org = (await connection.execute(select(_ORG.c.id).where(_ORG.c.key == member.organisation_id))).first()
                if org is None:
                    raise InvalidInput(f"member {member.id} organisation", member.organisation_id, "is not a party organisation in the store")
                taken = (await connection.execute(select(_MEMBER.c.id).where(_MEMBER.c.key == member.id))).first()
                if taken is not None:
                    raise StoreError(f"party member {member.id} already exists")
                await connection.execute(
                    _MEMBER.insert().values(
                        key=member.id, organisation_id=org.id, name_sealed=sealed, name_index=self.sealer.index("name", member.name),
                        post=member.post, joined_on=member.joined_on, left_on=None,
                        link_kind=None if member.link is None else LinkKind(member.link.kind).value,
                        link_id=None if member.link is None else member.link.id,
                    )
                )
        except IntegrityError:
            raise StoreError(f"party member {member.id} already exists") from None

    async def end_party_member(self, member_id: str, on: dt.date) -> bool:
        async with self.turns.writing() as connection:
            row = (await connection.execute(select(_MEMBER.c.joined_on, _MEMBER.c.left_on).where(_MEMBER.c.key == member_id))).first()
            if row is None:
                return False
            day = check_left(member_id, row.joined_on, on)
            changed = await connection.execute(
                update(_MEMBER).where(_MEMBER.c.key == member_id, _MEMBER.c.left_on.is_(None)).values(left_on=day)
            )
            return changed.rowcount > 0

    async def party_members(self, organisation_ids: Sequence[str], scope: Scope) -> list[list[PartyMember]]:
        async with self.engine.connect() as connection:
            query = _member_query().where(await self._visible(connection, scope))
            rows = await select_in(connection, query, _ORG.c.key, organisation_ids)
        found: dict[str, list[PartyMember]] = {}
        for row in rows:
            member = self._member(row)
            found.setdefault(member.organisation_id, []).append(member)
        return [sorted(found.get(key, []), key=lambda item: item.id) for key in organisation_ids]

    async def party_members_by_id(self, ids: Sequence[str], scope: Scope) -> list[PartyMember | None]:
        async with self.engine.connect() as connection:
            query = _member_query().where(await self._visible(connection, scope))
            found = {row.key: self._member(row) for row in await select_in(connection, query, _MEMBER.c.key, ids)}
        return [found.get(key) for key in ids]

    async def linked_party_members(self, links: Sequence[PersonLink]) -> list[list[PartyMember]]:
        found: dict[tuple[str, str], list[PartyMember]] = {}
        async with self.engine.connect() as connection:
            by_kind: dict[str, list[str]] = {}
            for link in links:
                by_kind.setdefault(LinkKind(link.kind).value, []).append(link.id)
            for kind, ids in by_kind.items():
                query = _member_query().where(_MEMBER.c.link_kind == kind)
                for row in await select_in(connection, query, _MEMBER.c.link_id, ids):
                    found.setdefault((kind, row.link_id), []).append(self._member(row))
        return [sorted(found.get((LinkKind(link.kind).value, link.id), []), key=lambda item: item.id) for link in links]

    # -- claims ----------------------------------------------------------------------------

    async def save_case_claim(self, claim: CaseClaim) -> None:
        check_claim(claim)
        lock = claim_lock(claim.case_id, claim.member_id)
        taken_by = ClaimTaken(f"member {claim.member_id} already holds an active claim on case {claim.case_id}")
        try:
            async with self.turns.writing() as connection:
                estate = (await anchors(connection, [claim.estate_code], self._anchors)).get(claim.estate_code)
                if estate is None:
                    raise InvalidInput(f"claim {claim.id} estate_code", claim.estate_code, "is not a place in the store")
                member = (await connection.execute(select(_MEMBER.c.id).where(_MEMBER.c.key == claim.member_id))).first()
                if member is None:
                    raise InvalidInput(f"claim {claim.id} member_id", claim.member_id, "is not a party member in the store")
                if (await connection.execute(select(_CLAIM.c.id).where(_CLAIM.c.active_lock == lock))).first() is not None:
                    raise taken_by
                if (await connection.execute(select(_CLAIM.c.id).where(_CLAIM.c.key == claim.id))).first() is not None:
                    raise StoreError(f"claim {claim.id} already exists")
                await connection.execute(
                    _CLAIM.insert().values(
                        key=claim.id, case_key=claim.case_id, member_key=claim.member_id, organisation_key=claim.organisation_id,
                        estate_id=estate.id, claimed_at=utc(claim.claimed_at), claimed_by=claim.claimed_by, note=claim.note,
                        outcome=None, outcome_note="", finished_at=None, finished_by=None, active_lock=lock,
                    )
                )
        except IntegrityError:
            raise taken_by from None  # a writer outside the write turns took the lock first

    async def finish_case_claim(
        self, claim_id: str, outcome: ClaimOutcome, note: str, at: dt.datetime, by: str
    ) -> CaseClaim | None:
        check_finish(claim_id, note, at, by)
        chosen = ClaimOutcome(outcome)
        async with self.turns.writing() as connection:
            changed = await connection.execute(
                update(_CLAIM)
                .where(_CLAIM.c.key == claim_id, _CLAIM.c.outcome.is_(None))
                .values(outcome=chosen.value, outcome_note=note, finished_at=utc(at), finished_by=by, active_lock=None)
            )
            if changed.rowcount == 0:
                return None
            row = (await connection.execute(_claim_query().where(_CLAIM.c.key == claim_id))).first()
        return None if row is None else _claim(row)

    async def case_claims(self, ids: Sequence[str], scope: Scope) -> list[CaseClaim | None]:
        async with self.engine.connect() as connection:
            query = _claim_query().where(await self._visible(connection, scope))
            found = {row.key: _claim(row) for row in await select_in(connection, query, _CLAIM.c.key, ids)}
        return [found.get(key) for key in ids]

    async def _claims_by(self, column: Any, keys: Sequence[str], scope: Scope) -> list[list[CaseClaim]]:
        async with self.engine.connect() as connection:
            query = _claim_query().where(await self._visible(connection, scope))
            rows = await select_in(connection, query, column, keys)
        found: dict[str, list[CaseClaim]] = {}
        for row in rows:
            found.setdefault(row._mapping[column.name], []).append(_claim(row))
        return [_by_claim_time(found.get(key, [])) for key in keys]

    async def claims_of_cases(self, case_ids: Sequence[str], scope: Scope) -> list[list[CaseClaim]]:
        return await self._claims_by(_CLAIM.c.case_key, case_ids, scope)

    async def claims_of_members(self, member_ids: Sequence[str], scope: Scope) -> list[list[CaseClaim]]:
        return await self._claims_by(_CLAIM.c.member_key, member_ids, scope)

    async def claim_tallies(
        self, codes: Sequence[str], scope: Scope, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[ClaimTally | None]:
        if since is not None:
            check_time(since, "since")
        if until is not None:
            check_time(until, "until")
        seen = await self.places(codes, scope)

        def period(column: Any) -> Any:
            clauses = [column.is_not(None)]
            if since is not None:
                clauses.append(column >= utc(since))
            if until is not None:
                clauses.append(column < utc(until))
            return and_(*clauses)

        handled = period(_CLAIM.c.finished_at)
        made = period(_CLAIM.c.claimed_at)
        counts = (
            func.count(case((made, 1))),
            func.count(case((handled, 1))),
            func.count(case((and_(handled, _CLAIM.c.outcome == ClaimOutcome.RESOLVED.value), 1))),
            func.count(case((and_(handled, _CLAIM.c.outcome == ClaimOutcome.HANDED_BACK.value), 1))),
        )
        tallied: dict[int, tuple[int, int, int, int]] = {}  # a place's row id → its counts
        async with self.engine.connect() as connection:
            found = await anchors(connection, [code for code, place in zip(codes, seen) if place is not None], self._anchors)
            by_level: dict[Level, set[int]] = {}
            for anchor in found.values():
                if anchor.level <= Level.ESTATE:  # claims hang from estates: nothing lies under a building
                    by_level.setdefault(anchor.level, set()).add(anchor.id)
            for level, ids in by_level.items():
                # one grouped read per level asked: the estate itself, or the ancestor column of the level
                key = _PLACE.c.id if level is Level.ESTATE else _PLACE.c[ancestor_column(level)]
                query = (
                    select(key, *counts)
                    .select_from(_CLAIM)
                    .join(_PLACE, _PLACE.c.id == _CLAIM.c.estate_id)
                    .where(key.in_(sorted(ids)))
                    .group_by(key)
                )
                for row in await connection.execute(query):
                    tallied[int(row[0])] = (int(row[1]), int(row[2]), int(row[3]), int(row[4]))
        answers: list[ClaimTally | None] = []
        for code, place in zip(codes, seen):
            if place is None:
                answers.append(None)
                continue
            answers.append(ClaimTally(code, *tallied.get(found[code].id, (0, 0, 0, 0))))
        return answers
