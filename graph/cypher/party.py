"""Party organisations, members and claims in the graph (`graph.party.records.PartyStore`; each
member's contract is in its docstring there).

The model:
- `(:PartyOrg {id, name, kind, host_kind, host, place, founded_on, secretary, version})-[:AT]->(:Place)`,
  AT the place it sits in (scope is decided there);
- `(:PartyMember {id, organisation, name_sealed, name_index, post, joined_on, left_on, link_kind,
  link_id, link})-[:OF]->(:PartyOrg)`; `link` is `<kind>\\n<id>` (indexed) when a link is declared;
  the name sealed with SM4 under `party-member:<id>` (base64), as owners' names are;
- `(:PartyClaim {id, case_id, member_id, organisation_id, estate, claimed_at, claimed_by, note,
  outcome, outcome_note, finished_at, finished_by, active})-[:AT]->(:Place)`, AT its estate;
  `active` (`<case>\\n<member>`, unique) is held only while the claim is active.
Times are integer microseconds, days ISO text (graph.cypher.values).

Writes are one statement each: a new record is created only when no node holds its id (and, for
a claim, no active claim its `active` key), counted in the same statement; a change is a
compare-and-set under the node's write lock (a `lock` property dropped by the whole-map SET that
follows), as graph.cypher.funds does.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from graph.ciphers.sealing import Sealer
from graph.cursors import decode_cursor
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.funds import _bad_cursor, _columns, _page_size, _optional_time, _taken, _whole
from graph.cypher.model import scope_params, seen
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
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
from graph.scope import Scope

for _label, _prop, _unique in (
    ("PartyOrg", "id", True),
    ("PartyOrg", "host", False),
    ("PartyMember", "id", True),
    ("PartyMember", "link", False),
    ("PartyClaim", "id", True),
    ("PartyClaim", "active", True),
    ("PartyClaim", "case_id", False),
    ("PartyClaim", "member_id", False),
):
    index(_label, _prop, unique=_unique)

_ORG = ("id", "name", "kind", "host_kind", "host", "place", "founded_on", "secretary", "version")
_MEMBER = ("id", "organisation", "name_sealed", "name_index", "post", "joined_on", "left_on", "link_kind", "link_id", "link")
_CLAIM = (
    "id", "case_id", "member_id", "organisation_id", "estate", "claimed_at", "claimed_by", "note", "outcome", "outcome_note",
    "finished_at", "finished_by",
)
_SEEN_P = seen("p")
_ORG_RETURN = f"RETURN {_columns('o', _ORG)}"
_MEMBER_RETURN = f"RETURN {_columns('m', _MEMBER)}"
_CLAIM_RETURN = f"RETURN {_columns('c', _CLAIM)}"

PLACE = st.read("party.place", "MATCH (p:Place {code: $code}) RETURN p.level")
SAVE_ORG = st.write(
    "party.save_organisation",
    "MATCH (p:Place {code: $place}) OPTIONAL MATCH (x:PartyOrg {id: $id}) WITH p, count(x) AS taken "
    "FOREACH (_ IN CASE WHEN taken = 0 THEN [1] ELSE [] END | CREATE (o:PartyOrg)-[:AT]->(p) SET o = $props) "
    "RETURN taken",
)
UPDATE_ORG = st.write(
    "party.update_organisation",
    "MATCH (o:PartyOrg {id: $id}) SET o.lock = $lock WITH o "
    "UNWIND CASE WHEN o.version = $expect THEN [1] ELSE [] END AS go SET o = "
    + _whole(
        "o",
        {"name": "$name", "kind": "$kind", "founded_on": "$founded_on", "secretary": "$secretary", "version": "o.version + 1"},
        _ORG,
    )
    + f" {_ORG_RETURN}",
)
ORGS = st.read(
    "party.organisations",
    f"UNWIND $ids AS i MATCH (o:PartyOrg {{id: i}}) WITH o MATCH (o)-[:AT]->(p:Place) WHERE {_SEEN_P} {_ORG_RETURN}",
)
ORG_MARK = st.read("party.organisation_mark", "MATCH (o:PartyOrg {id: $id}) RETURN o.id")
ORG_PAGE = st.read(
    "party.organisation_page",
    f"MATCH (o:PartyOrg)-[:AT]->(p:Place) WHERE {_SEEN_P} AND ($within IS NULL OR $within IN p.line) "
    "AND ($host IS NULL OR o.host = $host) AND ($after IS NULL OR o.id > $after) "
    f"WITH o ORDER BY o.id LIMIT $limit {_ORG_RETURN}",
)
HOSTED = st.read("party.hosted", f"UNWIND $hosts AS h MATCH (o:PartyOrg {{host: h}}) {_ORG_RETURN}")
SAVE_MEMBER = st.write(
    "party.save_member",
    "MATCH (o:PartyOrg {id: $organisation}) OPTIONAL MATCH (x:PartyMember {id: $id}) WITH o, count(x) AS taken "
    "FOREACH (_ IN CASE WHEN taken = 0 THEN [1] ELSE [] END | CREATE (m:PartyMember)-[:OF]->(o) SET m = $props) "
    "RETURN taken",
)
MEMBER_JOINED = st.read("party.member_joined", "MATCH (m:PartyMember {id: $id}) RETURN m.joined_on")
END_MEMBER = st.write(
    "party.end_member",
    "MATCH (m:PartyMember {id: $id}) SET m.lock = $lock WITH m "
    "UNWIND CASE WHEN m.left_on IS NULL THEN [1] ELSE [] END AS go SET m = "
    + _whole("m", {"left_on": "$on"}, _MEMBER)
    + " RETURN m.id",
)
MEMBERS_OF = st.read(
    "party.members_of",
    f"UNWIND $ids AS i MATCH (o:PartyOrg {{id: i}}) WITH o MATCH (o)-[:AT]->(p:Place) WHERE {_SEEN_P} "
    f"WITH o MATCH (m:PartyMember)-[:OF]->(o) {_MEMBER_RETURN}",
)
MEMBERS = st.read(
    "party.members",
    "UNWIND $ids AS i MATCH (m:PartyMember {id: i}) WITH m MATCH (m)-[:OF]->(o:PartyOrg) WITH m, o "
    f"MATCH (o)-[:AT]->(p:Place) WHERE {_SEEN_P} {_MEMBER_RETURN}",
)
LINKED = st.read("party.linked", f"UNWIND $links AS l MATCH (m:PartyMember {{link: l}}) {_MEMBER_RETURN}")
MEMBER_KNOWN = st.read("party.member_known", "MATCH (m:PartyMember {id: $id}) RETURN m.id")
SAVE_CLAIM = st.write(
    "party.save_claim",
    "MATCH (e:Place {code: $estate}) OPTIONAL MATCH (x:PartyClaim {active: $active}) WITH e, count(x) AS held "
    "OPTIONAL MATCH (y:PartyClaim {id: $id}) WITH e, held, count(y) AS taken "
    "FOREACH (_ IN CASE WHEN held = 0 AND taken = 0 THEN [1] ELSE [] END | CREATE (c:PartyClaim)-[:AT]->(e) SET c = $props) "
    "RETURN held, taken",
)
FINISH_CLAIM = st.write(
    "party.finish_claim",
    "MATCH (c:PartyClaim {id: $id}) SET c.lock = $lock WITH c "
    "UNWIND CASE WHEN c.outcome IS NULL THEN [1] ELSE [] END AS go SET c = "
    + _whole(
        "c", {"outcome": "$outcome", "outcome_note": "$note", "finished_at": "$at", "finished_by": "$by"}, _CLAIM
    )
    + f" {_CLAIM_RETURN}",
)
CLAIMS = st.read(
    "party.claims",
    f"UNWIND $ids AS i MATCH (c:PartyClaim {{id: i}}) WITH c MATCH (c)-[:AT]->(p:Place) WHERE {_SEEN_P} {_CLAIM_RETURN}",
)
CLAIMS_OF_CASES = st.read(
    "party.claims_of_cases",
    f"UNWIND $ids AS i MATCH (c:PartyClaim {{case_id: i}}) WITH c MATCH (c)-[:AT]->(p:Place) WHERE {_SEEN_P} {_CLAIM_RETURN}",
)
CLAIMS_OF_MEMBERS = st.read(
    "party.claims_of_members",
    f"UNWIND $ids AS i MATCH (c:PartyClaim {{member_id: i}}) WITH c MATCH (c)-[:AT]->(p:Place) WHERE {_SEEN_P} {_CLAIM_RETURN}",
)
SEEN_CODES = st.read("party.seen", f"UNWIND $codes AS k MATCH (p:Place {{code: k}}) WHERE {_SEEN_P} RETURN p.code")
_MADE = "($since IS NULL OR c.claimed_at >= $since) AND ($until IS NULL OR c.claimed_at < $until)"
_HANDLED = "c.finished_at IS NOT NULL AND ($since IS NULL OR c.finished_at >= $since) AND ($until IS NULL OR c.finished_at < $until)"
TALLIES = st.read(
    "party.claim_tallies",
    "MATCH (c:PartyClaim)-[:AT]->(e:Place) WITH c, e UNWIND [x IN $codes WHERE x IN e.line] AS k "
    f"WITH k, count(CASE WHEN {_MADE} THEN 1 END) AS made, count(CASE WHEN {_HANDLED} THEN 1 END) AS handled, "
    f"count(CASE WHEN {_HANDLED} AND c.outcome = $resolved THEN 1 END) AS resolved, "
    f"count(CASE WHEN {_HANDLED} AND c.outcome = $back THEN 1 END) AS back "
    "RETURN k, made, handled, resolved, back",
)


def _day(value: Any) -> dt.date:
    day = values.from_day(value)
    assert day is not None
    return day


def _organisation(row: Sequence[Any]) -> PartyOrganisation:
    o = dict(zip(_ORG, row))
    return PartyOrganisation(
        id=o["id"], name=o["name"], kind=OrganisationKind(o["kind"]), host_kind=HostKind(o["host_kind"]), host=o["host"],
        place_code=o["place"], founded_on=_day(o["founded_on"]), secretary=o["secretary"], version=int(o["version"]),
    )


def _claim(row: Sequence[Any]) -> CaseClaim:
    c = dict(zip(_CLAIM, row))
    claimed_at = values.from_micros(c["claimed_at"])
    assert claimed_at is not None
    return CaseClaim(
        id=c["id"], case_id=c["case_id"], member_id=c["member_id"], organisation_id=c["organisation_id"], estate_code=c["estate"],
        claimed_at=claimed_at, claimed_by=c["claimed_by"], note=c["note"] or "",
        outcome=None if c["outcome"] is None else ClaimOutcome(c["outcome"]), outcome_note=c["outcome_note"] or "",
        finished_at=values.from_micros(c["finished_at"]), finished_by=c["finished_by"],
    )


def _link_key(link: PersonLink) -> str:
    return f"{LinkKind(link.kind).value}\n{link.id}"


def _by_claim_time(rows: list[tuple[Any, ...]], keys: Sequence[str], field: str) -> list[list[CaseClaim]]:
    found: dict[str, list[CaseClaim]] = {}
    for claim in map(_claim, rows):
        found.setdefault(getattr(claim, field), []).append(claim)
    return [sorted(found.get(key, []), key=lambda item: (item.claimed_at, item.id)) for key in keys]


class PartyRecords:
    """The party part of the store port on Cypher (a base of CypherStore)."""

    transport: Transport
    sealer: Sealer

    def _member(self, row: Sequence[Any]) -> PartyMember:
        m = dict(zip(_MEMBER, row))
        sealed = values.from_blob(m["name_sealed"])
        assert sealed is not None
        link = None if m["link_kind"] is None else PersonLink(LinkKind(m["link_kind"]), m["link_id"])
        return PartyMember(
            id=m["id"], organisation_id=m["organisation"], name=self.sealer.open(sealed, field="name", owner=sealed_under(m["id"])),
            joined_on=_day(m["joined_on"]), post=m["post"] or "", link=link, left_on=values.from_day(m["left_on"]),
        )

    # -- organisations ---------------------------------------------------------------------

    async def save_party_organisation(self, organisation: PartyOrganisation) -> None:
        check_organisation(organisation)
        rows = await self.transport.run(PLACE, {"code": organisation.place_code})
        check_organisation_place(organisation, Level(rows[0][0]) if rows else None)
        props = values.present(
            {
                "id": organisation.id, "name": organisation.name, "kind": OrganisationKind(organisation.kind).value,
                "host_kind": HostKind(organisation.host_kind).value, "host": organisation.host, "place": organisation.place_code,
                "founded_on": values.day(organisation.founded_on), "secretary": organisation.secretary, "version": 1,
            }
        )
        duplicate = StoreError(f"party organisation {organisation.id} already exists")
        try:
            saved = await self.transport.run(SAVE_ORG, {"place": organisation.place_code, "id": organisation.id, "props": props})
        except StoreError as error:
            if _taken(error):
                raise duplicate from None
            raise
        if not saved or saved[0][0]:
            raise duplicate

    async def update_party_organisation(self, organisation: PartyOrganisation, expect: int) -> PartyOrganisation | None:
        check_organisation(organisation)
        params = {
            "id": organisation.id, "lock": secrets.token_hex(8), "expect": expect, "name": organisation.name,
            "kind": OrganisationKind(organisation.kind).value, "founded_on": values.day(organisation.founded_on),
            "secretary": organisation.secretary,
        }
        rows = await self.transport.run(UPDATE_ORG, params)
        return _organisation(rows[0]) if rows else None

    async def party_organisations(self, ids: Sequence[str], scope: Scope) -> list[PartyOrganisation | None]:
        if not ids:
            return []
        rows = await self.transport.run(ORGS, {"ids": list(dict.fromkeys(ids)), **scope_params(scope)})
        found = {org.id: org for org in map(_organisation, rows)}
        return [found.get(key) for key in ids]

    async def party_organisation_page(
        self, scope: Scope, first: int, after: str | None = None, *, within: str | None = None, host: str | None = None
    ) -> Page[PartyOrganisation]:
        first = _page_size(first)
        mark = decode_cursor(after)
        if mark is not None and not await self.transport.run(ORG_MARK, {"id": mark}):
            raise _bad_cursor(after)
        params = {"within": within, "host": host, "after": mark, "limit": first + 1, **scope_params(scope)}
        found = sorted(map(_organisation, await self.transport.run(ORG_PAGE, params)), key=lambda org: org.id)
        return page_by_id(found, first)

    async def hosted_organisations(self, hosts: Sequence[str]) -> list[list[PartyOrganisation]]:
        found: dict[str, list[PartyOrganisation]] = {}
        if hosts:
            for organisation in map(_organisation, await self.transport.run(HOSTED, {"hosts": list(dict.fromkeys(hosts))})):
                found.setdefault(organisation.host, []).append(organisation)
        return [sorted(found.get(host, []), key=lambda org: org.id) for host in hosts]

    # -- members ---------------------------------------------------------------------------

    async def save_party_member(self, member: PartyMember) -> None:
        check_member(member)
        props = values.present(
            {
                "id": member.id, "organisation": member.organisation_id,
                "name_sealed": values.blob(self.sealer.seal(member.name, field="name", owner=sealed_under(member.id))),
                "name_index": self.sealer.index("name", member.name), "post": member.post,
                "joined_on": values.day(member.joined_on),
                "link_kind": None if member.link is None else LinkKind(member.link.kind).value,
                "link_id": None if member.link is None else member.link.id,
                "link": None if member.link is None else _link_key(member.link),
            }
        )
        duplicate = StoreError(f"party member {member.id} already exists")
        try:
            rows = await self.transport.run(SAVE_MEMBER, {"organisation": member.organisation_id, "id": member.id, "props": props})
        except StoreError as error:
            if _taken(error):
                raise duplicate from None
            raise
        if not rows:
            raise InvalidInput(f"member {member.id} organisation", member.organisation_id, "is not a party organisation in the store")
        if rows[0][0]:
            raise duplicate

    async def end_party_member(self, member_id: str, on: dt.date) -> bool:
        rows = await self.transport.run(MEMBER_JOINED, {"id": member_id})
        if not rows:
            return False
        day = check_left(member_id, _day(rows[0][0]), on)
        return bool(await self.transport.run(END_MEMBER, {"id": member_id, "lock": secrets.token_hex(8), "on": values.day(day)}))

    async def party_members(self, organisation_ids: Sequence[str], scope: Scope) -> list[list[PartyMember]]:
        found: dict[str, list[PartyMember]] = {}
        if organisation_ids:
            rows = await self.transport.run(MEMBERS_OF, {"ids": list(dict.fromkeys(organisation_ids)), **scope_params(scope)})
            for member in map(self._member, rows):
                found.setdefault(member.organisation_id, []).append(member)
        return [sorted(found.get(key, []), key=lambda item: item.id) for key in organisation_ids]

    async def party_members_by_id(self, ids: Sequence[str], scope: Scope) -> list[PartyMember | None]:
        if not ids:
            return []
        rows = await self.transport.run(MEMBERS, {"ids": list(dict.fromkeys(ids)), **scope_params(scope)})
        found = {member.id: member for member in map(self._member, rows)}
        return [found.get(key) for key in ids]

    async def linked_party_members(self, links: Sequence[PersonLink]) -> list[list[PartyMember]]:
        keys = [_link_key(link) for link in links]
        found: dict[str, list[PartyMember]] = {}
        if keys:
            for member in map(self._member, await self.transport.run(LINKED, {"links": list(dict.fromkeys(keys))})):
                assert member.link is not None
                found.setdefault(_link_key(member.link), []).append(member)
        return [sorted(found.get(key, []), key=lambda item: item.id) for key in keys]

    # -- claims ----------------------------------------------------------------------------

    async def save_case_claim(self, claim: CaseClaim) -> None:
        check_claim(claim)
        if not await self.transport.run(MEMBER_KNOWN, {"id": claim.member_id}):
            raise InvalidInput(f"claim {claim.id} member_id", claim.member_id, "is not a party member in the store")
        active = claim_lock(claim.case_id, claim.member_id)
        props = values.present(
            {
                "id": claim.id, "case_id": claim.case_id, "member_id": claim.member_id, "organisation_id": claim.organisation_id,
                "estate": claim.estate_code, "claimed_at": values.micros(claim.claimed_at), "claimed_by": claim.claimed_by,
                "note": claim.note, "outcome_note": "", "active": active,
            }
        )
        held = ClaimTaken(f"member {claim.member_id} already holds an active claim on case {claim.case_id}")
        try:
            rows = await self.transport.run(SAVE_CLAIM, {"estate": claim.estate_code, "active": active, "id": claim.id, "props": props})
        except StoreError as error:
            if _taken(error):
                raise held from None
            raise
        if not rows:
            raise InvalidInput(f"claim {claim.id} estate_code", claim.estate_code, "is not a place in the store")
        if rows[0][0]:
            raise held
        if rows[0][1]:
            raise StoreError(f"claim {claim.id} already exists")

    async def finish_case_claim(
        self, claim_id: str, outcome: ClaimOutcome, note: str, at: dt.datetime, by: str
    ) -> CaseClaim | None:
        check_finish(claim_id, note, at, by)
        params = {
            "id": claim_id, "lock": secrets.token_hex(8), "outcome": ClaimOutcome(outcome).value, "note": note,
            "at": values.micros(at), "by": by,
        }
        rows = await self.transport.run(FINISH_CLAIM, params)
        return _claim(rows[0]) if rows else None

    async def case_claims(self, ids: Sequence[str], scope: Scope) -> list[CaseClaim | None]:
        if not ids:
            return []
        rows = await self.transport.run(CLAIMS, {"ids": list(dict.fromkeys(ids)), **scope_params(scope)})
        found = {claim.id: claim for claim in map(_claim, rows)}
        return [found.get(key) for key in ids]

    async def claims_of_cases(self, case_ids: Sequence[str], scope: Scope) -> list[list[CaseClaim]]:
        rows = await self.transport.run(CLAIMS_OF_CASES, {"ids": list(dict.fromkeys(case_ids)), **scope_params(scope)}) if case_ids else []
        return _by_claim_time(rows, case_ids, "case_id")

    async def claims_of_members(self, member_ids: Sequence[str], scope: Scope) -> list[list[CaseClaim]]:
        rows = await self.transport.run(CLAIMS_OF_MEMBERS, {"ids": list(dict.fromkeys(member_ids)), **scope_params(scope)}) if member_ids else []
        return _by_claim_time(rows, member_ids, "member_id")

    async def claim_tallies(
        self, codes: Sequence[str], scope: Scope, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[ClaimTally | None]:
        if not codes:
            return []
        unique = list(dict.fromkeys(codes))
        bounds = {"since": _optional_time(since, "since"), "until": _optional_time(until, "until")}
        seen_codes = {row[0] for row in await self.transport.run(SEEN_CODES, {"codes": unique, **scope_params(scope)})}
        params = {"codes": sorted(seen_codes), **bounds, "resolved": ClaimOutcome.RESOLVED.value, "back": ClaimOutcome.HANDED_BACK.value}
        counted = {row[0]: row for row in await self.transport.run(TALLIES, params)} if seen_codes else {}
        answers: list[ClaimTally | None] = []
        for code in codes:
            if code not in seen_codes:
                answers.append(None)
                continue
            row = counted.get(code)
            answers.append(ClaimTally(code) if row is None else ClaimTally(code, int(row[1]), int(row[2]), int(row[3]), int(row[4])))
        return answers
