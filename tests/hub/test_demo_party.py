"""hub.demo.party over the conformance suite's city (香港中路街道: two communities, 海韵花园 with a
committee in office, managed by 八大关物业): organisations in the communities and the managing
firm (its secretary one of its staff, linked), committee members declared under their own names
with their links, three cases claimed with their outcomes on the cases' histories and in the
figures; a second build keeps it all."""

from __future__ import annotations

import datetime as dt

from graph.ciphers.sealing import Sealer
from graph.party.records import ClaimOutcome, HostKind, LinkKind, PersonLink
from graph.party.service import Party
from graph.scope import Scope
from graph.sql import SqlStore
from graph.staff.records import Post, StaffMember
from graph.votes.records import Committee, Member
from hub.demo.party import build_demo_party
from tests.graph.conformance import CM_A1, CM_A2, E_A, FIRM_2, OWNER_B, OWNER_C, OWNER_D, ST_A, fixture_city

EVERYTHING = Scope.everything()


async def test_the_demo_party_is_built_once(sqlite_path: str) -> None:
    store = await SqlStore.open(f"sqlite:///{sqlite_path}", sealer=Sealer.generate())
    try:
        await store.write(fixture_city())
        today = dt.date.today()
        await store.save_committee(Committee("WY-A", E_A, (Member(OWNER_B, "主任"), Member(OWNER_C, "副主任"), Member(OWNER_D, "委员")), today - dt.timedelta(days=30), today + dt.timedelta(days=1000)))
        steward = StaffMember("YG-F2-01", FIRM_2, Post.STEWARD, "高敏", "370202199001010033", None, (E_A,))
        await store.save_staff([steward])
        built = await build_demo_party(store, ST_A, seed=7)
        assert (built.organisations, built.members, built.claims, built.kept) == (3, 4, 3, False)
        page = await store.party_organisation_page(EVERYTHING, 100, within=ST_A)
        assert {(org.id, org.host_kind) for org in page.items} == {
            (f"DZB-{CM_A1}", HostKind.COMMUNITY), (f"DZB-{CM_A2}", HostKind.COMMUNITY), (f"DZB-{FIRM_2}", HostKind.FIRM)
        }
        [community, firm] = await store.party_members([f"DZB-{CM_A1}", f"DZB-{FIRM_2}"], EVERYTHING)
        owners = {owner.id: owner.name for owner in await store.owners([OWNER_B, OWNER_C], EVERYTHING) if owner is not None}
        linked = {m.link: m.name for m in community if m.link is not None}
        assert linked == {
            PersonLink(LinkKind.OWNER, OWNER_B): owners[OWNER_B],
            PersonLink(LinkKind.COMMITTEE, f"{E_A}/{OWNER_C}"): owners[OWNER_C],
        }
        assert len(community) == 3 and [(m.link, m.name) for m in firm] == [(PersonLink(LinkKind.STAFF, steward.id), steward.name)]
        [claims] = await store.claims_of_members([m.id for m in community if m.link and m.link.kind is LinkKind.OWNER], EVERYTHING)
        [other] = await store.claims_of_members([m.id for m in community if m.link and m.link.kind is LinkKind.COMMITTEE], EVERYTHING)
        outcomes = sorted((c.outcome.value if c.outcome else "active") for c in claims + other)
        assert outcomes == sorted([ClaimOutcome.RESOLVED.value, ClaimOutcome.HANDED_BACK.value, "active"])
        for claim in claims + other:
            [events] = await store.case_events([claim.case_id], EVERYTHING)
            assert any(claim.id in event.note for event in events)
        [figures] = await Party(store).figures([ST_A], EVERYTHING)
        assert figures is not None and (figures.committee_party_members, figures.firms_with_organisation, figures.claims_made, figures.claims_handled) == (2, 1, 3, 2)
        again = await build_demo_party(store, ST_A, seed=7)
        assert again.kept and (again.organisations, again.members) == (3, 4)
    finally:
        await store.close()
