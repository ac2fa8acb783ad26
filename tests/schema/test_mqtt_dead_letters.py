"""Devices' refused messages over the API: a served hub ingests from the real Mosquitto (topics of
this run's own), bad messages are set aside as dead letters of the built-in source `mqtt`, and
`deadLetters(connector: "mqtt")` and `deadLetters` answer them to admin and city — every reason,
each message counted, the first and the last detail kept.

The bad messages are published before the hub connects, into the persistent session its client
id will resume (created here with the hub's own subscription), so the broker hands them over as
soon as the hub's reader subscribes: nothing waits on timing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from connectors.config import ConnectorSet
from devices.mqtt import Broker
from devices.topics import subscription
from graph.ciphers.keyring import Keyring
from graph import open_store
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from hub.settings import Settings
from tests.devices.conftest import city, fleet
from tests.serving import served
from tests.services import MOSQUITTO, run_id

LETTERS = """query($connector: String) {
  deadLetters(connector: $connector, first: 50) {
    nodes { connector stream recordKey reason detail firstDetail seen firstAt at payload retryable resolvedAt }
  }
}"""
REASONS = {"BAD_TOPIC", "UNKNOWN_DEVICE", "MALFORMED_PAYLOAD", "OUT_OF_RANGE"}


@dataclasses.dataclass
class Hub:
    url: str
    tokens: dict[str, str]

    def post(self, role: str, query: str, **variables: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables},
                              headers={"authorization": f"Bearer {self.tokens[role]}"}, timeout=30, trust_env=False)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def letters(self, role: str, connector: str | None) -> list[dict[str, Any]]:
        body = self.post(role, LETTERS, connector=connector)
        assert not body.get("errors"), body["errors"]
        nodes: list[dict[str, Any]] = body["data"]["deadLetters"]["nodes"]
        return nodes


def _reading(values: dict[str, Any]) -> bytes:
    return json.dumps({"ts": dt.datetime.now(dt.timezone.utc).isoformat(), "values": values}).encode()


async def _publish_into_the_session(broker: Broker, client_id: str, prefix: str) -> int:
    """The hub's session, subscribed as the hub subscribes, then the bad messages; how many."""
    async with broker.client(identifier=client_id, clean_session=False) as hub:
        await hub.subscribe(subscription(prefix), qos=1)
    messages = [
        (f"{prefix}/devices/GD-0001/debug", b"{}"),  # bad_topic
        (f"{prefix}/devices/NOPE-404/telemetry", _reading({"lel": 1})),  # unknown_device
        (f"{prefix}/devices/GD-0001/telemetry", b"\xff\xfe not utf-8"),  # malformed_payload
        (f"{prefix}/devices/GD-0001/telemetry", _reading({"lel": 150})),  # out_of_range, three times
        (f"{prefix}/devices/GD-0001/telemetry", _reading({"lel": 160})),
        (f"{prefix}/devices/GD-0001/telemetry", _reading({"lel": 170})),
    ]
    async with broker.client(identifier=f"{client_id}-devices") as devices:
        for topic, payload in messages:
            await devices.publish(topic, payload, qos=1)
    return len(messages)


async def _forget_session(broker: Broker, client_id: str) -> None:
    async with broker.client(identifier=client_id, clean_session=True):
        pass


async def _main(home: Path, settings: Settings, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(str(home / "hub.sqlite"), sealer=keys.sealer())
    await store.write(city())
    await store.register_devices(fleet())
    ttl = dt.timedelta(hours=1)
    started["tokens"] = {
        "admin": await issue_token(store, keys, "admin", "*", "ops", ttl),
        "city": await issue_token(store, keys, "city", "370200", "dashboard", ttl),
        "street": await issue_token(store, keys, "street", "370202001", "香港中路街道", ttl),
    }
    app = create_app(store, keys=keys, owns_store=True, connectors=ConnectorSet(), background=settings,
                     limits=dataclasses.replace(Limits(), rate=1e6, burst=1_000_000))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", http="h11"))
    started["server"] = server
    await server.serve(sockets=[sock])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    if not MOSQUITTO.ensure():
        pytest.fail("Mosquitto is neither running on 127.0.0.1:1883 nor installed to be started")
    home = tmp_path_factory.mktemp("mqtt-letters")
    prefix, client_id = f"t{run_id()}", f"hub-letters-{run_id()}"
    broker = Broker(MOSQUITTO.host, MOSQUITTO.port)
    asyncio.run(_publish_into_the_session(broker, client_id, prefix))
    settings = Settings(mqtt=f"mqtt://{MOSQUITTO.host}:{MOSQUITTO.port}", mqtt_prefix=prefix, mqtt_client_id=client_id)
    try:
        with served(functools.partial(_main, home, settings), startup_seconds=60) as (url, started):
            yield Hub(url, started["tokens"])
    finally:
        asyncio.run(_forget_session(broker, client_id))


def _eventually_all_reasons(hub: Hub, role: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        letters = hub.letters(role, "mqtt")
        out_of_range = [x for x in letters if x["reason"] == "OUT_OF_RANGE"]
        if {x["reason"] for x in letters} == REASONS and out_of_range and out_of_range[0]["seen"] == 3:
            return letters
        assert time.monotonic() < deadline, letters
        time.sleep(0.1)


@pytest.mark.parametrize("role", ["admin", "city"])
def test_every_reason_is_listed_for_the_mqtt_source(hub: Hub, role: str) -> None:
    letters = _eventually_all_reasons(hub, role)
    by_reason = {x["reason"]: x for x in letters}
    assert {(x["connector"], x["reason"]) for x in letters} == {("mqtt", reason) for reason in REASONS}
    assert by_reason["UNKNOWN_DEVICE"]["recordKey"] == "NOPE-404" and by_reason["UNKNOWN_DEVICE"]["stream"] == "telemetry"
    assert by_reason["BAD_TOPIC"]["recordKey"].endswith("/devices/GD-0001/debug")
    out_of_range = by_reason["OUT_OF_RANGE"]
    assert out_of_range["seen"] == 3  # each message, not each batch
    assert "150" in out_of_range["firstDetail"] and "170" in out_of_range["detail"]
    assert out_of_range["firstAt"] <= out_of_range["at"]
    assert all(x["retryable"] is False and x["resolvedAt"] is None for x in letters)  # messages are not kept whole
    everything = hub.letters(role, None)
    assert {x["reason"] for x in everything if x["connector"] == "mqtt"} == REASONS


def test_other_roles_are_still_told_dead_letters_are_not_for_them(hub: Hub) -> None:
    [error] = hub.post("street", LETTERS, connector="mqtt")["errors"]
    assert error["message"] == "forbidden: connectors are for admin and city roles"
