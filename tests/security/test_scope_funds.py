"""The owners' money stays with its readers, by every root field, mutation and the stats.

The world (tests/security/conftest.py, `funds_and_revenue`) books through the fund service:
deposits into every house of four estates (the committee's, the closed vote's in another street,
one of the street outside the community, the 市北区 one), a repair completed in the owner role's
entrance (an emergency use; its accounts left low), a repair approved in the closed vote's estate
by that vote and one approved in 市北区, and public revenue entered by the managing firms, the
committee's estate's first income confirmed.

Who reads an estate's books is worked out from the world (`Role.may_read_books`, the rule of
schema/funds/access.py's docstring): the administrations, committee and managing firm whose scope
holds the place; an owner for the estates it holds a house in, and of accounts only its own
houses'. Whatever a caller may not read answers exactly as a code that names nothing (the whole
answer, data and errors, compared once the code is replaced by a stand-in); writes outside the
actor's reach are refused with the books read back unchanged. Every answer goes through the leak
walker, which knows repair project ids, and is searched for the owners' names and ID numbers:
the books name houses, never people.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import pytest

from graph.clock import CHINA_STANDARD_TIME
from graph.levels import Level
from graph.scope import Scope
from tests.security.conftest import CITY, DISTRICT, NORTH_ESTATE, NORTH_FIRM, NORTH_HOUSES, STREET, Books, SecureHub
from tests.security.world import Role, WorldProject, WorldRevenue, leaks, masked_id_number

UNKNOWN_ESTATE = "370202001099E099"
UNKNOWN_HOUSE = "370202001001GB99999F00010001"
UNKNOWN_PROJECT = "SEC-WX-NOTHING"
READERS = frozenset({"admin", "city", "district", "street", "community", "property_firm", "committee", "owner"})
PROJECT_ACTORS = frozenset({"admin", "street", "community", "committee", "property_firm"})
PUBLISHERS = frozenset({"admin", "city", "district", "street"})
PERSONAL_FIELDS_OK = ("estateName", "partName", "name")
"""Fields that hold a place's name (an estate's, a building's): searched for people all the same,
after the place names the world knows are taken out of the text."""

ACCOUNT = """query($h: String!) { fundAccount(house: $h) {
  house estate estateName balanceFen balanceYuan firstDepositFen low entries lastIndex lastAt
  history { index kind label amountFen amountYuan at ref memo }
  proof { log index payload leafHash path entry { index kind amountFen ref } head { log size root kind signature publicKey signedText } }
} }"""
STATEMENT = """query($e: String!, $p: String!) { fundStatement(estate: $e, period: $p) {
  estate estateName period start end fromSize toSize published openingFen depositsFen topUpsFen interestFen repairsFen
  closingFen reversals entries accounts head { size root } previousHead { size } consistency { fromSize toSize }
  revenue { incomeFen costFen ownersShareFen distributedFen unconfirmed entries { index kind by amountFen status } }
  projects { id estate part partName status costFen authorityRef shares { house shareFen } }
} }"""
HEADS = "query($e: String!) { fundHeads(estate: $e) { log size root kind } }"
CONSISTENCY = "query($e: String!) { fundConsistency(estate: $e, fromSize: 0, toSize: 1) { fromSize toSize path fromRoot toRoot } }"
REVENUE = "query($e: String!) { revenueEntries(estate: $e) { index kind kindLabel by amountFen status decision target reason } }"
TOTALS_FIELDS = "place accounts balanceFen balancePerAccountFen firstDepositFen lowAccounts estates creditsFen repairsFen revenueFen confirmedRevenueFen unconfirmedEntries"
TOTALS = "query($p: [String!]!) { fundTotals(places: $p) { %s } }" % TOTALS_FIELDS
ESTATES = "query($s: String!) { fundEstates(scope: $s, first: 500) { name %s } }" % TOTALS_FIELDS
UNCONFIRMED = "query($s: String!) { revenueUnconfirmed(scope: $s, first: 500) { estate estateName entry { index amountFen by status } } }"
PROJECT_FIELDS = "id estate part partName title budgetFen authority authorityRef emergencyUse status costFen firstIndex shares { house areaCentiM2 shareFen }"
PROJECT = "query($id: String!) { repairProject(id: $id) { %s } }" % PROJECT_FIELDS
PROJECTS = "query($w: String!) { repairProjects(within: $w, first: 500) { items { %s } hasNext } }" % PROJECT_FIELDS
RAISE = "mutation($p: RepairProjectInput!) { raiseRepairProject(project: $p) { id estate part status } }"
COMPLETE = "mutation($id: String!, $c: Int!) { completeRepairProject(id: $id, costFen: $c) { id status } }"
CANCEL = "mutation($id: String!) { cancelRepairProject(id: $id) { id status } }"
PUBLISH = "mutation($e: String!, $p: String!) { publishFundPeriod(estate: $e, period: $p) { log size kind } }"
ENTER = "mutation($e: String!, $entries: [RevenueInput!]!) { enterRevenue(estate: $e, entries: $entries) { index kind by amountFen status } }"
REVERSE = "mutation($e: String!, $i: Int!) { reverseRevenue(estate: $e, index: $i) { index kind target amountFen } }"
CONFIRM = "mutation($e: String!, $i: Int!) { confirmRevenue(estate: $e, index: $i) { index status decision } }"
OBJECT = 'mutation($e: String!, $i: Int!) { objectRevenue(estate: $e, index: $i, reason: "安全测试：无票据") { index status decision } }'
COST_FEN = 1_000
COST = {"kind": "COST", "amountFen": COST_FEN, "costItem": "安全测试：道闸维护"}


def books(secure_hub: SecureHub) -> Books:
    assert secure_hub.cast.books is not None
    return secure_hub.cast.books


def this_month() -> str:
    return f"{dt.datetime.now(CHINA_STANDARD_TIME):%Y-%m}"


def last_month() -> str:
    first = dt.datetime.now(CHINA_STANDARD_TIME).date().replace(day=1) - dt.timedelta(days=1)
    return f"{first:%Y-%m}"


def seen_through(secure_hub: SecureHub, role: Role) -> Role:
    """The role as the leak walker judges fund answers: an owner reads the books of the estates
    it holds a house in, and the books name their parts and houses (a repair's part and shares)
    and the managing firm (who entered the revenue): those places and firms are shown to it."""
    world = secure_hub.world
    if role.name != "owner":
        return role
    assert role.self_owner is not None
    estates = world.owner_estates(role.self_owner)
    places = {code for estate in estates for code in world.subtree(estate)}
    firms = {firm for estate in estates for firm in world.managers(estate)}
    return replace(role, places=role.places | places, firms=role.firms | firms)


def authority(secure_hub: SecureHub, role: Role, problem: str) -> bool:
    """Whether a problem the leak walker found is the vote authorising a repair the role reads
    (`authorityRef`): the books show what authorises spending the fund, so the managing firm of
    the closed vote's estate — which may read no vote — is shown that vote's id, and nothing of it."""
    world = secure_hub.world
    return ".authorityRef: vote " in problem and any(
        f"vote {project.authority} " in problem and role.may_read_books(world, project.part)
        for project in world.projects.values() if project.authority is not None
    )


def people(secure_hub: SecureHub) -> list[str]:
    """The names, ID numbers and masked ID numbers of the owners holding a house of an estate
    with books (those a fund answer could name), less names that are part of a place's name."""
    world = secure_hub.world
    places = " ".join(place.name for place in world.places.values())
    owners = {item.owner_id for house in world.balances for item in world.by_house.get(house, [])}
    found: list[str] = []
    for owner in sorted(owners):
        person = world.owners[owner]
        if len(person.name) >= 2 and person.name not in places:
            found.append(person.name)
        found += [person.id_number, masked_id_number(person.id_number)]
    return found


def ask(secure_hub: SecureHub, role: Role | str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of a query sent as `role`, after the leak walker found nothing in its data
    and no owner's name or ID number is anywhere in it (errors too)."""
    who = secure_hub.roles[role] if isinstance(role, str) else role
    response = secure_hub.request(who.token, query, variables)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    problems = [item for item in leaks(secure_hub.world, seen_through(secure_hub, who), body.get("data")) if not authority(secure_hub, who, item)]
    assert not problems, "\n".join(problems[:20])
    text = json.dumps(body, ensure_ascii=False)
    named = [item for item in people(secure_hub) if item in text]
    assert not named, (who.name, named[:5])
    return body


def data(secure_hub: SecureHub, role: Role | str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = ask(secure_hub, role, query, variables)
    assert not body.get("errors"), body["errors"]
    found: dict[str, Any] = body["data"]
    return found


def message(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    assert errors, body
    return str(errors[0]["message"])


def normalised(body: dict[str, Any], *pairs: tuple[str, str]) -> str:
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    for value, stand_in in pairs:
        text = text.replace(value, stand_in)
    return text


def balance_under(secure_hub: SecureHub, code: str) -> tuple[int, int, int]:
    """(accounts, balance, low accounts) of the houses at or under `code`, from the world."""
    world = secure_hub.world
    houses = [house for house in world.balances if house in world.subtree(code)]
    low = sum(1 for house in houses if world.balances[house] * 10 < world.deposits[house] * 3)
    return len(houses), sum(world.balances[house] for house in houses), low


def reads_account(secure_hub: SecureHub, role: Role, house: str) -> bool:
    """An owner reads its own houses' accounts; the other readers those in their scope."""
    if role.name == "owner":
        assert role.self_owner is not None
        return house in secure_hub.world.holdings(role.self_owner)
    return role.may_read_books(secure_hub.world, house)


def root(role: Role) -> str:
    return CITY if role.name == "admin" or not role.roots else sorted(role.roots)[0]  # the staff role: no root of its own


def journals(secure_hub: SecureHub) -> tuple[Any, ...]:
    """What a refused write could have changed: the projects with their status, and every
    estate's fund and revenue journal (size and heads)."""
    store = secure_hub.store

    async def read() -> tuple[Any, ...]:
        projects = sorted((p.id, p.status.value, p.cost_fen) for p in (await store.project_page(Scope.everything(), 500)).items)
        logs = [f"{kind}:{estate}" for estate in secure_hub.world.at(Level.ESTATE) for kind in ("fund", "revenue")]
        sizes = [(await store.log_size(log), len(await store.log_heads(log))) for log in logs]
        return projects, sizes

    return secure_hub.run(read())


# -- the world -------------------------------------------------------------------------------


def test_the_world_holds_books_for_every_ring(secure_hub: SecureHub) -> None:
    """Controls: without them the probes below would pass on a hub that shows no books."""
    world, roles, cast, made = secure_hub.world, secure_hub.roles, secure_hub.cast, books(secure_hub)
    assert world.fund_estates() == set(made.estates)
    assert cast.estate in made.estates and NORTH_ESTATE in made.estates
    assert made.street_estate in roles["street"].places and made.street_estate not in roles["community"].places
    polls = cast.polls
    assert polls is not None and polls.other_estate in roles["district"].places and polls.other_estate not in roles["street"].places
    assert NORTH_ESTATE not in roles["district"].places
    # the owner role's house is in the entrance the completed repair served, and is low now
    assert cast.house in world.houses_under(made.entrance)
    assert world.balances[cast.house] * 10 < world.deposits[cast.house] * 3
    statuses = {key: p.status for key, p in world.projects.items()}
    assert {key: statuses[key] for key in (made.completed, made.approved, made.north)} == {
        made.completed: "completed", made.approved: "approved", made.north: "approved"
    }
    assert world.projects[made.approved].part == polls.other_estate and world.projects[made.north].part == NORTH_ESTATE
    # the owner reads the committee's estate's books (it holds a house there), and no other estate's
    owner = roles["owner"]
    assert owner.self_owner is not None and world.owner_estates(owner.self_owner) & set(made.estates) == {cast.estate}
    assert cast.shared_house in world.houses_under(cast.estate) and cast.shared_house not in world.holdings(owner.self_owner)
    assert any(entry.status == "confirmed" for entry in world.revenue[cast.estate])
    assert any(entry.status == "unconfirmed" for entry in world.revenue[NORTH_ESTATE])
    assert people(secure_hub), "the owners of the books' houses have names to look for"


def test_the_leak_walker_catches_projects(secure_hub: SecureHub) -> None:
    world, roles, made = secure_hub.world, secure_hub.roles, books(secure_hub)
    assert leaks(world, roles["street"], {"id": made.north})
    assert leaks(world, roles["committee"], {"id": made.approved})
    assert leaks(world, roles["owner"], {"id": made.approved})
    assert not leaks(world, roles["owner"], {"id": made.completed})
    assert not leaks(world, roles["city"], {"id": made.north})
    # an owner is shown the places of its estate's books and nothing above them
    owner = seen_through(secure_hub, roles["owner"])
    assert not leaks(world, owner, {"house": secure_hub.cast.shared_house})
    assert leaks(world, owner, {"code": world.places[secure_hub.cast.estate].parent_code})


def refused_to_staff(secure_hub: SecureHub, role: Role) -> bool:
    """The staff role reads no book at all: every book query is refused it by role, whatever it
    names (an account, an estate's books, totals, the estates, a project). True when `role` is it
    (and each refusal was checked), so the per-role probes below stop there."""
    if role.name != "staff":
        return False
    cast, made = secure_hub.cast, books(secure_hub)
    asked = [
        (ACCOUNT, {"h": cast.house}),
        (TOTALS, {"p": [cast.estate, CITY]}),
        (ESTATES, {"s": CITY}),
        (PROJECT, {"id": made.completed}),
        (PROJECTS, {"w": cast.estate}),
        *((query, {"e": cast.estate, **({"p": this_month()} if name == "fundStatement" else {})}) for name, query in BOOKS.items()),
    ]
    for query, variables in asked:
        body = ask(secure_hub, role, query, variables)
        assert message(body) == "forbidden: the staff role may not read the owners' money books", (query, body)
    return True


# -- accounts --------------------------------------------------------------------------------


def test_an_account_only_for_the_roles_houses(secure_hub: SecureHub, role: Role) -> None:
    """fundAccount for houses in every ring: the role's own read with the world's balance and
    history, any other answers exactly as a house that does not exist (null)."""
    if refused_to_staff(secure_hub, role):
        return
    world, cast, made = secure_hub.world, secure_hub.cast, books(secure_hub)
    polls = cast.polls
    assert polls is not None
    houses = [cast.house, cast.shared_house, min(world.houses_under(made.street_estate)),
              min(world.houses_under(polls.other_estate)), *NORTH_HOUSES]
    unknown = ask(secure_hub, role, ACCOUNT, {"h": UNKNOWN_HOUSE})
    assert unknown == {"data": {"fundAccount": None}}
    for house in houses:
        body = ask(secure_hub, role, ACCOUNT, {"h": house})
        if not reads_account(secure_hub, role, house):
            assert normalised(body, (house, "<H>")) == normalised(unknown, (UNKNOWN_HOUSE, "<H>")), (role.name, house)
            continue
        assert not body.get("errors"), body["errors"]
        account = body["data"]["fundAccount"]
        assert (account["house"], account["estate"]) == (house, world.estate_of(house))
        assert (account["balanceFen"], account["firstDepositFen"]) == (world.balances[house], world.deposits[house]), (role.name, house)
        assert account["low"] == (world.balances[house] * 10 < world.deposits[house] * 3)
        assert sum(entry["amountFen"] for entry in account["history"]) == world.balances[house]
        assert account["proof"]["entry"]["index"] == account["lastIndex"]
    # places that are not houses, in scope or not, have no account
    for code in (cast.estate, made.entrance, STREET):
        assert data(secure_hub, role, ACCOUNT, {"h": code}) == {"fundAccount": None}


# -- an estate's books -----------------------------------------------------------------------

BOOKS = {"fundStatement": STATEMENT, "fundHeads": HEADS, "fundConsistency": CONSISTENCY, "revenueEntries": REVENUE}


def test_an_estates_books_only_for_its_readers(secure_hub: SecureHub, role: Role) -> None:
    """fundStatement, fundHeads, fundConsistency and revenueEntries for each estate with books,
    and for places above the role's scope: a reader reads them (the statement's closing balance
    is the world's), anyone else gets the answer for an estate that does not exist."""
    if refused_to_staff(secure_hub, role):
        return
    world, cast, made = secure_hub.world, secure_hub.cast, books(secure_hub)
    above = sorted(role.above_scope(world))[-2:]
    for name, query in BOOKS.items():
        variables = {"p": this_month()} if name == "fundStatement" else {}
        unknown = ask(secure_hub, role, query, {"e": UNKNOWN_ESTATE, **variables})
        assert "is not a place you can see" in message(unknown), (name, unknown)
        for code in (*made.estates, *above):
            body = ask(secure_hub, role, query, {"e": code, **variables})
            if role.may_read_books(world, code) and world.places[code].level != Level.ESTATE:
                continue  # a part of an owner's estate: its books name it (a statement asks an estate)
            if role.may_read_books(world, code):
                assert not body.get("errors"), (role.name, name, code, body["errors"])
                if name == "fundStatement":
                    statement = body["data"]["fundStatement"]
                    assert statement["closingFen"] == balance_under(secure_hub, code)[1], (role.name, code)
                    assert statement["accounts"] == balance_under(secure_hub, code)[0]
                    shown = {item["id"] for item in statement["projects"]}
                    assert shown >= {key for key, p in world.projects.items() if p.estate == code and p.status == "approved"}
                elif name == "revenueEntries":
                    found = [(item["index"], item["kind"].lower(), item["status"]) for item in body["data"]["revenueEntries"]]
                    expected = [(entry.index, entry.kind, entry.status and entry.status.upper()) for entry in world.revenue.get(code, [])]
                    assert found == expected, (role.name, code)
            else:
                assert normalised(body, (code, "<E>")) == normalised(unknown, (UNKNOWN_ESTATE, "<E>")), (role.name, name, code, body)
    if role.name == "owner":
        assert role.may_read_books(world, cast.estate) and not role.may_read_books(world, made.street_estate)


def test_totals_only_for_places_the_role_reads(secure_hub: SecureHub, role: Role) -> None:
    """fundTotals over places of every level inside, above and outside the scope: the role's own
    with the world's sums, null for the rest (as for codes that name nothing)."""
    if refused_to_staff(secure_hub, role):
        return
    world, cast, made = secure_hub.world, secure_hub.cast, books(secure_hub)
    codes = [*made.estates, made.entrance, cast.house, cast.community, STREET, DISTRICT, CITY, UNKNOWN_ESTATE, UNKNOWN_HOUSE]
    found = data(secure_hub, role, TOTALS, {"p": codes})["fundTotals"]
    for code, totals in zip(codes, found, strict=True):
        if role.name == "owner":
            assert role.self_owner is not None
            readable = code in world.owner_estates(role.self_owner) or code in world.holdings(role.self_owner)
            if code in world.places and world.places[code].level > Level.ESTATE and not readable:
                continue  # another house or a part of its estate: test_an_owner_reads_no_other_houses_totals
        else:
            readable = code in world.places and role.may_read_books(world, code)
        if not readable:
            assert totals is None, (role.name, code, totals)
            continue
        assert totals is not None, (role.name, code)
        accounts, balance, low = balance_under(secure_hub, code)
        assert (totals["accounts"], totals["balanceFen"], totals["lowAccounts"]) == (accounts, balance, low), (role.name, code)
        if code in world.revenue:
            incomes = sum(entry.amount_fen or 0 for entry in world.revenue[code] if entry.kind == "income" and entry.status != "reversed")
            assert totals["revenueFen"] >= incomes


def test_an_owner_reads_no_other_houses_totals(secure_hub: SecureHub) -> None:
    """An owner's fundTotals for another house of its estate, in its entrance or not, answers as
    for a house that does not exist: null (its own house's totals are its account's)."""
    world, cast, made = secure_hub.world, secure_hub.cast, books(secure_hub)
    neighbour = next(house for house in sorted(world.houses_under(made.entrance)) if house not in (cast.house, cast.shared_house))
    elsewhere = next(house for house in sorted(world.houses_under(cast.estate) - world.houses_under(made.entrance)) if house in world.balances)
    found = data(secure_hub, "owner", TOTALS, {"p": [cast.house, neighbour, elsewhere, UNKNOWN_HOUSE]})["fundTotals"]
    assert found[0] is not None and found[0]["balanceFen"] == world.balances[cast.house]
    assert found[1:] == [None, None, None], found


def test_fund_estates_list_only_the_roles_estates(secure_hub: SecureHub, role: Role) -> None:
    """fundEstates under the role's root, the city and the district: exactly the estates of the
    scope there, with the world's balances; under a foreign estate as under one that does not
    exist; owners may not list estates."""
    if refused_to_staff(secure_hub, role):
        return
    world = secure_hub.world
    if role.name == "owner":
        assert "the owner role may not list" in message(ask(secure_hub, role, ESTATES, {"s": CITY}))
        assert "the owner role may not list" in message(ask(secure_hub, role, UNCONFIRMED, {"s": CITY}))
        return
    for scope in sorted({root(role), CITY, DISTRICT}):
        rows = data(secure_hub, role, ESTATES, {"s": scope})["fundEstates"]
        expected = sorted(code for code in world.at(Level.ESTATE, world.subtree(scope)) if code in role.places)
        assert [row["place"] for row in rows] == expected, (role.name, scope)
        for row in rows:
            assert (row["accounts"], row["balanceFen"], row["lowAccounts"]) == balance_under(secure_hub, row["place"])
        waiting = data(secure_hub, role, UNCONFIRMED, {"s": scope})["revenueUnconfirmed"]
        assert {(item["estate"], item["entry"]["index"]) for item in waiting} == {
            (estate, entry.index) for estate, entries in world.revenue.items() for entry in entries
            if entry.status == "unconfirmed" and estate in role.places and estate in world.subtree(scope)
        }, (role.name, scope)
    for query in (ESTATES, UNCONFIRMED):
        foreign = ask(secure_hub, role, query, {"s": NORTH_ESTATE})
        nothing = ask(secure_hub, role, query, {"s": "370203005001E099"})
        if NORTH_ESTATE not in role.places:
            assert normalised(foreign, (NORTH_ESTATE, "<E>")) == normalised(nothing, ("370203005001E099", "<E>")), (role.name, foreign)


# -- repair projects -------------------------------------------------------------------------


def test_repair_projects_only_for_their_readers(secure_hub: SecureHub, role: Role) -> None:
    """repairProject for each project (null, as for an id of nothing, where the role may not
    read its part's books) and repairProjects within places inside, above and outside the scope."""
    if refused_to_staff(secure_hub, role):
        return
    world, cast = secure_hub.world, secure_hub.cast
    assert data(secure_hub, role, PROJECT, {"id": UNKNOWN_PROJECT}) == {"repairProject": None}
    for key, project in sorted(world.projects.items()):
        found = data(secure_hub, role, PROJECT, {"id": key})["repairProject"]
        if role.may_read_books(world, project.part):
            assert found is not None and (found["estate"], found["part"], found["status"]) == (project.estate, project.part, project.status.upper())
            if project.status == "completed":
                assert sum(share["shareFen"] for share in found["shares"]) == project.cost_fen
        else:
            assert found is None, (role.name, key)
    for within in sorted({root(role), CITY, cast.estate, NORTH_ESTATE}):
        body = ask(secure_hub, role, PROJECTS, {"w": within})
        nothing = ask(secure_hub, role, PROJECTS, {"w": UNKNOWN_ESTATE})
        if role.name == "owner" and not role.may_read_books(world, within):
            # an owner lists only within the estates it holds a house in: elsewhere as nowhere
            assert normalised(body, (within, "<W>")) == normalised(nothing, (UNKNOWN_ESTATE, "<W>")), (within, body)
            continue
        assert not body.get("errors"), body["errors"]
        shown = {item["id"] for item in body["data"]["repairProjects"]["items"]}
        expected = {key for key, p in world.projects.items() if p.part in world.subtree(within) and role.may_read_books(world, p.part)}
        assert shown == expected, (role.name, within)


def test_repair_writes_reach_only_the_actors_projects(secure_hub: SecureHub, role: Role) -> None:
    """completeRepairProject and cancelRepairProject on every project of the world: a role that
    may not act is refused; a project outside the actor's scope answers as an id of nothing; the
    completed one is not open; nothing changes (read back)."""
    world = secure_hub.world
    before = journals(secure_hub)
    unknown = {
        "complete": ask(secure_hub, role, COMPLETE, {"id": UNKNOWN_PROJECT, "c": 100}),
        "cancel": ask(secure_hub, role, CANCEL, {"id": UNKNOWN_PROJECT}),
    }
    for doing, body in unknown.items():
        if role.name in PROJECT_ACTORS:
            assert "is not a project you can see" in message(body), body
        else:
            assert f"the {role.name} role may not {doing} repair projects" in message(body), body
    for key, project in sorted(world.projects.items()):
        seen = role.may_read_books(world, project.part) and role.name in PROJECT_ACTORS
        over = (project.cost_fen or 0) + 38_000_000 + 1  # over every suite project's budget: refused if reached
        complete = ask(secure_hub, role, COMPLETE, {"id": key, "c": over})
        if not seen:
            assert normalised(complete, (key, "<P>"), (str(over), "<C>")) == normalised(unknown["complete"], (UNKNOWN_PROJECT, "<P>"), ("100", "<C>")), (role.name, key, complete)
            cancel = ask(secure_hub, role, CANCEL, {"id": key})
            assert normalised(cancel, (key, "<P>")) == normalised(unknown["cancel"], (UNKNOWN_PROJECT, "<P>")), (role.name, key, cancel)
        elif project.status == "completed":
            assert "not open for completion" in message(complete)
            assert "is not open" in message(ask(secure_hub, role, CANCEL, {"id": key}))
        else:
            assert "exceeds the authorised budget" in message(complete), complete
    assert journals(secure_hub) == before


def test_an_actor_raises_and_cancels_in_its_scope(secure_hub: SecureHub, role: Role) -> None:
    """raiseRepairProject at the committee's estate (every actor's scope holds it, an owner's does
    not) and at the 市北区 estate: actors raise and cancel their own; the rest are refused,
    nothing recorded; an estate outside the scope answers as one that does not exist."""
    world, cast = secure_hub.world, secure_hub.cast
    tag = role.name.replace("_", "-").upper()
    project = {
        "id": f"SEC-WX-{tag}", "part": cast.estate, "title": "安全测试：消防栓更换", "budgetFen": 50_000,
        "authority": "EMERGENCY", "authorityRef": "消防栓损坏", "emergency": "FIRE",
    }
    before = journals(secure_hub)
    if role.name not in PROJECT_ACTORS:
        for part in (cast.estate, NORTH_ESTATE):
            body = ask(secure_hub, role, RAISE, {"p": {**project, "part": part}})
            assert f"the {role.name} role may not raise repair projects" in message(body)
        assert journals(secure_hub) == before
        return
    if NORTH_ESTATE not in role.places:
        foreign = ask(secure_hub, role, RAISE, {"p": {**project, "part": NORTH_ESTATE}})
        nothing = ask(secure_hub, role, RAISE, {"p": {**project, "part": UNKNOWN_ESTATE}})
        assert normalised(foreign, (NORTH_ESTATE, "<E>")) == normalised(nothing, (UNKNOWN_ESTATE, "<E>"))
        assert "is not a place you can see" in message(foreign)
        assert journals(secure_hub) == before
    raised = data(secure_hub, role, RAISE, {"p": project})["raiseRepairProject"]
    assert (raised["estate"], raised["part"], raised["status"]) == (cast.estate, cast.estate, "APPROVED")
    world.projects[raised["id"]] = WorldProject(raised["id"], cast.estate, cast.estate, "approved")
    cancelled = data(secure_hub, role, CANCEL, {"id": raised["id"]})["cancelRepairProject"]
    assert cancelled["status"] == "CANCELLED"
    world.projects[raised["id"]].status = "cancelled"
    # the owner role reads the committee's estate's projects, and acts on none
    assert "may not cancel repair projects" in message(ask(secure_hub, "owner", CANCEL, {"id": raised["id"]}))


# -- periods ---------------------------------------------------------------------------------


def test_publishing_a_period_is_for_publishers_in_scope(secure_hub: SecureHub, role: Role) -> None:
    """publishFundPeriod: the publishers publish last month's head of an estate of their scope
    (once: a second call returns the same head); others are refused; a foreign estate answers
    as one that does not exist; nothing else is signed."""
    made = books(secure_hub)
    period = last_month()
    if role.name not in PUBLISHERS:
        before = journals(secure_hub)
        for estate in made.estates:
            assert f"the {role.name} role may not publish fund periods" in message(ask(secure_hub, role, PUBLISH, {"e": estate, "p": period}))
        assert journals(secure_hub) == before
        return
    if NORTH_ESTATE not in role.places:
        before = journals(secure_hub)
        foreign = ask(secure_hub, role, PUBLISH, {"e": NORTH_ESTATE, "p": period})
        nothing = ask(secure_hub, role, PUBLISH, {"e": UNKNOWN_ESTATE, "p": period})
        assert normalised(foreign, (NORTH_ESTATE, "<E>")) == normalised(nothing, (UNKNOWN_ESTATE, "<E>"))
        assert "is not an estate you can see" in message(foreign)
        assert journals(secure_hub) == before
    head = data(secure_hub, role, PUBLISH, {"e": made.street_estate, "p": period})["publishFundPeriod"]
    assert head["kind"] == f"period:{period}" and head["log"] == f"fund:{made.street_estate}"
    assert data(secure_hub, role, PUBLISH, {"e": made.street_estate, "p": period})["publishFundPeriod"] == head
    heads = data(secure_hub, role, HEADS, {"e": made.street_estate})["fundHeads"]
    assert [item["kind"] for item in heads].count(f"period:{period}") == 1


# -- public revenue --------------------------------------------------------------------------


def test_only_the_managing_firm_enters_revenue(secure_hub: SecureHub, role: Role) -> None:
    """enterRevenue and reverseRevenue: the firm role enters a cost in the committee's estate and
    reverses it; in 市北区 (another firm's) it is answered as at an estate that does not exist;
    every other role is refused; the journals read back unchanged after every refusal."""
    world, cast = secure_hub.world, secure_hub.cast
    before = journals(secure_hub)
    if role.name != "property_firm":
        for estate in (cast.estate, NORTH_ESTATE):
            assert "may not enter public revenue" in message(ask(secure_hub, role, ENTER, {"e": estate, "entries": [COST]}))
            assert "may not enter public revenue" in message(ask(secure_hub, role, REVERSE, {"e": estate, "i": 1}))
        assert journals(secure_hub) == before
        return
    for query, variables in ((ENTER, {"entries": [COST]}), (REVERSE, {"i": 1})):
        foreign = ask(secure_hub, role, query, {"e": NORTH_ESTATE, **variables})
        nothing = ask(secure_hub, role, query, {"e": UNKNOWN_ESTATE, **variables})
        assert normalised(foreign, (NORTH_ESTATE, "<E>")) == normalised(nothing, (UNKNOWN_ESTATE, "<E>"))
        assert "is not an estate you manage" in message(foreign)
    assert journals(secure_hub) == before
    [entered] = data(secure_hub, role, ENTER, {"e": cast.estate, "entries": [COST]})["enterRevenue"]
    assert (entered["kind"], entered["by"], entered["status"]) == ("COST", cast.firm, "UNCONFIRMED")
    journal = world.revenue[cast.estate]
    journal.append(WorldRevenue(entered["index"], "cost", cast.firm, COST_FEN, "unconfirmed"))
    reversal = data(secure_hub, role, REVERSE, {"e": cast.estate, "i": entered["index"]})["reverseRevenue"]
    assert (reversal["target"], reversal["amountFen"]) == (entered["index"], -COST_FEN)
    journal[-1].status = "reversed"
    journal.append(WorldRevenue(reversal["index"], "reversal", cast.firm, -COST_FEN, "unconfirmed"))
    # the firm role's scope holds the committee's estate only among the world's books: 市北区's firm is another
    assert NORTH_FIRM != cast.firm


def test_only_the_committee_confirms_or_disputes_revenue(secure_hub: SecureHub, role: Role) -> None:
    """confirmRevenue and objectRevenue: the committee disputes an unconfirmed entry of its estate
    and may not decide it twice; in 市北区 it is answered as at an estate that does not exist;
    every other role is refused; nothing changes after a refusal."""
    world, cast = secure_hub.world, secure_hub.cast
    before = journals(secure_hub)
    waiting = next(entry for entry in world.revenue[NORTH_ESTATE] if entry.status == "unconfirmed")
    if role.name != "committee":
        for estate, index in ((cast.estate, 0), (NORTH_ESTATE, waiting.index)):
            for query in (CONFIRM, OBJECT):
                body = ask(secure_hub, role, query, {"e": estate, "i": index})
                assert "may not confirm or dispute public revenue" in message(body), body
        assert journals(secure_hub) == before
        return
    for query in (CONFIRM, OBJECT):
        foreign = ask(secure_hub, role, query, {"e": NORTH_ESTATE, "i": waiting.index})
        nothing = ask(secure_hub, role, query, {"e": UNKNOWN_ESTATE, "i": waiting.index})
        assert normalised(foreign, (NORTH_ESTATE, "<E>")) == normalised(nothing, (UNKNOWN_ESTATE, "<E>"))
        assert "is not your committee's estate" in message(foreign)
    assert journals(secure_hub) == before
    journal = world.revenue[cast.estate]
    target = next(entry for entry in journal if entry.status == "unconfirmed" and entry.kind != "reversal")
    objected = data(secure_hub, role, OBJECT, {"e": cast.estate, "i": target.index})["objectRevenue"]
    assert objected["status"] == "OBJECTED"
    target.status = "objected"
    journal.append(WorldRevenue(objected["decision"], "objection", "committee", None, None))
    after = journals(secure_hub)
    assert "decided" in message(ask(secure_hub, role, CONFIRM, {"e": cast.estate, "i": target.index}))
    assert journals(secure_hub) == after


# -- the stats and the map -------------------------------------------------------------------

STATS = "query($s: String!, $g: Level!) { stats(scope: $s, groupBy: $g) { place { code } funds { place accounts balanceFen lowAccounts revenueFen } } }"
GEO = "query($s: String!, $l: Level!) { geo(scope: $s, level: $l) }"


def test_stats_funds_and_geo_properties_inside_scope(secure_hub: SecureHub, role: Role) -> None:
    """`stats { funds }` and the geo properties fundBalance / fundLowAccounts: each row of the
    role's places with the world's sums (null on the map where no house has an account); a
    foreign scope answers as one that does not exist."""
    world, cast = secure_hub.world, secure_hub.cast
    if role.name == "owner":
        asks = [(cast.house, Level.HOUSE)]
    else:
        top = root(role)
        level = world.places[top].level
        asks = [(top, level if level >= Level.ESTATE else Level.ESTATE)]
    for scope, level in asks:
        rows = data(secure_hub, role, STATS, {"s": scope, "g": level.name})["stats"]
        assert rows if role.places else rows == [], (role.name, scope)  # the staff role: no place, no row
        for row in rows:
            code = row["place"]["code"]
            accounts, balance, low = balance_under(secure_hub, code)
            assert row["funds"] is not None and row["funds"]["place"] == code
            assert (row["funds"]["accounts"], row["funds"]["balanceFen"], row["funds"]["lowAccounts"]) == (accounts, balance, low), (role.name, code)
    if role.name != "owner":
        top = root(role)
        level = world.places[top].level
        shape_level = Level.ESTATE if level <= Level.ESTATE else level
        features = data(secure_hub, role, GEO, {"s": top, "l": shape_level.name})["geo"]["features"]
        for feature in features:
            code = feature["id"]
            assert code in role.places
            accounts, balance, low = balance_under(secure_hub, code)
            expected = (balance, low) if accounts else (None, None)
            assert (feature["properties"]["fundBalance"], feature["properties"]["fundLowAccounts"]) == expected, (role.name, code)
        if role.name in ("admin", "city", "district", "street", "community", "committee"):
            assert any(feature["id"] == cast.estate for feature in features) or shape_level > Level.ESTATE
    if NORTH_ESTATE not in role.places:
        for query, variables in ((STATS, {"g": "ESTATE"}), (GEO, {"l": "ESTATE"})):
            foreign = ask(secure_hub, role, query, {"s": NORTH_ESTATE, **variables})
            nothing = ask(secure_hub, role, query, {"s": "370203005001E099", **variables})
            assert normalised(foreign, (NORTH_ESTATE, "<E>")) == normalised(nothing, ("370203005001E099", "<E>")), (role.name, foreign)
    # a place above the scope: its funds are not summed for the role
    for code in sorted(role.above_scope(world))[-1:]:
        stats = ask(secure_hub, role, STATS, {"s": code, "g": world.places[code].level.name})
        found = stats.get("data") or {}
        assert not found.get("stats"), (role.name, code, stats)


def test_an_owner_proves_only_its_own_entries(secure_hub: SecureHub) -> None:
    """An owner asks its own account for the proof of an entry of a neighbour's account (whose
    index the city reads): refused naming only its own house, the neighbour's entry not shown."""
    cast, made = secure_hub.cast, books(secure_hub)
    neighbour = next(house for house in sorted(secure_hub.world.houses_under(made.entrance)) if house != cast.house)
    index = data(secure_hub, "city", ACCOUNT, {"h": neighbour})["fundAccount"]["lastIndex"]
    query = "query($h: String!, $i: Int!) { fundAccount(house: $h) { house proof(index: $i) { index payload } } }"
    body = ask(secure_hub, "owner", query, {"h": cast.house, "i": index})
    assert f"is not an entry of house {cast.house}'s account" in message(body), body
    assert neighbour not in json.dumps(body)
    own = data(secure_hub, "owner", ACCOUNT, {"h": cast.house})["fundAccount"]["lastIndex"]
    assert data(secure_hub, "owner", query, {"h": cast.house, "i": own})["fundAccount"]["proof"]["index"] == own


UNKNOWN_VOTE = "TP20991231999999"


@pytest.mark.parametrize("name", ["committee", "street"])
def test_a_vote_the_actor_may_not_read_authorises_nothing_and_tells_nothing(secure_hub: SecureHub, name: str) -> None:
    """raiseRepairProject in the actor's own estate naming as its authority a vote the actor may
    not read (the closed vote of another street's estate, the noticed one of 市北区) answers as
    naming a vote that does not exist, and records nothing."""
    world, cast = secure_hub.world, secure_hub.cast
    polls = cast.polls
    assert polls is not None
    role = secure_hub.roles[name]
    project = {"id": f"SEC-WX-VOTE-{name.upper()}", "part": cast.estate, "title": "安全测试：借用他人表决", "budgetFen": 10_000, "authority": "VOTE"}
    before = journals(secure_hub)
    nothing = ask(secure_hub, role, RAISE, {"p": {**project, "authorityRef": UNKNOWN_VOTE}})
    assert "names no vote" in message(nothing)
    for vote in (polls.closed_vote, polls.noticed_vote):
        assert not role.may_read_vote(world, vote)
        body = ask(secure_hub, role, RAISE, {"p": {**project, "authorityRef": vote}})
        assert normalised(body, (vote, "<V>")) == normalised(nothing, (UNKNOWN_VOTE, "<V>")), (name, body)
    assert journals(secure_hub) == before


def test_a_project_names_only_a_case_of_the_actors_scope(secure_hub: SecureHub) -> None:
    """raiseRepairProject naming as its case one the actor may not see (a case of 市北区) is
    refused as naming a case that does not exist, nothing recorded."""
    from tests.security.conftest import CASE_NORTH_ESTATE, UNKNOWN_CASE

    cast = secure_hub.cast
    project = {
        "id": "SEC-WX-CASE", "part": cast.estate, "title": "安全测试：他处工单", "budgetFen": 10_000,
        "authority": "EMERGENCY", "authorityRef": "井盖破损", "emergency": "STRUCTURE",
    }
    committee = secure_hub.roles["committee"]
    assert not committee.may_see_case(secure_hub.world, CASE_NORTH_ESTATE)
    before = journals(secure_hub)
    try:
        nothing = ask(secure_hub, committee, RAISE, {"p": {**project, "caseId": UNKNOWN_CASE}})
        foreign = ask(secure_hub, committee, RAISE, {"p": {**project, "id": "SEC-WX-CASE2", "caseId": CASE_NORTH_ESTATE}})
        assert nothing.get("errors") and foreign.get("errors"), (nothing, foreign)
        assert normalised(foreign, (CASE_NORTH_ESTATE, "<C>"), ("SEC-WX-CASE2", "SEC-WX-CASE")) == normalised(nothing, (UNKNOWN_CASE, "<C>"))
        assert journals(secure_hub) == before
    finally:  # taken anyway: cancel them so the rest of the suite's world stays as it knows it
        for key in ("SEC-WX-CASE", "SEC-WX-CASE2"):
            found = secure_hub.run(secure_hub.store.projects([key], Scope.everything()))[0]
            if found is not None and found.status.value == "approved":
                data(secure_hub, "admin", CANCEL, {"id": key})
            if found is not None:
                secure_hub.world.projects[key] = WorldProject(key, cast.estate, cast.estate, "cancelled")
