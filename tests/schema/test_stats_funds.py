"""The owners' money on the dashboard (issue 14, item 7): `stats { funds(year) }` per place and
`fundBalance` / `fundLowAccounts` on the map's features, over the demo city served for real
with maintenance-fund journals booked into two streets and public revenue entered by a firm and
partly confirmed by the committee, through the fund service (graph.funds.service.Funds), which
folds both journals into the kept rows the roll-ups read.

Every expected figure is worked out here from the movements booked, not read back from the
store: the balances, the accounts under 30% of their first deposit, the year's credits, repairs
and revenue, summed over the houses under each place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from graph.clock import CHINA_STANDARD_TIME
from graph.funds.books import fund_log
from graph.funds.journal import EntryKind, FundEntry
from graph.funds.revenue import RevenueEntry, RevenueKind, Source
from graph.funds.service import Funds
from graph.scope import Scope
from graph.store import Store
from hub.auth.issuing import issue_token
from schema.stats.loaders import StatsLoaders
from tests.schema.conftest import Hub
from tests.schema.counting import CountingStore
from tests.schema.queries import PAGE, all_places, first_place

FUNDS = """accounts balanceFen balanceYuan balancePerAccountFen firstDepositFen lowAccounts estates
  creditsFen repairsFen revenueFen confirmedRevenueFen confirmedShareBp unconfirmedEntries year place"""
STATS = f"""query($scope: String!, $groupBy: Level!, $year: Int) {{
  stats(scope: $scope, groupBy: $groupBy) {{ place {{ code }} houses funds(year: $year) {{ {FUNDS} }} }}
}}"""
GEO = "query($scope: String!, $level: Level!) { geo(scope: $scope, level: $level) }"
SOURCE = "qd-fund-centre-test.csv"
FIRM = "91370202MA3C5XKQ0D"
COMMITTEE = "YWH-STATS-FUNDS"


@dataclass(frozen=True)
class Revenue:
    """One revenue entry the firm makes, and whether the committee confirms it."""

    estate: str
    at: dt.datetime
    kind: RevenueKind
    amount_fen: int
    confirmed: bool

    @property
    def year(self) -> int:
        return self.at.astimezone(CHINA_STANDARD_TIME).year

    def entry(self) -> RevenueEntry:
        if self.kind is RevenueKind.COST:
            return RevenueEntry.cost(self.estate, FIRM, self.at, "广告屏电费", self.amount_fen)
        start = dt.date(self.year, 1, 1)
        return RevenueEntry.income(self.estate, FIRM, self.at, Source.LIFT_AD, "HT-STATS-1", start, start.replace(month=6, day=30), self.amount_fen)


@dataclass
class Books:
    """What was booked, and the figures it must give (the oracle)."""

    district: str
    street: str
    other_street: str
    this_year: int
    estate_of: dict[str, str] = field(default_factory=dict)
    """House → its estate, for every house with an account."""
    first: dict[str, int] = field(default_factory=dict)
    balance: dict[str, int] = field(default_factory=dict)
    credits: dict[tuple[str, int], int] = field(default_factory=dict)
    """(house, year) → credited that year."""
    repairs: dict[tuple[str, int], int] = field(default_factory=dict)
    revenue: list[Revenue] = field(default_factory=list)

    @staticmethod
    def under(estate: str, code: str) -> bool:
        """Whether the estate lies at or under `code` (district, street, community or itself)."""
        return estate == code or (len(code) < len(estate) and estate.startswith(code))

    def houses(self, code: str) -> list[str]:
        return [house for house, estate in self.estate_of.items() if self.under(estate, code)]

    def totals(self, code: str, year: int) -> dict[str, Any]:
        houses = self.houses(code)
        balance = sum(self.balance[house] for house in houses)
        revenue = [row for row in self.revenue if row.year == year and self.under(row.estate, code)]
        income = sum(row.amount_fen for row in revenue if row.kind is RevenueKind.INCOME)
        confirmed = sum(row.amount_fen for row in revenue if row.kind is RevenueKind.INCOME and row.confirmed)
        return {
            "accounts": len(houses),
            "balanceFen": balance,
            "balanceYuan": f"{balance // 100:,}.{balance % 100:02d}",
            "balancePerAccountFen": balance // len(houses) if houses else 0,
            "firstDepositFen": sum(self.first[house] for house in houses),
            "lowAccounts": sum(1 for house in houses if self.balance[house] * 10 < self.first[house] * 3),
            "estates": len({self.estate_of[house] for house in houses}),
            "creditsFen": sum(self.credits.get((house, year), 0) for house in houses),
            "repairsFen": sum(self.repairs.get((house, year), 0) for house in houses),
            "revenueFen": income,
            "confirmedRevenueFen": confirmed,
            "confirmedShareBp": confirmed * 10_000 // income if income else None,
            "unconfirmedEntries": sum(1 for row in revenue if not row.confirmed),
            "year": year,
            "place": code,
        }


def _first_houses(hub: Hub, estate: str, count: int) -> list[str]:
    edges = hub.data(PAGE, level="HOUSE", within=estate, first=count)["places"]["edges"]
    assert len(edges) == count, f"{estate} has fewer than {count} houses"
    return [edge["node"]["code"] for edge in edges]


def _plan(hub: Hub) -> tuple[Books, dict[str, list[FundEntry]], dict[str, list[str]]]:
    """Two estates of the district's first street and one of its second: each estate's first
    four houses get a deposit; one house of the other street's estate was deposited last year;
    the first estate's first two houses paid a repair that leaves them under 30%."""
    district = first_place(hub, "DISTRICT")["code"]
    streets = all_places(hub, "STREET", within=district)
    assert len(streets) >= 3, "the demo district has a street without books too"
    street, other = streets[0], streets[1]
    estates = all_places(hub, "ESTATE", within=street)[:2] + all_places(hub, "ESTATE", within=other)[:1]
    assert len(estates) == 3
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    this_year = now.astimezone(CHINA_STANDARD_TIME).year
    last_year = dt.datetime(this_year - 1, 7, 1, 10, tzinfo=CHINA_STANDARD_TIME)
    books = Books(district, street, other, this_year)
    entries: dict[str, list[FundEntry]] = {}
    repaired: dict[str, list[str]] = {}
    line = 0
    for number, estate in enumerate(estates):
        houses = _first_houses(hub, estate, 4)
        entries[estate] = []
        for index, house in enumerate(houses):
            line += 1
            at = last_year if (estate == estates[2] and index == 3) else now
            amount = 500_000 + 1_237 * index + 10_000 * number
            entries[estate].append(FundEntry(estate, house, EntryKind.DEPOSIT, amount, at, f"statement:{SOURCE}:{line}", "首次缴存"))
            books.estate_of[house] = estate
            books.first[house] = amount
            books.balance[house] = amount
            key = (house, at.astimezone(CHINA_STANDARD_TIME).year)
            books.credits[key] = books.credits.get(key, 0) + amount
        line += 1
        entries[estate].append(FundEntry(estate, houses[0], EntryKind.INTEREST, 1_234 + number, now, f"statement:{SOURCE}:{line}", "利息"))
        books.balance[houses[0]] += 1_234 + number
        books.credits[(houses[0], this_year)] += 1_234 + number
    repaired[estates[0]] = _first_houses(hub, estates[0], 2)
    books.revenue = [
        Revenue(estates[0], last_year, RevenueKind.INCOME, 50_000, True),
        Revenue(estates[0], now, RevenueKind.INCOME, 800_000, True),
        Revenue(estates[0], now, RevenueKind.INCOME, 400_000, False),
        Revenue(estates[0], now, RevenueKind.COST, 100_000, False),
        Revenue(estates[2], now, RevenueKind.INCOME, 300_001, True),
    ]
    return books, entries, repaired


