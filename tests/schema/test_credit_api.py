"""Firms' credit over the API, as each kind of user meets it (a hub on loopback over SQLite, the
conformance suite's city with a month of cases, real tokens): the city computes a month (street
and firm may not), recomputing adds a version; a street, a district and the city see the firms of
their area, a firm its own score only, a committee its estate's firm, an owner none; the map
colours estates by their firm's score; the shipped `firm-credit` query answers as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from graph import open_store
from graph.cases import CaseCategory, CaseSource, CaseStatus
from graph.ciphers.keyring import Keyring
from graph.votes.records import Committee, Member
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.graph.conformance import E_A, E_B, E_C, FIRM_1, FIRM_2, FIRM_3, OWNER_B, OWNER_D, SHIBEI, ST_A, ST_C, T_HOUSE, fixture_city
from tests.graph.conformance_cases import a_case, insert
from tests.serving import TokenHolders, serve_app, served

CST = dt.timezone(dt.timedelta(hours=8))

SCORE = """query($code: String!, $period: String!) { firm(code: $code) {
  code credit(period: $period) { firmCode period version total totalCenti estates houses noData
    parts { name label hasData rate ratePercent weight pointsCenti points figures { name value } } }
} }"""
SCORES = """query($period: String, $within: String) { firmScores(period: $period, within: $within) { firmCode total version } }"""
COMPUTE = """mutation($period: String!) { computeCredit(period: $period) { firmCode version totalCenti } }"""


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 11, day, 10, tzinfo=CST)


@dataclass
class CreditHub(TokenHolders):
    tokens: dict[str, str]
    client: httpx.Client


    def scores(self, who: str, period: str | None = "2026-11", within: str | None = None) -> dict[str, str]:
        found = self.data(who, SCORES, {"period": period, "within": within})["firmScores"]
        return {row["firmCode"]: row["total"] for row in found}


async def _main(folder: Any, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        await store.write(fixture_city())
        today = dt.date.today()
        await store.save_committee(
            Committee("YWH-E_A-2026", E_A, (Member(OWNER_D, "主任"),), today - dt.timedelta(days=300), today + dt.timedelta(days=700))
        )
        hotline = dict(source=CaseSource.HOTLINE, category=CaseCategory.COMPLAINT)
        await insert(
            store,
            a_case("c1", at=at(2), firm_code=FIRM_2, status=CaseStatus.RESOLVED, sign_by=at(3), signed_at=at(2), resolved_at=at(4), rating=5),
            a_case("c2", E_B, at=at(5), firm_code=FIRM_2, status=CaseStatus.DISPATCHED, sign_by=at(6)),
            a_case("c3", E_C, at=at(5), firm_code=FIRM_3, status=CaseStatus.RESOLVED, resolved_at=at(8), rating=3),
            a_case("h1", T_HOUSE, at=at(9), **hotline),
        )
        ttl = dt.timedelta(hours=2)
        tokens = {
            "owner_b": await issue_token(store, keys, "owner", OWNER_B, "李娜", ttl),
            "committee": await issue_token(store, keys, "committee", E_A, "海韵花园业主委员会", ttl),
            "firm": await issue_token(store, keys, "property_firm", FIRM_2, "八大关物业", ttl),
            "other_firm": await issue_token(store, keys, "property_firm", FIRM_3, "台东物业", ttl),
            "street": await issue_token(store, keys, "street", ST_A, "香港中路街道办事处", ttl),
            "north_street": await issue_token(store, keys, "street", ST_C, "台东街道办事处", ttl),
            "north": await issue_token(store, keys, "district", SHIBEI, "市北区住建局", ttl),
            "city": await issue_token(store, keys, "city", "370200", "青岛市住建局", ttl),
            "admin": await issue_token(store, keys, "admin", "*", "管理员", ttl),
        }
    except BaseException:
        await store.close()
        raise
    app = create_app(store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000))
    await serve_app(app, sock, started, store=store, tokens=tokens)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CreditHub]:
    folder = tmp_path_factory.mktemp("credit")

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        await _main(folder, sock, started)

    with served(main, startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=60, trust_env=False) as client:
            credit = CreditHub(started["tokens"], client)
            computed = credit.data("city", COMPUTE, {"period": "2026-11"})["computeCredit"]
            assert [(row["firmCode"], row["version"]) for row in computed] == [(FIRM_2, 1), (FIRM_3, 1)]
            yield credit


def test_only_the_city_and_the_admin_compute(hub: CreditHub) -> None:
    for who in ("street", "north", "firm", "committee", "owner_b"):
        assert "may not compute firms' credit" in hub.error(who, COMPUTE, {"period": "2026-10"})
    assert hub.data("city", SCORES, {"period": "2026-10"})["firmScores"] == []  # nothing was stored
    assert "must be a month YYYY-MM or a year YYYY" in hub.error("admin", COMPUTE, {"period": "2026-1"})
    again = hub.data("admin", COMPUTE, {"period": "2026-12"})["computeCredit"]
    assert {row["version"] for row in again} == {1}
    again = hub.data("admin", COMPUTE, {"period": "2026-12"})["computeCredit"]
    assert {row["version"] for row in again} == {2}


def test_a_score_shows_every_part_with_its_figures_rate_weight_and_points(hub: CreditHub) -> None:
    score = hub.data("street", SCORE, {"code": FIRM_2, "period": "2026-11"})["firm"]["credit"]
    assert (score["firmCode"], score["period"], score["estates"], score["houses"], score["noData"]) == (FIRM_2, "2026-11", 2, 15, "redistribute")
    parts = {part["name"]: part for part in score["parts"]}
    assert parts["response"]["rate"] == "1/2" and parts["response"]["ratePercent"] == "50.00"
    assert {f["name"]: f["value"] for f in parts["response"]["figures"]} == {"due": 2, "signedInTime": 1}
    assert parts["resolution"]["rate"] == "1/2" and parts["satisfaction"]["rate"] == "1/1"
    assert {f["name"]: f["value"] for f in parts["complaints"]["figures"]}["complaints"] == 1
    assert parts["maintenance"]["hasData"] is False and parts["maintenance"]["rate"] is None and parts["maintenance"]["pointsCenti"] == 0
    assert parts["response"]["label"] == "响应率"
    assert sum(part["pointsCenti"] for part in score["parts"]) == score["totalCenti"]
    assert score["total"] == f"{score['totalCenti'] // 100}.{score['totalCenti'] % 100:02d}"
    assert "must be a month YYYY-MM or a year YYYY" in hub.error("street", SCORE, {"code": FIRM_2, "period": "November"})


def test_each_role_sees_the_firms_of_its_scope(hub: CreditHub) -> None:
    assert set(hub.scores("city")) == {FIRM_2, FIRM_3}
    assert set(hub.scores("admin")) == {FIRM_2, FIRM_3}
    assert set(hub.scores("street")) == {FIRM_2}  # 海韵花园's firm (FIRM_1 left in 2020: no score)
    assert set(hub.scores("north_street")) == {FIRM_3}
    assert set(hub.scores("north")) == {FIRM_3}
    assert set(hub.scores("committee")) == {FIRM_2}
    assert set(hub.scores("firm")) == {FIRM_2}  # its own, not another firm's
    assert set(hub.scores("other_firm")) == {FIRM_3}
    assert hub.scores("owner_b") == {}
    assert set(hub.scores("city", within=SHIBEI)) == {FIRM_3}
    assert hub.scores("north", within=ST_A) == {}  # a place outside its scope: nothing
    for who, firm, shown in (("firm", FIRM_3, False), ("firm", FIRM_2, True), ("north", FIRM_2, False), ("committee", FIRM_2, True)):
        found = hub.data(who, SCORE, {"code": firm, "period": "2026-11"})["firm"]
        assert (found is not None and found["credit"] is not None) == shown, (who, firm)
    history = hub.data("firm", "{ firm(code: \"%s\") { creditHistory { period version } } }" % FIRM_2)["firm"]["creditHistory"]
    assert [row["period"] for row in history][:1] == ["2026-11"] and all(row["version"] >= 1 for row in history)
    none = hub.data("city", "{ firm(code: \"%s\") { creditHistory { period } } }" % FIRM_1)["firm"]["creditHistory"]
    assert none == []


def test_the_map_colours_estates_by_their_firms_score(hub: CreditHub) -> None:
    geo = hub.data("street", '{ geo(scope: "%s", level: ESTATE) }' % ST_A)["geo"]
    [estate] = [f for f in geo["features"] if f["id"] == E_A]
    latest = hub.data("street", SCORE, {"code": FIRM_2, "period": estate["properties"]["firmCreditPeriod"]})["firm"]["credit"]
    assert estate["properties"]["firmCode"] == FIRM_2 and estate["properties"]["firmCredit"] == latest["totalCenti"]
    streets = hub.data("city", '{ geo(scope: "370200", level: STREET) }')["geo"]
    assert all(f["properties"]["firmCredit"] is None for f in streets["features"])  # estates only
    other = hub.data("firm", '{ geo(scope: "%s", level: ESTATE) }' % ST_A)["geo"]
    assert [f["properties"]["firmCredit"] for f in other["features"] if f["id"] == E_A] == [latest["totalCenti"]]


def test_the_shipped_firm_credit_query_answers_as_csv(hub: CreditHub) -> None:
    response = hub.client.get("/q/firm-credit?period=2026-11&format=csv", headers={"authorization": f"Bearer {hub.tokens['city']}"})
    assert response.status_code == 200, response.text
    rows = {row["firmCode"]: row for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    assert set(rows) == {FIRM_2, FIRM_3}
    assert rows[FIRM_2]["response.ratePercent"] == "50.00" and rows[FIRM_2]["maintenance.ratePercent"] == ""
    assert rows[FIRM_2]["total"] == hub.scores("city")[FIRM_2]
    response = hub.client.get("/q/firm-credit?period=2026-11&format=csv", headers={"authorization": f"Bearer {hub.tokens['other_firm']}"})
    assert response.status_code == 200, response.text
    assert [row["firmCode"] for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))] == [FIRM_3]
