"""Utilities in the API over real HTTP: a house's accounts and arrears, outage notices as a
connection, houses in arrears on stats rows and map features, and what street tokens see.

The hub serves the `small` demo city (市南区) with utility records written through the store
port: a water account for each of the city's first 120 houses (every tenth owing last quarter's
bill), a power account of the first house owing two bills, six water accounts in 中山路街道
(two owing), and outage notices in 香港中路街道, in 中山路街道 and across both. Tokens are issued
for the operator and for each of the two streets.
"""

from __future__ import annotations

import datetime as dt
import functools
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from graph.ciphers.keyring import Keyring
from graph.clock import CHINA_STANDARD_TIME, today
from graph.levels import Level
from graph.model import Batch, Place, Provenance
from graph.scope import Scope
from graph import open_store
from graph.store import Store
from graph.utilities import Bill, Outage, Utility, UtilityAccount
from hub.auth.issuing import issue_token
from hub.demo import generate
from hub.loading import load
from tests.schema.counting import CountingStore, serve_counting
from tests.serving import served

DISTRICT = "370202"
STREET_A, STREET_B = "370202001", "370202005"  # 香港中路街道, 中山路街道
WATER, POWER = Utility.WATER, Utility.POWER
EVERYTHING = Scope.everything()
STARTUP_SECONDS = 600.0
CITY_HOUSES = 120
"""Houses (the city's first, by code) given a water account each."""


def _period(day: dt.date, months_back: int) -> str:
    month = day.year * 12 + day.month - 1 - months_back
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


@dataclass
class Town:
    """What the suite wrote, and what each part of it should look like through the API."""

    day: dt.date
    now: dt.datetime
    accounts: list[UtilityAccount] = field(default_factory=list)
    bills: list[Bill] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    street_of: dict[str, str] = field(default_factory=dict)
    """House code → its street code."""
    house_a: str = ""
    house_b: str = ""
    estate_a: str = ""
    estate_b: str = ""
    building_a: str = ""

    def owed(self, house: str) -> list[tuple[str, str, int, int, str]]:
        """(UTILITY, account_no, amount in fen, bills, oldest period) per account of `house` in
        arrears, by the records' own rule (`Bill.owed_on`)."""
        mine = {(a.utility, a.account_no) for a in self.accounts if a.house_code == house}
        rows = []
        for utility, number in sorted(mine, key=lambda key: (key[0].value, key[1])):
            overdue = [b for b in self.bills if (b.utility, b.account_no) == (utility, number) and b.owed_on(self.day) > 0]
            if overdue:
                amount = sum(b.owed_on(self.day) for b in overdue)
                rows.append((utility.name, number, amount, len(overdue), min(b.period for b in overdue)))
        return rows

    def in_arrears(self, street: str | None = None) -> int:
        houses = {a.house_code for a in self.accounts}
        return sum(1 for house in houses if self.owed(house) and (street is None or self.street_of[house] == street))

    def numbers_of(self, street: str) -> set[str]:
        return {a.account_no for a in self.accounts if self.street_of[a.house_code] == street}


def _source(record: str) -> Provenance:
    return Provenance("utilities-suite", record, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "utilities-suite")


async def _houses(store: Store, within: str | None, count: int) -> list[tuple[Place, dict[Level, Place]]]:
    page = await store.subtree(Level.HOUSE, within, EVERYTHING, count)
    lines = await store.ancestors([house.code for house in page.items], EVERYTHING)
    return [(house, {place.level: place for place in line}) for house, line in zip(page.items, lines)]


