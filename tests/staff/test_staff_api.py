"""Done when: on a real store with the device pipeline, an `elevator.trapped` alarm becomes a case
assigned to the nearest certified elevator hand on shift (not a nearer uncertified one, not an
off-shift one), who with a staff token over HTTP (GraphQL) signs, arrives and resolves it, and
sees no other case: queries for another case, lists and stats answer nothing.

Also over HTTP, per role: another member of staff cannot touch the case; the firm reads its
staff with personal data whole (each read audited) and the on-site figures; the city reads the
staff masked; a staff token is refused everything that is not its own case.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from devices.pipeline import Pipeline
from graph import open_store
from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.ciphers.keyring import Keyring
from graph.events import EventBus
from graph.rules import RuleEngine
from graph.scope import Scope
from graph.workflow import Workflow
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.serving import TokenHolders, serve_app, served
from tests.staff.world import ESTATE, FIRM, HOUSE, LIFT, OTHER_FIRM, city, crew, elevator, north_of

EVERYTHING = Scope.everything()


@dataclass
class StaffHub(TokenHolders):
    client: httpx.Client
    tokens: dict[str, str]
    cases: dict[str, str]
    started: dict[str, Any]


    def audit(self) -> list[Any]:
        import asyncio

        store = self.started["store"]
        return asyncio.run_coroutine_threadsafe(store.audit_tail(50), self.started["loop"]).result(30)


def telemetry(values: dict[str, object], at: dt.datetime) -> bytes:
    return json.dumps({"ts": at.isoformat(), "values": values}).encode()


async def _main(folder: Path, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        await store.write(city())
        await store.register_devices([elevator()])
        await store.save_staff(crew(now))
        bus = EventBus()
        pipeline = Pipeline(
            store, RuleEngine(), Workflow(store, bus=bus), bus, prefix="hub", batch_wait=0.01, sweep_every=3600, refresh_every=0.0
        )
        await pipeline.start()
        try:
            await pipeline.submit("hub/devices/EL-0001/status", b"online", now)
            await pipeline.submit("hub/devices/EL-0001/events", telemetry({"trapped": True}, now), now)
            await pipeline.drain()
        finally:
            await pipeline.stop()
        [alarm] = (await store.alarm_page(EVERYTHING, 10, active=True, device_codes=["EL-0001"])).items
        assert alarm.rule == "elevator.trapped" and alarm.case_id
        # another case of the same estate, for another hand: S-HAND must never see it
        other = Case("", CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED, "楼道跳闸停电", now, now, place_code=HOUSE)
        opened = await Workflow(store).open_case(other, actor="业主")
        ttl = dt.timedelta(hours=2)
        tokens = {
            "hand": await issue_token(store, keys, "staff", "S-HAND", "王师傅", ttl),
            "far": await issue_token(store, keys, "staff", "S-FAR", "赵师傅", ttl),
            "firm": await issue_token(store, keys, "property_firm", FIRM, "海信物业", ttl),
            "city": await issue_token(store, keys, "city", "370200", "青岛市城市运行中心", ttl),
        }
    except BaseException:
        await store.close()
        raise
    app = create_app(store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000))
    await serve_app(app, sock, started, store=store, tokens=tokens, cases={"trapped": alarm.case_id, "other": opened.id})


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffHub]:
    folder = tmp_path_factory.mktemp("staff")

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        await _main(folder, sock, started)

    with served(main, startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            yield StaffHub(client, started["tokens"], started["cases"], started)


CASE = "query($id: ID!) { case(id: $id) { id status assignee arriveBy arrivedAt firm { code } place { code } history { toStatus note } } }"
SIGN = "mutation($id: ID!) { signCase(id: $id) { id status } }"
ARRIVE = "mutation($id: ID!, $p: GeoPointInput!) { arriveCase(id: $id, position: $p) { id status arrivedAt } }"
RESOLVE = 'mutation($id: ID!) { resolveCase(id: $id, note: "解救被困人员，电梯恢复运行") { id status resolvedAt } }'


def test_a_trapped_passenger_is_assigned_signed_reached_and_resolved_by_the_nearest_certified_hand(hub: StaffHub) -> None:
    trapped, other = hub.cases["trapped"], hub.cases["other"]
    found = hub.data("hand", CASE, {"id": trapped})["case"]
    assert (found["id"], found["status"], found["assignee"]) == (trapped, "DISPATCHED", "S-HAND")
    assert found["arriveBy"] is not None and found["arrivedAt"] is None
    assert found["firm"] is None and found["place"] is None  # its own case, and nothing around it
    assert "指派给 S-HAND（电梯维修工）：距离 150 米（实时位置）" in found["history"][-1]["note"]
    # the others: not the electrician 5 m away, not the off-shift hand, not the expired certificate
    mine = hub.data("hand", "{ myCases { totalCount edges { node { id } } } }")["myCases"]
    assert (mine["totalCount"], [edge["node"]["id"] for edge in mine["edges"]]) == (1, [trapped])

    # another hand may not act on it, and sees it as absent
    assert "is not a case you can see" in hub.error("far", SIGN, {"id": trapped})
    assert hub.data("far", CASE, {"id": trapped})["case"] is None

    assert hub.data("hand", SIGN, {"id": trapped})["signCase"]["status"] == "SIGNED"
    far_away = north_of(LIFT, 2000)
    refusal = hub.error("hand", ARRIVE, {"id": trapped, "p": {"lon": far_away.lon, "lat": far_away.lat}})
    assert "2000 m from case" in refusal and "at most 300 m" in refusal
    near = north_of(LIFT, 40)
    arrived = hub.data("hand", ARRIVE, {"id": trapped, "p": {"lon": near.lon, "lat": near.lat}})["arriveCase"]
    assert arrived["status"] == "IN_PROGRESS" and arrived["arrivedAt"] is not None
    resolved = hub.data("hand", RESOLVE, {"id": trapped})["resolveCase"]
    assert resolved["status"] == "RESOLVED" and resolved["resolvedAt"] is not None
    steps = [step["toStatus"] for step in hub.data("hand", CASE, {"id": trapped})["case"]["history"]]
    assert steps == ["ACCEPTED", "DISPATCHED", "SIGNED", "IN_PROGRESS", "RESOLVED"]

    # nothing else: another case, lists, stats, places, owners, devices
    assert hub.data("hand", CASE, {"id": other})["case"] is None
    assert "is not a case you can see" in hub.error("hand", SIGN, {"id": other})
    listed = hub.data("hand", '{ cases(scope: "%s") { totalCount edges { node { id } } } }' % ESTATE)["cases"]
    assert listed == {"totalCount": 0, "edges": []}
    assert hub.data("hand", '{ place(code: "%s") { code } }' % ESTATE)["place"] is None
    assert hub.ask("hand", '{ caseMetrics(scope: "%s", groupBy: ESTATE) { cases } }' % "370202001").get("data") in (None, {"caseMetrics": []})
    stats = hub.ask("hand", '{ stats(scope: "%s", groupBy: ESTATE) { houses } }' % "370202001")
    assert not (stats.get("data") or {}).get("stats")
    assert "may not" in hub.error("hand", '{ owners(name: "王HAND") { id } }')
    assert hub.data("hand", '{ staffMember(id: "S-HAND") { id } }')["staffMember"] is None
    assert hub.data("hand", '{ staff(employer: "%s") { id } }' % FIRM)["staff"] == []

    # the firm reads the on-site figure: one emergency, reached within 20 minutes
    metrics = hub.data("firm", '{ firm(code: "%s") { caseMetrics { onSiteDue onSiteInTime onSiteRate } } }' % FIRM)["firm"]["caseMetrics"]
    assert metrics == {"onSiteDue": 1, "onSiteInTime": 1, "onSiteRate": 1.0}


STAFF = '{ staff(employer: "%s") { id name idNumber phone postLabel certificates { number standing flagged } onShift } }' % FIRM


def test_the_firm_sees_its_staff_whole_audited_and_the_city_masked(hub: StaffHub) -> None:
    whole = {member["id"]: member for member in hub.data("firm", STAFF)["staff"]}
    assert set(whole) == {"S-NOCERT", "S-OFF", "S-EXPIRED", "S-HAND", "S-FAR"}  # S-STALE works in another firm's estate
    assert (whole["S-HAND"]["name"], whole["S-HAND"]["phone"], whole["S-HAND"]["idNumber"]) == ("王HAND", "13912345678", "370202199001011234")
    assert whole["S-EXPIRED"]["certificates"] == [{"number": "T370200009", "standing": "expired", "flagged": True}]
    assert whole["S-NOCERT"]["certificates"][0]["standing"] == "expiring"
    assert whole["S-HAND"]["certificates"][0]["flagged"] is False and whole["S-OFF"]["onShift"] is False
    warned = hub.data("firm", '{ staffMember(id: "S-NOCERT") { certificates(warnDays: 10) { standing flagged } } }')
    assert warned["staffMember"]["certificates"] == [{"standing": "valid", "flagged": False}]  # 20 days left: not within 10
    assert "warnDays: '0' must be 1 to 366 days" in hub.error("firm", '{ staffMember(id: "S-NOCERT") { certificates(warnDays: 0) { standing } } }')
    entry = next(item for item in reversed(hub.audit()) if item.action == "pii.read" and item.role == "property_firm")
    assert "staff/S-HAND" in entry.detail["owners"] and set(entry.detail["fields"]) == {"name", "id_number", "phone"}
    masked = {member["id"]: member for member in hub.data("city", STAFF)["staff"]}
    assert (masked["S-HAND"]["name"], masked["S-HAND"]["phone"], masked["S-HAND"]["idNumber"]) == ("王*", "139****5678", "370202********1234")
    assert hub.data("firm", '{ staff(employer: "%s") { id } }' % OTHER_FIRM)["staff"] == []


def test_staff_only_steps_are_refused_to_other_roles(hub: StaffHub) -> None:
    for who in ("firm", "city"):
        assert "may not" in hub.error(who, "{ myCases { totalCount } }")
        assert "may not" in hub.error(who, 'mutation { reportPosition(position: {lon: 120.38, lat: 36.07}) }')
    assert hub.data("far", 'mutation { reportPosition(position: {lon: 120.38, lat: 36.07}) }')["reportPosition"] is True
    assert "not a WGS-84" in hub.error("far", 'mutation { reportPosition(position: {lon: 120.38, lat: 96.07}) }')
    assert hub.data("hand", '{ devices(scope: "%s") { totalCount } }' % ESTATE)["devices"]["totalCount"] == 0
