"""Open311 GeoReport v2 on the hub, over real HTTP: services, requests GET and POST, one request,
the lifecycle mapped onto open/closed, api_key through the gate, and scope on every path."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from graph.cases import CaseCategory, CaseStatus
from graph.casework import Casework
from graph.sql import SqlStore
from hub.auth.issuing import issue_token
from tests.case_city import DAY, EVERYTHING, City, build_city, case_at, serve_hub


@dataclass
class Hub:
    url: str
    tokens: dict[str, str]
    city: City
    cases: dict[str, str]
    store_url: str

    def client(self, who: str | None = "admin") -> httpx.Client:
        headers = {"authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url + "/open311/v2", headers=headers, timeout=60, trust_env=False)


@pytest.fixture(scope="module")
async def hub(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    folder = tmp_path_factory.mktemp("open311")
    city = await build_city(folder / "city.sqlite")
    shutil.copy(city.path, folder / "hub.sqlite")
    url = f"sqlite:///{folder / 'hub.sqlite'}"
    now = dt.datetime.now(dt.timezone.utc)
    first, second = city.estates[0], next(e for e in city.estates if e.code[:9] != city.estates[0].code[:9])

    async def prepare(store: SqlStore, shared: dict[str, Any]) -> None:
        [managed] = await store.managements([first.code], None, EVERYTHING)
        firm = managed[-1].firm_code
        tokens = {
            "admin": await issue_token(store, city.keys, "admin", "*", "ops", DAY),
            "city": await issue_token(store, city.keys, "city", "370200", "青岛市城运中心", DAY),
            "street": await issue_token(store, city.keys, "street", first.code[:9], "街道办", DAY),
            "other": await issue_token(store, city.keys, "street", second.code[:9], "另一街道", DAY),
            "firm": await issue_token(store, city.keys, "property_firm", firm, "物业", DAY),
        }
        mine = await Casework(store).open_case(case_at(first.code, now - dt.timedelta(hours=3), firm_code=firm), actor="12345")
        theirs = await Casework(store).open_case(case_at(second.code, now - dt.timedelta(hours=2), category=CaseCategory.COMPLAINT), actor="12345")
        old = await Casework(store).open_case(case_at(first.code, now - dt.timedelta(days=200)), actor="12345")
        for status, note in ((CaseStatus.DISPATCHED, "派给物业"), (CaseStatus.SIGNED, ""), (CaseStatus.IN_PROGRESS, ""), (CaseStatus.RESOLVED, "灯已更换")):
            await Casework(store).move_case(mine.id, status, actor="物业", note=note, at=now - dt.timedelta(hours=1), scope=EVERYTHING)
        shared.update(tokens=tokens, cases={"mine": mine.id, "theirs": theirs.id, "old": old.id})

    with serve_hub(url, city.keys, prepare) as (base, shared):
        yield Hub(base, shared["tokens"], city, shared["cases"], url)


def test_services_list_the_case_categories_in_chinese(hub: Hub) -> None:
    with hub.client("firm") as client:
        services = client.get("/services.json").json()
    assert [(s["service_code"], s["service_name"]) for s in services] == [
        ("repair", "报修"), ("complaint", "投诉"), ("consultation", "咨询"), ("suggestion", "建议"), ("emergency", "紧急")
    ]
    assert all(s["type"] == "realtime" and s["metadata"] is False for s in services)


def test_the_lifecycle_shows_as_open_or_closed_with_the_chinese_step(hub: Hub) -> None:
    with hub.client("city") as client:
        [mine] = client.get(f"/requests/{hub.cases['mine']}.json").json()
        [theirs] = client.get(f"/requests/{hub.cases['theirs']}.json").json()
    assert (mine["status"], mine["status_notes"]) == ("closed", "办结：灯已更换")
    assert mine["agency_responsible"] and mine["agency_responsible"].endswith("公司")
    assert (theirs["status"], theirs["status_notes"], theirs["service_code"]) == ("open", "受理", "complaint")
    assert mine["requested_datetime"].endswith("+08:00") and mine["address_id"] == hub.city.estates[0].code


def test_requests_filter_by_id_status_service_and_dates(hub: Hub) -> None:
    mine, theirs, old = hub.cases["mine"], hub.cases["theirs"], hub.cases["old"]
    with hub.client("admin") as client:
        listed = [r["service_request_id"] for r in client.get("/requests.json").json()]
        assert listed[:2] == [theirs, mine] and old not in listed  # the last 90 days, newest first
        by_id = client.get("/requests.json", params={"service_request_id": f"{old},NOPE,{mine}"}).json()
        assert [r["service_request_id"] for r in by_id] == [old, mine]  # in the order asked
        assert [r["service_request_id"] for r in client.get("/requests.json", params={"status": "closed"}).json()] == [mine]
        assert theirs in [r["service_request_id"] for r in client.get("/requests.json", params={"service_code": "complaint"}).json()]
        start = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=300)).isoformat()
        end = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=100)).isoformat()
        assert [r["service_request_id"] for r in client.get("/requests.json", params={"start_date": start, "end_date": end}).json()] == [old]
        changed = client.get("/requests.json", params={"updated_after": (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=90)).isoformat()}).json()
        assert [r["service_request_id"] for r in changed] == [mine]
        bad = client.get("/requests.json", params={"start_date": "yesterday"})
        assert bad.status_code == 400 and bad.json()[0]["code"] == 400 and "start_date" in bad.json()[0]["description"]
        assert client.get("/requests.json", params={"status": "pending"}).status_code == 400
        assert client.get("/requests.json", params={"service_code": "pothole"}).status_code == 400
        xml = client.get("/requests.xml")
        assert xml.status_code == 404 and "JSON format only" in xml.json()[0]["description"]


@pytest.mark.parametrize("who", ["street", "firm", "other"])
def test_every_get_sees_only_the_callers_scope_and_foreign_requests_look_unknown(hub: Hub, who: str) -> None:
    mine, theirs = hub.cases["mine"], hub.cases["theirs"]
    visible, foreign = (theirs, mine) if who == "other" else (mine, theirs)
    with hub.client(who) as client:
        listed = [r["service_request_id"] for r in client.get("/requests.json", params={"start_date": "2020-01-01T00:00:00+08:00"}).json()]
        assert visible in listed and foreign not in listed
        assert [r["service_request_id"] for r in client.get("/requests.json", params={"service_request_id": f"{mine},{theirs}"}).json()] == [visible]
        hidden = client.get(f"/requests/{foreign}.json")
        unknown = client.get("/requests/GD19990101000001.json")
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json()[0]["description"].replace(foreign, "X") == unknown.json()[0]["description"].replace("GD19990101000001", "X")


def test_post_with_an_api_key_opens_a_case_linked_by_point_or_address(hub: Hub) -> None:
    estate = hub.city.estates[1]
    from shapely.geometry import shape

    inside = shape(estate.geometry).representative_point()
    with hub.client(None) as anonymous:
        created = anonymous.post(
            "/requests.json",
            data={"api_key": hub.tokens["city"], "service_code": "repair", "lat": str(inside.y), "long": str(inside.x),
                  "description": "单元门禁坏了", "attribute[floor]": "1", "first_name": "张", "phone": "13800000000"},
        )
        assert created.status_code == 201, created.text
        [answer] = created.json()
        assert answer["service_request_id"].startswith("GD") and answer["service_notice"] == "已受理"
        shown = anonymous.get(f"/requests/{answer['service_request_id']}.json", params={"api_key": hub.tokens["city"]}).json()[0]
        assert (shown["status"], shown["status_notes"], shown["address_id"]) == ("open", "受理", estate.code)
        assert "floor=1" in shown["description"] and "13800000000" not in str(shown)
        refused = anonymous.post("/requests.json", data={"api_key": "not-a-token", "service_code": "repair", "lat": "36", "long": "120"})
        assert refused.status_code == 401
        nobody = anonymous.get("/requests.json")
        assert nobody.status_code == 401
        # the gate reads api_key from a form within the body limit, chunked or not
        huge = "api_key=" + hub.tokens["city"] + "&service_code=repair&description=" + "x" * 300_000
        headers = {"content-type": "application/x-www-form-urlencoded"}
        assert anonymous.post("/requests.json", content=huge, headers=headers).status_code == 413
        chunks = iter([huge[:1000].encode(), huge[1000:].encode()])
        assert anonymous.post("/requests.json", content=chunks, headers=headers).status_code == 413
    nowhere = {"service_code": "complaint", "address_string": "青岛市市南区某某花园", "description": "噪音"}
    with hub.client("city") as client:
        by_address = client.post("/requests.json", data=nowhere)
        assert by_address.status_code == 201
        assert "人工分拨" in by_address.json()[0]["service_notice"]  # no place: only the whole city sees it
        assert client.get(f"/requests/{by_address.json()[0]['service_request_id']}.json").status_code == 200
    with hub.client("street") as client:
        # a street may not write where it cannot read: an address that leads to no place of its own
        refused = client.post("/requests.json", data=nowhere)
        assert refused.status_code == 400
        assert refused.json() == [{"code": 400, "description": "address_string: '青岛市市南区某某花园' is not in a place you can see"}]
        for form, words in (
            ({"service_code": "repair"}, "location is required"),
            ({"service_code": "pothole", "lat": "36", "long": "120"}, "service_code 'pothole'"),
            ({"service_code": "repair", "lat": "96", "long": "120"}, "not a WGS-84 position"),
            ({"service_code": "repair", "address_id": "3702"}, "address_id"),
        ):
            answer = client.post("/requests.json", data=form)
            assert answer.status_code == 400 and words in answer.json()[0]["description"], answer.text
        assert client.post("/requests.json", json={"service_code": "repair"}).status_code == 400

