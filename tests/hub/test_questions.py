"""The graph questions over real HTTP: `impact(code)`, `path(from, to)` and `PropertyFirm.footprint`,
on the conformance suite's handcrafted city (answers written out by hand), as several roles, on
SQLite and on FalkorDB.

The store holds `tests.graph.conformance_questions`' city: the conformance fixture city, its open
and closed cases, an elevator at an entrance of 海韵花园 and two outage notices. Every role's
answer is scoped: a street office asking about another street's estate gets exactly what a code
naming nothing gets.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, cast

import pytest

from graph import open_store
from graph.ciphers.keyring import Keyring
from graph.cypher.transport import connect
from graph.opening import is_graph_url
from graph.store import Store
from hub.app import create_app
from hub.auth.authentication import Authenticator
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.case_city import CaseHub
from tests.serving import serve_app, served
from tests.services import run_id
from tests.graph.conformance import (
    B_A2,
    CITY,
    D_SHINAN,
    E_A,
    E_B,
    E_C,
    EN_A11,
    EN_A21,
    F_HOUSE,
    FIRM_2,
    FIRM_3,
    SHINAN,
    ST_A,
    ST_B,
    T_HOUSE,
    UNKNOWN_ESTATE,
)
from tests.graph.conformance_questions import DEVICE, write_devices_and_outages
from tests.schema.counting import CountingStore

DAY = dt.timedelta(days=1)

IMPACT = """
query($code: String!, $first: Int, $after: String) {
  impact(code: $code, first: $first, after: $after) {
    kind code places { code level }
    houseCount ownerCount openCaseCount
    houses {
      totalCount
      edges { cursor node { house { code area } owners { id name idNumber phone } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
    openCases { id status place { code } }
  }
}
"""
PATH = """
query($from: String!, $to: String!) {
  path(from: $from, to: $to) { source { code } target { code } common { code } places { code level } up down }
}
"""
FOOTPRINT = """
query($firm: String!, $asOf: Date) {
  firm(code: $firm) {
    footprint(asOf: $asOf) {
      district { code name } estates { code name } estateCount houses floorArea owners openCases
    }
  }
}
"""


async def _main(url: str, keys: Keyring, sock: socket.socket, started: dict[str, Any]) -> None:
    store = await open_store(url, sealer=keys.sealer())
    await write_devices_and_outages(store)
    tokens = {
        "admin": await issue_token(store, keys, "admin", "*", "ops", DAY),
        "city": await issue_token(store, keys, "city", CITY, "青岛市城运中心", DAY),
        "street": await issue_token(store, keys, "street", ST_A, "香港中路街道办", DAY),
        "other": await issue_token(store, keys, "street", ST_B, "八大关街道办", DAY),
        "firm": await issue_token(store, keys, "property_firm", FIRM_2, "八大关物业", DAY),
        "owner": await issue_token(store, keys, "owner", "owner-b", "李娜", DAY),
    }
    counting = CountingStore(store)
    app = create_app(
        cast(Store, counting),
        keys=keys,
        owns_store=True,
        authenticator=Authenticator(store, keys),  # the gate's reads are not the schema's
        limits=replace(Limits(), rate=1e6, burst=1_000_000),
    )
    await serve_app(app, sock, started, store=store, tokens=tokens, counting=counting)
    if is_graph_url(url):  # the app closed the store when it stopped: drop its graph apart
        transport = connect(url)
        try:
            await transport.drop()
        finally:
            await transport.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("falkordb", marks=pytest.mark.falkordb)])
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseHub]:
    """The hub over SQLite, and over FalkorDB (the Cypher store)."""
    keys = Keyring.generate()
    if request.param == "falkordb":
        url = request.getfixturevalue("falkordb_server").url(f"questions_{run_id()}")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('questions') / 'hub.sqlite'}"
    with served(functools.partial(_main, url, keys), startup_seconds=60) as (base, shared):
        yield CaseHub.of(base, shared)


def _houses(impact: dict[str, Any]) -> list[str]:
    return [edge["node"]["house"]["code"] for edge in impact["houses"]["edges"]]


def test_the_impact_of_an_estate(hub: CaseHub) -> None:
    impact = hub.data("admin", IMPACT, code=E_A)["impact"]
    assert (impact["kind"], impact["code"], impact["places"]) == ("PLACE", E_A, [{"code": E_A, "level": "ESTATE"}])
    assert (impact["houseCount"], impact["ownerCount"], impact["openCaseCount"]) == (10, 4, 3)
    assert impact["houses"]["totalCount"] == 10 and len(_houses(impact)) == 10 and _houses(impact) == sorted(_houses(impact))
    owners = {edge["node"]["house"]["code"]: edge["node"]["owners"] for edge in impact["houses"]["edges"]}
    assert [owner["name"] for owner in owners[T_HOUSE]] == ["李娜", "王芳"]  # the operator sees people whole
    assert [owner["name"] for owner in owners[D_SHINAN]] == ["刘洋"]
    assert [(case["id"], case["status"], case["place"]["code"]) for case in impact["openCases"]] == [
        ("QX004", "IN_PROGRESS", B_A2), ("QX002", "DISPATCHED", EN_A11), ("QX001", "ACCEPTED", T_HOUSE)
    ]


def test_houses_come_in_pages_and_the_newest_open_cases_with_them(hub: CaseHub) -> None:
    seen: list[str] = []
    after = None
    for _ in range(5):
        impact = hub.data("admin", IMPACT, code=E_A, first=4, after=after)["impact"]
        seen += _houses(impact)
        info = impact["houses"]["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        assert [case["id"] for case in impact["openCases"]] == ["QX004", "QX002", "QX001"]
        assert impact["houseCount"] == impact["houses"]["totalCount"] == 10
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert len(seen) == 10 and seen == sorted(set(seen))
    two = hub.data("admin", IMPACT, code=E_A, first=2)["impact"]
    assert [case["id"] for case in two["openCases"]] == ["QX004", "QX002"] and two["openCaseCount"] == 3


def test_a_device_and_an_outage(hub: CaseHub) -> None:
    device = hub.data("street", IMPACT, code=DEVICE)["impact"]
    assert (device["kind"], device["code"], [place["code"] for place in device["places"]]) == ("DEVICE", DEVICE, [EN_A21])
    assert _houses(device) == [F_HOUSE, D_SHINAN, B_A2 + "0301", B_A2 + "0401"]
    assert [case["id"] for case in device["openCases"]] == []  # the building's case is above the entrance
    outage = hub.data("admin", IMPACT, code="water:SW-QX-1")["impact"]
    assert (outage["kind"], outage["code"]) == ("OUTAGE", "water:SW-QX-1")
    assert [place["code"] for place in outage["places"]] == [B_A2, E_C]
    assert (outage["houseCount"], outage["ownerCount"], outage["openCaseCount"]) == (9, 3, 2)
    # the street sees the notice's places in its street only
    street = hub.data("street", IMPACT, code="WATER:SW-QX-1")["impact"]
    assert [place["code"] for place in street["places"]] == [B_A2] and street["houseCount"] == 4


def test_owners_are_masked_by_role(hub: CaseHub) -> None:
    def holders(who: str) -> list[dict[str, Any]]:
        impact = hub.data(who, IMPACT, code=T_HOUSE)["impact"]
        [edge] = impact["houses"]["edges"]
        owners: list[dict[str, Any]] = edge["node"]["owners"]
        return owners

    city = holders("city")
    assert [owner["name"] for owner in city] == ["李*", "王*"]
    assert all("*" in owner["idNumber"] for owner in city)
    street = holders("street")
    assert [owner["name"] for owner in street] == ["李娜", "王芳"]
    mine = holders("owner")
    assert [owner["name"] for owner in mine] == ["李娜", "王*"]  # an owner sees only itself whole


def test_out_of_scope_answers_as_nothing(hub: CaseHub) -> None:
    nothing = hub.post("other", IMPACT, code=UNKNOWN_ESTATE)
    assert nothing == {"data": {"impact": None}}
    for code in (E_A, T_HOUSE, DEVICE, "water:SW-QX-1", SHINAN, CITY):
        assert hub.post("other", IMPACT, code=code) == nothing, code
    # an estate of the street's is seen; the firm's scope is its estates
    assert hub.data("other", IMPACT, code=E_B)["impact"]["houseCount"] == 5
    assert hub.post("firm", IMPACT, code=E_C) == nothing
    assert hub.data("firm", IMPACT, code=E_A)["impact"]["ownerCount"] == 4


def test_bad_arguments_are_refused_naming_them(hub: CaseHub) -> None:
    def refused(who: str, query: str, **variables: Any) -> tuple[str, str]:
        body = hub.post(who, query, **variables)
        [error] = body["errors"]
        return error["extensions"]["code"], error["extensions"]["field"]

    assert refused("admin", IMPACT, code="a/b") == ("BAD_USER_INPUT", "code")
    assert refused("admin", IMPACT, code="steam:SW-QX-1") == ("BAD_USER_INPUT", "code")
    assert refused("admin", IMPACT, code=E_A, first=0) == ("BAD_USER_INPUT", "first")
    assert refused("admin", IMPACT, code=E_A, first=501) == ("BAD_USER_INPUT", "first")
    assert refused("admin", IMPACT, code=E_A, after="not-a-cursor") == ("BAD_USER_INPUT", "after")
    assert refused("admin", PATH, **{"from": "3702", "to": T_HOUSE}) == ("BAD_USER_INPUT", "from")
    assert refused("admin", PATH, **{"from": T_HOUSE, "to": "x"}) == ("BAD_USER_INPUT", "to")
    message = hub.error("admin", IMPACT, code="a/b")
    assert "place code" in message and "device code" in message and "water:SW-TZ-1" in message


def test_the_path_between_two_places(hub: CaseHub) -> None:
    found = hub.data("street", PATH, **{"from": T_HOUSE, "to": F_HOUSE})["path"]
    assert (found["source"]["code"], found["target"]["code"], found["common"]["code"]) == (T_HOUSE, F_HOUSE, E_A)
    assert [place["level"] for place in found["places"]] == [
        "HOUSE", "ENTRANCE", "BUILDING", "ESTATE", "BUILDING", "ENTRANCE", "HOUSE"
    ]
    assert (found["up"], found["down"]) == (3, 3)
    across = hub.data("admin", PATH, **{"from": T_HOUSE, "to": E_C})["path"]
    assert across["common"]["code"] == CITY and (across["up"], across["down"]) == (7, 4)
    assert hub.post("street", PATH, **{"from": T_HOUSE, "to": E_B}) == {"data": {"path": None}}
    assert hub.post("street", PATH, **{"from": T_HOUSE, "to": UNKNOWN_ESTATE}) == {"data": {"path": None}}
    # the firm sees its two estates but nothing above them: the way leaves the hidden places out
    split = hub.data("firm", PATH, **{"from": T_HOUSE, "to": E_B})["path"]
    assert split["common"] is None and (split["up"], split["down"]) == (None, None)
    assert [place["level"] for place in split["places"]] == ["HOUSE", "ENTRANCE", "BUILDING", "ESTATE", "ESTATE"]


def test_a_firms_footprint(hub: CaseHub) -> None:
    [row] = hub.data("admin", FOOTPRINT, firm=FIRM_2)["firm"]["footprint"]
    assert row["district"] == {"code": SHINAN, "name": "市南区"}
    assert [estate["code"] for estate in row["estates"]] == [E_A, E_B] and row["estateCount"] == 2
    assert (row["houses"], row["owners"], row["openCases"]) == (15, 5, 4)
    assert row["floorArea"] == pytest.approx(965.0 + 726.25)  # 海韵花园's ten houses, 八大关花园's five
    # the firm itself sees its estates, not the district above them
    [own] = hub.data("firm", FOOTPRINT, firm=FIRM_2)["firm"]["footprint"]
    assert own["district"] is None and own["estateCount"] == 2 and own["houses"] == 15
    # a street sees the firm's estates in its street only
    [street] = hub.data("street", FOOTPRINT, firm=FIRM_2)["firm"]["footprint"]
    assert [estate["code"] for estate in street["estates"]] == [E_A] and street["district"] is None
    assert hub.data("admin", FOOTPRINT, firm=FIRM_2, asOf="2019-01-01")["firm"]["footprint"][0]["estateCount"] == 1
    [north] = hub.data("admin", FOOTPRINT, firm=FIRM_3)["firm"]["footprint"]
    assert north["district"]["code"] == "370203" and north["houses"] == 5
    assert hub.data("street", FOOTPRINT, firm=FIRM_3) == {"firm": None}


def test_answers_are_the_same_whatever_the_spelling_of_a_code(hub: CaseHub) -> None:
    upper = hub.data("admin", IMPACT, code=B_A2)
    lower = hub.data("admin", IMPACT, code=" " + B_A2.lower() + " ")
    assert json.dumps(upper, sort_keys=True) == json.dumps(lower, sort_keys=True)


def test_store_calls_do_not_grow_with_the_page(hub: CaseHub) -> None:
    """A page of houses with their owners and the newest open cases costs the same store calls
    for 2 houses as for 10: one reach, one read of the owners, one of the cases."""
    counting: CountingStore = hub.shared["counting"]
    hub.data("street", IMPACT, code=E_A, first=1)  # the app's own first reads (the safelist's roles) aside
    calls = []
    for first in (2, 10):
        counting.reset()
        impact = hub.data("street", IMPACT, code=E_A, first=first)["impact"]
        assert len(impact["houses"]["edges"]) == first
        # the safelist's roles are read again whenever their short cache runs out, whatever
        # the request: not the impact's own calls
        calls.append({name: n for name, n in counting.snapshot().items() if name != "safelisted_roles"})
    assert calls[0] == calls[1]
    assert (calls[0]["reach"], calls[0]["owners"], calls[0]["cases"]) == (1, 1, 1)
