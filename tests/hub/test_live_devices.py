"""Issue 5's whole story, as users meet it, on real parts: a served hub whose ingestion reads the
real Mosquitto, a device speaking through `mosquitto_pub`, a street office watching over a real
WebSocket, and the firm and the owners' committee acting through GraphQL over HTTP.

An elevator reports a trapped passenger: the alarm rises once, a case opens and is dispatched to
the estate's firm, the street office sees both live; the firm signs; the resolution deadline
passes (the escalation sweep is run with a clock two days ahead) and the case climbs the ladder;
the passenger is freed, the alarm clears; the firm resolves, the committee rates, the case is
archived. A second street's office, watching its own district view, sees none of it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.ciphers.keyring import Keyring
from graph.devices import Device, DeviceType
from graph.events import EventBus, Topic
from graph.levels import Level
from graph.model import Batch, Management, Place, PropertyFirm
from graph import open_store
from graph.sql import SqlStore
from graph.workflow import Workflow
from hub.auth.issuing import issue_token
from tests.services import MOSQUITTO, run_id
from tests.serving import serve_with_ingestion, served
from tests.wsclient import LiveClient, live

STREET, OTHER_STREET = "370202001", "370202002"
COMMUNITY, OTHER_COMMUNITY = "370202001001", "370202002001"
ESTATE, OTHER_ESTATE = "370202001001E001", "370202002001E001"
BUILDING = "370202001001GB00001F0001"
ENTRANCE = BUILDING + "01"
HOUSE = "370202001001GB00001F00010001"
FIRM = "91370202MA06EM7T05"
ELEVATOR, OTHER_ELEVATOR = "EL-LIVE-0001", "EL-LIVE-0002"


def _square(lon: float, lat: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + 0.004, lat], [lon + 0.004, lat + 0.004], [lon, lat + 0.004], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def city() -> Batch:
    places = [
        Place("370200", Level.CITY, "青岛市", None),
        Place("370202", Level.DISTRICT, "市南区", "370200"),
        Place(STREET, Level.STREET, "香港中路街道", "370202"),
        Place(OTHER_STREET, Level.STREET, "八大峡街道", "370202"),
        Place(COMMUNITY, Level.COMMUNITY, "云霄路社区", STREET),
        Place(OTHER_COMMUNITY, Level.COMMUNITY, "团岛社区", OTHER_STREET),
        Place(ESTATE, Level.ESTATE, "海信花园", COMMUNITY, _square(120.38, 36.06)),
        Place(OTHER_ESTATE, Level.ESTATE, "团岛小区", OTHER_COMMUNITY, _square(120.30, 36.05)),
        Place(BUILDING, Level.BUILDING, "1号楼", ESTATE, floors=18),
        Place(ENTRANCE, Level.ENTRANCE, "1单元", BUILDING),
        Place(HOUSE, Level.HOUSE, "1单元101室", ENTRANCE, area_centi_m2=8800),
    ]
    return Batch(
        places=places,
        firms=[PropertyFirm(FIRM, "青岛海信物业服务有限公司")],
        managements=[Management(FIRM, ESTATE, dt.date(2020, 1, 1))],
    )


@dataclass
class LiveHub:
    url: str
    prefix: str
    tokens: dict[str, str]
    store: SqlStore
    bus: EventBus
    loop: asyncio.AbstractEventLoop
    client: httpx.Client

    def graphql(self, who: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers={"authorization": f"Bearer {self.tokens[who]}"}
        )
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    def publish(self, code: str, channel: str, payload: str, *, retain: bool = False) -> None:
        """What a device does, with the broker's own client."""
        command = ["mosquitto_pub", "-h", MOSQUITTO.host, "-p", str(MOSQUITTO.port), "-q", "1", "-t", f"{self.prefix}/devices/{code}/{channel}", "-m", payload]
        subprocess.run(command + (["-r"] if retain else []), check=True, timeout=10)


