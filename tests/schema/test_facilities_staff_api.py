"""A member of staff books maintenance with its own `staff` token, over the API (a hub on
loopback over SQLite, the conformance suite's city and device fleet, real tokens, the overdue
sweep run for real): the contractor's mechanic on an elevator under its employer's contract in
an estate its employer does not manage, the managing firm's on one of its estates — each booked
as its employer and itself, each clearing the `maintenance.overdue` alarm the sweep raised — and
a member of another firm's staff refused exactly as for a device that does not exist."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph import open_store
from graph.ciphers.keyring import Keyring
from graph.facilities.service import Facilities
from graph.model import Batch, PropertyFirm
from graph.scope import Scope
from graph.staff.records import Post, StaffMember
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.graph.conformance import E_A, E_C, FIRM_2, FIRM_3, ST_A
from tests.graph.conformance_devices import fleet
from tests.graph.conformance_facilities import CONTRACTOR
from tests.schema.test_funds_api import FundHub as Hub
from tests.serving import serve_app, served

EVERYTHING = Scope.everything()
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
IN_E_A = {"lon": 120.387, "lat": 36.057}
MECHANIC, STEWARD, OUTSIDER = "AD-W-007", "BDG-YG-001", "TD-YG-001"
LIFE = """query($c: String!) { facility(code: $c) { version maintenanceOverdue lastMaintainedAt
  events(first: 1) { edges { node { kind byOrg byStaff recordedBy lon lat } } } } }"""
ALARMS = """query($s: String!) { alarms(scope: $s, first: 50) { edges { node { rule active clearedAt device { code } } } } }"""
MAINTAIN = """mutation($c: String!, $at: DateTime!, $lon: Float, $lat: Float) {
  recordMaintenance(code: $c, at: $at, lon: $lon, lat: $lat) { code version maintenanceOverdue } }"""


async def _main(folder: Path, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        await fleet(store)
        await store.write(Batch(firms=[PropertyFirm(CONTRACTOR, "青岛安达电梯维保有限公司", None)]))
        await store.save_staff([
            StaffMember(MECHANIC, CONTRACTOR, Post.ELEVATOR_MECHANIC, "周师傅", "370202198503030011", "13700003333"),
            StaffMember(STEWARD, FIRM_2, Post.ELECTRICIAN, "吴师傅", "370202198604040022", "13700004444", (E_A,)),
            StaffMember(OUTSIDER, FIRM_3, Post.ELECTRICIAN, "郑师傅", "370203198705050033", "13700005555", (E_C,)),
        ])
        facilities = Facilities(store)
        installed = NOW - dt.timedelta(days=20)  # an elevator's maintenance falls due every 15 days
        today = NOW.date()
        for code in ("DT-A11-01", "DT-A11-02"):
            await facilities.record_installation(code, at=installed, scope=EVERYTHING, recorded_by="admin:*")
        await facilities.record_contract(
            "DT-A11-01", at=installed, contractor_code=CONTRACTOR, contractor_name="青岛安达电梯维保有限公司", number="WB-9",
            start=today - dt.timedelta(days=30), end=today + dt.timedelta(days=300), scope=EVERYTHING, recorded_by="admin:*",
        )
        swept = await facilities.overdue_sweep()
        assert swept.raised == 2, swept
        ttl = dt.timedelta(hours=2)
        tokens = {
            "mechanic": await issue_token(store, keys, "staff", MECHANIC, "周师傅", ttl),
            "steward": await issue_token(store, keys, "staff", STEWARD, "吴师傅", ttl),
            "outsider": await issue_token(store, keys, "staff", OUTSIDER, "郑师傅", ttl),
            "admin": await issue_token(store, keys, "admin", "*", "运维", ttl),
        }
    except BaseException:
        await store.close()
        raise
    app = create_app(store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000))
    await serve_app(app, sock, started, store=store, tokens=tokens, public_key=keys.sm2_public)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("facilities-staff")

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        await _main(folder, sock, started)

    with served(main, startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            yield Hub(base, started["tokens"], client, started["public_key"])


def overdue_alarms(hub: Hub) -> dict[str, bool]:
    """Device code → whether its `maintenance.overdue` alarm is active (admin's view)."""
    edges = hub.data("admin", ALARMS, {"s": ST_A})["alarms"]["edges"]
    return {edge["node"]["device"]["code"]: edge["node"]["active"] for edge in edges if edge["node"]["rule"] == "maintenance.overdue"}


def test_a_foreign_staff_token_is_refused_as_for_nothing_and_changes_nothing(hub: Hub) -> None:
    at = (NOW - dt.timedelta(hours=1)).isoformat()
    before = {code: hub.data("admin", LIFE, {"c": code})["facility"] for code in ("DT-A11-01", "DT-A11-02")}
    nothing = hub.error("outsider", MAINTAIN, {"c": "DT-A11-77", "at": at, **IN_E_A})
    assert nothing == "code: 'DT-A11-77' is not a device you can see"
    for code in ("DT-A11-01", "DT-A11-02"):
        assert hub.error("outsider", MAINTAIN, {"c": code, "at": at, **IN_E_A}) == nothing.replace("DT-A11-77", code)
        assert hub.data("admin", LIFE, {"c": code})["facility"] == before[code]
    assert overdue_alarms(hub) == {"DT-A11-01": True, "DT-A11-02": True}
    assert hub.data("outsider", LIFE, {"c": "DT-A11-01"})["facility"] is None  # staff read no facility


def test_the_contractors_and_the_managing_firms_staff_book_maintenance_that_clears_the_overdue_alarm(hub: Hub) -> None:
    at = (NOW - dt.timedelta(minutes=30)).isoformat()
    assert overdue_alarms(hub) == {"DT-A11-01": True, "DT-A11-02": True}
    # the contractor's mechanic: 海韵花园 is not its employer's estate, the contract is
    done = hub.data("mechanic", MAINTAIN, {"c": "DT-A11-01", "at": at, **IN_E_A})["recordMaintenance"]
    assert done["code"] == "DT-A11-01" and done["maintenanceOverdue"] is False
    life = hub.data("admin", LIFE, {"c": "DT-A11-01"})["facility"]
    event = life["events"]["edges"][0]["node"]
    assert (event["kind"], event["byOrg"], event["byStaff"], event["recordedBy"]) == ("MAINTENANCE", CONTRACTOR, MECHANIC, f"staff:{MECHANIC}")
    assert (event["lon"], event["lat"]) == (IN_E_A["lon"], IN_E_A["lat"])
    assert overdue_alarms(hub) == {"DT-A11-01": False, "DT-A11-02": True}
    # not under its employer's contract, nor in an estate its employer manages: as for nothing
    assert hub.error("mechanic", MAINTAIN, {"c": "DT-A11-02", "at": at, **IN_E_A}) == "code: 'DT-A11-02' is not a device you can see"
    # the managing firm's member of staff, on an elevator of its employer's estate
    assert "is not at or near" in hub.error("steward", MAINTAIN, {"c": "DT-A11-02", "at": at, "lon": 120.2, "lat": 36.2})
    done = hub.data("steward", MAINTAIN, {"c": "DT-A11-02", "at": at, **IN_E_A})["recordMaintenance"]
    assert done["maintenanceOverdue"] is False
    event = hub.data("admin", LIFE, {"c": "DT-A11-02"})["facility"]["events"]["edges"][0]["node"]
    assert (event["byOrg"], event["byStaff"]) == (FIRM_2, STEWARD)
    assert overdue_alarms(hub) == {"DT-A11-01": False, "DT-A11-02": False}
