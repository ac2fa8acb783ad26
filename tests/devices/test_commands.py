"""`hub devices import | acl | list` and `hub simulate`, run as the CLI runs them, on a real
SQLite store (and, for simulate over MQTT, the machine's Mosquitto with a prefix of this run)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from devices.acl import HUB_USER, SIMULATOR_USER, verify
from devices.mqtt import Broker
from devices.service import Ingestion
from devices.simulator import Simulator, pick, publish_to_broker
from graph.ciphers.keyring import Keyring
from graph.devices import DeviceType, every_device
from graph.events import EventBus
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from graph.workflow import Workflow
from hub.cli import main
from hub.settings import Settings
from tests.devices.conftest import BUILDING, ENTRANCE, ESTATE, HOUSE, city, eventually, fleet
from tests.services import run_id

EVERYTHING = Scope.everything()
T = TypeVar("T")


class Hub:
    def __init__(self, tmp_path: Path) -> None:
        self.db = str(tmp_path / "hub.sqlite")
        self.keys = str(tmp_path / "hub.keys")
        Keyring.generate().save(Path(self.keys))
        asyncio.run(self._seed())

    async def _seed(self) -> None:
        store = await self.open()
        try:
            await store.write(city())
        finally:
            await store.close()

    async def open(self) -> SqlStore:
        return await open_store(self.db, sealer=Keyring.load(Path(self.keys)).sealer())

    def run(self, *argv: str) -> int:
        return main([*argv, "--db", self.db, "--keys", self.keys])

    def query(self, work: Callable[[SqlStore], Awaitable[T]]) -> T:
        async def go() -> T:
            store = await self.open()
            try:
                return await work(store)
            finally:
                await store.close()

        return asyncio.run(go())


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Hub:
    for name in ("HUB_MQTT", "HUB_MQTT_PREFIX", "HUB_DB", "HUB_KEYS"):
        monkeypatch.delenv(name, raising=False)
    return Hub(tmp_path)


def rows_of(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["user"]: row for row in csv.DictReader(handle)}


GOOD_CSV = (
    "\ufeffcode,type,model,place,lon,lat,interval,name,thresholds\n"
    f"EL-0001,elevator,OTIS GeN2,{ENTRANCE},120.38,36.07,30,1号楼1单元电梯,\n"
    f"GD-0001,gas_detector,GT-100,{BUILDING},,,60,厨房燃气,lel_major=18;lel_major_clear=12\n"
    f'MC-0001,manhole_cover,JG-1,{ESTATE},120.381,36.071,300,东门井盖,"{{""tilt_baseline"": 3}}"\n'
)


def test_import_csv_then_again_updates(hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "devices.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    assert hub.run("devices", "import", str(path)) == 0
    assert "3 devices: 3 inserted, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert hub.run("devices", "import", str(path)) == 0
    assert "0 inserted, 0 updated, 3 unchanged" in capsys.readouterr().out
    path.write_text(GOOD_CSV.replace("OTIS GeN2", "OTIS GeN3"), encoding="utf-8")
    assert hub.run("devices", "import", str(path)) == 0
    assert "0 inserted, 1 updated, 2 unchanged" in capsys.readouterr().out
    gas, cover = hub.query(lambda s: s.devices(["GD-0001", "MC-0001"], EVERYTHING))
    assert gas is not None and cover is not None and cover.point is not None
    assert gas.thresholds == {"lel_major": 18.0, "lel_major_clear": 12.0} and gas.point is None
    assert cover.thresholds == {"tilt_baseline": 3.0} and cover.point.lon == 120.381 and cover.interval == 300
    assert hub.run("devices", "list") == 0
    out = capsys.readouterr().out
    assert "EL-0001" in out and "elevator" in out and "new" in out and "3 of 3 devices" in out
    assert hub.run("devices", "list", "--type", "gas_detector") == 0
    assert "1 of 1 devices" in capsys.readouterr().out
    assert hub.run("devices", "list", "--type", "toaster") == 2
    assert "--type: 'toaster' must be one of" in capsys.readouterr().err


def test_import_json_and_jsonl(hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows: list[dict[str, Any]] = [
        {"code": "TR-0001", "type": "transformer", "model": "SCB10", "place": ESTATE, "interval": 60,
         "thresholds": {"alarm_c": 125, "alarm_clear_c": 115}},
        {"code": "WP-0001", "type": "water_pump", "model": "CR", "place": ESTATE, "interval": 60, "lon": 120.3, "lat": 36.1},
    ]
    (tmp_path / "d.json").write_text(json.dumps({"devices": rows}), encoding="utf-8")
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r | {"code": r["code"] + "X"}) for r in rows) + "\n\n", encoding="utf-8")
    assert hub.run("devices", "import", str(tmp_path / "d.json")) == 0
    assert hub.run("devices", "import", str(tmp_path / "d.jsonl")) == 0
    out = capsys.readouterr().out
    assert out.count("2 inserted, 0 updated") == 2
    [transformer] = hub.query(lambda s: s.devices(["TR-0001X"], EVERYTHING))
    assert transformer is not None
    assert transformer.type is DeviceType.TRANSFORMER and transformer.thresholds["alarm_c"] == 125.0


def test_import_reports_every_problem_with_its_line_and_writes_nothing(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        GOOD_CSV
        + f"bad/code,elevator,X,{ENTRANCE},,,30,,\n"  # line 5
        + f"EL-0002,toaster,X,{ENTRANCE},,,30,,\n"  # line 6
        + f"EL-0003,elevator,X,{HOUSE},,,30,,\n"  # line 7: a house is no mount
        + "EL-0004,elevator,X,370202001001E999,,,30,,\n"  # line 8: no such place
        + f"GD-0002,gas_detector,X,{BUILDING},200,36,0,,lel_major=40\n"  # line 9
        + f"EL-0001,elevator,X,{ENTRANCE},,,30,,\n"  # line 10: a duplicate
        + f"GD-0003,gas_detector,X,{BUILDING},,,30,,lel_major=10;lel_major_clear=12\n",  # line 11
        encoding="utf-8",
    )
    assert hub.run("devices", "import", str(path)) == 2
    err = capsys.readouterr().err
    assert "nothing was imported" in err
    for expected in [
        "line 5, column code: 'bad/code'",
        "line 6, column type: 'toaster' must be one of",
        "line 7, column place: 370202001001GB00001F00010001 is a house",
        "line 8, column place: no place '370202001001E999' is known",
        "line 9, column interval",
        "line 9, column lon",
        "line 9, column thresholds",
        "line 10, column code: 'EL-0001' is also on line 2",
        "line 11, column thresholds",
    ]:
        assert expected in err, expected
    assert err.index("line 5") < err.index("line 7") < err.index("line 11")
    assert hub.query(every_device) == []
    (tmp_path / "latin.csv").write_bytes("code,type\nEL-0001,\xe9\n".encode("latin-1"))
    assert hub.run("devices", "import", str(tmp_path / "latin.csv")) == 2
    assert "line 2: not UTF-8" in capsys.readouterr().err
    (tmp_path / "short.csv").write_text("code,type\n", encoding="utf-8")
    assert hub.run("devices", "import", str(tmp_path / "short.csv")) == 2
    assert "the header lacks column(s) model, place, interval" in capsys.readouterr().err


def test_acl_files_keep_passwords_across_runs(hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "devices.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    assert hub.run("devices", "import", str(path)) == 0
    out = tmp_path / "broker"
    assert hub.run("devices", "acl", "--out", str(out), "--prefix", "city") == 0
    assert "4 new passwords, 0 kept" in capsys.readouterr().out
    credentials = rows_of(out / "credentials.csv")
    assert set(credentials) == {HUB_USER, "EL-0001", "GD-0001", "MC-0001"}
    assert stat.S_IMODE((out / "credentials.csv").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "passwords").stat().st_mode) == 0o600
    hashes = dict(line.split(":", 1) for line in (out / "passwords").read_text().splitlines())
    assert all(verify(credentials[user]["password"], hashes[user]) for user in credentials)
    acl = (out / "acl").read_text()
    assert "user EL-0001\ntopic write city/devices/EL-0001/#\n" in acl
    assert f"user {HUB_USER}\ntopic read city/devices/#\n" in acl
    assert "write city/devices/#" not in acl

    path.write_text(GOOD_CSV + f"EL-0009,elevator,X,{ENTRANCE},,,30,,\n", encoding="utf-8")
    assert hub.run("devices", "import", str(path)) == 0
    assert hub.run("devices", "acl", "--out", str(out), "--prefix", "city", "--simulator") == 0
    assert "2 new passwords, 4 kept" in capsys.readouterr().out
    again = rows_of(out / "credentials.csv")
    assert all(again[user]["password"] == credentials[user]["password"] for user in credentials)
    assert {"EL-0009", SIMULATOR_USER} <= set(again)
    assert f"user {SIMULATOR_USER}\ntopic write city/devices/#\n" in (out / "acl").read_text()


def test_simulate_in_process_raises_and_clears_alarms(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    hub.query(lambda s: s.register_devices(fleet(3)))
    argv = ("simulate", "--devices", "15", "--rate", "300", "--duration", "3", "--faults", "0.08", "--seed", "4", "--json")
    assert hub.run(*argv) == 0
    said = json.loads(capsys.readouterr().out)
    report, ingested = said["report"], said["ingested"]
    assert report["devices"] == 15 and report["messages"] >= 600 and report["faults"]
    assert ingested["accepted"] == ingested["received"] == report["messages"] + 15  # + the status messages
    assert ingested["set_aside"] == {} and ingested["failed"] == 0
    assert ingested["alarms_raised"] >= 1 and ingested["cases_opened"] == ingested["alarms_raised"]
    page = hub.query(lambda s: s.alarm_page(EVERYTHING, 100))
    assert len(page.items) == ingested["alarms_raised"]
    assert all(alarm.case_id for alarm in page.items)
    statuses = {d.status.value for d in hub.query(every_device)}
    assert statuses & {"online", "alarm"}


def test_simulator_is_deterministic_per_seed() -> None:
    devices = fleet(2)
    at = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    runs = []
    for _ in range(2):
        simulator = Simulator(pick(devices, 8, seed=9), seed=9, faults=0.1)
        runs.append([simulator.next(at + dt.timedelta(seconds=n)) for n in range(400)])
    assert runs[0] == runs[1]
    assert any(t.endswith("/events") for t, _ in runs[0])  # faults started
    other = Simulator(pick(devices, 8, seed=10), seed=10, faults=0.1)
    assert [other.next(at + dt.timedelta(seconds=n)) for n in range(400)] != runs[0]


async def test_simulator_over_the_machines_mosquitto(mosquitto: tuple[str, int], store: SqlStore) -> None:
    host, port = mosquitto
    prefix, client_id = f"sim{run_id()}", f"hub-sim-{run_id()}"
    bus = EventBus()
    service = Ingestion(store, Settings(mqtt=f"mqtt://{host}:{port}", mqtt_prefix=prefix, mqtt_client_id=client_id),
                        bus=bus, workflow=Workflow(store, bus=bus))
    await service.start()
    try:
        await service.wait_subscribed()
        simulator = Simulator(await every_device(store), prefix=prefix, seed=2, faults=0.1)
        report = await publish_to_broker(simulator, Broker(host, port), rate=200, duration=2.0)
        await eventually(lambda: service.stats.handled >= report.messages + len(simulator.devices))
        stats = service.stats
        assert stats.accepted == report.messages + len(simulator.devices) and stats.set_aside_total == 0
    finally:
        await service.stop()
        async with Broker(host, port).client(identifier=client_id, clean_session=True):
            pass
    # the retained `online` of every simulated device stays on the broker: clear them
    async with Broker(host, port).client() as client:
        for t, _ in simulator.status():
            await client.publish(t, b"", qos=1, retain=True)


def test_a_focus_faults_at_its_own_rate() -> None:
    """The devices in focus start faults at `focus_faults`, the others at `faults`."""
    devices = fleet(2)
    focus = [device.code for device in devices if device.type is DeviceType.ELEVATOR]
    simulator = Simulator(devices, seed=3, faults=0.0, focus=focus, focus_faults=0.5)
    at = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    for n in range(600):
        simulator.next(at + dt.timedelta(seconds=n / 10))
    faulted = {sim.device.code for sim in simulator.devices if sim.faults}
    assert faulted == set(focus)
    with pytest.raises(ValueError, match="probability"):
        Simulator(devices, faults=0.1, focus=focus, focus_faults=1.5)


async def test_the_demo_simulation_speaks_for_every_device_of_its_focus(store: SqlStore) -> None:
    """`hub serve --demo-sources` focuses on the README's street: all its devices are simulated
    (the rest picked by seed up to the count asked), and only they fault more often."""
    from hub.background import Simulation, simulated

    elevators = {d.code for d in fleet(2) if d.type is DeviceType.ELEVATOR}  # the entrance's devices
    simulator = await simulated(store, Simulation(devices=5, focus=ENTRANCE, focus_faults=0.05, faults=0.001), prefix="hub")
    assert simulator is not None and len(simulator.devices) == 5
    assert simulator.focus == elevators <= {sim.device.code for sim in simulator.devices}
    assert (simulator.focus_faults, simulator.faults) == (0.05, 0.001)
    plain = await simulated(store, Simulation(devices=5), prefix="hub")
    assert plain is not None and plain.focus == frozenset() and len(plain.devices) == 5
