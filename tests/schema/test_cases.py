"""Cases in GraphQL over real HTTP: `cases`, `case` and `moveCase`, with the scope of street and
firm tokens applied on each (a foreign case behaves exactly as an unknown one)."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from graph.cases import CaseStatus
from graph.casework import Casework
from graph.model import Batch, Provenance
from graph.scope import Scope
from graph.sql import SqlStore
from hub.auth.issuing import issue_token
from tests.case_city import DAY, CaseHub, build_city, case_at, serve_hub

EVERYTHING = Scope.everything()
CASES = """
query ($scope: String!, $status: [CaseStatus!], $first: Int, $after: String) {
  cases(scope: $scope, status: $status, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id status statusLabel closed title source category externalId
      place { code name } firm { name } history { seq fromStatus toStatus actor note } } }
  }
}"""
CASE = "query ($id: ID!) { case(id: $id) { id status history { toStatus actor } } }"
MOVE = """mutation ($id: ID!, $to: CaseStatus!, $note: String, $rating: Int) {
  moveCase(id: $id, to: $to, note: $note, rating: $rating) { id status statusLabel rating history { toStatus actor note } }
}"""


@pytest.fixture(scope="module")
def served_cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseHub]:
    folder = tmp_path_factory.mktemp("cases-api")
    city = asyncio.run(build_city(folder / "city.sqlite"))
    shutil.copy(city.path, folder / "hub.sqlite")
    now = dt.datetime.now(dt.timezone.utc)
    first = city.estates[0]
    second = next(e for e in city.estates if e.code[:9] != first.code[:9])

    async def prepare(store: SqlStore, shared: dict[str, Any]) -> None:
        [managed] = await store.managements([first.code], None, EVERYTHING)
        firm = managed[-1].firm_code
        tokens = {
            "admin": await issue_token(store, city.keys, "admin", "*", "ops", DAY),
            "street": await issue_token(store, city.keys, "street", first.code[:9], "香港中路街道 王科长", DAY),
            "firm": await issue_token(store, city.keys, "property_firm", firm, "物业 李经理", DAY),
            "committee": await issue_token(store, city.keys, "committee", first.code, "业委会", DAY),
        }
        ids: dict[str, str] = {}
        for index in range(5):
            opened = await Casework(store).open_case(case_at(first.code, now - dt.timedelta(hours=index + 1), firm_code=firm), actor="12345")
            ids[f"mine{index}"] = opened.id
        ids["theirs"] = (await Casework(store).open_case(case_at(second.code, now - dt.timedelta(minutes=5)), actor="12345")).id
        fed = case_at(first.code, now - dt.timedelta(days=1), id="cityops:QD1", external_id="QD1", push_to="cityops",
                      status=CaseStatus.DISPATCHED, provenance=Provenance("cityops", "QD1", now, "run-1"))
        await store.write(Batch(cases=[fed]))
        ids["fed"] = fed.id
        shared.update(tokens=tokens, ids=ids)

    with serve_hub(f"sqlite:///{folder / 'hub.sqlite'}", city.keys, prepare) as (url, shared):
        yield CaseHub.of(url, shared)


def test_cases_page_newest_first_with_place_firm_and_history(served_cases: CaseHub) -> None:
    data = served_cases.post("admin", CASES, scope="370202", first=3)["data"]["cases"]
    assert data["totalCount"] == 7 and data["pageInfo"]["hasNextPage"]
    nodes = [edge["node"] for edge in data["edges"]]
    assert [n["id"] for n in nodes] == [served_cases.shared["ids"]["theirs"], served_cases.shared["ids"]["mine0"], served_cases.shared["ids"]["mine1"]]
    mine = nodes[1]
    assert (mine["status"], mine["statusLabel"], mine["closed"], mine["source"], mine["category"]) == ("ACCEPTED", "受理", False, "HOTLINE", "REPAIR")
    assert mine["place"]["code"].endswith("E001") or len(mine["place"]["code"]) == 16
    assert mine["firm"]["name"] and mine["history"] == [{"seq": 1, "fromStatus": None, "toStatus": "ACCEPTED", "actor": "12345", "note": ""}]
    rest = served_cases.post("admin", CASES, scope="370202", first=10, after=data["pageInfo"]["endCursor"])["data"]["cases"]
    assert len(rest["edges"]) == 4 and not rest["pageInfo"]["hasNextPage"]
    dispatched = served_cases.post("admin", CASES, scope="370202", status=["DISPATCHED"])["data"]["cases"]["edges"]
    assert [e["node"]["externalId"] for e in dispatched] == ["QD1"]
    wrong = served_cases.post("admin", CASES, scope="3702")
    assert "scope" in wrong["errors"][0]["message"]


@pytest.mark.parametrize("who", ["street", "firm"])
def test_foreign_cases_look_unknown_on_every_path(served_cases: CaseHub, who: str) -> None:
    ids = served_cases.shared["ids"]
    listed = served_cases.post(who, CASES, scope="370202", first=50)["data"]["cases"]
    seen = {edge["node"]["id"] for edge in listed["edges"]}
    assert ids["mine0"] in seen and ids["theirs"] not in seen and listed["totalCount"] == len(seen)
    assert served_cases.post(who, CASE, id=ids["theirs"])["data"]["case"] is None
    assert served_cases.post(who, CASE, id="GD19990101000001")["data"]["case"] is None
    foreign = served_cases.post(who, MOVE, id=ids["theirs"], to="DISPATCHED")["errors"][0]["message"]
    unknown = served_cases.post(who, MOVE, id="GD19990101000001", to="DISPATCHED")["errors"][0]["message"]
    assert foreign.replace(ids["theirs"], "X") == unknown.replace("GD19990101000001", "X")
    [case] = served_cases.run(served_cases.store.cases([ids["theirs"]], EVERYTHING))
    assert case.status is CaseStatus.ACCEPTED


def test_move_case_follows_the_lifecycle_and_records_who_moved_it(served_cases: CaseHub) -> None:
    ids = served_cases.shared["ids"]
    moved = served_cases.post("street", MOVE, id=ids["mine2"], to="DISPATCHED", note="派给物业")["data"]["moveCase"]
    assert (moved["status"], moved["statusLabel"]) == ("DISPATCHED", "派单")
    assert moved["history"][-1] == {"toStatus": "DISPATCHED", "actor": "香港中路街道 王科长", "note": "派给物业"}
    illegal = served_cases.post("firm", MOVE, id=ids["mine2"], to="RESOLVED")["errors"][0]["message"]
    assert "is dispatched (派单): it may go to returned (退单), signed (签收) only" in illegal
    for status in ("SIGNED", "IN_PROGRESS", "RESOLVED"):
        assert served_cases.post("firm", MOVE, id=ids["mine2"], to=status)["data"]["moveCase"]["status"] == status
    unrated = served_cases.post("street", MOVE, id=ids["mine2"], to="FOLLOWED_UP")["errors"][0]["message"]
    assert "rating" in unrated
    rated = served_cases.post("street", MOVE, id=ids["mine2"], to="FOLLOWED_UP", rating=5, note="满意")["data"]["moveCase"]
    assert rated["rating"] == 5 and rated["history"][-1]["actor"] == "香港中路街道 王科长"
    refused = served_cases.post("committee", MOVE, id=ids["mine3"], to="DISPATCHED")["errors"][0]["message"]
    assert "committee role may not move cases" in refused


def test_moving_a_fed_case_queues_its_status_for_the_feed(served_cases: CaseHub) -> None:
    before = served_cases.run(served_cases.store.outbox_pending("cityops"))
    served_cases.post("firm", MOVE, id=served_cases.shared["ids"]["fed"], to="SIGNED", note="已签收")
    assert served_cases.run(served_cases.store.outbox_pending("cityops")) == before + 1
    [message] = served_cases.run(Casework(served_cases.store).outbox_due("cityops", dt.datetime.now(dt.timezone.utc)))[-1:]
    assert (message.external_id, message.payload["label"], message.payload["actor"]) == ("QD1", "签收", "物业 李经理")
