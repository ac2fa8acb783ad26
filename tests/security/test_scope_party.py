"""Party building stays with its readers, by every root field and mutation.

The party world is written here once per served hub (through graph.party.service, on the
server's loop): a 党支部 in the community role's community with a member linked to the owner
role's owner (named as that owner is) and one linked to a member of the committee in office,
a 党支部 in the committee's estate with a member declared without a link, the firm role's own
organisation (seated in the street) with a staff-linked member, another firm's organisation in
the same street, and a 党支部 in the 市北区 community with a member linked to the 市北区 owner. Cases
at the owner role's house and at the 市北区 owner's house are claimed (one claim finished, one
active on each).

Who sees what is worked out here from the world (schema/party/access.py's rule, written out):
the admin everything; the city, district, street and community offices an organisation whose
place is in their scope, and a claim whose estate is; the firm its own organisation and nothing
else (no figures); owners and the committee nothing — null, empty lists, no error. Whatever a
caller may not read answers exactly as an id that names nothing. Refused writes change nothing.
Every answer also goes through the leak walker (place codes, owner ids, credit codes, case ids).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest

from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.model import Batch
from graph.party.records import ClaimOutcome, HostKind, LinkKind, OrganisationKind, PartyOrganisation, PersonLink
from graph.party.service import Party
from graph.scope import Scope
from tests.security.conftest import (
    CITY,
    DISTRICT,
    NORTH_COMMUNITY,
    NORTH_ESTATE,
    NORTH_HOUSES,
    NORTH_OWNER,
    NORTH_STAFF,
    STAFF_ID,
    STREET,
    SecureHub,
)
from tests.security.world import Role, masked_name

OFFICES = frozenset({"admin", "city", "district", "street", "community"})
WHOLE = frozenset({"admin", "street", "community", "property_firm"})
EVERYTHING = Scope.everything()
PARTY_CASE = "GD20260101SECPARTY1"
NORTH_PARTY_CASE = "GD20260101SECPARTY2"
ORG = """query($id: String!) { partyOrganisation(id: $id) { id name kind hostKind host place foundedOn version
  secretary { id name } members(includeLeft: true) { id organisationId name post joinedOn leftOn active link { kind id }
  claims { id caseId estate outcome } } } }"""
LIST = "query($w: String) { partyOrganisations(within: $w, first: 100) { items { id host place } hasNext endCursor } }"
CLAIMS = "query($c: String!) { partyClaims(case: $c) { id caseId memberId organisationId estate claimedBy active outcome outcomeNote } }"
FIGURES = """query($p: String!) { partyFigures(place: $p) { place estates committeeMembers committeePartyMembers firmsManaging
  firmsWithOrganisation claimsMade claimsHandled claimsResolved claimsHandedBack } }"""
ESTATES = "query($w: String!) { partyEstates(within: $w) { place name claimsMade } }"
ADD = 'mutation($o: String!) { addPartyMember(organisation: $o, member: {name: "某某", joinedOn: "2999-01-01"}) { id } }'
CLAIM = "mutation($m: String!, $c: String!) { claimCase(member: $m, case: $c) { id } }"
OUTCOME = 'mutation($c: String!) { recordClaimOutcome(claim: $c, outcome: HANDED_BACK, note: "") { id } }'
REMOVE = 'mutation($m: String!) { removePartyMember(id: $m, on: "1900-01-01") { id } }'


@dataclass(frozen=True)
class PartyWorld:
    orgs: dict[str, PartyOrganisation]
    members: dict[str, tuple[str, str]]
    """member id → (organisation id, declared name)"""
    claims: dict[str, tuple[str, str]]
    """claim id → (case id, estate)"""
    active: str
    """The active claim at the owner role's house."""
    owner_member: str