REPAIR_FEN = 900_003
"""Split by equal areas over two houses of ~500,000 fen each: both end under 30%."""


async def _book(store: Store, books: Books, entries: dict[str, list[FundEntry]], repaired: dict[str, list[str]]) -> None:
    """Book the movements once per served hub (a second call finds the journals written and
    only works out the repair's shares again from the journal's own entries)."""
    funds = Funds(store)
    [estate] = repaired
    [applied] = await store.fund_applied([fund_log(estate)])
    if applied == 0:
        for estate_entries in entries.values():
            await funds.ledger.book(estate_entries)
        await funds.ledger.debit_repair(estate, "STATS-FUNDS-1", REPAIR_FEN, {house: 8_800 for house in repaired[estate]}, memo="屋面防水")
        for row in books.revenue:
            appended = await funds.enter_revenue([row.entry()])
            if row.confirmed:
                await funds.decide_revenue(row.estate, appended.first, COMMITTEE)
    size = await store.log_size(fund_log(estate))
    for entry in await store.log_entries(fund_log(estate), 0, size):
        parsed = FundEntry.parse(entry.payload)
        if parsed.kind is EntryKind.REPAIR:
            books.balance[parsed.house] += parsed.amount_fen
            key = (parsed.house, parsed.at.astimezone(CHINA_STANDARD_TIME).year)
            books.repairs[key] = books.repairs.get(key, 0) - parsed.amount_fen


