"""The demo city's party building (党建), in one street, after its committees are elected
(hub.demo.votes):

- a 党支部 in each of the street's first two communities (the second a 党总支);
- a 联合党支部 in each of the (up to two) firms managing the street's estates today, seated in the
  street (属地), each with its secretary: the first of the firm's staff (hub.demo.staff), under
  its name and linked to its staff record — without a link when the hub holds none of its staff;
- in each of the (up to three) estates of the street with a committee in office, two committee
  members join their community's organisation, declared under their own names — the first as
  the owner, the second as the committee member — and a resident joins without a link;
- in the first such estate, three cases are reported at the estate and claimed by its party
  members (党员认领): one resolved, one handed back, one still in hand.

Nothing is random but the names of the members declared without a link (seeded). Built once:
a second build finds the first community's organisation and keeps everything as it is.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.levels import Level
from graph.party.records import ClaimOutcome, HostKind, LinkKind, OrganisationKind, PartyOrganisation, PersonLink
from graph.party.service import Party
from graph.scope import Scope
from graph.store import Store
from graph.workflow import Workflow
from hub.demo.names import person_name

EVERYTHING = Scope.everything()
CLAIMED = (("3号楼楼道灯不亮", ClaimOutcome.RESOLVED, "已联系电工更换灯具"), ("地下车库积水", ClaimOutcome.HANDED_BACK, "需物业维修排水泵，退回物业"), ("健身器材松动", None, ""))


@dataclass(frozen=True, slots=True)
class DemoParty:
    organisations: int
    members: int
    claims: int
    kept: bool = False


async def _codes(store: Store, level: Level, within: str) -> list[str]:
    codes: list[str] = []
    after: str | None = None
    while True:
        page = await store.subtree(level, within, EVERYTHING, 500, after)
        codes += [place.code for place in page.items]
        if not page.has_next:
            return codes
        after = page.end_cursor


async def build_demo_party(store: Store, street: str, *, seed: int, now: dt.datetime | None = None) -> DemoParty:
    now = now or dt.datetime.now(dt.timezone.utc)
    party = Party(store, clock=lambda: now)
    today = party.today()
    communities = (await _codes(store, Level.COMMUNITY, street))[:2]
    if not communities:
        return DemoParty(0, 0, 0)
    first_id = f"DZB-{communities[0]}"
    if (await store.party_organisations([first_id], EVERYTHING))[0] is not None:
        page = await store.party_organisation_page(EVERYTHING, 500, within=street)
        members = await store.party_members([org.id for org in page.items], EVERYTHING)
        return DemoParty(len(page.items), sum(len(m) for m in members), 0, kept=True)
    rng = random.Random(seed * 104729 + 71)
    orgs: dict[str, PartyOrganisation] = {}
    for number, community in enumerate(communities):
        kind = OrganisationKind.BRANCH if number == 0 else OrganisationKind.GENERAL_BRANCH
        [place] = await store.places([community], EVERYTHING)
        name = f"{place.name if place else community}{kind.label}"
        orgs[community] = await party.found(
            PartyOrganisation(f"DZB-{community}", name, kind, HostKind.COMMUNITY, community, community, dt.date(2008 + number, 7, 1))
        )
    estates = await _codes(store, Level.ESTATE, street)
    firms: list[str] = []
    for spans in await store.managements(estates, today, EVERYTHING):
        firms += [span.firm_code for span in spans if span.firm_code not in firms]
    made_members = 0
    for firm_code in firms[:2]:
        [firm] = await store.firms([firm_code], EVERYTHING)
        org = await party.found(
            PartyOrganisation(
                f"DZB-{firm_code}", f"{firm.name if firm else firm_code}联合党支部", OrganisationKind.JOINT_BRANCH, HostKind.FIRM,
                firm_code, street, dt.date(2016, 7, 1),
            )
        )
        [crew] = await store.staff_of([firm_code], EVERYTHING)  # its secretary: the first of its staff, when the hub holds any
        name = crew[0].name if crew else person_name(rng, rng.random() < 0.5, 1980)
        link = PersonLink(LinkKind.STAFF, crew[0].id) if crew else None
        staff = await party.add_member(org, name, dt.date(2010, 7, 1), post="支部书记", link=link)
        await party.record(org, secretary=staff.id)
        made_members += 1
    seated = [(estate, found) for estate, found in zip(estates, await store.committees(estates, today, EVERYTHING)) if found]
    claims = 0
    for number, (estate, committees) in enumerate(seated[:3]):
        community = next((code for code in communities if estate.startswith(code)), communities[0])
        org = orgs[community]
        seats = [member.owner_id for member in committees[-1].members][:2]
        owners = await store.owners(seats, EVERYTHING)
        joined = []
        for position, (owner_id, owner) in enumerate(zip(seats, owners)):
            link = PersonLink(LinkKind.OWNER, owner_id) if position == 0 else PersonLink(LinkKind.COMMITTEE, f"{estate}/{owner_id}")
            name = owner.name if owner is not None else person_name(rng, True, 1970)
            joined.append(await party.add_member(org, name, dt.date(1995 + 3 * position + number, 7, 1), post="党员", link=link))
        await party.add_member(org, person_name(rng, rng.random() < 0.5, 1965), dt.date(1990 + number, 7, 1))
        made_members += len(joined) + 1
        if org.secretary is None and number == 0:
            orgs[community] = await party.record(org, secretary=joined[0].id)
        if number != 0:
            continue
        flow = Workflow(store, clock=lambda: now)
        for step, (title, outcome, note) in enumerate(CLAIMED):
            reported = now - dt.timedelta(days=9 - 3 * step)
            case = await flow.open_case(
                Case("", CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED, title, reported, reported, place_code=estate),
                actor="demo:owner",
            )
            claim = await party.claim(joined[step % len(joined)], case.id, scope=EVERYTHING, actor=f"community:{community}", note="党员认领，上门查看")
            claims += 1
            if outcome is not None:
                await party.finish(claim, outcome, actor=f"community:{community}", note=note)
    return DemoParty(len(orgs) + min(len(firms), 2), made_members, claims)
