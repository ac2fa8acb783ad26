"""Party building over the API, role by role (a hub on loopback over SQLite, the conformance
suite's city, real tokens): the community office founds its 党支部 and declares members (one
linked to an owner, one to a committee member, one with no link); the firm founds its own, with
a member linked to its stored member of staff, and sees nothing else; a member claims a case and its outcome is recorded, both on the case's
history; figures per estate and district; names whole for the offices that serve residents,
masked for the city, every whole read audited; owners and the committee see nothing of it and
learn nothing from trying."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph import open_store
from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.ciphers.keyring import Keyring
from graph.staff.records import Post, StaffMember
from graph.votes.records import Committee, Member
from graph.workflow import Workflow
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.graph.conformance import CM_A1, CM_B1, E_A, E_B, FIRM_2, FIRM_3, OWNER_B, OWNER_C, SHINAN, ST_A, ST_B, T_HOUSE, fixture_city
from tests.schema.test_funds_api import FundHub
from tests.serving import serve_app, served

NAMES = ("欧阳红", "王建国", "赵小兵", "钱八一")


@dataclass
class PartyHub(FundHub):
    """The funds API suite's client (ask, data, error as a role), with what the server started."""

    started: dict[str, Any] = field(default_factory=dict)


async def _main(folder: Path, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        await store.write(fixture_city())
        await store.save_staff([StaffMember("YG-0001", FIRM_2, Post.STEWARD, NAMES[3], "370202199202020044", None, (E_B,))])  # the firm's staff link
        today = dt.date.today()
        await store.save_committee(
            Committee("YWH-A", E_A, (Member(OWNER_B, "主任"), Member(OWNER_C, "委员")), today - dt.timedelta(days=300), today + dt.timedelta(days=700))
        )
        now = dt.datetime.now(dt.timezone.utc)
        flow = Workflow(store)
        cases = [
            await flow.open_case(Case("", CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED, title, now, now, place_code=place), actor="owner")
            for title, place in (("楼道灯不亮", T_HOUSE), ("车棚漏雨", E_B))
        ]
        ttl = dt.timedelta(hours=2)
        tokens = {
            "admin": await issue_token(store, keys, "admin", "*", "运维", ttl),
            "city": await issue_token(store, keys, "city", "370200", "青岛市", ttl),
            "district": await issue_token(store, keys, "district", SHINAN, "市南区", ttl),
            "street": await issue_token(store, keys, "street", ST_A, "香港中路街道", ttl),
            "other_street": await issue_token(store, keys, "street", ST_B, "八大关街道", ttl),
            "community": await issue_token(store, keys, "community", CM_A1, "第一社区", ttl),
            "other_community": await issue_token(store, keys, "community", CM_B1, "八大关社区", ttl),
            "firm": await issue_token(store, keys, "property_firm", FIRM_2, "八大关物业", ttl),
            "other_firm": await issue_token(store, keys, "property_firm", FIRM_3, "台东物业", ttl),
            "committee": await issue_token(store, keys, "committee", E_A, "海韵花园业委会", ttl),
            "owner": await issue_token(store, keys, "owner", OWNER_B, "李娜", ttl),
        }
    except BaseException:
        await store.close()
        raise
    app = create_app(store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000))
    await serve_app(app, sock, started, store=store, tokens=tokens, cases=[case.id for case in cases])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PartyHub]:
    folder = tmp_path_factory.mktemp("party")

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        await _main(folder, sock, started)

    with served(main, startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            yield PartyHub(base, started["tokens"], client, "", started)


FOUND = """mutation($o: PartyOrganisationInput!) { foundPartyOrganisation(organisation: $o) {
  id name kind kindLabel hostKind host place foundedOn version } }"""
ADD = """mutation($o: String!, $m: PartyMemberInput!) { addPartyMember(organisation: $o, member: $m) {
  id organisationId name post joinedOn active link { kind id } } }"""
ORG = """query($id: String!) { partyOrganisation(id: $id) { id name host place secretary { id name }
  members(includeLeft: true) { id name post active leftOn link { kind id } } } }"""
LIST = "query($w: String) { partyOrganisations(within: $w) { items { id host } hasNext endCursor } }"
CLAIM = "mutation($m: String!, $c: String!, $n: String!) { claimCase(member: $m, case: $c, note: $n) { id caseId memberId estate active claimedBy } }"
OUTCOME = "mutation($c: String!, $o: ClaimOutcome!, $n: String!) { recordClaimOutcome(claim: $c, outcome: $o, note: $n) { id outcome outcomeNote active finishedBy } }"
FIGURES = """query($p: String!, $period: String) { partyFigures(place: $p, period: $period) { place estates committeeMembers
  committeePartyMembers firmsManaging firmsWithOrganisation claimsMade claimsHandled claimsResolved claimsHandedBack } }"""
HISTORY = "query($id: ID!) { case(id: $id) { id history { toStatus actor note } } }"


@pytest.fixture(scope="module")
def founded(hub: PartyHub) -> dict[str, str]:
    """The community's organisation with three members, and the firm's with one."""
    org = hub.data("community", FOUND, {"o": {"id": "DZB-A1", "name": "第一社区党支部", "kind": "BRANCH", "hostKind": "COMMUNITY", "host": CM_A1, "foundedOn": "2012-07-01"}})
    assert org["foundPartyOrganisation"] == {
        "id": "DZB-A1", "name": "第一社区党支部", "kind": "BRANCH", "kindLabel": "党支部", "hostKind": "COMMUNITY", "host": CM_A1,
        "place": CM_A1, "foundedOn": "2012-07-01", "version": 1,
    }
    owner = hub.data("community", ADD, {"o": "DZB-A1", "m": {"name": NAMES[0], "joinedOn": "2001-07-01", "post": "书记", "link": {"kind": "OWNER", "id": OWNER_B}}})["addPartyMember"]
    committee = hub.data("community", ADD, {"o": "DZB-A1", "m": {"name": NAMES[1], "joinedOn": "2003-07-01", "link": {"kind": "COMMITTEE", "id": f"{E_A}/{OWNER_C}"}}})["addPartyMember"]
    bare = hub.data("community", ADD, {"o": "DZB-A1", "m": {"name": NAMES[2], "joinedOn": "2010-07-01"}})["addPartyMember"]
    assert owner["name"] == NAMES[0] and owner["link"] == {"kind": "OWNER", "id": OWNER_B} and bare["link"] is None and owner["active"]
    firm_org = hub.data("firm", FOUND, {"o": {"id": "DZB-F2", "name": "八大关物业党支部", "kind": "JOINT_BRANCH", "hostKind": "FIRM", "place": ST_B, "foundedOn": "2019-07-01"}})
    assert firm_org["foundPartyOrganisation"]["host"] == FIRM_2 and firm_org["foundPartyOrganisation"]["place"] is None  # 属地 outside its estates
    staff = hub.data("firm", ADD, {"o": "DZB-F2", "m": {"name": NAMES[3], "joinedOn": "2015-07-01", "link": {"kind": "STAFF", "id": "YG-0001"}}})["addPartyMember"]
    return {"owner": owner["id"], "committee": committee["id"], "bare": bare["id"], "staff": staff["id"]}


def test_offices_read_their_organisations_and_members(hub: PartyHub, founded: dict[str, str]) -> None:
    for who in ("community", "street", "admin"):
        org = hub.data(who, ORG, {"id": "DZB-A1"})["partyOrganisation"]
        assert sorted(m["name"] for m in org["members"]) == sorted(NAMES[:3]), who
        links = {m["id"]: m["link"] for m in org["members"]}
        assert links == {founded["owner"]: {"kind": "OWNER", "id": OWNER_B}, founded["committee"]: {"kind": "COMMITTEE", "id": f"{E_A}/{OWNER_C}"}, founded["bare"]: None}
    for who in ("city", "district"):  # dashboards: masked, no links
        masked = hub.data(who, ORG, {"id": "DZB-A1"})["partyOrganisation"]
        assert sorted(m["name"] for m in masked["members"]) == sorted(n[0] + "*" for n in NAMES[:3])
        assert all(m["link"] is None for m in masked["members"])
    for who in ("other_street", "other_community"):
        assert hub.data(who, ORG, {"id": "DZB-A1"})["partyOrganisation"] is None
    assert [o["id"] for o in hub.data("street", LIST, {"w": ST_A})["partyOrganisations"]["items"]] == ["DZB-A1"]
    assert [o["id"] for o in hub.data("other_street", LIST, {"w": None})["partyOrganisations"]["items"]] == ["DZB-F2"]
    assert {o["id"] for o in hub.data("city", LIST, {})["partyOrganisations"]["items"]} == {"DZB-A1", "DZB-F2"}


def test_a_firm_sees_its_own_and_nothing_else(hub: PartyHub, founded: dict[str, str]) -> None:
    assert [o["id"] for o in hub.data("firm", LIST, {})["partyOrganisations"]["items"]] == ["DZB-F2"]
    mine = hub.data("firm", ORG, {"id": "DZB-F2"})["partyOrganisation"]
    assert [m["name"] for m in mine["members"]] == [NAMES[3]] and mine["members"][0]["link"] == {"kind": "STAFF", "id": "YG-0001"}
    assert hub.data("firm", ORG, {"id": "DZB-A1"})["partyOrganisation"] is None
    assert hub.data("other_firm", ORG, {"id": "DZB-F2"})["partyOrganisation"] is None
    assert hub.data("other_firm", LIST, {})["partyOrganisations"]["items"] == []
    assert hub.data("firm", FIGURES, {"p": E_A})["partyFigures"] is None
    unseen = hub.error("other_firm", ADD, {"o": "DZB-F2", "m": {"name": "某", "joinedOn": "2020-01-01"}})
    assert unseen == hub.error("other_firm", ADD, {"o": "DZB-NONE", "m": {"name": "某", "joinedOn": "2020-01-01"}}).replace("DZB-NONE", "DZB-F2")
    assert "own organisation only" in hub.error("firm", FOUND, {"o": {"id": "X", "name": "某", "kind": "BRANCH", "hostKind": "FIRM", "host": FIRM_3, "place": ST_B, "foundedOn": "2020-01-01"}})
    assert "firm or the street" in hub.error("community", FOUND, {"o": {"id": "X", "name": "某", "kind": "BRANCH", "hostKind": "FIRM", "host": FIRM_2, "place": CM_A1, "foundedOn": "2020-01-01"}})
    assert "not a place you can see" in hub.error("other_community", FOUND, {"o": {"id": "X", "name": "某", "kind": "BRANCH", "hostKind": "COMMUNITY", "host": CM_A1, "foundedOn": "2020-01-01"}})


def test_owners_and_committees_see_nothing_and_learn_nothing(hub: PartyHub, founded: dict[str, str]) -> None:
    case = hub.started["cases"][0]
    for who in ("owner", "committee"):
        assert hub.data(who, ORG, {"id": "DZB-A1"})["partyOrganisation"] is None
        assert hub.data(who, LIST, {})["partyOrganisations"] == {"items": [], "hasNext": False, "endCursor": None}
        assert hub.data(who, FIGURES, {"p": E_A})["partyFigures"] is None
        assert hub.data(who, "query($c: String!) { partyClaims(case: $c) { id } }", {"c": case})["partyClaims"] == []
        assert hub.data(who, "query($w: String!) { partyEstates(within: $w) { place } }", {"w": E_A})["partyEstates"] == []
        refused = hub.error(who, CLAIM, {"m": founded["owner"], "c": case, "n": ""})
        assert refused == hub.error(who, CLAIM, {"m": "PM-NONE", "c": case, "n": ""}) and "may not" in refused


def test_a_claim_and_its_outcome_go_on_the_case(hub: PartyHub, founded: dict[str, str]) -> None:
    in_a, in_b = hub.started["cases"]
    before = hub.data("street", HISTORY, {"id": in_a})["case"]["history"]
    claim = hub.data("community", CLAIM, {"m": founded["owner"], "c": in_a, "n": "上门查看"})["claimCase"]
    assert (claim["caseId"], claim["estate"], claim["active"], claim["claimedBy"]) == (in_a, E_A, True, "community:" + CM_A1)
    assert "one active claim" in hub.error("community", CLAIM, {"m": founded["owner"], "c": in_a, "n": ""})
    assert "not a case you can see" in hub.error("community", CLAIM, {"m": founded["owner"], "c": in_b, "n": ""})
    assert "not in an estate" in hub.error("admin", CLAIM, {"m": founded["owner"], "c": in_b, "n": ""})  # 李娜 holds no house in 八大关花园
    assert "no declared link" in hub.error("community", CLAIM, {"m": founded["bare"], "c": in_a, "n": ""})
    other = hub.data("street", CLAIM, {"m": founded["committee"], "c": in_a, "n": ""})["claimCase"]
    assert "why" in hub.error("community", OUTCOME, {"c": other["id"], "o": "HANDED_BACK", "n": ""})
    back = hub.data("community", OUTCOME, {"c": other["id"], "o": "HANDED_BACK", "n": "需更换配电箱"})["recordClaimOutcome"]
    assert (back["outcome"], back["active"], back["finishedBy"]) == ("HANDED_BACK", False, "community:" + CM_A1)
    done = hub.data("street", OUTCOME, {"c": claim["id"], "o": "RESOLVED", "n": "已修复"})["recordClaimOutcome"]
    assert done["outcome"] == "RESOLVED"
    assert "outcome already" in hub.error("street", OUTCOME, {"c": claim["id"], "o": "RESOLVED", "n": ""})
    after = hub.data("street", HISTORY, {"id": in_a})["case"]["history"]
    added = after[len(before):]
    assert len(added) == 4 and all(step["toStatus"] == before[-1]["toStatus"] for step in added)
    assert claim["id"] in added[0]["note"] and "上门查看" in added[0]["note"] and added[0]["actor"] == "community:" + CM_A1
    assert other["id"] in added[2]["note"] and "退回" in added[2]["note"] and "已办结" in added[3]["note"]
    listed = hub.data("community", "query($c: String!) { partyClaims(case: $c) { id outcome } }", {"c": in_a})["partyClaims"]
    assert [(c["id"], c["outcome"]) for c in listed] == [(claim["id"], "RESOLVED"), (other["id"], "HANDED_BACK")]
    assert hub.data("other_street", "query($c: String!) { partyClaims(case: $c) { id } }", {"c": in_a})["partyClaims"] == []
    assert "act for" in hub.error("other_street", OUTCOME, {"c": claim["id"], "o": "RESOLVED", "n": ""})
    month = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    figures = hub.data("street", FIGURES, {"p": E_A, "period": month})["partyFigures"]
    assert figures == {
        "place": E_A, "estates": 1, "committeeMembers": 2, "committeePartyMembers": 2, "firmsManaging": 1,
        "firmsWithOrganisation": 1, "claimsMade": 2, "claimsHandled": 2, "claimsResolved": 1, "claimsHandedBack": 1,
    }
    district = hub.data("district", FIGURES, {"p": SHINAN, "period": month})["partyFigures"]
    assert (district["estates"], district["claimsMade"], district["firmsManaging"]) == (2, 2, 1)
    assert hub.data("district", FIGURES, {"p": SHINAN, "period": "2001-01"})["partyFigures"]["claimsMade"] == 0
    assert hub.data("other_street", FIGURES, {"p": E_A})["partyFigures"] is None
    rows = hub.data("street", "query($w: String!) { partyEstates(within: $w) { place name committeePartyMembers } }", {"w": ST_A})["partyEstates"]
    assert [(r["place"], r["committeePartyMembers"]) for r in rows] == [(E_A, 2)]


def test_secretary_and_leaving(hub: PartyHub, founded: dict[str, str]) -> None:
    record = "mutation($id: String!, $s: String) { recordPartyOrganisation(id: $id, secretary: $s) { version secretary { id name } } }"
    named = hub.data("community", record, {"id": "DZB-A1", "s": founded["bare"]})["recordPartyOrganisation"]
    assert named["secretary"] == {"id": founded["bare"], "name": NAMES[2]}
    assert "current member" in hub.error("community", record, {"id": "DZB-A1", "s": founded["staff"]})
    left = hub.data("community", "mutation($id: String!) { removePartyMember(id: $id) { id active leftOn } }", {"id": founded["bare"]})
    assert left["removePartyMember"]["active"] is False
    assert hub.data("community", ORG, {"id": "DZB-A1"})["partyOrganisation"]["secretary"] is None


def test_whole_names_are_audited(hub: PartyHub, founded: dict[str, str]) -> None:
    store = hub.started["store"]
    import asyncio

    before = asyncio.run_coroutine_threadsafe(store.audit_tail(1), hub.started["loop"]).result(30)
    hub.data("street", ORG, {"id": "DZB-A1"})
    hub.data("city", ORG, {"id": "DZB-A1"})  # masked: nothing to audit
    entries = asyncio.run_coroutine_threadsafe(store.audit_entries(after=before[-1].seq), hub.started["loop"]).result(30)
    reads = [e for e in entries if e.action == "pii.read"]
    assert len(reads) == 1 and reads[0].role == "street"
    assert f"party-member:{founded['owner']}" in reads[0].detail["owners"] and set(reads[0].detail["fields"]) == {"name", "link"}


async def test_a_page_of_organisations_reads_members_and_claims_in_one_batch_each(sqlite_path: str) -> None:
    """The DataLoaders: however many organisations a page holds, their members, secretaries and
    members' claims are read with one store call each."""
    from graph.ciphers.sealing import Sealer
    from graph.party.records import HostKind, OrganisationKind, PartyOrganisation, PersonLink, LinkKind
    from graph.party.service import Party
    from graph.scope import Scope
    from graph.security import Principal, Role
    from graph.sql import SqlStore
    from schema import Context, build_schema
    from tests.graph.conformance import CM_A2, CM_C1, E_C
    from tests.schema.counting import CountingStore

    store = await SqlStore.open(f"sqlite:///{sqlite_path}", sealer=Sealer.generate())
    try:
        await store.write(fixture_city())
        today = dt.date.today()
        await store.save_committee(Committee("YWH-C", E_C, (Member(OWNER_C, "主任"),), today - dt.timedelta(days=10), today + dt.timedelta(days=700)))
        party = Party(store)
        for n, (host, kind) in enumerate(((CM_A1, HostKind.COMMUNITY), (CM_A2, HostKind.COMMUNITY), (CM_B1, HostKind.COMMUNITY), (CM_C1, HostKind.COMMUNITY), (E_C, HostKind.COMMITTEE))):
            org = await party.found(PartyOrganisation(f"DZB-{n}", f"党支部{n}", OrganisationKind.BRANCH, kind, host, host, dt.date(2010, 1, 1)))
            first = await party.add_member(org, f"党员{n}", dt.date(2000, 1, 1), link=PersonLink(LinkKind.OWNER, OWNER_B))
            await party.add_member(org, f"党员{n}乙", dt.date(2001, 1, 1))
            await party.record(org, secretary=first.id)
        counting = CountingStore(store)
        context = Context.create(counting, Scope.everything(), principal=Principal(Role.STREET, "370200", "测试", "-"))
        result = await build_schema().execute(
            "{ partyOrganisations { items { id secretary { id } members { name claims { id } } } } }", context_value=context
        )
        assert result.errors is None, result.errors
        assert len(result.data["partyOrganisations"]["items"]) == 5  # type: ignore[index]
        calls = counting.snapshot()
        assert (calls["party_members"], calls["party_members_by_id"], calls["claims_of_members"]) == (1, 1, 1), calls
    finally:
        await store.close()