async def _write_town(store: Store) -> Town:
    day = today()
    now = dt.datetime.now(CHINA_STANDARD_TIME).replace(microsecond=0)
    town = Town(day=day, now=now)
    overdue, current = day - dt.timedelta(days=60), day + dt.timedelta(days=10)

    def bill(utility: Utility, number: str, months_back: int, amount: int, paid: int, due: dt.date) -> None:
        """A bill `months_back` months ago, its money in whole fen."""
        town.bills.append(Bill(utility, number, _period(day, months_back), amount, paid, due, _source(number)))

    city = await _houses(store, None, CITY_HOUSES)
    for index, (house, line) in enumerate(city):
        town.street_of[house.code] = line[Level.STREET].code
        number = f"SW{index:08d}"
        town.accounts.append(UtilityAccount(WATER, number, house.code, _source(number)))
        bill(WATER, number, 2, 5000, 0 if index % 10 == 3 else 5000, overdue)
        bill(WATER, number, 1, 4200, 0, current)  # not due yet: never arrears
    first, first_line = city[0]
    town.house_a, town.estate_a, town.building_a = first.code, first_line[Level.ESTATE].code, first_line[Level.BUILDING].code
    town.accounts.append(UtilityAccount(POWER, "GD00000001", first.code, _source("GD00000001")))
    bill(POWER, "GD00000001", 4, 12050, 2050, day - dt.timedelta(days=90))
    bill(POWER, "GD00000001", 2, 8025, 0, overdue)
    bill(POWER, "GD00000001", 3, 9900, 9900, day - dt.timedelta(days=75))
    assert town.street_of[first.code] == STREET_A, "the city's first house is expected in 香港中路街道"

    other = await _houses(store, STREET_B, 6)
    for index, (house, line) in enumerate(other):
        town.street_of[house.code] = line[Level.STREET].code
        number = f"SWB{index:07d}"
        town.accounts.append(UtilityAccount(WATER, number, house.code, _source(number)))
        bill(WATER, number, 2, 6130, 0 if index in (1, 4) else 6130, overdue)
    town.house_b, town.estate_b = other[1][0].code, other[1][1][Level.ESTATE].code

    hour = dt.timedelta(hours=1)

    def notice(utility: Utility, number: str, places: tuple[str, ...], starts: dt.datetime, ends: dt.datetime | None, planned: bool = True) -> None:
        town.outages.append(Outage(utility, number, places, starts, ends, "供水管网维修" if utility is WATER else "线路检修", planned, _source(number)))

    notice(WATER, "SW-A-NOW", (town.estate_a,), now - hour, now + 5 * hour)
    notice(WATER, "SW-AB-NOW", (town.estate_a, town.estate_b), now - 2 * hour, None, planned=False)
    notice(POWER, "GD-A-PAST", (town.building_a,), now - 30 * hour, now - 26 * hour)
    notice(WATER, "SW-B-SOON", (town.estate_b,), now + 24 * hour, now + 30 * hour)
    for index in range(5):
        start = now - dt.timedelta(days=3 + index)
        notice(WATER, f"SW-A-OLD-{index}", (town.estate_a,), start, start + 4 * hour)
    await store.write(Batch(accounts=town.accounts, bills=town.bills, outages=town.outages))
    return town


@dataclass
class UtilityHub:
    url: str
    client: httpx.Client
    store: CountingStore
    town: Town
    tokens: dict[str, str]
    server: uvicorn.Server | None = field(default=None, repr=False)

    def response(self, who: str, query: str, **variables: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.tokens[who]}"}
        response = self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        assert response.status_code == 200, response.text
        return response

    def data(self, who: str, query: str, **variables: Any) -> dict[str, Any]:
        body = self.response(who, query, **variables).json()
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def errors(self, who: str, query: str, **variables: Any) -> list[dict[str, Any]]:
        body = self.response(who, query, **variables).json()
        assert body.get("errors"), body
        errors: list[dict[str, Any]] = body["errors"]
        return errors


async def _main(url: str, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(url, sealer=keys.sealer())
    await load(store, generate("small", seed=7), progress=False)
    town = await _write_town(store)
    tokens = {
        "admin": await issue_token(store, keys, "admin", "*", "utilities suite", dt.timedelta(days=1)),
        "street_a": await issue_token(store, keys, "street", STREET_A, "utilities suite 香港中路", dt.timedelta(days=1)),
        "street_b": await issue_token(store, keys, "street", STREET_B, "utilities suite 中山路", dt.timedelta(days=1)),
    }
    await serve_counting(store, keys, sock, started, town=town, tokens=tokens)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UtilityHub]:
    database = tmp_path_factory.mktemp("utilities-api") / "hub.sqlite"
    with served(functools.partial(_main, f"sqlite:///{database}"), startup_seconds=STARTUP_SECONDS) as (base, started):
        client = httpx.Client(base_url=base, timeout=120, trust_env=False)
        try:
            yield UtilityHub(base, client, started["store"], started["town"], started["tokens"], started["server"])
        finally:
            client.close()


HOUSE = """query($code: String!, $asOf: Date) { house(code: $code) {
  code
  utilityAccounts { utility accountNo }
  arrears(asOf: $asOf) { utility accountNo amountFen amount bills oldestPeriod }
} }"""


def _accounts(town: Town, house: str) -> list[dict[str, str]]:
    mine = sorted((a.utility.value, a.account_no, a.utility.name) for a in town.accounts if a.house_code == house)
    return [{"utility": name, "accountNo": number} for _, number, name in mine]


def _arrears(town: Town, house: str) -> list[dict[str, Any]]:
    return [
        {"utility": utility, "accountNo": number, "amountFen": fen, "amount": f"{fen // 100}.{fen % 100:02d}", "bills": bills, "oldestPeriod": oldest}
        for utility, number, fen, bills, oldest in town.owed(house)
    ]


