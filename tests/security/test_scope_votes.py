"""Owners' votes stay with their readers, by every root field, mutation and subscription.

The world (tests/security/conftest.py, `votes_and_committees`) holds three votes made through the
vote service: one open in the committee's estate (the owner role has cast its jointly held house,
three other houses have cast, one house is delegated to the 市北区 owner), one closed with its
result in an estate of another street of 市南区, and one noticed as the first owners' meeting of the
市北区 estate; a committee in office (and a former one) in the committee's estate; first-meeting
steps in an estate of the street outside the community and in the 市北区 estate.

Who may read a vote is worked out from the world (`Role.may_read_vote`): the admin, the offices
and committee whose scope holds its place, the owners holding a house of its area today or on its
record date and its registered delegates; never a property firm. The leak walker knows vote ids,
so every answer here is also a probe; an owner (or a delegate) is shown the places of the votes it
reads and of the estates it holds a house in, and nothing else above its houses.

A vote a caller may not read must answer exactly as a vote that does not exist: the whole answer
(data and errors) is compared after the id is replaced by a stand-in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any


from graph.events import Event, Topic
from graph.levels import Level
from graph.scope import Scope
from tests.security.conftest import (
    CITY,
    DISTRICT,
    NORTH_ESTATE,
    NORTH_HOUSES,
    NORTH_OWNER,
    SHARED_OWNER,
    STREET,
    Polls,
    SecureHub,
    make_role,
)
from tests.security.world import Role, WorldVote, cursor_of, leaks
from tests.wsclient import live

UNKNOWN_VOTE = "TP20991231999999"
UNKNOWN_ESTATE = "370202001099E099"
UNKNOWN_HOUSE = "370202001001GB99999F00010001"
HEX64 = re.compile(r"[0-9a-f]{64}")
ORGANISERS = frozenset({"admin", "street", "community", "committee"})
ADMINISTRATIONS = frozenset({"admin", "city", "district", "street", "community"})
STEP_RECORDERS = frozenset({"admin", "street", "community"})

VOTE_FIELDS = """
  id title placeCode placeName estateCode status recordDate noticeAt opensAt closesAt openedAt closedAt firstMeeting
  organiser { role name capacity }
  documents { title text ref }
  items { number klass classLabel form title text seats takesEffect rule candidates { id name firmCode } }
  electorate { houses heads areaCentiM2 area }
  turnout { item houses heads areaCentiM2 }
  result { ballots items { number klass form title rule quorum passed elected tied openSeats
    participation { houses heads areaCentiM2 area }
    choices { choice tally { houses heads areaCentiM2 area } }
    candidates { id name carried elected tally { houses heads areaCentiM2 area } } } }
  heads { log size root at kind signature publicKey signedText }
  myHouses { houseCode areaCentiM2 area viaProxy castBy canCast choices { item choice candidates } }