async def _write(hub: SecureHub) -> PartyWorld:
    store, world, cast = hub.store, hub.world, hub.cast
    assert cast.polls is not None
    party = Party(store)
    fetched = dt.datetime.now(dt.timezone.utc)
    cases = Batch(
        cases=[
            Case(PARTY_CASE, CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED, "安全测试党员认领", fetched, fetched, place_code=cast.house),
            Case(NORTH_PARTY_CASE, CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED, "安全测试北区认领", fetched, fetched, place_code=NORTH_HOUSES[1]),
        ]
    )
    world.add(cases)
    await store.write(cases)
    founded = {
        "community": PartyOrganisation("SEC-DZB-COMM", "安全测试社区党支部", OrganisationKind.BRANCH, HostKind.COMMUNITY, cast.community, cast.community, dt.date(2010, 7, 1)),
        "estate": PartyOrganisation("SEC-DZB-ESTATE", "安全测试业委会党支部", OrganisationKind.BRANCH, HostKind.COMMITTEE, cast.estate, cast.estate, dt.date(2020, 7, 1)),
        "firm": PartyOrganisation("SEC-DZB-FIRM", "安全测试物业党支部", OrganisationKind.JOINT_BRANCH, HostKind.FIRM, cast.firm, STREET, dt.date(2018, 7, 1)),
        "other_firm": PartyOrganisation("SEC-DZB-OTHER", "安全测试他家物业党支部", OrganisationKind.BRANCH, HostKind.FIRM, cast.other_firm, STREET, dt.date(2018, 7, 1)),
        "north": PartyOrganisation("SEC-DZB-NORTH", "安全测试北区党总支", OrganisationKind.GENERAL_BRANCH, HostKind.COMMUNITY, NORTH_COMMUNITY, NORTH_COMMUNITY, dt.date(2015, 7, 1)),
    }
    orgs = {key: await party.found(org) for key, org in founded.items()}
    owner_name = world.owners[cast.owner].name
    owner = await party.add_member(orgs["community"], owner_name, dt.date(2001, 7, 1), link=PersonLink(LinkKind.OWNER, cast.owner))
    seat = await party.add_member(orgs["community"], world.owners[cast.polls.member].name, dt.date(2002, 7, 1), link=PersonLink(LinkKind.COMMITTEE, f"{cast.estate}/{cast.polls.member}"))
    bare = await party.add_member(orgs["estate"], "安全测试无链接党员", dt.date(2003, 7, 1))
    staff = await party.add_member(orgs["firm"], "安全测试员工党员", dt.date(2004, 7, 1), link=PersonLink(LinkKind.STAFF, STAFF_ID))
    other = await party.add_member(orgs["other_firm"], "安全测试他家员工", dt.date(2004, 7, 1))
    north = await party.add_member(orgs["north"], world.owners[NORTH_OWNER].name, dt.date(2005, 7, 1), link=PersonLink(LinkKind.OWNER, NORTH_OWNER))
    await party.record(orgs["community"], secretary=owner.id)
    first = await party.claim(owner, PARTY_CASE, scope=EVERYTHING, actor="community:" + cast.community, note="上门查看")
    await party.finish(first, ClaimOutcome.HANDED_BACK, actor="community:" + cast.community, note="交物业处理")
    active = await party.claim(owner, PARTY_CASE, scope=EVERYTHING, actor="community:" + cast.community)
    north_claim = await party.claim(north, NORTH_PARTY_CASE, scope=EVERYTHING, actor="admin:*")
    members = {m.id: (m.organisation_id, m.name) for m in (owner, seat, bare, staff, other, north)}
    claims = {c.id: (c.case_id, c.estate_code) for c in (first, active, north_claim)}
    stored = {org.id: org for org in await store.party_organisations([o.id for o in orgs.values()], EVERYTHING) if org is not None}
    return PartyWorld(stored, members, claims, active.id, owner.id)


@pytest.fixture(scope="module")
def party_world(secure_hub: SecureHub) -> PartyWorld:
    return secure_hub.run(_write(secure_hub))


def may_read(role: Role, org: PartyOrganisation) -> bool:
    if role.name == "admin":
        return True
    if role.name in OFFICES:
        return org.place_code in role.places
    if role.name == "property_firm":
        return org.host_kind is HostKind.FIRM and org.host == role.scope
    return False


def may_act(role: Role, org: PartyOrganisation) -> bool:
    if not may_read(role, org):
        return False
    if role.name == "community":
        return org.host_kind in (HostKind.COMMUNITY, HostKind.COMMITTEE)
    return role.name in ("admin", "city", "district", "street", "property_firm")


def _stand_in(body: dict[str, Any], real: str, stand_in: str) -> str:
    return json.dumps(body, ensure_ascii=False, sort_keys=True).replace(real, stand_in)


