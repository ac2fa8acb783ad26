"""graph.party.service.Party on every backend of `tests.backends`, over the conformance suite's
city: who may claim which case (the estates of the member's link; open cases only; a current
member with a link), one active claim per case and member, the claim and its outcome as events
in the case's history (nothing added when refused), staff links over the stored staff records
(a firm's organisation links its own staff only; a linked member of staff claims in the estates
it works in), secretaries, and the figures per place against what was written."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.errors import InvalidInput
from graph.party.records import ClaimOutcome, HostKind, LinkKind, OrganisationKind, PartyMember, PartyOrganisation, PersonLink
from graph.party.service import Party
from graph.scope import Scope
from graph.staff.records import Post, StaffMember
from graph.store import Store
from graph.votes.records import Committee, Member
from graph.workflow import Workflow
from tests import backends
from tests.graph.conformance import (
    B_A1,
    CM_A1,
    D_SHIBEI,
    E_A,
    E_B,
    E_C,
    E_HOUSE,
    FIRM_2,
    FIRM_3,
    OWNER_B,
    OWNER_C,
    OWNER_D,
    OWNER_H,
    SHINAN,
    ST_B,
    T_HOUSE,
    fixture_city,
)

EVERYTHING = Scope.everything()
NOW = dt.datetime.now(dt.timezone.utc)
TODAY = NOW.astimezone(dt.timezone(dt.timedelta(hours=8))).date()


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, sqlite_path: str) -> AsyncIterator[Store]:
    opened = await backends.open_fresh(backend, request, Path(sqlite_path).parent)
    await opened.write(fixture_city())
    await opened.save_committee(
        Committee("WY-A", E_A, (Member(OWNER_B, "主任"), Member(OWNER_C, "委员"), Member(OWNER_D, "委员")), TODAY - dt.timedelta(days=100), TODAY + dt.timedelta(days=1000))
    )
    try:
        yield opened
    finally:
        await backends.discard(opened)


STAFF = (
    StaffMember("S-001", FIRM_2, Post.STEWARD, "孙丽", "370202198801010011", None, (E_A,)),  # 八大关物业, in 海韵花园
    StaffMember("S-002", FIRM_3, Post.ELECTRICIAN, "钱勇", "370203198702020022", None, (E_C,)),  # 台东物业, in 百分百%家园
)


def firm_org() -> PartyOrganisation:
    return PartyOrganisation("PO-F2", "八大关物业党支部", OrganisationKind.BRANCH, HostKind.FIRM, FIRM_2, ST_B, dt.date(2018, 1, 1))


def community_org() -> PartyOrganisation:
    return PartyOrganisation("PO-A1", "第一社区党支部", OrganisationKind.BRANCH, HostKind.COMMUNITY, CM_A1, CM_A1, dt.date(2010, 7, 1))


async def case_at(store: Store, place: str, title: str = "楼道灯不亮") -> Case:
    case = Case("", CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED, title, NOW, NOW, place_code=place)
    return await Workflow(store).open_case(case, actor="owner:test")


async def history(store: Store, case_id: str) -> list[tuple[CaseStatus, str, str]]:
    [events] = await store.case_events([case_id], EVERYTHING)
    return [(e.to_status, e.actor, e.note) for e in events]


async def members(party: Party, org: PartyOrganisation) -> tuple[PartyMember, PartyMember, PartyMember]:
    owner = await party.add_member(org, "李娜", dt.date(2005, 7, 1), post="组织委员", link=PersonLink(LinkKind.OWNER, OWNER_B))
    committee = await party.add_member(org, "王芳", dt.date(2008, 7, 1), link=PersonLink(LinkKind.COMMITTEE, f"{E_A}/{OWNER_C}"))
    bare = await party.add_member(org, "赵磊", dt.date(2009, 7, 1))
    return owner, committee, bare


async def test_a_claim_and_its_outcome_are_on_the_case(store: Store) -> None:
    party = Party(store)
    org = await party.found(community_org())
    owner, committee, _ = await members(party, org)
    case = await case_at(store, T_HOUSE)
    before = await history(store, case.id)
    claim = await party.claim(owner, case.id, scope=EVERYTHING, actor="community:" + CM_A1, note="上门查看")
    assert (claim.estate_code, claim.member_id, claim.organisation_id, claim.active) == (E_A, owner.id, org.id, True)
    after = await history(store, case.id)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    status, actor, note = after[-1]
    assert status is case.status and actor == "community:" + CM_A1 and claim.id in note and "上门查看" in note
    with pytest.raises(InvalidInput, match="one active claim"):
        await party.claim(owner, case.id, scope=EVERYTHING, actor="community:" + CM_A1)
    assert await history(store, case.id) == after  # refused: nothing added
    other = await party.claim(committee, case.id, scope=EVERYTHING, actor="community:" + CM_A1)
    with pytest.raises(InvalidInput, match="why"):
        await party.finish(other, ClaimOutcome.HANDED_BACK, actor="community:" + CM_A1)
    back = await party.finish(other, ClaimOutcome.HANDED_BACK, actor="street:x", note="需物业更换配电箱")
    assert back.outcome is ClaimOutcome.HANDED_BACK and back.finished_by == "street:x" and not back.active
    done = await party.finish(claim, ClaimOutcome.RESOLVED, actor="community:" + CM_A1, note="已修复")
    assert done.outcome is ClaimOutcome.RESOLVED
    with pytest.raises(InvalidInput, match="outcome already"):
        await party.finish(done, ClaimOutcome.RESOLVED, actor="community:" + CM_A1)
    with pytest.raises(InvalidInput, match="outcome already"):
        await party.finish(claim, ClaimOutcome.HANDED_BACK, actor="community:" + CM_A1, note="再退")
    notes = [note for _, _, note in await history(store, case.id)]
    assert any(other.id in n and "退回" in n and "配电箱" in n for n in notes)
    assert any(claim.id in n and "已办结" in n for n in notes)
    assert len(notes) == len(after) + 3
    again = await party.claim(owner, case.id, scope=EVERYTHING, actor="community:" + CM_A1)  # the first claim ended
    assert again.id != claim.id
    [of_case] = await store.claims_of_cases([case.id], EVERYTHING)
    assert [c.id for c in of_case] == [claim.id, other.id, again.id]


async def test_who_may_claim_what(store: Store) -> None:
    await store.save_staff(list(STAFF))
    party = Party(store)
    org = await party.found(community_org())
    owner, committee, bare = await members(party, org)
    in_a, in_b = await case_at(store, T_HOUSE), await case_at(store, E_HOUSE)
    with pytest.raises(InvalidInput, match="no declared link"):
        await party.claim(bare, in_a.id, scope=EVERYTHING, actor="a")
    with pytest.raises(InvalidInput, match="not in an estate"):
        await party.claim(owner, in_b.id, scope=EVERYTHING, actor="a")  # 李娜 holds a house in 海韵花园 only
    with pytest.raises(InvalidInput, match="not a case you can see"):
        await party.claim(owner, in_a.id, scope=Scope.of(ST_B), actor="a")
    with pytest.raises(InvalidInput, match="not a case you can see"):
        await party.claim(owner, "GD-none", scope=EVERYTHING, actor="a")
    d_member = await party.add_member(org, "刘洋", dt.date(2011, 7, 1), link=PersonLink(LinkKind.OWNER, OWNER_D))
    in_c = await case_at(store, D_SHIBEI)
    assert (await party.claim(d_member, in_c.id, scope=EVERYTHING, actor="a")).estate_code != E_A  # 刘洋's other house
    staff = await party.add_member(org, "孙丽", dt.date(2015, 7, 1), link=PersonLink(LinkKind.STAFF, "S-001"))
    assert (await party.claim(staff, in_a.id, scope=EVERYTHING, actor="a")).estate_code == E_A
    with pytest.raises(InvalidInput, match="staff"):
        await party.add_member(org, "某", dt.date(2015, 7, 1), link=PersonLink(LinkKind.STAFF, "S-999"))
    flow = Workflow(store)
    firm_scope = EVERYTHING
    signed = await flow.sign(in_a.id, actor="firm", scope=firm_scope)
    await flow.resolve(signed.id, actor="firm", scope=firm_scope, note="修好了")
    with pytest.raises(InvalidInput, match="only an open case"):
        await party.claim(committee, in_a.id, scope=EVERYTHING, actor="a")
    left = await party.remove_member(committee, TODAY)
    assert left.left_on == TODAY
    other = await case_at(store, T_HOUSE, "电梯异响")
    with pytest.raises(InvalidInput, match="not a current party member"):
        await party.claim(left, other.id, scope=EVERYTHING, actor="a")


async def test_links_name_people_the_hub_holds(store: Store) -> None:
    party = Party(store)
    org = await party.found(community_org())
    with pytest.raises(InvalidInput, match="not an owner"):
        await party.add_member(org, "某", dt.date(2010, 1, 1), link=PersonLink(LinkKind.OWNER, "owner-none"))
    with pytest.raises(InvalidInput, match="committee"):
        await party.add_member(org, "某", dt.date(2010, 1, 1), link=PersonLink(LinkKind.COMMITTEE, f"{E_A}/{OWNER_H}"))
    with pytest.raises(InvalidInput, match="committee"):
        await party.add_member(org, "某", dt.date(2010, 1, 1), link=PersonLink(LinkKind.COMMITTEE, f"{E_B}/{OWNER_B}"))
    with pytest.raises(InvalidInput, match="staff id"):
        await party.add_member(org, "某", dt.date(2010, 1, 1), link=PersonLink(LinkKind.STAFF, "员工 一"))
    with pytest.raises(InvalidInput, match="not a staff member the hub knows"):
        await party.add_member(org, "某", dt.date(2010, 1, 1), link=PersonLink(LinkKind.STAFF, "S-7"))  # the right shape, nobody
    with pytest.raises(InvalidInput, match="after today"):
        await party.add_member(org, "某", TODAY + dt.timedelta(days=2))
    with pytest.raises(InvalidInput, match="property firm"):
        await party.found(PartyOrganisation("PO-X", "某物业党支部", OrganisationKind.BRANCH, HostKind.FIRM, "91370200MA3C0009XX", ST_B, dt.date(2020, 1, 1)))
    assert await store.party_organisations(["PO-X"], EVERYTHING) == [None]
    with pytest.raises(InvalidInput, match="no owners' committee"):
        await party.found(PartyOrganisation("PO-Y", "某业委会党支部", OrganisationKind.BRANCH, HostKind.COMMITTEE, E_B, E_B, dt.date(2020, 1, 1)))
    assert await store.party_organisations(["PO-Y"], EVERYTHING) == [None]
    member = await party.add_member(org, "某乙", dt.date(2010, 1, 1))
    with pytest.raises(InvalidInput, match="after today"):
        await party.remove_member(member, TODAY + dt.timedelta(days=1))
    assert (await store.party_members_by_id([member.id], EVERYTHING))[0] == member


async def test_staff_links_name_stored_staff_a_firms_organisation_its_own(store: Store) -> None:
    await store.save_staff(list(STAFF))
    party = Party(store)
    community, firm = await party.found(community_org()), await party.found(firm_org())
    before = await store.party_members([community.id, firm.id], EVERYTHING)
    # a firm's organisation: another firm's member of staff answers as an id nobody holds
    refusals = []
    for staff_id in ("S-002", "S-404"):
        with pytest.raises(InvalidInput) as refused:
            await party.add_member(firm, "某", dt.date(2015, 7, 1), link=PersonLink(LinkKind.STAFF, staff_id))
        refusals.append(str(refused.value).replace(staff_id, "<id>"))
    assert refusals[0] == refusals[1] and f"{FIRM_2}'s staff" in refusals[0]
    with pytest.raises(InvalidInput, match="not a staff member the hub knows"):
        await party.add_member(community, "某", dt.date(2015, 7, 1), link=PersonLink(LinkKind.STAFF, "S-404"))
    assert await store.party_members([community.id, firm.id], EVERYTHING) == before  # refused: nothing stored
    own = await party.add_member(firm, "孙丽", dt.date(2015, 7, 1), link=PersonLink(LinkKind.STAFF, "S-001"))
    other = await party.add_member(community, "钱勇", dt.date(2016, 7, 1), link=PersonLink(LinkKind.STAFF, "S-002"))  # any staff
    assert await party.estates_of(own, TODAY) == {E_A} and await party.estates_of(other, TODAY) == {E_C}
    in_a, in_b, in_c = await case_at(store, T_HOUSE), await case_at(store, E_HOUSE), await case_at(store, E_C)
    assert (await party.claim(own, in_a.id, scope=EVERYTHING, actor="a")).estate_code == E_A
    assert (await party.claim(other, in_c.id, scope=EVERYTHING, actor="a")).estate_code == E_C
    for member, case in ((own, in_b), (own, in_c), (other, in_a)):
        with pytest.raises(InvalidInput, match="not in an estate"):
            await party.claim(member, case.id, scope=EVERYTHING, actor="a")
    # the staff record moves: the member of staff claims where it works now
    await store.save_staff([StaffMember("S-001", FIRM_2, Post.STEWARD, "孙丽", "370202198801010011", None, (E_B,))])
    assert await party.estates_of(own, TODAY) == {E_B}
    assert (await party.claim(own, in_b.id, scope=EVERYTHING, actor="a")).estate_code == E_B


async def test_secretaries_are_current_members(store: Store) -> None:
    party = Party(store)
    org = await party.found(community_org())
    owner, committee, _ = await members(party, org)
    with pytest.raises(InvalidInput, match="current member"):
        await party.record(org, secretary="PM-none")
    named = await party.record(org, secretary=owner.id, name="第一社区党总支", kind=OrganisationKind.GENERAL_BRANCH)
    assert (named.secretary, named.name, named.kind, named.version) == (owner.id, "第一社区党总支", OrganisationKind.GENERAL_BRANCH, 2)
    renamed = await party.record(org, name="又一名")  # read before the change: planned again on the stored version
    assert (renamed.name, renamed.secretary, renamed.version) == ("又一名", owner.id, 3)
    await party.remove_member(owner, TODAY)
    [after] = await store.party_organisations([org.id], EVERYTHING)
    assert after is not None and after.secretary is None
    with pytest.raises(InvalidInput, match="current member"):
        await party.record(after, secretary=owner.id)


async def test_figures_count_what_was_written(store: Store) -> None:
    party = Party(store)
    org = await party.found(community_org())
    await party.found(PartyOrganisation("PO-F2", "八大关物业党支部", OrganisationKind.BRANCH, HostKind.FIRM, FIRM_2, ST_B, dt.date(2018, 1, 1)))
    await party.found(PartyOrganisation("PO-EA", "海韵花园业委会党支部", OrganisationKind.BRANCH, HostKind.COMMITTEE, E_A, E_A, dt.date(2021, 1, 1)))
    owner, committee, _ = await members(party, org)  # 李娜 (OWNER_B) as owner, 王芳 (OWNER_C) as committee member
    case = await case_at(store, T_HOUSE)
    first = await party.claim(owner, case.id, scope=EVERYTHING, actor="a")
    await party.claim(committee, case.id, scope=EVERYTHING, actor="a")
    await party.finish(first, ClaimOutcome.RESOLVED, actor="a", note="好了")
    since, until = NOW - dt.timedelta(hours=1), NOW + dt.timedelta(hours=1)
    [estate, district, elsewhere, nowhere] = await party.figures([E_A, SHINAN, E_B, "370202009"], EVERYTHING, since=since, until=until)
    assert estate is not None and district is not None and elsewhere is not None and nowhere is None
    assert (estate.estates, estate.committee_members, estate.committee_party_members) == (1, 3, 2)
    assert (estate.firms_managing, estate.firms_with_organisation) == (1, 1)  # 八大关物业 manages 海韵花园 now
    assert (estate.claims_made, estate.claims_handled, estate.claims_resolved, estate.claims_handed_back) == (2, 1, 1, 0)
    assert (district.estates, district.committee_party_members, district.firms_managing, district.claims_made) == (2, 2, 1, 2)
    assert (elsewhere.committee_members, elsewhere.claims_made, elsewhere.firms_with_organisation) == (0, 0, 1)
    [later] = await party.figures([E_A], EVERYTHING, since=until, until=until + dt.timedelta(days=1))
    assert later is not None and (later.claims_made, later.claims_handled, later.committee_party_members) == (0, 0, 2)
    assert await party.figures([E_A], Scope.of(ST_B)) == [None]
    twice, building = await party.figures([E_A, B_A1], EVERYTHING, since=since, until=until)
    assert twice is not None and building is not None
    assert (twice.committee_party_members, building.estates, building.committee_members, building.claims_made) == (2, 0, 0, 0)
