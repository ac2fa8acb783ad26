"""The party part of the store conformance suite: every member of
`graph.party.records.PartyStore`, through the port only, on the fixture city of
`tests/graph/conformance.py`. `tests/graph/test_store_conformance.py` runs it on every backend.

Held to the contract: every field read back as written (Chinese names, enums, days, aware times
in UTC; a member's name opened from its seal); refused duplicates keeping the first; places that
must fit the host; scope (out of scope behaves as absent) for organisations, members and claims;
ordering and keyset paging; the compare-and-set of updating an organisation, ending a member and
finishing a claim; one active claim per case and member, also with writers at once; tallies per
place against a naive count over the claims written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace

import pytest

from graph.cursors import encode_cursor
from graph.errors import InvalidInput, StoreError
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
from graph.store import Store
from tests.graph.conformance import (
    B_A1,
    CITY,
    CM_A1,
    CM_A2,
    CM_B1,
    CM_C1,
    E_A,
    E_B,
    E_C,
    FIRM_2,
    OWNER_B,
    SHIBEI,
    SHINAN,
    ST_A,
    ST_B,
    T_HOUSE,
    UNKNOWN_STREET,
    fixture_city,
    garbage_cursors,
)

__all__ = [
    "TestPartyOrganisations",
    "TestPartyOrganisationPage",
    "TestPartyMembers",
    "TestPartyClaims",
    "TestPartyClaimTallies",
]

EVERYTHING = Scope.everything()
STREET_A = Scope.of(ST_A)
NORTH = Scope.of(SHIBEI)
NOBODY = Scope.of_codes([])
CST = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 11, 3, 9, 15, 0, 125000, tzinfo=CST)


def organisation(org_id: str = "PO-A1", **changes: object) -> PartyOrganisation:
    made = PartyOrganisation(
        id=org_id, name="香港中路街道第一社区党支部", kind=OrganisationKind.BRANCH, host_kind=HostKind.COMMUNITY,
        host=CM_A1, place_code=CM_A1, founded_on=dt.date(2012, 7, 1),
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def orgs() -> list[PartyOrganisation]:
    return [
        organisation(),
        organisation("PO-B1", name="八大关第一社区党总支", kind=OrganisationKind.GENERAL_BRANCH, host=CM_B1, place_code=CM_B1),
        organisation("PO-EA", name="海韵花园业委会党支部", host_kind=HostKind.COMMITTEE, host=E_A, place_code=E_A),
        organisation("PO-F2", name="八大关物业联合党支部", kind=OrganisationKind.JOINT_BRANCH, host_kind=HostKind.FIRM, host=FIRM_2, place_code=ST_B),
        organisation("PO-C1", name="台东社区党支部", host=CM_C1, place_code=CM_C1),
    ]


def member(member_id: str = "M1", org_id: str = "PO-A1", **changes: object) -> PartyMember:
    made = PartyMember(id=member_id, organisation_id=org_id, name="欧阳娜娜", joined_on=dt.date(2001, 7, 1), post="支部书记")
    return replace(made, **changes)  # type: ignore[arg-type]


def claim(claim_id: str = "CL1", case_id: str = "GD1", member_id: str = "M1", estate: str = E_A, **changes: object) -> CaseClaim:
    made = CaseClaim(
        id=claim_id, case_id=case_id, member_id=member_id, organisation_id="PO-A1", estate_code=estate, claimed_at=AT,
        claimed_by="community:" + CM_A1, note="党员认领：楼道灯修复",
    )
    return replace(made, **changes)  # type: ignore[arg-type]


async def city(store: Store, *, members: bool = False) -> None:
    await store.write(fixture_city())
    for each in orgs():
        await store.save_party_organisation(each)
    if members:
        await store.save_party_member(member(link=PersonLink(LinkKind.OWNER, OWNER_B)))
        await store.save_party_member(member("M2", name="王小明", post="", link=PersonLink(LinkKind.COMMITTEE, f"{E_A}/{OWNER_B}")))
        await store.save_party_member(member("M3", "PO-C1", name="李四"))
        await store.save_party_member(member("M4", "PO-F2", name="赵六", link=PersonLink(LinkKind.STAFF, "staff-0001")))


class TestPartyOrganisations:
    async def test_organisations_round_trip_and_scope(self, store: Store) -> None:
        await city(store)
        ids = [org.id for org in orgs()]
        assert await store.party_organisations(ids, EVERYTHING) == orgs()
        found = await store.party_organisations(ids + ["nope"], STREET_A)
        assert [org.id if org else None for org in found] == ["PO-A1", None, "PO-EA", None, None, None]
        assert await store.party_organisations(ids, NOBODY) == [None] * len(ids)
        assert [o.id if o else None for o in await store.party_organisations(ids, Scope.of(ST_B))] == [None, "PO-B1", None, "PO-F2", None]

    async def test_a_stored_id_is_refused_and_the_first_kept(self, store: Store) -> None:
        await city(store)
        with pytest.raises(StoreError, match="PO-A1"):
            await store.save_party_organisation(organisation(name="另一个"))
        assert await store.party_organisations(["PO-A1"], EVERYTHING) == [organisation()]

    @pytest.mark.parametrize(
        "bad, field",
        [
            (organisation("X1", place_code=CM_A2), "organisation X1 place"),  # not its host
            (organisation("X2", host_kind=HostKind.COMMITTEE, host=E_A, place_code=CM_A1), "organisation X2 place"),
            (organisation("X3", host_kind=HostKind.FIRM, host=FIRM_2, place_code=E_B), "organisation X3 place"),
            (organisation("X4", host=UNKNOWN_STREET + "001", place_code=UNKNOWN_STREET + "001"), "organisation X4 place"),
            (organisation("X 5"), "organisation id"),
            (organisation("X6", name="  "), "organisation X6 name"),
        ],
    )
    async def test_bad_organisations_are_refused_and_nothing_kept(self, store: Store, bad: PartyOrganisation, field: str) -> None:
        await store.write(fixture_city())
        with pytest.raises(InvalidInput) as refused:
            await store.save_party_organisation(bad)
        assert refused.value.field == field
        assert await store.party_organisations([bad.id], EVERYTHING) == [None]

    async def test_update_is_a_compare_and_set(self, store: Store) -> None:
        await city(store)
        changed = replace(organisation(), name="第一社区党总支", kind=OrganisationKind.GENERAL_BRANCH, secretary="M1", host="ignored")
        stored = await store.update_party_organisation(changed, 1)
        assert stored == replace(organisation(), name="第一社区党总支", kind=OrganisationKind.GENERAL_BRANCH, secretary="M1", version=2)
        assert await store.update_party_organisation(replace(changed, name="又一次"), 1) is None
        assert await store.update_party_organisation(replace(changed, id="nope"), 1) is None
        assert await store.party_organisations(["PO-A1"], EVERYTHING) == [stored]
        cleared = await store.update_party_organisation(replace(stored, secretary=None), 2)
        assert cleared is not None and cleared.secretary is None and cleared.version == 3

    async def test_two_updates_at_once_one_wins(self, store: Store) -> None:
        await city(store)
        results = await asyncio.gather(
            *(store.update_party_organisation(replace(organisation(), name=f"名称{n}"), 1) for n in range(4))
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        assert await store.party_organisations(["PO-A1"], EVERYTHING) == winners


class TestPartyOrganisationPage:
    async def test_pages_by_id_under_a_place_by_host_in_scope(self, store: Store) -> None:
        await city(store)
        everything = sorted(org.id for org in orgs())
        first = await store.party_organisation_page(EVERYTHING, 2)
        assert [o.id for o in first.items] == everything[:2] and first.has_next
        rest = await store.party_organisation_page(EVERYTHING, 10, first.end_cursor)
        assert [o.id for o in rest.items] == everything[2:] and not rest.has_next
        assert first.end_cursor == encode_cursor(everything[1])
        shinan = await store.party_organisation_page(EVERYTHING, 10, within=SHINAN)
        assert [o.id for o in shinan.items] == ["PO-A1", "PO-B1", "PO-EA", "PO-F2"]
        assert [o.id for o in (await store.party_organisation_page(EVERYTHING, 10, within=E_A)).items] == ["PO-EA"]
        assert [o.id for o in (await store.party_organisation_page(EVERYTHING, 10, host=FIRM_2)).items] == ["PO-F2"]
        assert [o.id for o in (await store.party_organisation_page(STREET_A, 10, within=SHINAN)).items] == ["PO-A1", "PO-EA"]
        assert (await store.party_organisation_page(NORTH, 10, within=SHINAN)).items == []
        assert (await store.party_organisation_page(EVERYTHING, 10, within=UNKNOWN_STREET)).items == []

    async def test_hosted_organisations_are_found_by_host_unscoped(self, store: Store) -> None:
        await city(store)
        await store.save_party_organisation(organisation("PO-F2B", name="八大关物业第二党支部", host_kind=HostKind.FIRM, host=FIRM_2, place_code=CM_A1))
        found = await store.hosted_organisations([FIRM_2, E_A, CM_A2, "nope", FIRM_2])
        assert [[o.id for o in each] for each in found] == [["PO-F2", "PO-F2B"], ["PO-EA"], [], [], ["PO-F2", "PO-F2B"]]
        assert found[1] == [orgs()[2]]

    @pytest.mark.parametrize("cursor", garbage_cursors() + [encode_cursor("PO-none")])
    async def test_cursors_it_did_not_make_are_refused(self, store: Store, cursor: str) -> None:
        await city(store)
        with pytest.raises(InvalidInput):
            await store.party_organisation_page(EVERYTHING, 5, cursor)


class TestPartyMembers:
    async def test_members_round_trip_sealed_and_in_scope(self, store: Store) -> None:
        await city(store, members=True)
        [of_a1, of_c1, of_none] = await store.party_members(["PO-A1", "PO-C1", "nope"], EVERYTHING)
        assert [m.id for m in of_a1] == ["M1", "M2"] and of_none == []
        assert of_a1[0] == member(link=PersonLink(LinkKind.OWNER, OWNER_B))
        assert of_a1[1].name == "王小明" and of_a1[1].post == "" and of_a1[1].link == PersonLink(LinkKind.COMMITTEE, f"{E_A}/{OWNER_B}")
        assert of_c1 == [member("M3", "PO-C1", name="李四")]
        assert await store.party_members(["PO-A1", "PO-C1"], NORTH) == [[], of_c1]
        by_id = await store.party_members_by_id(["M4", "M3", "M9"], EVERYTHING)
        assert by_id[0] is not None and by_id[0].link == PersonLink(LinkKind.STAFF, "staff-0001") and by_id[2] is None
        assert await store.party_members_by_id(["M4", "M3"], STREET_A) == [None, None]

    async def test_linked_members_are_found_by_their_link_unscoped(self, store: Store) -> None:
        await city(store, members=True)
        found = await store.linked_party_members(
            [PersonLink(LinkKind.OWNER, OWNER_B), PersonLink(LinkKind.COMMITTEE, f"{E_A}/{OWNER_B}"),
             PersonLink(LinkKind.STAFF, OWNER_B), PersonLink(LinkKind.STAFF, "staff-0001")]
        )
        assert [[m.id for m in each] for each in found] == [["M1"], ["M2"], [], ["M4"]]

    async def test_refusals_leave_nothing(self, store: Store) -> None:
        await city(store, members=True)
        with pytest.raises(StoreError, match="M1"):
            await store.save_party_member(member(name="别人"))
        with pytest.raises(InvalidInput) as refused:
            await store.save_party_member(member("M8", "PO-none"))
        assert refused.value.field == "member M8 organisation"
        with pytest.raises(InvalidInput) as refused:
            await store.save_party_member(member("M9", left_on=dt.date(2020, 1, 1)))
        assert refused.value.field == "member M9 left_on"
        with pytest.raises(InvalidInput):
            await store.save_party_member(member("M10", link=PersonLink(LinkKind.COMMITTEE, "no-slash")))
        with pytest.raises(InvalidInput):
            await store.save_party_member(member("M11", link=PersonLink(LinkKind.STAFF, "员工 1")))
        assert await store.party_members_by_id(["M8", "M9", "M10", "M11"], EVERYTHING) == [None] * 4
        assert (await store.party_members_by_id(["M1"], EVERYTHING))[0] == member(link=PersonLink(LinkKind.OWNER, OWNER_B))

    async def test_a_member_leaves_once(self, store: Store) -> None:
        await city(store, members=True)
        with pytest.raises(InvalidInput):
            await store.end_party_member("M1", dt.date(2000, 1, 1))
        assert await store.end_party_member("M1", dt.date(2025, 3, 1)) is True
        assert await store.end_party_member("M1", dt.date(2025, 4, 1)) is False
        assert await store.end_party_member("nope", dt.date(2025, 4, 1)) is False
        [found] = await store.party_members_by_id(["M1"], EVERYTHING)
        assert found is not None and found.left_on == dt.date(2025, 3, 1) and not found.active_on(dt.date(2025, 3, 1))
        assert found.name == "欧阳娜娜" and found.active_on(dt.date(2025, 2, 28))


class TestPartyClaims:
    async def test_a_claim_round_trips_and_finishes_once(self, store: Store) -> None:
        await city(store, members=True)
        await store.save_case_claim(claim())
        [found] = await store.case_claims(["CL1"], EVERYTHING)
        assert found == claim() and found is not None and found.claimed_at.utcoffset() == dt.timedelta(0) and found.active
        done = dt.datetime(2026, 11, 4, 18, 0, tzinfo=CST)
        finished = await store.finish_case_claim("CL1", ClaimOutcome.HANDED_BACK, "需物业更换配电箱，退回", done, "street:" + ST_A)
        assert finished == replace(claim(), outcome=ClaimOutcome.HANDED_BACK, outcome_note="需物业更换配电箱，退回", finished_at=done, finished_by="street:" + ST_A)
        assert await store.finish_case_claim("CL1", ClaimOutcome.RESOLVED, "", done, "x") is None
        assert await store.finish_case_claim("nope", ClaimOutcome.RESOLVED, "", done, "x") is None
        assert await store.case_claims(["CL1"], EVERYTHING) == [finished]

    async def test_one_active_claim_per_case_and_member(self, store: Store) -> None:
        await city(store, members=True)
        await store.save_case_claim(claim())
        with pytest.raises(ClaimTaken):
            await store.save_case_claim(claim("CL2"))
        await store.save_case_claim(claim("CL3", member_id="M2"))  # another member may
        await store.save_case_claim(claim("CL4", case_id="GD2"))  # the same member, another case
        with pytest.raises(StoreError, match="CL1"):
            await store.save_case_claim(claim("CL1", case_id="GD9"))
        await store.finish_case_claim("CL1", ClaimOutcome.RESOLVED, "已修好", AT, "community:" + CM_A1)
        await store.save_case_claim(claim("CL5"))  # claimed again once the first ended
        [of_case, of_other] = await store.claims_of_cases(["GD1", "GD9"], EVERYTHING)
        assert [c.id for c in of_case] == ["CL1", "CL3", "CL5"] and of_other == []
        [of_m1] = await store.claims_of_members(["M1"], EVERYTHING)
        assert [c.id for c in of_m1] == ["CL1", "CL4", "CL5"]

    async def test_claims_at_once_one_is_kept(self, store: Store) -> None:
        await city(store, members=True)
        results = await asyncio.gather(*(store.save_case_claim(claim(f"R{n}")) for n in range(5)), return_exceptions=True)
        assert sum(1 for r in results if r is None) == 1
        assert all(isinstance(r, ClaimTaken) for r in results if r is not None)
        assert len((await store.claims_of_cases(["GD1"], EVERYTHING))[0]) == 1

    async def test_scope_and_refusals(self, store: Store) -> None:
        await city(store, members=True)
        await store.save_case_claim(claim())
        await store.save_case_claim(claim("CL-C", case_id="GD3", member_id="M3", estate=E_C, organisation_id="PO-C1"))
        assert [c.id if c else None for c in await store.case_claims(["CL1", "CL-C"], NORTH)] == [None, "CL-C"]
        assert await store.claims_of_cases(["GD1"], NORTH) == [[]]
        assert await store.claims_of_members(["M1"], Scope.of(ST_B)) == [[]]
        with pytest.raises(InvalidInput):
            await store.save_case_claim(claim("CL-X", member_id="M-none"))
        with pytest.raises(InvalidInput):
            await store.save_case_claim(claim("CL-Y", estate=UNKNOWN_STREET))
        with pytest.raises(InvalidInput):
            await store.save_case_claim(claim("CL-Z", outcome=ClaimOutcome.RESOLVED))
        with pytest.raises(InvalidInput):
            await store.save_case_claim(claim("CL-W", claimed_at=dt.datetime(2026, 1, 1)))
        assert await store.case_claims(["CL-X", "CL-Y", "CL-Z", "CL-W"], EVERYTHING) == [None] * 4


class TestPartyClaimTallies:
    async def test_tallies_against_a_naive_count(self, store: Store) -> None:
        await city(store, members=True)
        day = dt.timedelta(days=1)
        written = [
            claim("T1", "GD1", estate=E_A, claimed_at=AT),
            claim("T2", "GD2", estate=E_A, claimed_at=AT + day),
            claim("T3", "GD3", estate=E_B, claimed_at=AT + 2 * day),
            claim("T4", "GD4", estate=E_C, claimed_at=AT - 40 * day),
        ]
        for each in written:
            await store.save_case_claim(each)
        finished = {"T1": (ClaimOutcome.RESOLVED, AT + day), "T3": (ClaimOutcome.HANDED_BACK, AT + 3 * day), "T4": (ClaimOutcome.RESOLVED, AT - 30 * day)}
        for key, (outcome, at) in finished.items():
            await store.finish_case_claim(key, outcome, "", at, "street:x")
        since, until = AT - day, AT + 10 * day
        codes = [CITY, SHINAN, ST_A, E_A, E_B, SHIBEI, B_A1, T_HOUSE, CM_A2, "nope"]

        def line_of(estate: str) -> set[str]:
            by_code = {p.code: p for p in fixture_city().places}
            found, code = set(), estate
            while code is not None:
                found.add(code)
                code = by_code[code].parent_code  # type: ignore[assignment]
            return found

        def naive(code: str) -> ClaimTally:
            mine = [c for c in written if code in line_of(c.estate_code)]
            made = sum(1 for c in mine if since <= c.claimed_at < until)
            handled = [c for c in mine if c.id in finished and since <= finished[c.id][1] < until]
            return ClaimTally(
                code, made, len(handled), sum(1 for c in handled if finished[c.id][0] is ClaimOutcome.RESOLVED),
                sum(1 for c in handled if finished[c.id][0] is ClaimOutcome.HANDED_BACK),
            )

        tallies = await store.claim_tallies(codes, EVERYTHING, since=since, until=until)
        assert tallies == [naive(code) for code in codes[:-1]] + [None]
        assert tallies[1] == ClaimTally(SHINAN, 3, 2, 1, 1)
        unbounded = await store.claim_tallies([CITY], EVERYTHING)
        assert unbounded == [ClaimTally(CITY, 4, 3, 2, 1)]
        assert await store.claim_tallies([CITY, ST_A, E_C], STREET_A, since=since, until=until) == [None, naive(ST_A), None]
        with pytest.raises(InvalidInput):
            await store.claim_tallies([CITY], EVERYTHING, since=dt.datetime(2026, 1, 1))