@pytest.fixture
def books(hub: Hub) -> Books:
    planned, entries, repaired = _plan(hub)
    hub.run(_book(hub.store, planned, entries, repaired))
    assert sum(planned.repairs.values()) == REPAIR_FEN, "the repair's shares add up to its cost"
    return planned


def _rows(hub: Hub, scope: str, group_by: str, year: int | None = None, token: str | None = None) -> dict[str, dict[str, Any]]:
    body = _post(hub, STATS, token, scope=scope, groupBy=group_by, year=year)
    assert not body.get("errors"), body["errors"]
    return {row["place"]["code"]: row["funds"] for row in body["data"]["stats"]}


def _post(hub: Hub, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else None
    response = hub.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _street_token(hub: Hub, street: str) -> str:
    assert hub.keys is not None
    token: str = hub.run(issue_token(hub.store, hub.keys, "street", street, "街道办事处 资金科", dt.timedelta(hours=1)))
    return token


def test_each_street_row_carries_its_fund_and_revenue_figures(hub: Hub, books: Books) -> None:
    rows = _rows(hub, books.district, "STREET")
    for street in (books.street, books.other_street):
        assert rows[street] == books.totals(street, books.this_year), street
    assert rows[books.street]["lowAccounts"] == 2 and rows[books.street]["repairsFen"] == REPAIR_FEN
    assert rows[books.street]["confirmedShareBp"] == 6_666, "800,000 of 1,200,000 confirmed, rounded down"
    assert rows[books.street]["unconfirmedEntries"] == 2, "an income and a cost the committee has not confirmed"
    unbooked = [code for code in rows if code not in (books.street, books.other_street)]
    assert unbooked and all(rows[code] == books.totals(code, books.this_year) for code in unbooked)
    assert rows[unbooked[0]]["accounts"] == 0 and rows[unbooked[0]]["confirmedShareBp"] is None
    [whole] = _rows(hub, books.district, "DISTRICT").values()
    assert whole == books.totals(books.district, books.this_year)
    for figure in ("accounts", "balanceFen", "lowAccounts", "creditsFen", "repairsFen", "revenueFen", "unconfirmedEntries"):
        assert sum(row[figure] for row in rows.values()) == whole[figure], figure


def test_estate_rows_add_up_to_their_street_and_a_place_field_matches(hub: Hub, books: Books) -> None:
    estates = _rows(hub, books.street, "ESTATE")
    booked = {books.estate_of[house] for house in books.houses(books.street)}
    assert len(booked) == 2
    for estate, row in estates.items():
        assert row == books.totals(estate, books.this_year), estate
    [street] = _rows(hub, books.street, "STREET").values()
    for figure in ("accounts", "balanceFen", "firstDepositFen", "lowAccounts", "creditsFen", "repairsFen", "revenueFen"):
        assert sum(row[figure] for row in estates.values()) == street[figure], figure
    query = f"query($code: String!) {{ place(code: $code) {{ stats {{ funds {{ {FUNDS} }} }} }} }}"
    estate = sorted(booked)[0]
    assert hub.data(query, code=estate)["place"]["stats"]["funds"] == books.totals(estate, books.this_year)


def test_the_year_picks_the_yearly_figures_and_not_the_balance(hub: Hub, books: Books) -> None:
    last = books.this_year - 1
    rows = _rows(hub, books.district, "STREET", year=last)
    for street in (books.street, books.other_street):
        assert rows[street] == books.totals(street, last), street
    now = _rows(hub, books.district, "STREET")
    assert rows[books.other_street]["creditsFen"] > 0, "a deposit was booked last year"
    assert rows[books.street]["revenueFen"] == 50_000 and rows[books.street]["repairsFen"] == 0
    assert all(rows[code]["balanceFen"] == now[code]["balanceFen"] for code in rows), "a balance is today's whatever the year"
    for year in (1999, 2101):
        body = _post(hub, STATS, scope=books.district, groupBy="STREET", year=year)
        assert body["errors"] and all(error["extensions"] == {"code": "BAD_USER_INPUT", "field": "year"} for error in body["errors"])
        assert f"{year}" in body["errors"][0]["message"]


def test_a_list_of_places_costs_one_fund_call_per_year(hub: Hub, books: Books, counting: CountingStore) -> None:
    estates = _rows(hub, books.district, "ESTATE")
    assert len(estates) > 10
    assert counting.snapshot().get("fund_totals") == 1, counting.snapshot()
    counting.reset()
    query = """query($scope: String!, $last: Int!) { stats(scope: $scope, groupBy: ESTATE) {
        now: funds { balanceFen } again: funds { lowAccounts } before: funds(year: $last) { creditsFen } } }"""
    rows = hub.data(query, scope=books.district, last=books.this_year - 1)["stats"]
    assert len(rows) == len(estates)
    assert counting.snapshot().get("fund_totals") == 2, "one call for this year, one for last"


def test_a_street_sees_its_own_figures_and_nothing_of_another_street(hub: Hub, books: Books) -> None:
    token = _street_token(hub, books.street)
    rows = _rows(hub, books.district, "STREET", token=token)
    assert rows == {books.street: books.totals(books.street, books.this_year)}
    assert _rows(hub, books.other_street, "ESTATE", token=token) == {}
    other_estate = books.estate_of[books.houses(books.other_street)[0]]
    query = "query($code: String!) { place(code: $code) { stats { funds { balanceFen } } } }"
    assert _post(hub, query, token, code=other_estate)["data"] == {"place": None}
    geo = _post(hub, GEO, token, scope=books.district, level="STREET")
    features = geo["data"]["geo"]["features"]
    assert [(f["id"], f["properties"]["fundBalance"]) for f in features] == [
        (books.street, books.totals(books.street, books.this_year)["balanceFen"])
    ]
    hidden = str(books.totals(books.other_street, books.this_year)["balanceFen"])
    assert hidden not in str(rows) and hidden not in str(geo)

    async def loaded() -> list[Any]:
        loaders = StatsLoaders.create(hub.store, Scope.of(books.street))
        return await loaders.funds.load_many([(books.street, books.this_year), (books.other_street, books.this_year)])

    mine, theirs = hub.run(loaded())
    assert mine is not None and mine.balance_fen == rows[books.street]["balanceFen"]
    assert theirs is None, "a place out of scope has no figures (null), not zeros"


def test_map_features_carry_the_fund_balance_in_fen_and_the_low_accounts(hub: Hub, books: Books, counting: CountingStore) -> None:
    features = _features(hub, books.street, "ESTATE")
    assert len(features) > 2 and counting.snapshot().get("fund_totals") == 1, "one call for every feature"
    booked = {books.estate_of[house] for house in books.houses(books.street)}
    assert booked < set(features)
    for code, properties in features.items():
        expected = books.totals(code, books.this_year)
        if code in booked:
            assert properties["fundBalance"] == expected["balanceFen"] and isinstance(properties["fundBalance"], int)
            assert properties["fundLowAccounts"] == expected["lowAccounts"]
        else:
            assert properties["fundBalance"] is None and properties["fundLowAccounts"] is None, "no account: no data, not 0"
    assert sorted(features[code]["fundLowAccounts"] for code in booked) == [0, 2]
    streets = _features(hub, books.district, "STREET")
    rows = _rows(hub, books.district, "STREET")
    for code in (books.street, books.other_street):
        assert streets[code]["fundBalance"] == rows[code]["balanceFen"]


def _features(hub: Hub, scope: str, level: str) -> dict[str, dict[str, Any]]:
    collection = hub.data(GEO, scope=scope, level=level)["geo"]
    found: Iterable[dict[str, Any]] = collection["features"]
    return {feature["id"]: feature["properties"] for feature in found}