"""
COMMITTEE_FIELDS = "id estateCode termStart termEnd electedBy filedOn members { ownerId post }"
STEP_FIELDS = "estateCode kind at actor role detail"


def polls(secure_hub: SecureHub) -> Polls:
    assert secure_hub.cast.polls is not None
    return secure_hub.cast.polls


def seen_through(secure_hub: SecureHub, role: Role, owners: frozenset[str] = frozenset()) -> Role:
    """The role as the leak walker judges vote answers: an owner is also shown the places of the
    votes it reads, the houses it is the registered proxy of and the estates it holds a house in
    (a vote names its place and estate, myHouses the houses it casts, a committee its estate);
    `owners` adds owner ids the caller itself gave (a proxy's delegate)."""
    world = secure_hub.world
    extra: set[str] = set()
    if role.name == "owner":
        for key, vote in world.votes.items():
            if role.may_read_vote(world, key):
                extra |= {vote.place, vote.estate}
                extra |= {house for house, delegate in vote.delegates.items() if delegate == role.self_owner}
        assert role.self_owner is not None
        extra |= {estate_of(secure_hub, house) for house in world.holdings(role.self_owner)}
    return replace(role, places=role.places | extra, owners=role.owners | owners)


def estate_of(secure_hub: SecureHub, code: str) -> str:
    world = secure_hub.world
    return next(item for item in [*world.lineage(code), code] if world.places[item].level == Level.ESTATE)


def ask(
    secure_hub: SecureHub, role: Role | str, query: str, variables: dict[str, Any] | None = None,
    owners: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The JSON body of a query sent as `role`, after the leak walker found nothing in its data."""
    who = secure_hub.roles[role] if isinstance(role, str) else role
    response = secure_hub.request(who.token, query, variables)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    problems = leaks(secure_hub.world, seen_through(secure_hub, who, owners), body.get("data"))
    assert not problems, "\n".join(problems[:20])
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


def readable(secure_hub: SecureHub, role: Role) -> set[str]:
    return {key for key in secure_hub.world.votes if role.may_read_vote(secure_hub.world, key)}


def root(role: Role) -> str:
    return CITY if role.name == "admin" or not role.roots else sorted(role.roots)[0]  # the staff role: no root of its own


def under(secure_hub: SecureHub, vote_id: str, place: str) -> bool:
    return secure_hub.world.votes[vote_id].place in secure_hub.world.subtree(place)


async def extra_role(
    secure_hub: SecureHub, name: str, scope: str, roots: frozenset[str], whole: bool, self_owner: str | None = None
) -> Role:
    return await make_role(secure_hub.store, secure_hub.keys, secure_hub.world, name, scope, roots, whole, self_owner)


def owner_role(secure_hub: SecureHub, owner: str) -> Role:
    """An owner token for `owner` (scoped to the houses it holds today)."""
    world = secure_hub.world
    return secure_hub.run(extra_role(secure_hub, "owner", owner, frozenset(world.holdings(owner)), False, owner))


def street_b(secure_hub: SecureHub) -> Role:
    """A token of the other street's office: the closed vote's organiser."""
    other = polls(secure_hub).other_street
    return secure_hub.run(extra_role(secure_hub, "street", other, frozenset({other}), True))


# -- the world -------------------------------------------------------------------------------


def test_the_world_holds_votes_for_every_ring(secure_hub: SecureHub) -> None:
    """Controls: without them the probes below would pass on a hub that shows no votes."""
    world, roles, cast, made = secure_hub.world, secure_hub.roles, secure_hub.cast, polls(secure_hub)
    suite = {made.open_vote, made.closed_vote, made.noticed_vote}
    assert readable(secure_hub, roles["admin"]) >= suite and readable(secure_hub, roles["city"]) >= suite
    assert {made.open_vote, made.closed_vote} <= readable(secure_hub, roles["district"]) and made.noticed_vote not in readable(secure_hub, roles["district"])
    for name in ("street", "community", "committee", "owner"):
        assert made.open_vote in readable(secure_hub, roles[name]), name
        assert made.closed_vote not in readable(secure_hub, roles[name]), name
    assert readable(secure_hub, roles["property_firm"]) == set()
    assert world.votes[made.open_vote].place == cast.estate in roles["property_firm"].places
    assert made.other_street != STREET and world.votes[made.closed_vote].place in world.subtree(DISTRICT)
    assert world.votes[made.open_vote].ballots[cast.house][0] == cast.owner
    assert len(world.electorate(made.open_vote)[cast.house]) >= 2, "the owner role's house is held jointly"
    assert world.votes[made.open_vote].delegates == {made.delegated: NORTH_OWNER}
    assert not world.holdings(NORTH_OWNER) & world.houses_under(cast.estate)


def test_the_leak_walker_catches_votes(secure_hub: SecureHub) -> None:
    world, roles, made = secure_hub.world, secure_hub.roles, polls(secure_hub)
    street = roles["street"]
    assert leaks(world, street, {"vote": {"id": made.closed_vote}})
    assert leaks(world, street, {"edges": [{"cursor": cursor_of(made.closed_vote)}]})
    assert leaks(world, roles["property_firm"], {"id": made.open_vote})
    assert leaks(world, roles["owner"], {"id": made.closed_vote})
    assert not leaks(world, street, {"vote": {"id": made.open_vote}, "cursor": cursor_of(made.open_vote)})
    # an owner is shown its votes' places, and no other place above its houses
    owner = seen_through(secure_hub, roles["owner"])
    assert not leaks(world, owner, {"placeCode": secure_hub.cast.estate})
    assert leaks(world, owner, {"placeCode": made.other_estate})
    assert leaks(world, owner, {"code": world.places[secure_hub.cast.estate].parent_code})


# -- reading one vote ------------------------------------------------------------------------

BY_ID = {
    "vote": "query($v: ID!) { vote(id: $v) { %s } }" % VOTE_FIELDS,
    "bulletin": "query($v: ID!) { bulletin(vote: $v, first: 100) { index payload leafHash at } }",
    "bulletinAfter": 'query($v: ID!) { bulletin(vote: $v, first: 5, after: "0") { index } }',
    "inclusionProof": "query($v: ID!) { inclusionProof(vote: $v, index: 0) { index size leafHash path root } }",
    "consistencyProof": "query($v: ID!) { consistencyProof(vote: $v, fromSize: 1) { fromSize toSize path fromRoot toRoot } }",
}


def test_a_vote_outside_the_readers_answers_as_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    """vote, bulletin, inclusionProof and consistencyProof: for a vote the role may not read the
    whole answer is the one for an id that names nothing; for one it reads, the vote itself."""
    world, made = secure_hub.world, polls(secure_hub)
    for name, query in BY_ID.items():
        unknown = ask(secure_hub, role, query, {"v": UNKNOWN_VOTE})
        if name == "vote":
            assert unknown == {"data": {"vote": None}}
        else:
            assert "is not a vote you can see" in message(unknown), unknown
        for key in (made.open_vote, made.closed_vote, made.noticed_vote):
            body = ask(secure_hub, role, query, {"v": key})
            if role.may_read_vote(world, key):
                if name == "vote":
                    assert body["data"]["vote"]["id"] == key
                elif key != made.noticed_vote:  # the noticed vote's board is empty: no proofs yet
                    assert not body.get("errors"), (name, body["errors"])
            else:
                assert normalised(body, (key, "<V>")) == normalised(unknown, (UNKNOWN_VOTE, "<V>")), (role.name, name, key)


def test_a_vote_shows_its_record_and_only_the_callers_houses(secure_hub: SecureHub, role: Role) -> None:
    """What a reader is shown of each vote it reads: the suite's place and status, the electorate
    the world works out, and `myHouses` empty for every role but an owner."""
    world = secure_hub.world
    for key in sorted(readable(secure_hub, role)):
        vote = world.votes[key]
        found = data(secure_hub, role, BY_ID["vote"], {"v": key})["vote"]
        assert (found["placeCode"], found["estateCode"]) == (vote.place, vote.estate)
        assert found["status"] == vote.status.upper()
        if vote.status in ("open", "closed"):
            electorate = world.electorate(key)
            assert found["electorate"]["houses"] == len(electorate)
            assert found["electorate"]["areaCentiM2"] == sum(world.places[house].area_centi_m2 or 0 for house in electorate)
            assert found["turnout"][0]["houses"] == sum(1 for _, choices in vote.ballots.values() if 1 in choices)
        assert (found["result"] is not None) == (vote.status == "closed")
        if role.name != "owner":
            assert found["myHouses"] == []
        else:
            assert role.self_owner is not None
            expected = (
                {house for house, holders in world.electorate(key).items() if role.self_owner in holders}
                | {house for house, delegate in vote.delegates.items() if delegate == role.self_owner}
            ) if vote.status in ("open", "closed") else set()
            assert {item["houseCode"] for item in found["myHouses"]} == expected


def test_votes_list_only_the_roles_votes(secure_hub: SecureHub, role: Role) -> None:
    """`votes` over the whole scope, under the role's root, under the city, under a foreign
    estate (as under an estate that does not exist); owners use myVotes and firms read none."""
    world = secure_hub.world
    query = "query($s: String) { votes(scope: $s, first: 100) { totalCount edges { cursor node { id placeCode status } } pageInfo { endCursor } } }"
    if role.name in ("owner", "property_firm", "staff"):
        body = ask(secure_hub, role, query, {"s": None})
        assert body["data"] is None and f"the {role.name} role may not list votes" in message(body)
        return
    seen = readable(secure_hub, role)
    for scope in (None, root(role), CITY, DISTRICT):
        found = data(secure_hub, role, query, {"s": scope})["votes"]
        ids = {edge["node"]["id"] for edge in found["edges"]}
        assert ids == {key for key in seen if scope is None or under(secure_hub, key, scope)}, (role.name, scope)
        assert found["totalCount"] == len(ids)
    foreign = data(secure_hub, role, query, {"s": NORTH_ESTATE})
    nothing = data(secure_hub, role, query, {"s": "370203005001E099"})
    if NORTH_ESTATE in role.places:
        assert polls(secure_hub).noticed_vote in {edge["node"]["id"] for edge in foreign["votes"]["edges"]}
    else:
        assert foreign == nothing
    if role.name == "street":
        assert polls(secure_hub).closed_vote not in seen and world.votes[polls(secure_hub).closed_vote].place not in role.places


def test_a_street_sees_its_streets_votes_and_not_anothers(secure_hub: SecureHub) -> None:
    """The office of the other street reads the closed vote of its estate and not the open vote
    of the street role's; each answers the other's as unknown."""
    made, other, street = polls(secure_hub), street_b(secure_hub), secure_hub.roles["street"]
    query = "query($v: ID!) { vote(id: $v) { id status } votes(first: 100) { edges { node { id } } } }"
    mine = data(secure_hub, other, query, {"v": made.closed_vote})
    assert mine["vote"] == {"id": made.closed_vote, "status": "CLOSED"}
    listed = {edge["node"]["id"] for edge in mine["votes"]["edges"]}
    assert made.closed_vote in listed and made.open_vote not in listed
    assert data(secure_hub, other, query, {"v": made.open_vote})["vote"] is None
    theirs = data(secure_hub, street, query, {"v": made.closed_vote})
    assert theirs["vote"] is None and made.closed_vote not in {edge["node"]["id"] for edge in theirs["votes"]["edges"]}


def test_my_votes_are_the_owners_own(secure_hub: SecureHub, role: Role) -> None:
    query = "{ myVotes { id placeCode status myHouses { houseCode } } }"
    body = ask(secure_hub, role, query)
    if role.name != "owner":
        assert body["data"] is None and f"the {role.name} role may not list an owner's votes" in message(body)
        return
    found = [item["id"] for item in body["data"]["myVotes"]]
    assert found == sorted(found, reverse=True)
    assert set(found) == readable(secure_hub, role)


def test_an_owner_who_sold_before_the_record_date_reads_nothing(secure_hub: SecureHub) -> None:
    """An owner who held a house of the vote's area only before its record date, and holds none
    there now, is not among its readers: the vote answers as unknown and myVotes leaves it out."""
    for owner, key in polls(secure_hub).past_owners:
        assert owner not in secure_hub.world.vote_owners(key)
        former = owner_role(secure_hub, owner)
        answer = data(secure_hub, former, "query($v: ID!) { vote(id: $v) { id } myVotes { id } }", {"v": key})
        assert answer["vote"] is None, (owner, key)
        assert key not in {item["id"] for item in answer["myVotes"]}


def test_a_delegate_from_outside_the_area_reads_and_casts_its_house(secure_hub: SecureHub) -> None:
    """The 市北区 owner, registered as the proxy of one house of the open vote, finds the vote
    among its votes (myVotes) beside its own estate's, reads it, sees that one house (via proxy)
    and nothing of the others, and casts it."""
    made, world = polls(secure_hub), secure_hub.world
    delegate = owner_role(secure_hub, NORTH_OWNER)
    area, record_date = world.subtree(world.votes[made.open_vote].place), world.votes[made.open_vote].record_date
    assert not (world.holdings(NORTH_OWNER) | world.holdings(NORTH_OWNER, record_date)) & area, "it holds nothing there"
    mine = data(secure_hub, delegate, "{ myVotes { id status myHouses { houseCode viaProxy } } }")["myVotes"]
    assert [item["id"] for item in mine] == sorted(readable(secure_hub, delegate), reverse=True)
    assert made.noticed_vote in {item["id"] for item in mine}, "its own estate's vote stays listed"
    assert [item for item in mine if item["id"] == made.open_vote] == [
        {"id": made.open_vote, "status": "OPEN", "myHouses": [{"houseCode": made.delegated, "viaProxy": True}]}
    ], "a registered delegate lists the vote it casts in"
    found = data(secure_hub, delegate, "query($v: ID!) { vote(id: $v) { id myHouses { houseCode viaProxy castBy canCast choices { item } } } }", {"v": made.open_vote})
    assert found["vote"] is not None, "a registered delegate reads the vote it casts in"
    [house] = found["vote"]["myHouses"]
    assert (house["houseCode"], house["viaProxy"], house["canCast"]) == (made.delegated, True, True)
    cast = ask(
        secure_hub, delegate,
        'mutation($v: ID!, $h: String!) { castBallot(vote: $v, house: $h, choices: [{item: 1, choice: "abstain"}]) { houseCode entries { item } } }',
        {"v": made.open_vote, "h": made.delegated},
    )
    assert not cast.get("errors"), cast["errors"]
    assert cast["data"]["castBallot"] == {"houseCode": made.delegated, "entries": [{"item": 1}]}
    world.votes[made.open_vote].ballots[made.delegated] = (NORTH_OWNER, {1: "abstain"})
    # the house's own holders see it delegated away: no choices, no casting
    holders = sorted(world.electorate(made.open_vote)[made.delegated])
    grantor = owner_role(secure_hub, holders[0])
    mine = data(secure_hub, grantor, "query($v: ID!) { vote(id: $v) { myHouses { houseCode canCast choices { item } } } }", {"v": made.open_vote})
    assert {"houseCode": made.delegated, "canCast": False, "choices": []} in mine["vote"]["myHouses"]


# -- the bulletin board and the owner's choices ---------------------------------------------


def _people_of(secure_hub: SecureHub, key: str) -> set[str]:
    """Every owner id, name and ID number of the vote's area, and its house codes."""
    world = secure_hub.world
    vote = world.votes[key]
    houses = world.houses_under(vote.place)
    owners = {item.owner_id for house in houses for item in world.by_house.get(house, [])} | set(vote.delegates.values())
    found = set(houses) | owners
    for owner in owners:
        found |= {world.owners[owner].name, world.owners[owner].id_number}
    return {item for item in found if item and len(item) >= 2}


def test_bulletin_entries_carry_tags_never_people_or_houses(secure_hub: SecureHub, role: Role) -> None:
    """Every entry of the open and closed boards a role reads: canonical JSON with house and voter
    tags (64 hex digits) and no owner id, name, ID number or house code anywhere in it."""
    world, made = secure_hub.world, polls(secure_hub)
    checked = 0
    for key in (made.open_vote, made.closed_vote):
        if not role.may_read_vote(world, key):
            continue
        entries = data(secure_hub, role, BY_ID["bulletin"], {"v": key})["bulletin"]
        assert len(entries) >= sum(len(choices) for _, choices in world.votes[key].ballots.values())
        assert [entry["index"] for entry in entries] == list(range(len(entries)))
        people = _people_of(secure_hub, key)
        for entry in entries:
            payload = json.loads(entry["payload"])
            assert HEX64.fullmatch(payload["house"]) and HEX64.fullmatch(payload["voter"]), payload
            found = [item for item in people if item in entry["payload"]]
            assert not found, (key, entry["index"], found)
            checked += 1
    assert checked or not readable(secure_hub, role) & {made.open_vote, made.closed_vote}


def test_an_owner_never_sees_another_owners_choices(secure_hub: SecureHub) -> None:
    """The owner role sees its own choices on its houses; its co-owner sees the house cast by a
    co-owner, locked, and not what was chosen; an owner of another house sees only its own."""
    world, cast, made = secure_hub.world, secure_hub.cast, polls(secure_hub)
    query = "query($v: ID!) { vote(id: $v) { myHouses { houseCode castBy canCast viaProxy choices { item choice candidates } } } }"
    mine = {item["houseCode"]: item for item in data(secure_hub, "owner", query, {"v": made.open_vote})["vote"]["myHouses"]}
    assert mine[cast.house]["castBy"] == "you" and mine[cast.house]["canCast"]
    owner, choices = world.votes[made.open_vote].ballots[cast.house]
    assert owner == cast.owner
    assert {item["item"] for item in mine[cast.house]["choices"]} == set(choices)
    co_owner = owner_role(secure_hub, cast.co_owner)
    theirs = {item["houseCode"]: item for item in data(secure_hub, co_owner, query, {"v": made.open_vote})["vote"]["myHouses"]}
    assert theirs[cast.house] == {"houseCode": cast.house, "castBy": "co-owner", "canCast": False, "viaProxy": False, "choices": []}
    house = made.voters[1]
    voter, choices = world.votes[made.open_vote].ballots[house]
    other = owner_role(secure_hub, voter)
    shown = {item["houseCode"]: item for item in data(secure_hub, other, query, {"v": made.open_vote})["vote"]["myHouses"]}
    assert cast.house not in shown and shown[house]["castBy"] == "you"
    assert [item["choice"] for item in shown[house]["choices"]] == [choices[1]]
    assert set(shown) <= world.holdings(voter, world.votes[made.open_vote].record_date) | set(world.votes[made.open_vote].delegates)


# -- casting ---------------------------------------------------------------------------------

CAST = "mutation($v: ID!, $h: String!, $c: [ChoiceInput!]!) { castBallot(vote: $v, house: $h, choices: $c) { vote houseCode entries { item index leafHash payload } head { size kind } } }"


def test_only_owners_cast(secure_hub: SecureHub, role: Role) -> None:
    """A committee, firm or office token cannot cast, whatever vote it names (the refusal is the
    same for the open vote, a foreign one and an unknown id); the owner casts its own house."""
    cast, made = secure_hub.cast, polls(secure_hub)
    choices = [{"item": 1, "choice": "for"}, {"item": 2, "candidates": ["1"]}]
    if role.name != "owner":
        refusals = set()
        for key in (made.open_vote, made.closed_vote, UNKNOWN_VOTE):
            body = ask(secure_hub, role, CAST, {"v": key, "h": cast.house, "c": choices})
            assert body["data"] is None
            refusals.add(normalised(body, (key, "<V>")))
        assert len(refusals) == 1, refusals
        assert f"the {role.name} role may not cast ballots; only owners do" in refusals.pop()
        return
    done = ask(secure_hub, role, CAST, {"v": made.open_vote, "h": cast.house, "c": choices})
    assert not done.get("errors"), done["errors"]
    receipt = done["data"]["castBallot"]
    assert receipt["houseCode"] == cast.house and [entry["item"] for entry in receipt["entries"]] == [1, 2]
    assert all(receipt["head"]["size"] > entry["index"] for entry in receipt["entries"])
    secure_hub.world.votes[made.open_vote].ballots[cast.house] = (cast.owner, {1: "for", 2: ("1",)})
    # a vote it may not read answers as an unknown one; a house it never held as a house that does not exist
    foreign = ask(secure_hub, role, CAST, {"v": made.closed_vote, "h": cast.house, "c": choices})
    unknown = ask(secure_hub, role, CAST, {"v": UNKNOWN_VOTE, "h": cast.house, "c": choices})
    assert normalised(foreign, (made.closed_vote, "<V>")) == normalised(unknown, (UNKNOWN_VOTE, "<V>"))
    answers = set()
    for house in (NORTH_HOUSES[0], made.voters[1], made.delegated, UNKNOWN_HOUSE):
        body = ask(secure_hub, role, CAST, {"v": made.open_vote, "h": house, "c": [{"item": 1, "choice": "for"}]})
        assert body["data"] is None
        answers.add(normalised(body, (house, "<H>")))
    assert len(answers) == 1, answers


# -- organising, closing, cancelling, proxies -------------------------------------------------

ORGANISE = """mutation($i: OrganiseVoteInput!) { organiseVote(input: $i) { id placeCode status organiser { role capacity } } }"""
CLOSE = "mutation($v: ID!) { closeVote(id: $v) { id status } }"
CANCEL = "mutation($v: ID!) { cancelVote(id: $v) { id status } }"
PROXY = "mutation($v: ID!, $h: String!, $d: String!) { registerProxy(vote: $v, house: $h, delegate: $d, reference: \"委托书 SEC\") { vote houseCode delegate } }"


def _organise_input(place: str) -> dict[str, Any]:
    opens = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=2)
    return {
        "place": place,
        "title": "安全测试：临时表决",
        "recordDate": (opens + dt.timedelta(hours=8)).date().isoformat(),
        "opensAt": opens.isoformat(),
        "closesAt": (opens + dt.timedelta(days=7)).isoformat(),
        "items": [{"klass": 9, "form": "MOTION", "title": "安全测试事项"}],
    }


def test_organise_vote_reaches_only_the_roles_estates(secure_hub: SecureHub, role: Role) -> None:
    """Organisers (committee, street, community, admin) organise inside their scope, refused
    for a foreign estate exactly as for one that does not exist; the organiser alone cancels what
    it organised (a reader who did not organise it is refused). Other roles may not organise."""
    world, cast = secure_hub.world, secure_hub.cast
    if role.name not in ORGANISERS:
        for place in (cast.estate, NORTH_ESTATE, UNKNOWN_ESTATE):
            body = ask(secure_hub, role, ORGANISE, {"i": _organise_input(place)})
            assert f"the {role.name} role may not organise votes" in message(body), body
        return
    if NORTH_ESTATE not in role.places:
        foreign = ask(secure_hub, role, ORGANISE, {"i": _organise_input(NORTH_ESTATE)})
        unknown = ask(secure_hub, role, ORGANISE, {"i": _organise_input(UNKNOWN_ESTATE)})
        assert "is not a place you can see" in message(foreign)
        assert normalised(foreign, (NORTH_ESTATE, "<E>")) == normalised(unknown, (UNKNOWN_ESTATE, "<E>"))
    place = cast.estate if role.name in ("committee", "community", "admin") else polls(secure_hub).meeting_estate
    done = ask(secure_hub, role, ORGANISE, {"i": _organise_input(place)})
    assert not done.get("errors"), done["errors"]
    made = done["data"]["organiseVote"]
    assert made["placeCode"] == place and made["status"] == "NOTICED" and made["organiser"]["role"] == role.name
    world.votes[made["id"]] = WorldVote(made["id"], place, estate_of(secure_hub, place), dt.date.today(), "noticed", (role.name, role.scope))
    # a reader that did not organise it may not cancel it; the organiser may
    other = next(name for name in ("city", "admin") if name != role.name)
    refused = ask(secure_hub, other, CANCEL, {"v": made["id"]})
    assert "only the vote's organiser" in message(refused), refused
    cancelled = ask(secure_hub, role, CANCEL, {"v": made["id"]})
    assert not cancelled.get("errors"), cancelled["errors"]
    assert cancelled["data"]["cancelVote"] == {"id": made["id"], "status": "CANCELLED"}
    world.votes[made["id"]].status = "cancelled"


def test_only_the_organiser_closes_cancels_and_registers_proxies(secure_hub: SecureHub, role: Role) -> None:
    """closeVote, cancelVote and registerProxy on the open vote (organised by the committee) and
    the closed one (by the other street): a vote the role may not read answers as unknown; a
    reader that is not the organiser is refused; the organiser (or the admin) reaches the rule
    of the vote itself."""
    world, made = secure_hub.world, polls(secure_hub)
    spare = made.voters[-1]  # cast already: a proxy cannot take it over
    for key in (made.open_vote, made.closed_vote, made.noticed_vote):
        vote = world.votes[key]
        organiser = role.name == "admin" or (role.name, role.scope) == vote.organiser
        for mutation, variables in ((CLOSE, {"v": key}), (CANCEL, {"v": key}), (PROXY, {"v": key, "h": spare, "d": SHARED_OWNER})):
            if mutation is CANCEL and key == made.noticed_vote and organiser:
                continue  # the admin would withdraw the suite's noticed vote
            body = ask(secure_hub, role, mutation, variables, owners=frozenset({SHARED_OWNER}))
            if not role.may_read_vote(world, key):
                unknown = ask(secure_hub, role, mutation, {**variables, "v": UNKNOWN_VOTE})
                assert normalised(body, (key, "<V>")) == normalised(unknown, (UNKNOWN_VOTE, "<V>")), (role.name, key)
                assert "is not a vote you can see" in message(body)
            elif not organiser:
                assert "only the vote's organiser" in message(body), (role.name, key, body)
            elif key == made.closed_vote and mutation is CLOSE:
                assert body["data"]["closeVote"] == {"id": key, "status": "CLOSED"}
            else:
                text = message(body)
                assert "only the vote's organiser" not in text and "not a vote you can see" not in text, text
    if role.name == "committee":
        stored = secure_hub.run(secure_hub.store.votes([made.open_vote], Scope.everything()))
        assert stored[0] is not None and stored[0].status.value == "open"


def test_the_closed_votes_organiser_acts_on_it_and_nothing_else(secure_hub: SecureHub) -> None:
    made, other = polls(secure_hub), street_b(secure_hub)
    assert data(secure_hub, other, CLOSE, {"v": made.closed_vote})["closeVote"] == {"id": made.closed_vote, "status": "CLOSED"}
    assert "is closed" in message(ask(secure_hub, other, CANCEL, {"v": made.closed_vote}))
    for mutation in (CLOSE, CANCEL):
        assert "is not a vote you can see" in message(ask(secure_hub, other, mutation, {"v": made.open_vote}))


def test_the_organiser_registers_a_proxy_and_others_may_not(secure_hub: SecureHub) -> None:
    """The committee registers a proxy on its open vote for a house not cast; the street above
    the estate reads the vote and is refused; a second proxy for the house is refused."""
    world, cast, made = secure_hub.world, secure_hub.cast, polls(secure_hub)
    electorate = world.electorate(made.open_vote)
    vote = world.votes[made.open_vote]
    free = next(
        house for house in sorted(electorate)
        if house not in vote.ballots and house not in vote.delegates and house not in (cast.house, cast.shared_house)
        and not {cast.owner, cast.co_owner} & electorate[house]
    )
    delegate = SHARED_OWNER  # an owner of the estate, not of the house (a proxy names another owner)
    refused = ask(secure_hub, "street", PROXY, {"v": made.open_vote, "h": free, "d": delegate})
    assert "only the vote's organiser" in message(refused)
    done = ask(secure_hub, "committee", PROXY, {"v": made.open_vote, "h": free, "d": delegate})
    assert not done.get("errors"), done["errors"]
    assert done["data"]["registerProxy"] == {"vote": made.open_vote, "houseCode": free, "delegate": delegate}
    vote.delegates[free] = delegate
    again = ask(secure_hub, "committee", PROXY, {"v": made.open_vote, "h": free, "d": delegate})
    assert again.get("errors") and again["data"] is None


# -- committees, first meetings, governance ----------------------------------------------------


def _sees_estate(secure_hub: SecureHub, role: Role, estate: str) -> bool:
    """Who reads an estate's committees and first meeting: the offices and committee whose scope
    holds it, the owners holding a house of it today; never a property firm."""
    if role.name == "property_firm":
        return False
    if role.name == "owner":
        assert role.self_owner is not None
        return bool(secure_hub.world.holdings(role.self_owner) & secure_hub.world.houses_under(estate))
    return estate in role.places


def test_committees_and_first_meetings_only_inside_scope(secure_hub: SecureHub, role: Role) -> None:
    world, cast, made = secure_hub.world, secure_hub.cast, polls(secure_hub)
    query = f"""query($e: String!) {{
      current: committees(estate: $e) {{ {COMMITTEE_FIELDS} }}
      all: committees(estate: $e, current: false) {{ {COMMITTEE_FIELDS} }}
      firstMeeting(estate: $e) {{ {STEP_FIELDS} }}
    }}"""
    nothing = data(secure_hub, role, query, {"e": UNKNOWN_ESTATE})
    assert nothing == {"current": [], "all": [], "firstMeeting": []}
    for estate in (cast.estate, made.meeting_estate, made.other_estate, NORTH_ESTATE):
        found = data(secure_hub, role, query, {"e": estate})
        if not _sees_estate(secure_hub, role, estate):
            assert found == nothing, (role.name, estate)
            continue
        committees = world.committees.get(estate, [])
        assert {item["id"] for item in found["current"]} == {item.id for item in committees if item.in_office(world.today)}
        assert {item["id"] for item in found["all"]} == {item.id for item in committees}
        assert [item["kind"].lower() for item in found["firstMeeting"]] == world.meeting_steps.get(estate, [])
        for item in found["all"]:
            assert item["estateCode"] == estate
            members = [member["ownerId"] for member in item["members"]]
            if role.name == "owner":
                # another owner's id is not the caller's to see; its own is
                assert all(member in (None, role.self_owner) for member in members), members
            else:
                expected = next(c for c in committees if c.id == item["id"]).members
                assert members == list(expected)
    if role.name == "owner":
        [sitting] = data(secure_hub, role, query, {"e": cast.estate})["current"]
        assert [member["ownerId"] for member in sitting["members"]] == [cast.owner, None]


def test_record_meeting_step_reaches_only_the_roles_estates(secure_hub: SecureHub, role: Role) -> None:
    world, cast, made = secure_hub.world, secure_hub.cast, polls(secure_hub)
    query = "mutation($e: String!, $k: MeetingStepKind!) { recordMeetingStep(estate: $e, kind: $k, detail: \"{}\") { estateCode kind actor } }"
    if role.name not in STEP_RECORDERS:
        body = ask(secure_hub, role, query, {"e": cast.estate, "k": "GROUP_FORMED"})
        assert f"the {role.name} role may not record first-meeting steps" in message(body)
        return
    assert "recorded by the hub itself" in message(ask(secure_hub, role, query, {"e": cast.estate, "k": "VOTE_HELD"}))
    if NORTH_ESTATE not in role.places:
        foreign = ask(secure_hub, role, query, {"e": NORTH_ESTATE, "k": "FILED"})
        unknown = ask(secure_hub, role, query, {"e": UNKNOWN_ESTATE, "k": "FILED"})
        assert "is not a place you can see" in message(foreign)
        assert normalised(foreign, (NORTH_ESTATE, "<E>")) == normalised(unknown, (UNKNOWN_ESTATE, "<E>"))
        assert world.meeting_steps[NORTH_ESTATE] == ["group_formed", "notice_given"]
    community_estates = [code for code in world.at(Level.ESTATE, world.subtree(cast.community)) if code != cast.estate]
    estate, kind = {
        "street": (made.meeting_estate, "FILED"),
        "community": ((community_estates or [cast.estate])[0], "DOCUMENTS_PUBLISHED"),
        "admin": (made.other_estate, "GROUP_FORMED"),
    }[role.name]
    done = ask(secure_hub, role, query, {"e": estate, "k": kind})
    assert not done.get("errors"), done["errors"]
    assert done["data"]["recordMeetingStep"]["estateCode"] == estate
    steps = world.meeting_steps.setdefault(estate, [])
    steps.append(kind.lower())
    order = ["group_formed", "documents_published", "notice_given", "vote_held", "committee_elected", "filed"]
    steps.sort(key=order.index)


def _expected_row(secure_hub: SecureHub, code: str) -> dict[str, Any]:
    world = secure_hub.world
    estates = [item for item in world.subtree(code) if world.places[item].level == Level.ESTATE]
    sitting = sum(1 for estate in estates if any(c.in_office(world.today) for c in world.committees.get(estate, [])))
    votes = [vote for vote in world.votes.values() if vote.place in world.subtree(code)]
    filed = sum(
        1 for estate in estates if {"group_formed", "filed"} <= set(world.meeting_steps.get(estate, []))
    )
    return {
        "code": code,
        "estates": len(estates),
        "withCommittee": sitting,
        "withoutCommittee": len(estates) - sitting,
        "votesOpen": sum(1 for vote in votes if vote.status == "open"),
        "votesClosed": sum(1 for vote in votes if vote.status == "closed"),
        "firstMeetingsFiled": filed,
    }


def test_governance_rows_only_inside_scope(secure_hub: SecureHub, role: Role) -> None:
    """Administrations get one row per place of `groupBy` they see under `scope`, counted from
    what the world holds; a foreign scope answers as an unknown one; other roles are refused."""
    world = secure_hub.world
    query = "query($s: String!, $g: Level!) { governance(scope: $s, groupBy: $g) { code name estates withCommittee withoutCommittee votesOpen votesClosed participation firstMeetingsFiled medianDaysToFiling } }"
    if role.name not in ADMINISTRATIONS:
        body = ask(secure_hub, role, query, {"s": root(role) if role.name != "owner" else CITY, "g": "ESTATE"})
        assert f"the {role.name} role may not read governance figures" in message(body)
        return
    top = root(role)
    level = world.places[top].level
    asks = [(CITY, Level.DISTRICT), (DISTRICT, Level.STREET), (top, level)]
    if level < Level.ESTATE and level.child is not None:
        asks.append((top, level.child))
    for scope, group in asks:
        rows = data(secure_hub, role, query, {"s": scope, "g": group.name})["governance"]
        seen = world.at(group, world.subtree(scope))
        expected = [code for code in seen if code in role.places]
        assert [row["code"] for row in rows] == expected, (role.name, scope, group)
        for row in rows:
            shown = {key: row[key] for key in _expected_row(secure_hub, row["code"])}
            assert shown == _expected_row(secure_hub, row["code"]), (role.name, row["code"])
    foreign = data(secure_hub, role, query, {"s": NORTH_ESTATE, "g": "ESTATE"})
    unknown = data(secure_hub, role, query, {"s": "370203005001E099", "g": "ESTATE"})
    if NORTH_ESTATE not in role.places:
        assert foreign == unknown == {"governance": []}


# -- live updates ----------------------------------------------------------------------------


async def _publish(secure_hub: SecureHub, keys: list[str]) -> None:
    assert secure_hub.bus is not None
    for key in keys:
        place = secure_hub.world.votes[key].place if key in secure_hub.world.votes else NORTH_ESTATE
        secure_hub.bus.publish(Event(Topic.VOTES, key, "participation", place))


async def _listen(secure_hub: SecureHub, role: Role, scopes: list[str], keys: list[str]) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    """What `role` hears on `voteUpdates` under each of `scopes` (a connection each, all open at
    once) when `keys` are published: the votes seen and every message, until 1.5 s pass in
    silence on that connection."""
    async with AsyncExitStack() as stack:
        subscribed = []
        for scope in scopes:
            client = await stack.enter_async_context(live(secure_hub.url))
            assert (await client.init(role.token))["type"] == "connection_ack"
            key = await client.subscribe(
                "subscription($s: String!) { voteUpdates(scope: $s) { kind vote { id placeCode estateCode status myHouses { houseCode choices { item } } } } }",
                {"s": scope},
            )
            subscribed.append((client, key))
        for _ in range(100):
            if secure_hub.bus is not None and secure_hub.bus.listeners(Topic.VOTES) >= len(scopes):
                break
            await asyncio.sleep(0.02)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_publish(secure_hub, keys), secure_hub.loop))
        heard = await asyncio.gather(*(client.quiet(1.5) for client, _ in subscribed))
    found = {}
    for scope, (_, key), messages in zip(scopes, subscribed, heard, strict=True):
        seen = [m["payload"]["data"]["voteUpdates"]["vote"]["id"] for m in messages if m.get("id") == key and m["type"] == "next"]
        found[scope] = (seen, messages)
    return found


async def test_vote_updates_reach_only_the_votes_readers(secure_hub: SecureHub, role: Role) -> None:
    made = polls(secure_hub)
    keys = [made.open_vote, made.closed_vote, made.noticed_vote, UNKNOWN_VOTE]
    scopes = {CITY, secure_hub.cast.estate if role.name == "owner" else root(role)}
    heard = await _listen(secure_hub, role, sorted(scopes), keys)
    for scope in sorted(scopes):
        seen, messages = heard[scope]
        for item in messages:
            assert item["type"] == "next", item
            assert not item["payload"].get("errors"), item
            problems = leaks(secure_hub.world, seen_through(secure_hub, role), item["payload"]["data"])
            assert not problems, problems
        expected = [key for key in keys[:3] if role.may_read_vote(secure_hub.world, key) and under(secure_hub, key, scope)]
        assert sorted(seen) == sorted(expected), (role.name, scope)
    if role.name in ("street", "owner", "committee"):
        assert made.open_vote in expected