# -- a house's accounts and arrears ------------------------------------------------------------


def test_a_house_shows_its_accounts_and_what_it_owes_today(hub: UtilityHub) -> None:
    town = hub.town
    house = hub.data("admin", HOUSE, code=town.house_a)["house"]
    assert house["utilityAccounts"] == [
        {"utility": "POWER", "accountNo": "GD00000001"},
        {"utility": "WATER", "accountNo": "SW00000000"},
    ]
    # 120.50 − 20.50 four months ago and 80.25 two months ago; the water bill was paid
    assert house["arrears"] == [
        {"utility": "POWER", "accountNo": "GD00000001", "amountFen": 18025, "amount": "180.25", "bills": 2, "oldestPeriod": _period(town.day, 4)}
    ]
    assert house["arrears"] == _arrears(town, town.house_a)


def test_arrears_on_another_day(hub: UtilityHub) -> None:
    town = hub.town
    before = (town.day - dt.timedelta(days=100)).isoformat()
    assert hub.data("admin", HOUSE, code=town.house_a, asOf=before)["house"]["arrears"] == []
    between = (town.day - dt.timedelta(days=70)).isoformat()  # only the oldest power bill was overdue
    [owed] = hub.data("admin", HOUSE, code=town.house_a, asOf=between)["house"]["arrears"]
    assert (owed["amountFen"], owed["amount"], owed["bills"]) == (10000, "100.00", 1)


def test_a_house_without_accounts_has_empty_lists(hub: UtilityHub) -> None:
    town = hub.town
    query = """{ places(level: HOUSE, within: "%s", first: 500) { edges { node { code
        ... on House { utilityAccounts { accountNo } arrears { amount } } } } } }""" % STREET_B
    edges = hub.data("admin", query)["places"]["edges"]
    bare = [edge["node"] for edge in edges if edge["node"]["code"] not in town.street_of]
    assert bare and all(node["utilityAccounts"] == [] and node["arrears"] == [] for node in bare)
    for edge in edges:
        if edge["node"]["code"] in town.street_of:
            assert edge["node"]["utilityAccounts"] == [{"accountNo": a["accountNo"]} for a in _accounts(town, edge["node"]["code"])]


HOUSES = """query($first: Int!) { places(level: HOUSE, first: $first) { edges { node { code
  ... on House { utilityAccounts { utility accountNo } arrears { accountNo amountFen } } } } } }"""


def test_a_hundred_houses_cost_one_call_per_field(hub: UtilityHub) -> None:
    calls: dict[int, dict[str, int]] = {}
    for size in (10, 100):
        hub.store.reset()
        edges = hub.data("admin", HOUSES, first=size)["places"]["edges"]
        calls[size] = hub.store.snapshot()
        assert len(edges) == size
        for edge in edges:
            node = edge["node"]
            assert node["utilityAccounts"] == _accounts(hub.town, node["code"])
            assert [a["amountFen"] for a in node["arrears"]] == [row[2] for row in hub.town.owed(node["code"])]
    assert calls[100]["utility_accounts"] == 1 and calls[100]["arrears"] == 1, calls[100]
    assert calls[10] == calls[100], calls
    print(f"store calls for 100 houses with accounts and arrears: {calls[100]}")


# -- houses in arrears on stats rows and map features ---------------------------------------


STATS = """query($scope: String!, $groupBy: Level!) { stats(scope: $scope, groupBy: $groupBy) {
  place { code } houses housesInArrears } }"""
GEO = """query($scope: String!, $level: Level!) { geo(scope: $scope, level: $level) }"""


def test_stats_rows_count_houses_in_arrears_in_one_call(hub: UtilityHub) -> None:
    town = hub.town
    hub.store.reset()
    rows = {row["place"]["code"]: row for row in hub.data("admin", STATS, scope=DISTRICT, groupBy="STREET")["stats"]}
    assert hub.store.snapshot().get("arrears_counts") == 1
    assert rows[STREET_A]["housesInArrears"] == town.in_arrears(STREET_A) > 1
    assert rows[STREET_B]["housesInArrears"] == town.in_arrears(STREET_B) == 2
    assert sum(row["housesInArrears"] for row in rows.values()) == town.in_arrears()
    [whole] = hub.data("admin", STATS, scope=DISTRICT, groupBy="DISTRICT")["stats"]
    assert whole["housesInArrears"] == town.in_arrears()
    query = """query($code: String!) { place(code: $code) { stats { housesInArrears } } }"""
    assert hub.data("admin", query, code=town.estate_b)["place"]["stats"]["housesInArrears"] == 2
    assert hub.data("admin", query, code=town.house_a)["place"]["stats"]["housesInArrears"] == 1


