"""Devices and alarms in the API over real HTTP: registering (and its clear errors), listing with
filters and counts, thresholds with their defaults, alarms with their device and case, acknowledging,
and the loaders that keep a page of alarms or devices at a fixed number of store calls.

The hub is the `small` demo city (tests/schema/conftest.py) asked as an operator; devices are
registered through `registerDevice` at its first estates, and alarms are raised through the
store on the server's loop, as ingestion would.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from graph.devices import Alarm, DeviceType, Severity
from graph.levels import Level
from graph.scope import Scope
from tests.schema.conftest import Hub
from tests.schema.counting import CountingStore

EVERYTHING = Scope.everything()
REGISTER = """mutation($i: DeviceInput!) { registerDevice(input: $i) {
  code type typeLabel model name interval status statusLabel place { code level } point { lon lat }
  thresholds { name value overridden } values { metric } activeAlarms { id }
} }"""
PREFIX = "SCH-"


def _places(hub: Hub, level: Level, count: int) -> list[str]:
    found = hub.run(hub.store.subtree(level, None, EVERYTHING, count))
    return [place.code for place in found.items]


def _register(hub: Hub, **changes: Any) -> dict[str, Any]:
    device = {"code": f"{PREFIX}GAS-01", "type": "GAS_DETECTOR", "model": "汉威 BS01", "place": _places(hub, Level.ESTATE, 1)[0], "interval": 60}
    device.update(changes)
    return hub.post(REGISTER, i=device)


def test_a_device_registers_with_its_thresholds_and_their_defaults(hub: Hub) -> None:
    estate = _places(hub, Level.ESTATE, 1)[0]
    body = _register(hub, lon=120.38, lat=36.07, name="地下车库可燃气体探测器", thresholds=[{"name": "lel_major", "value": 25}])
    assert not body.get("errors"), body
    device = body["data"]["registerDevice"]
    assert device["code"] == f"{PREFIX}GAS-01" and device["typeLabel"] == "可燃气体探测器"
    assert device["place"] == {"code": estate, "level": "ESTATE"} and device["point"] == {"lon": 120.38, "lat": 36.07}
    assert device["status"] == "NEW" and device["statusLabel"] == "未上线" and device["values"] == []
    thresholds = {item["name"]: (item["value"], item["overridden"]) for item in device["thresholds"]}
    assert thresholds["lel_major"] == (25.0, True)
    assert thresholds["lel_critical"] == (50.0, False) and thresholds["offline_multiple"] == (3.0, False)
    # registering again updates it, by code
    again = _register(hub, model="汉威 BS02")["data"]["registerDevice"]
    assert again["model"] == "汉威 BS02" and {item["name"]: item["overridden"] for item in again["thresholds"]}["lel_major"] is False


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"code": "a/b"}, "input.code", "ASCII letters"),
        ({"code": "x"}, "input.code", "3 to 64"),
        ({"interval": 0}, "interval", "1"),
        ({"thresholds": [{"name": "lel_warp", "value": 3}]}, "thresholds.lel_warp", "lel_major"),
        ({"thresholds": [{"name": "lel_major", "value": 5}]}, "thresholds.lel_major", "lel_major_clear"),
        ({"thresholds": [{"name": "lel_major", "value": 25}, {"name": "lel_major", "value": 30}]}, "input.thresholds", "twice"),
        ({"lon": 120.38}, "input.lon", "both or neither"),
        ({"place": "370202"}, "input.place", "estate, building or entrance"),
        ({"place": "370202001099E099"}, "input.place", "is not a place you can see"),
        ({"place": "37020"}, "input.place", "place code"),
    ],
)
def test_a_bad_registration_says_what_is_wrong_and_where(hub: Hub, changes: dict[str, Any], field: str, words: str) -> None:
    code = f"{PREFIX}BAD-01"
    body = _register(hub, code=changes.pop("code", code), **changes)
    message = body["errors"][0]["message"]
    assert field in message and words in message, message
    assert hub.run(hub.store.devices([code], EVERYTHING)) == [None], "nothing of a refused device is stored"


def test_devices_list_by_place_type_and_state_with_counts(hub: Hub) -> None:
    estates = _places(hub, Level.ESTATE, 3)
    for number, estate in enumerate(estates, start=1):
        for kind in ("MANHOLE_COVER", "WATER_PUMP"):
            assert not _register(hub, code=f"{PREFIX}{kind[:2]}-{number:02d}", type=kind, place=estate).get("errors")
    query = """query($s: String!, $t: [DeviceType!], $st: [DeviceStatus!], $f: Int, $a: String) {
      devices(scope: $s, type: $t, status: $st, first: $f, after: $a) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { code type place { code } } } } }"""
    pumps = hub.data(query, s="370202", t=["WATER_PUMP"], f=2)["devices"]
    assert pumps["totalCount"] >= 3 and pumps["pageInfo"]["hasNextPage"]
    assert all(edge["node"]["type"] == "WATER_PUMP" for edge in pumps["edges"])
    rest = hub.data(query, s="370202", t=["WATER_PUMP"], f=50, a=pumps["pageInfo"]["endCursor"])["devices"]
    codes = [edge["node"]["code"] for edge in pumps["edges"] + rest["edges"]]
    assert len(codes) == len(set(codes)) == pumps["totalCount"]
    at_first = hub.data(query, s=estates[0], f=50)["devices"]
    assert {edge["node"]["place"]["code"] for edge in at_first["edges"]} == {estates[0]}
    online = hub.data(query, s="370202", st=["ONLINE"], f=50)["devices"]
    assert online["totalCount"] == 0 and online["edges"] == []


def _raise(hub: Hub, code: str, rule: str) -> Alarm:
    [device] = hub.run(hub.store.devices([code], EVERYTHING))
    assert device is not None
    at = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)
    alarm = hub.run(hub.store.raise_alarm(Alarm("", code, device.type, rule, Severity.MAJOR, "井盖倾斜", at, "", value="15.0°")))
    assert alarm is not None
    return alarm


def test_alarms_show_their_device_and_are_acknowledged(hub: Hub) -> None:
    estate = _places(hub, Level.ESTATE, 1)[0]
    assert not _register(hub, code=f"{PREFIX}MH-ACK", type="MANHOLE_COVER", place=estate).get("errors")
    alarm = _raise(hub, f"{PREFIX}MH-ACK", "manhole.tilt")
    query = """query($s: String!, $active: Boolean) { alarms(scope: $s, active: $active, first: 100) { totalCount edges { node {
      id rule severity severityLabel message value active acknowledgedBy deviceType device { code } place { code } case { id } } } } }"""
    nodes = {edge["node"]["id"]: edge["node"] for edge in hub.data(query, s=estate, active=True)["alarms"]["edges"]}
    assert nodes[alarm.id]["severityLabel"] == "重要" and nodes[alarm.id]["device"] == {"code": f"{PREFIX}MH-ACK"}
    assert nodes[alarm.id]["place"] == {"code": estate} and nodes[alarm.id]["case"] is None
    acknowledged = hub.data('mutation($id: ID!) { ackAlarm(id: $id) { acknowledgedBy acknowledgedAt active } }', id=alarm.id)["ackAlarm"]
    assert acknowledged["acknowledgedBy"] == "schema tests" and acknowledged["active"] is True
    unknown = hub.errors('mutation { ackAlarm(id: "AL19990101000001") { id } }')
    assert "is not an alarm you can see" in unknown[0]["message"]
    hub.run(hub.store.clear_alarm(f"{PREFIX}MH-ACK", "manhole.tilt", dt.datetime(2026, 3, 2, 2, tzinfo=dt.timezone.utc)))
    cleared = {edge["node"]["id"] for edge in hub.data(query, s=estate, active=False)["alarms"]["edges"]}
    assert alarm.id in cleared
    assert alarm.id not in {edge["node"]["id"] for edge in hub.data(query, s=estate, active=True)["alarms"]["edges"]}


def test_pages_of_alarms_and_devices_cost_the_same_store_calls_however_long(hub: Hub, counting: CountingStore) -> None:
    estates = _places(hub, Level.ESTATE, 12)
    for number, estate in enumerate(estates):
        code = f"{PREFIX}N1-{number:02d}"
        assert not _register(hub, code=code, type="TRANSFORMER", place=estate).get("errors")
        _raise(hub, code, "transformer.alarm")
    alarms = """query($f: Int) { alarms(scope: "370202", active: true, first: $f) { edges { node {
      id device { code place { code } activeAlarms { id } } place { name } case { id } } } } }"""
    devices = """query($f: Int) { devices(scope: "370202", type: [TRANSFORMER], first: $f) { edges { node {
      code place { code } activeAlarms { id device { code } } } } } stats(scope: "370202", groupBy: STREET) { devices { total activeAlarms } } }"""
    for query in (alarms, devices):
        counting.reset()
        hub.data(query, f=2)
        few = counting.snapshot()
        counting.reset()
        hub.data(query, f=12)
        many = counting.snapshot()
        assert few == many, (few, many)


def test_device_types_and_states_are_listed_with_chinese_labels(hub: Hub) -> None:
    data = hub.data('{ __type(name: "DeviceType") { enumValues { name } } }')
    assert {item["name"] for item in data["__type"]["enumValues"]} == {kind.name for kind in DeviceType}
