"""Devices, alarms and live updates stay inside each role's scope, by every root field and path.

The world (tests/security/conftest.py, `devices_and_alarms`) holds one device with an active
alarm in each ring: the committee's estate (alarm linked to a case there), the entrance of the
owner's house (above the owner's own scope), an estate of the street outside the community, an
estate of 市南区 outside the street, and the 市北区 estate (alarm linked to the case there).
Every answer also goes through the leak walker, which knows device codes and alarm ids.

Subscriptions are probed over a real WebSocket (graphql-transport-ws): events about every
seeded alarm and case are published on the served app's bus, and each role must receive exactly
the ones it may see.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import pytest

from graph.events import Event, Topic
from graph.scope import Scope
from tests.security.conftest import (
    CASE_DISTRICT,
    CASE_ESTATE,
    CASE_HOUSE,
    CASE_NORTH_ESTATE,
    CASE_NOWHERE,
    CITY,
    DEVICE_ENTRANCE,
    DEVICE_ESTATE,
    DEVICE_NORTH,
    NORTH_ESTATE,
    UNKNOWN_ALARM,
    UNKNOWN_DEVICE,
    SecureHub,
)
from tests.security.world import Role, leaks
from tests.wsclient import live

OPERATORS = frozenset({"admin", "city", "district", "street", "community", "property_firm"})

DEVICE_FIELDS = """
  code type typeLabel model name status statusLabel lastSeen interval
  place { code } point { lon lat } values { metric value } thresholds { name value overridden }
  activeAlarms { id rule case { id place { code } } device { code } }
  readings(first: 3) { at values { metric value } }
"""
ALARM_FIELDS = """
  id rule severity message value raisedAt acknowledgedAt acknowledgedBy clearedAt active deviceType
  place { code } point { lon lat }
  device { code place { code } }
  case { id title place { code } firm { code } }