def test_map_features_carry_houses_in_arrears(hub: UtilityHub) -> None:
    rows = {row["place"]["code"]: row for row in hub.data("admin", STATS, scope=DISTRICT, groupBy="STREET")["stats"]}
    hub.store.reset()
    features = hub.data("admin", GEO, scope=DISTRICT, level="STREET")["geo"]["features"]
    assert hub.store.snapshot().get("arrears_counts") == 1
    assert features
    for feature in features:
        assert feature["properties"]["housesInArrears"] == rows[feature["id"]]["housesInArrears"]
    assert {f["id"]: f["properties"]["housesInArrears"] for f in features}[STREET_B] == 2


# -- outages ------------------------------------------------------------------------------


OUTAGES = """query($scope: String!, $first: Int, $after: String, $activeAt: DateTime, $utility: Utility) {
  outages(scope: $scope, first: $first, after: $after, activeAt: $activeAt, utility: $utility) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { utility noticeId startsAt endsAt reason planned placeCodes places { code level } } }
  }
}"""


def _newest_first(outages: list[Outage]) -> list[str]:
    return [o.notice_id for o in sorted(outages, key=lambda o: o.starts_at, reverse=True)]


def _notices(hub: UtilityHub, who: str, **variables: Any) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = [edge["node"] for edge in hub.data(who, OUTAGES, **variables)["outages"]["edges"]]
    return nodes


def test_outages_newest_first_with_their_places(hub: UtilityHub) -> None:
    town = hub.town
    connection = hub.data("admin", OUTAGES, scope=DISTRICT)["outages"]
    nodes = [edge["node"] for edge in connection["edges"]]
    assert [node["noticeId"] for node in nodes] == _newest_first(town.outages)
    assert connection["totalCount"] == len(town.outages) and not connection["pageInfo"]["hasNextPage"]
    both = next(node for node in nodes if node["noticeId"] == "SW-AB-NOW")
    assert both["placeCodes"] == sorted([town.estate_a, town.estate_b])
    assert [place["level"] for place in both["places"]] == ["ESTATE", "ESTATE"]
    assert both["planned"] is False and both["endsAt"] is None and both["utility"] == "WATER"
    stored = next(o for o in town.outages if o.notice_id == "SW-A-NOW")
    now_node = next(node for node in nodes if node["noticeId"] == "SW-A-NOW")
    assert now_node["startsAt"].endswith("+08:00")
    assert dt.datetime.fromisoformat(now_node["startsAt"]) == stored.starts_at
    assert dt.datetime.fromisoformat(now_node["endsAt"]) == stored.ends_at


def test_outages_page_by_any_edge_cursor(hub: UtilityHub) -> None:
    expected = _newest_first(hub.town.outages)
    seen: list[str] = []
    after: str | None = None
    cursors: list[str] = []
    while True:
        connection = hub.data("admin", OUTAGES, scope=DISTRICT, first=3, after=after)["outages"]
        seen += [edge["node"]["noticeId"] for edge in connection["edges"]]
        cursors += [edge["cursor"] for edge in connection["edges"]]
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == expected
    # every edge's cursor resumes right after its notice, not only the page's last one
    for index in (0, 1, 4):
        rest = _notices(hub, "admin", scope=DISTRICT, after=cursors[index])
        assert [node["noticeId"] for node in rest] == expected[index + 1 :]


def test_outages_under_way_of_one_utility_under_a_place(hub: UtilityHub) -> None:
    town = hub.town
    now = town.now.isoformat()
    assert {n["noticeId"] for n in _notices(hub, "admin", scope=DISTRICT, activeAt=now)} == {"SW-A-NOW", "SW-AB-NOW"}
    # without an offset the moment is Beijing time
    naive = (town.now - dt.timedelta(hours=28)).replace(tzinfo=None).isoformat()
    assert [n["noticeId"] for n in _notices(hub, "admin", scope=DISTRICT, activeAt=naive)] == ["GD-A-PAST"]
    assert [n["noticeId"] for n in _notices(hub, "admin", scope=DISTRICT, utility="POWER")] == ["GD-A-PAST"]
    # an estate's notice reaches its buildings; a building's does not reach the other estate
    under_building = [n["noticeId"] for n in _notices(hub, "admin", scope=town.building_a)]
    assert under_building == [o for o in _newest_first(town.outages) if o != "SW-B-SOON"]
    assert [n["noticeId"] for n in _notices(hub, "admin", scope=town.estate_b)] == ["SW-B-SOON", "SW-AB-NOW"]
    assert _notices(hub, "admin", scope="370202099") == []  # no such street


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({"scope": "3702"}, "scope"),
        ({"scope": DISTRICT, "first": 0}, "first"),
        ({"scope": DISTRICT, "after": "bm90LWEtY3Vyc29y"}, "after"),
        ({"scope": DISTRICT, "utility": "SEWAGE"}, None),
    ],
    ids=["bad-scope", "bad-first", "foreign-cursor", "bad-utility"],
)
def test_bad_arguments_are_refused_clearly(hub: UtilityHub, variables: dict[str, Any], argument: str | None) -> None:
    [error] = hub.errors("admin", OUTAGES, **variables)
    if argument is None:
        assert "SEWAGE" in error["message"] and "Utility" in error["message"]
    else:
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == argument
        assert error["message"].startswith(f"{argument}: ")