def test_organisations_members_and_names(secure_hub: SecureHub, party_world: PartyWorld, role: Role) -> None:
    listed = secure_hub.data(role, LIST, {"w": None})["partyOrganisations"]
    expected = sorted(org_id for org_id, org in party_world.orgs.items() if may_read(role, org))
    assert [item["id"] for item in listed["items"]] == expected
    for org_id, org in party_world.orgs.items():
        body = secure_hub.post(role, ORG, {"id": org_id})
        if not may_read(role, org):
            unknown = secure_hub.post(role, ORG, {"id": "SEC-DZB-NOTHING"})
            assert _stand_in(body, org_id, "SEC-DZB-NOTHING") == _stand_in(unknown, org_id, "SEC-DZB-NOTHING")
            assert body["data"]["partyOrganisation"] is None
            continue
        shown = body["data"]["partyOrganisation"]
        assert shown["place"] in (org.place_code if org.place_code in role.places or role.name == "admin" else None, None)
        declared = {m: name for m, (o, name) in party_world.members.items() if o == org_id}
        names = {m["id"]: m["name"] for m in shown["members"]}
        assert set(names) == set(declared)
        for member_id, name in declared.items():
            assert names[member_id] == (name if role.name in WHOLE else masked_name(name)), (role, member_id)
        for member in shown["members"]:
            if role.name not in WHOLE:
                assert member["link"] is None
            for claim in member["claims"]:
                assert claim["estate"] in role.places or role.name == "admin"


def test_claims_by_case(secure_hub: SecureHub, party_world: PartyWorld, role: Role) -> None:
    for case_id in (PARTY_CASE, NORTH_PARTY_CASE):
        listed = secure_hub.data(role, CLAIMS, {"c": case_id})["partyClaims"]
        expected = sorted(
            claim_id for claim_id, (case, estate) in party_world.claims.items()
            if case == case_id and role.name in OFFICES and (role.name == "admin" or estate in role.places)
        )
        assert sorted(item["id"] for item in listed) == expected, (role, case_id)


@pytest.mark.parametrize("place", ["city", "district", "street", "community", "estate", "north"])
def test_figures(secure_hub: SecureHub, party_world: PartyWorld, role: Role, place: str) -> None:
    code = {"city": CITY, "district": DISTRICT, "street": STREET, "community": secure_hub.cast.community, "estate": secure_hub.cast.estate, "north": NORTH_ESTATE}[place]
    figures = secure_hub.data(role, FIGURES, {"p": code})["partyFigures"]
    visible = role.name in OFFICES and (role.name == "admin" or code in role.places)
    assert (figures is not None) == visible, (role, code)
    if figures is not None:
        made = sum(1 for _, estate in party_world.claims.values() if code in [*secure_hub.world.lineage(estate), estate])
        assert figures["claimsMade"] == made
    rows = secure_hub.data(role, ESTATES, {"w": code})["partyEstates"]
    if role.name not in OFFICES:
        assert rows == []
    else:  # the estates under the place that lie in the role's scope (a place above it lists those)
        under = sorted(e for e in secure_hub.world.subtree(code) if secure_hub.world.places[e].level.name == "ESTATE" and (role.name == "admin" or e in role.places))
        assert [row["place"] for row in rows] == under[:50]


def test_writes_outside_reach_change_nothing(secure_hub: SecureHub, party_world: PartyWorld, role: Role) -> None:
    before = secure_hub.run(secure_hub.store.party_members(sorted(party_world.orgs), EVERYTHING))
    claims_before = secure_hub.run(secure_hub.store.case_claims(sorted(party_world.claims), EVERYTHING))
    for org_id, org in party_world.orgs.items():
        body = secure_hub.post(role, ADD, {"o": org_id})
        message = body["errors"][0]["message"]
        if may_act(role, org):
            assert "after today" in message, (role, org_id, message)
        else:
            assert "after today" not in message
            if role.name in OFFICES or role.name == "property_firm":
                unknown = secure_hub.post(role, ADD, {"o": "SEC-DZB-NOTHING"})
                assert _stand_in(body, org_id, "SEC-DZB-NOTHING") == _stand_in(unknown, org_id, "SEC-DZB-NOTHING")
    community = party_world.orgs["SEC-DZB-COMM"]
    claimed = secure_hub.post(role, CLAIM, {"m": party_world.owner_member, "c": PARTY_CASE})["errors"][0]["message"]
    outcome = secure_hub.post(role, OUTCOME, {"c": party_world.active})["errors"][0]["message"]
    removed = secure_hub.post(role, REMOVE, {"m": party_world.owner_member})["errors"][0]["message"]
    if may_act(role, community):
        assert "one active claim" in claimed and "why" in outcome and "before the member joined" in removed
    else:
        assert "one active claim" not in claimed and "why" not in outcome and "joined" not in removed
    assert secure_hub.run(secure_hub.store.party_members(sorted(party_world.orgs), EVERYTHING)) == before
    assert secure_hub.run(secure_hub.store.case_claims(sorted(party_world.claims), EVERYTHING)) == claims_before