"""


def _seen_devices(secure_hub: SecureHub, role: Role) -> set[str]:
    return {code for code, place in secure_hub.world.devices.items() if place in role.places}


def _seen_alarms(secure_hub: SecureHub, role: Role) -> set[str]:
    return {key for key, place in secure_hub.world.alarms.items() if place in role.places}


def _root(role: Role) -> str:
    return CITY if role.name == "admin" or not role.roots else sorted(role.roots)[0]  # the staff role: no root of its own


def test_the_leak_walker_catches_devices_and_alarms(secure_hub: SecureHub) -> None:
    street = secure_hub.roles["street"]
    north_alarm = next(key for key, place in secure_hub.world.alarms.items() if place == NORTH_ESTATE)
    assert leaks(secure_hub.world, street, {"device": {"code": DEVICE_NORTH}})
    assert leaks(secure_hub.world, street, {"alarm": {"id": north_alarm}})
    assert not leaks(secure_hub.world, street, {"device": {"code": DEVICE_ESTATE}})


def test_devices_and_alarms_of_a_scope_are_the_roles_own(secure_hub: SecureHub, role: Role) -> None:
    for scope in {CITY, _root(role)}:
        data = secure_hub.data(
            role,
            f"""query($s: String!) {{
              devices(scope: $s, first: 100) {{ totalCount edges {{ cursor node {{ {DEVICE_FIELDS} }} }} }}
              alarms(scope: $s, first: 100) {{ totalCount edges {{ cursor node {{ {ALARM_FIELDS} }} }} }}
            }}""",
            {"s": scope},
        )
        devices = {edge["node"]["code"] for edge in data["devices"]["edges"]}
        alarms = {edge["node"]["id"] for edge in data["alarms"]["edges"]}
        under = secure_hub.world.subtree(scope)
        assert devices == {code for code in _seen_devices(secure_hub, role) if secure_hub.world.devices[code] in under}, (role.name, scope)
        assert data["devices"]["totalCount"] == len(devices)
        assert alarms == {key for key in _seen_alarms(secure_hub, role) if secure_hub.world.alarms[key] in under}, (role.name, scope)
        assert data["alarms"]["totalCount"] == len(alarms)
        for edge in data["alarms"]["edges"]:
            case = edge["node"]["case"]
            if case is not None:  # a linked case is shown only when the role sees it
                assert role.may_see_case(secure_hub.world, case["id"])


def test_device_summaries_on_stats_count_only_the_roles_devices(secure_hub: SecureHub, role: Role) -> None:
    world = secure_hub.world
    for root in sorted(role.roots)[:3]:
        level = world.places[root].level.name
        data = secure_hub.data(
            role,
            "query($s: String!, $g: Level!) { stats(scope: $s, groupBy: $g) { place { code } devices { total new online offline alarm activeAlarms } } }",
            {"s": root, "g": level},
        )
        for row in data["stats"]:
            under = world.subtree(row["place"]["code"])
            seen = {code for code in _seen_devices(secure_hub, role) if world.devices[code] in under}
            assert row["devices"]["total"] == len(seen) == row["devices"]["new"], (role.name, row)
            assert row["devices"]["activeAlarms"] == len({key for key in _seen_alarms(secure_hub, role) if world.alarms[key] in under})
    # a place outside the scope has no summary to give
    north = secure_hub.data(role, '{ place(code: "%s") { code } }' % NORTH_ESTATE)
    if north["place"] is None:
        rows = secure_hub.data(role, '{ stats(scope: "%s", groupBy: ESTATE) { devices { total } } }' % NORTH_ESTATE)
        assert rows["stats"] == []


def test_a_role_sees_what_its_scope_holds(secure_hub: SecureHub) -> None:
    """Controls: without them the test above would pass on a hub that shows nothing."""
    assert _seen_devices(secure_hub, secure_hub.roles["committee"]) == {DEVICE_ESTATE, DEVICE_ENTRANCE}
    assert _seen_devices(secure_hub, secure_hub.roles["owner"]) == set()
    assert len(_seen_devices(secure_hub, secure_hub.roles["city"])) == 5
    data = secure_hub.data("committee", f'{{ devices(scope: "{CITY}") {{ edges {{ node {{ code }} }} }} }}')
    assert {edge["node"]["code"] for edge in data["devices"]["edges"]} == {DEVICE_ESTATE, DEVICE_ENTRANCE}


def test_device_and_alarm_by_key_are_seen_only_in_scope(secure_hub: SecureHub, role: Role) -> None:
    unknown = secure_hub.data(role, f'{{ device(code: "{UNKNOWN_DEVICE}") {{ code }} alarm(id: "{UNKNOWN_ALARM}") {{ id }} }}')
    assert unknown == {"device": None, "alarm": None}
    for code, place in secure_hub.world.devices.items():
        assert secure_hub.cast.seeded is not None
        alarm = secure_hub.cast.seeded.alarms[code]
        data = secure_hub.data(
            role, f"""query($c: String!, $a: ID!) {{ device(code: $c) {{ {DEVICE_FIELDS} }} alarm(id: $a) {{ {ALARM_FIELDS} }} }}""",
            {"c": code, "a": alarm},
        )
        if place in role.places:
            assert data["device"]["code"] == code and data["alarm"]["id"] == alarm
        else:
            assert data == unknown, (role.name, code)


def test_a_foreign_scope_answers_as_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    query = "query($s: String!) { devices(scope: $s) { totalCount edges { node { code } } } alarms(scope: $s) { totalCount edges { node { id } } } }"
    foreign = secure_hub.data(role, query, {"s": NORTH_ESTATE})
    nothing = secure_hub.data(role, query, {"s": "370203005001E099"})
    if NORTH_ESTATE in role.places:
        assert foreign["devices"]["totalCount"] == 1
    else:
        assert foreign == nothing


def _ack_error(secure_hub: SecureHub, role: Role, alarm: str) -> str | None:
    body = secure_hub.post(role, "mutation($a: ID!) { ackAlarm(id: $a) { id acknowledgedBy } }", {"a": alarm})
    errors = body.get("errors")
    return None if not errors else str(errors[0]["message"]).replace(alarm, "<id>")


def test_ack_alarm_on_a_foreign_alarm_answers_as_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    north = next(key for key, place in secure_hub.world.alarms.items() if place == NORTH_ESTATE)
    if NORTH_ESTATE in role.places:
        pytest.skip("the role sees 市北区")
    foreign = _ack_error(secure_hub, role, north)
    unknown = _ack_error(secure_hub, role, UNKNOWN_ALARM)
    assert foreign is not None and foreign == unknown
    [state] = secure_hub.run(secure_hub.store.alarms([north], Scope.everything()))
    assert state is not None and state.acknowledged_at is None


def test_roles_that_may_not_operate_are_refused(secure_hub: SecureHub) -> None:
    estate_alarm = next(key for key, place in secure_hub.world.alarms.items() if place == secure_hub.cast.estate)
    for name in ("committee", "owner"):
        assert "may not acknowledge alarms" in (_ack_error(secure_hub, secure_hub.roles[name], estate_alarm) or "")
    body = secure_hub.post(
        "committee",
        'mutation { registerDevice(input: {code: "SD-SEC-NEW-01", type: SMOKE_DETECTOR, model: "x", place: "%s", interval: 60}) { code } }'
        % secure_hub.cast.estate,
    )
    assert "may not register devices" in body["errors"][0]["message"]


def test_register_device_reaches_only_the_roles_places(secure_hub: SecureHub, role: Role) -> None:
    if role.name not in OPERATORS:
        pytest.skip("refused by role (tested above)")
    mutation = "mutation($i: DeviceInput!) { registerDevice(input: $i) { code place { code } } }"

    def attempt(code: str, place: str) -> dict[str, Any]:
        return secure_hub.post(role, mutation, {"i": {"code": code, "type": "MANHOLE_COVER", "model": "测试", "place": place, "interval": 300}})

    suffix = role.name.upper().replace("_", "")[:8]
    if NORTH_ESTATE not in role.places:
        refused = attempt(f"MH-SEC-{suffix}-N", NORTH_ESTATE)
        assert "is not a place you can see" in refused["errors"][0]["message"]
        taken = attempt(DEVICE_NORTH, secure_hub.cast.estate if secure_hub.cast.estate in role.places else NORTH_ESTATE)
        assert taken.get("errors"), "a device outside the scope must not be taken over"
        [north] = secure_hub.run(secure_hub.store.devices([DEVICE_NORTH], Scope.everything()))
        assert north is not None and north.place_code == NORTH_ESTATE
    inside = sorted(place for place in role.places if secure_hub.world.places[place].level.name in ("ESTATE", "BUILDING", "ENTRANCE"))
    done = attempt(f"MH-SEC-{suffix}-IN", inside[0])
    assert not done.get("errors"), done
    assert done["data"]["registerDevice"]["place"]["code"] == inside[0]


# -- subscriptions ----------------------------------------------------------------------


async def _publish_all(secure_hub: SecureHub) -> None:
    assert secure_hub.bus is not None
    for key, place in secure_hub.world.alarms.items():
        secure_hub.bus.publish(Event(Topic.ALARMS, key, "raised", place))
    for key in (CASE_HOUSE, CASE_ESTATE, CASE_DISTRICT, CASE_NORTH_ESTATE, CASE_NOWHERE):
        secure_hub.bus.publish(Event(Topic.CASES, key, "moved", secure_hub.world.cases[key]))


async def _listen(secure_hub: SecureHub, role: Role, scopes: list[str]) -> dict[str, tuple[set[str], set[str], list[dict[str, Any]]]]:
    """What `role` hears on `alarms` and `caseUpdates` under each of `scopes` (a connection
    each, all open at once) when every alarm and case is published: the alarms and cases seen
    and every message, until 1.5 s pass in silence on that connection."""
    async with AsyncExitStack() as stack:
        subscribed = []
        for scope in scopes:
            client = await stack.enter_async_context(live(secure_hub.url))
            assert (await client.init(role.token))["type"] == "connection_ack"
            alarms = await client.subscribe(
                f"subscription($s: String!) {{ alarms(scope: $s) {{ kind alarm {{ {ALARM_FIELDS} }} }} }}", {"s": scope}
            )
            cases = await client.subscribe(
                "subscription($s: String!) { caseUpdates(scope: $s) { kind case { id place { code } firm { code } history { actor } } } }",
                {"s": scope},
            )
            subscribed.append((client, alarms, cases))
        for _ in range(100):  # wait until every subscription listens on the bus
            if (
                secure_hub.bus is not None
                and secure_hub.bus.listeners(Topic.ALARMS) >= len(scopes)
                and secure_hub.bus.listeners(Topic.CASES) >= len(scopes)
            ):
                break
            await asyncio.sleep(0.02)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_publish_all(secure_hub), secure_hub.loop))
        heard = await asyncio.gather(*(client.quiet(1.5) for client, _, _ in subscribed))
    found = {}
    for scope, (_, alarms, cases), messages in zip(scopes, subscribed, heard, strict=True):
        seen_alarms = {m["payload"]["data"]["alarms"]["alarm"]["id"] for m in messages if m.get("id") == alarms and m["type"] == "next"}
        seen_cases = {m["payload"]["data"]["caseUpdates"]["case"]["id"] for m in messages if m.get("id") == cases and m["type"] == "next"}
        found[scope] = (seen_alarms, seen_cases, messages)
    return found


async def test_subscriptions_show_only_the_roles_alarms_and_cases(secure_hub: SecureHub, role: Role) -> None:
    scopes = sorted({CITY, _root(role)})
    heard = await _listen(secure_hub, role, scopes)
    for scope in scopes:
        alarms, cases, messages = heard[scope]
        for message in messages:
            assert message["type"] == "next", message
            assert not leaks(secure_hub.world, role, message["payload"]["data"]), message
        under = None if scope == CITY else secure_hub.world.subtree(scope)
        expected_alarms = {key for key in _seen_alarms(secure_hub, role) if under is None or secure_hub.world.alarms[key] in under}
        assert alarms == expected_alarms, (role.name, scope)
        published = (CASE_HOUSE, CASE_ESTATE, CASE_DISTRICT, CASE_NORTH_ESTATE, CASE_NOWHERE)
        expected_cases = {
            key for key in published if role.may_see_case(secure_hub.world, key)
            and (under is None or secure_hub.world.cases[key] in under)
        }
        assert cases == expected_cases, (role.name, scope)


async def test_a_websocket_without_a_valid_token_reads_nothing(secure_hub: SecureHub) -> None:
    from websockets.exceptions import ConnectionClosed

    for token in (None, "hub1.not.a-token"):
        async with live(secure_hub.url) as client:
            with pytest.raises(ConnectionClosed) as closed:
                await client.init(token)
                await client.receive(5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    async with live(secure_hub.url) as client:  # subscribing before connection_init is refused
        await client.subscribe('subscription { alarms(scope: "370200") { kind } }')
        with pytest.raises(ConnectionClosed) as early:
            await client.receive(5)
        assert early.value.rcvd is not None and early.value.rcvd.code == 4401


async def test_a_websocket_with_the_header_is_the_tokens_caller(secure_hub: SecureHub) -> None:
    street = secure_hub.roles["street"]
    async with live(secure_hub.url, {"Authorization": f"Bearer {street.token}"}) as client:
        assert (await client.init(None))["type"] == "connection_ack"
        key = await client.subscribe("subscription { alarms(scope: \"370200\") { alarm { id } } }")
        for _ in range(100):
            if secure_hub.bus is not None and secure_hub.bus.listeners(Topic.ALARMS):
                break
            await asyncio.sleep(0.02)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_publish_all(secure_hub), secure_hub.loop))
        messages = await client.quiet(1.5)
    seen = {m["payload"]["data"]["alarms"]["alarm"]["id"] for m in messages if m.get("id") == key}
    assert seen == _seen_alarms(secure_hub, street) and seen
    assert json.dumps(messages).count(DEVICE_NORTH) == 0