def test_a_moment_that_is_not_one_is_refused(hub: UtilityHub) -> None:
    [error] = hub.errors("admin", OUTAGES, scope=DISTRICT, activeAt="yesterday")
    assert "activeAt" in error["message"] or "DateTime" in error["message"], error
    assert error["message"] != "internal error"


# -- what street tokens see --------------------------------------------------------------------


def test_a_street_sees_its_own_houses_accounts_and_arrears(hub: UtilityHub) -> None:
    town = hub.town
    mine = hub.data("street_a", HOUSE, code=town.house_a)["house"]
    assert mine["utilityAccounts"] == _accounts(town, town.house_a) and mine["arrears"] == _arrears(town, town.house_a)
    theirs = hub.data("street_b", HOUSE, code=town.house_b)["house"]
    assert theirs["arrears"] == _arrears(town, town.house_b) != []
    # another street's house is unknown, exactly like a code nobody stored
    assert hub.data("street_a", HOUSE, code=town.house_b) == {"house": None}
    assert hub.data("street_b", HOUSE, code=town.house_a) == {"house": None}


def test_a_street_token_never_sees_another_streets_account_numbers(hub: UtilityHub) -> None:
    town = hub.town
    for who, other in (("street_a", STREET_B), ("street_b", STREET_A)):
        query = """{ places(level: HOUSE, first: 500) { edges { node { code
            ... on House { utilityAccounts { accountNo } arrears { accountNo } } } } } }"""
        text = hub.response(who, query).text
        numbers = town.numbers_of(other)
        assert numbers and not any(number in text for number in numbers), who
        own = town.numbers_of(STREET_A if other == STREET_B else STREET_B)
        assert any(number in text for number in own), who


def test_a_street_sees_only_its_outages_and_its_own_places_in_them(hub: UtilityHub) -> None:
    town = hub.town
    a = {n["noticeId"]: n for n in _notices(hub, "street_a", scope=DISTRICT)}
    assert list(a) == [o for o in _newest_first(town.outages) if o != "SW-B-SOON"]
    assert a["SW-AB-NOW"]["placeCodes"] == [town.estate_a] and [p["code"] for p in a["SW-AB-NOW"]["places"]] == [town.estate_a]
    b = {n["noticeId"]: n for n in _notices(hub, "street_b", scope=DISTRICT)}
    assert list(b) == ["SW-B-SOON", "SW-AB-NOW"]
    assert b["SW-AB-NOW"]["placeCodes"] == [town.estate_b]
    # asking under the other street shows nothing, and counts nothing
    connection = hub.data("street_a", OUTAGES, scope=STREET_B)["outages"]
    assert connection["edges"] == [] and connection["totalCount"] == 0
    assert _notices(hub, "street_b", scope=town.estate_a) == []
    assert town.estate_a not in hub.response("street_b", OUTAGES, scope=DISTRICT).text


def test_a_street_counts_arrears_only_in_its_street(hub: UtilityHub) -> None:
    town = hub.town
    rows = hub.data("street_b", STATS, scope=DISTRICT, groupBy="STREET")["stats"]
    assert [(row["place"]["code"], row["housesInArrears"]) for row in rows] == [(STREET_B, 2)]
    assert hub.data("street_b", STATS, scope=STREET_A, groupBy="ESTATE")["stats"] == []
    features = hub.data("street_a", GEO, scope=DISTRICT, level="STREET")["geo"]["features"]
    assert [(f["id"], f["properties"]["housesInArrears"]) for f in features] == [(STREET_A, town.in_arrears(STREET_A))]
    query = """query($code: String!) { place(code: $code) { stats { housesInArrears } } }"""
    assert hub.data("street_a", query, code=town.estate_b) == {"place": None}