def test_founding_is_for_the_host_and_the_offices_above(secure_hub: SecureHub, party_world: PartyWorld, role: Role) -> None:
    cast = secure_hub.cast
    found = "mutation($o: PartyOrganisationInput!) { foundPartyOrganisation(organisation: $o) { id } }"
    bad_id = "SEC DZB"  # a space: refused by the store's check once the caller is let through
    tries = {
        "community": ({"id": bad_id, "name": "某", "kind": "BRANCH", "hostKind": "COMMUNITY", "host": cast.community, "foundedOn": "2020-01-01"}, role.name in OFFICES and (role.name == "admin" or cast.community in role.places)),
        "north": ({"id": bad_id, "name": "某", "kind": "BRANCH", "hostKind": "COMMUNITY", "host": NORTH_COMMUNITY, "foundedOn": "2020-01-01"}, role.name in ("admin", "city")),
        "own_firm": ({"id": bad_id, "name": "某", "kind": "BRANCH", "hostKind": "FIRM", "host": cast.firm, "place": STREET, "foundedOn": "2020-01-01"}, role.name in ("admin", "city", "district", "street", "property_firm")),
        "other_firm": ({"id": bad_id, "name": "某", "kind": "BRANCH", "hostKind": "FIRM", "host": cast.other_firm, "place": STREET, "foundedOn": "2020-01-01"}, role.name in ("admin", "city", "district", "street")),
    }
    for what, (given, allowed) in tries.items():
        message = secure_hub.post(role, found, {"o": given})["errors"][0]["message"]
        assert ("organisation id" in message) == allowed, (role, what, message)
    assert secure_hub.run(secure_hub.store.party_organisations([bad_id], EVERYTHING)) == [None]


def test_a_firm_links_its_own_staff_only_and_learns_nothing_of_others(secure_hub: SecureHub, party_world: PartyWorld) -> None:
    """The firm role's organisation: the 市北区 firm's member of staff answers exactly as an id the
    hub does not hold, and neither is stored."""
    link = 'mutation($o: String!, $s: String!) { addPartyMember(organisation: $o, member: {name: "某某", joinedOn: "2004-07-01", link: {kind: STAFF, id: $s}}) { id } }'
    before = secure_hub.run(secure_hub.store.party_members(sorted(party_world.orgs), EVERYTHING))
    answers = []
    for staff_id in (NORTH_STAFF, "SEC-STAFF-NOBODY"):
        body = secure_hub.post("property_firm", link, {"o": "SEC-DZB-FIRM", "s": staff_id})
        assert body["data"] is None, body
        answers.append(json.dumps(body, ensure_ascii=False, sort_keys=True).replace(staff_id, "<id>"))
    assert answers[0] == answers[1] and "link: " in answers[0]
    assert secure_hub.run(secure_hub.store.party_members(sorted(party_world.orgs), EVERYTHING)) == before


def test_member_names_are_sealed_and_whole_reads_audited(secure_hub: SecureHub, party_world: PartyWorld) -> None:
    """A member declared with the owner role's owner's name keeps it sealed at rest (on SQLite:
    the party_member table has no name column and no row spells it); a whole read is a pii.read
    entry naming the member, a masked one writes none."""
    name = secure_hub.world.owners[secure_hub.cast.owner].name
    if secure_hub.backend == "sqlite":
        import sqlite3

        connection = sqlite3.connect(f"file:{secure_hub.database}?mode=ro", uri=True)
        try:
            columns = [row[1] for row in connection.execute("PRAGMA table_info(party_member)")]
            rows = connection.execute("SELECT * FROM party_member").fetchall()
        finally:
            connection.close()
        assert "name" not in columns and len(rows) >= len(party_world.members)
        assert not any(isinstance(value, bytes | str) and name.encode() in (value.encode() if isinstance(value, str) else value) for row in rows for value in row)
    [last] = secure_hub.run(secure_hub.store.audit_tail(1))
    secure_hub.data("city", ORG, {"id": "SEC-DZB-COMM"})
    secure_hub.data("street", ORG, {"id": "SEC-DZB-COMM"})
    entries = [e for e in secure_hub.run(secure_hub.store.audit_entries(after=last.seq)) if e.action == "pii.read"]
    assert len(entries) == 1 and entries[0].role == "street"
    assert f"party-member:{party_world.owner_member}" in entries[0].detail["owners"] and name not in str(entries[0])