async def _main(folder: Path, prefix: str, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    db = f"sqlite:///{folder / 'hub.sqlite'}"
    store = await open_store(db, sealer=keys.sealer())
    await store.write(city())
    await store.register_devices([
        Device(ELEVATOR, DeviceType.ELEVATOR, "日立 HGP-1000", ENTRANCE, 30, name="1号楼1单元电梯"),
        Device(OTHER_ELEVATOR, DeviceType.ELEVATOR, "日立 HGP-1000", OTHER_ESTATE, 30, name="团岛小区电梯"),
    ])
    ttl = dt.timedelta(hours=1)
    tokens = {
        "street": await issue_token(store, keys, "street", STREET, "香港中路街道办事处", ttl),
        "other_street": await issue_token(store, keys, "street", OTHER_STREET, "八大峡街道办事处", ttl),
        "firm": await issue_token(store, keys, "property_firm", FIRM, "海信物业", ttl),
        "committee": await issue_token(store, keys, "committee", ESTATE, "海信花园业委会", ttl),
    }
    await serve_with_ingestion(store, keys, db, prefix, sock, started, shared_tokens=tokens)


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    if not MOSQUITTO.ensure() or shutil.which("mosquitto_pub") is None:
        pytest.fail("Mosquitto (and mosquitto_pub) must run on 127.0.0.1:1883 or be installed to be started")
    prefix = f"live{run_id()}"
    folder = tmp_path_factory.mktemp("live")
    with served(functools.partial(_main, folder, prefix), startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            yield LiveHub(base, prefix, started["tokens"], started["store"], started["bus"], started["loop"], client)


async def _next(client: LiveClient, key: str, field: str, kind: str, timeout: float = 15) -> dict[str, Any]:
    """The next update of subscription `key` of this kind (earlier kinds skipped, recorded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError(f"no {kind} update on {field} within {timeout}s")
        data = await client.next_data(key, timeout=left)
        if data[field]["kind"] == kind:
            update: dict[str, Any] = data[field]
            return update


async def _wait_listening(live_hub: LiveHub, count: int) -> None:
    from graph.events import Topic

    for _ in range(200):
        if live_hub.bus.listeners(Topic.ALARMS) >= count and live_hub.bus.listeners(Topic.CASES) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the subscriptions never started listening")


def _on_server(live_hub: LiveHub, coroutine: Any) -> Any:
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, live_hub.loop))


async def test_an_alarm_becomes_a_case_that_is_dispatched_escalated_and_closed_live(live_hub: LiveHub) -> None:
    alarms_query = "subscription($s: String!) { alarms(scope: $s) { kind alarm { id rule severity active device { code } case { id } } } }"
    cases_query = "subscription($s: String!) { caseUpdates(scope: $s) { kind case { id status source category firm { code } signBy deadline escalation place { code } } } }"
    async with live(live_hub.url) as office, live(live_hub.url) as other:
        assert (await office.init(live_hub.tokens["street"]))["type"] == "connection_ack"
        assert (await other.init(live_hub.tokens["other_street"]))["type"] == "connection_ack"
        alarms = await office.subscribe(alarms_query, {"s": STREET})
        cases = await office.subscribe(cases_query, {"s": STREET})
        await other.subscribe(alarms_query, {"s": "370202"})
        await other.subscribe(cases_query, {"s": "370202"})
        await _wait_listening(live_hub, 2)

        now = dt.datetime.now(dt.timezone.utc).timestamp()
        live_hub.publish(ELEVATOR, "status", "online", retain=True)
        live_hub.publish(ELEVATOR, "telemetry", json.dumps({"ts": now, "values": {"trapped": False, "fault_code": "0", "door_fault": False}}))
        live_hub.publish(ELEVATOR, "telemetry", json.dumps({"ts": now + 1, "values": {"trapped": True}}))
        live_hub.publish(ELEVATOR, "telemetry", json.dumps({"ts": now + 2, "values": {"trapped": True}}))  # no second alarm

        raised = await _next(office, alarms, "alarms", "raised")
        assert raised["alarm"]["rule"] == "elevator.trapped" and raised["alarm"]["severity"] == "CRITICAL"
        assert raised["alarm"]["device"]["code"] == ELEVATOR
        opened = await _next(office, cases, "caseUpdates", "opened")
        case_id = opened["case"]["id"]
        assert opened["case"]["source"] == "DEVICE_ALARM" and opened["case"]["category"] == "EMERGENCY"
        dispatched = await _next(office, cases, "caseUpdates", "dispatched")
        assert dispatched["case"]["id"] == case_id and dispatched["case"]["firm"]["code"] == FIRM
        assert dispatched["case"]["status"] == "DISPATCHED" and dispatched["case"]["signBy"] is not None

        signed = live_hub.graphql("firm", "mutation($id: ID!) { signCase(id: $id, note: \"维保人员已出发\") { status deadline } }", {"id": case_id})
        assert signed["signCase"]["status"] == "SIGNED" and signed["signCase"]["deadline"] is not None
        assert (await _next(office, cases, "caseUpdates", "signed"))["case"]["id"] == case_id

        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
        escalated = await _on_server(live_hub, Workflow(live_hub.store, bus=live_hub.bus, clock=lambda: later).escalate_due())
        assert [case.id for case in escalated] == [case_id]
        update = await _next(office, cases, "caseUpdates", "escalated")
        assert update["case"]["escalation"] is not None

        live_hub.publish(ELEVATOR, "telemetry", json.dumps({"ts": now + 3, "values": {"trapped": False}}))
        cleared = await _next(office, alarms, "alarms", "cleared")
        assert cleared["alarm"]["id"] == raised["alarm"]["id"] and cleared["alarm"]["active"] is False

        live_hub.graphql("firm", "mutation($id: ID!) { resolveCase(id: $id, note: \"已救出乘客，电梯恢复运行\") { status } }", {"id": case_id})
        assert (await _next(office, cases, "caseUpdates", "resolved"))["case"]["id"] == case_id
        rated = live_hub.graphql("committee", "mutation($id: ID!) { rateCase(id: $id, rating: 5) { status rating } }", {"id": case_id})
        assert rated["rateCase"]["rating"] == 5
        assert (await _next(office, cases, "caseUpdates", "archived"))["case"]["status"] == "ARCHIVED"

        assert await other.quiet(1.0) == [], "another street's office must see none of it"

    data = live_hub.graphql(
        "street",
        """query($id: ID!) {
          case(id: $id) { status rating history { fromStatus toStatus actor } }
          alarms(scope: "370202001") { totalCount edges { node { rule active case { id } } } }
          devices(scope: "370202001") { edges { node { code status lastSeen } } }
        }""",
        {"id": case_id},
    )
    steps = [(event["fromStatus"], event["toStatus"]) for event in data["case"]["history"]]
    assert ("DISPATCHED", "SIGNED") in steps and steps[-1] == ("FOLLOWED_UP", "ARCHIVED")
    assert any(event["actor"] == "hub:escalation" for event in data["case"]["history"])
    assert data["alarms"]["totalCount"] == 1, "a repeated fault raises no second alarm"
    assert data["alarms"]["edges"][0]["node"] == {"rule": "elevator.trapped", "active": False, "case": {"id": case_id}}
    assert data["devices"]["edges"] == [{"node": {"code": ELEVATOR, "status": "ONLINE", "lastSeen": data["devices"]["edges"][0]["node"]["lastSeen"]}}]


async def test_subscriptions_also_stream_over_multipart_http_and_a_plain_post_is_told_how(live_hub: LiveHub) -> None:
    """What GraphiQL does with its Headers tab: a multipart HTTP response per subscription."""
    query = 'subscription { alarms(scope: "%s") { kind alarm { rule device { code } } } }' % STREET
    headers = {"authorization": f"Bearer {live_hub.tokens['street']}"}
    plain = live_hub.client.post("/graphql", json={"query": query}, headers=headers)
    assert plain.status_code == 400 and "WebSocket" in plain.text and "multipart/mixed" in plain.text
    streaming = {**headers, "accept": 'multipart/mixed;subscriptionSpec="1.0",application/json'}
    async with httpx.AsyncClient(base_url=live_hub.url, timeout=30, trust_env=False) as client:
        async with client.stream("POST", "/graphql", json={"query": query}, headers=streaming) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("multipart/mixed")
            for _ in range(200):
                if live_hub.bus.listeners(Topic.ALARMS):
                    break
                await asyncio.sleep(0.02)
            now = dt.datetime.now(dt.timezone.utc).timestamp() + 60
            live_hub.publish(ELEVATOR, "telemetry", json.dumps({"ts": now, "values": {"fault_code": "E31"}}))
            live_hub.publish(OTHER_ELEVATOR, "telemetry", json.dumps({"ts": now, "values": {"trapped": True}}))
            seen = ""
            async for chunk in response.aiter_text():
                seen += chunk
                if '"rule":"elevator.fault"' in seen.replace(" ", ""):
                    break
    assert ELEVATOR in seen and OTHER_ELEVATOR not in seen
