"""Fixtures of the federation tests: the hub as a subgraph, a second subgraph, and Apollo's tools.

- `fed_hub`: the hub (uvicorn on a free loopback port, in a thread with its own loop, as in
  tests/schema/conftest.py) over the `small` demo city, with a device and a case planted at an
  estate of each of two streets, tokens for admin and for both streets' offices, and a
  `CountingStore` to count store calls.
- `civil`: the civil affairs subgraph (tests/federation/civil.py), served the same way, with
  records for the two streets' estates and a house of each.
- `apollo`: Apollo's npm packages (tests/federation/js: `@apollo/composition`,
  `@apollo/gateway`, `@apollo/server`), installed once with `npm ci` from the committed lock
  file into a cache directory named by the lock's hash, so reruns skip npm.
- `gateway`: an Apollo Gateway (Node) on a free loopback port in front of both subgraphs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import os
import queue
import shutil
import socket
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from strawberry.asgi import GraphQL

from graph.cases import Case, CaseCategory, CaseSource, CaseStatus, Point
from graph.ciphers.keyring import Keyring
from graph.codes import credit_check_character
from graph.devices import Device, DeviceType
from graph.levels import Level
from graph.model import Batch, Provenance
from graph import open_store
from hub.auth.issuing import issue_token
from hub.demo import generate
from hub.loading import load
from tests import backends, npm
from tests.kept import kept
from tests.federation.civil import CivilRecord, Registry, broken_schema, civil_schema
from tests.schema.counting import CountingStore, serve_counting
from tests.serving import served

PRESET, SEED = "small", 7
STARTUP_SECONDS = 600.0
NEEDS = ("tokens", "audit", "devices", "cases")
GRAPH_SUITES = {"test_subgraph": NEEDS}
"""The modules that also run with the hub on the graph stores (the subgraph's entities), with
what they need; the gateway and composition suites, which run Apollo's tools, stay on SQLite."""
JS = Path(__file__).parent / "js"
SCRIPTS = ("compose.mjs", "gateway.mjs")
STREET, OTHER_STREET = "370202001", "370202004"
"""The street office whose token the gateway tests use, and a street it may not see."""
UNKNOWN_ESTATE = "370202001001E099"
UNKNOWN_HOUSE = "370202001001GB99999F00010001"
UNKNOWN_DEVICE = "XX-FED-NOBODY-99"
UNKNOWN_CASE = "GD20991231FED999"
UNKNOWN_FIRM = "91370202MA00000X1" + credit_check_character("91370202MA00000X1")

_Result = TypeVar("_Result")


@dataclass(frozen=True, slots=True)
class Side:
    """What the tests name in one street: an estate, a house, a device and a case there."""

    street: str
    estate: str
    house: str
    device: str
    case: str
    firm: str | None
    """A firm managing the estate (firms are seen through the estates they manage)."""


@dataclass
class FedHub:
    url: str
    client: httpx.Client
    store: CountingStore
    tokens: dict[str, str]
    """"admin", "street" (STREET) and "other" (OTHER_STREET) → bearer token."""
    mine: Side
    """The street's own estate, house, device and case."""
    theirs: Side
    """The same in OTHER_STREET."""
    levels: dict[Level, str]
    """One place code of each level inside STREET."""
    loop: asyncio.AbstractEventLoop
    server: uvicorn.Server | None = field(default=None, repr=False)

    def run(self, coroutine: Coroutine[Any, Any, _Result], timeout: float = 60) -> _Result:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def post(self, token: str | None, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {} if token is None else {"authorization": f"Bearer {self.tokens.get(token, token)}"}
        response = self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        assert response.status_code == 200, (response.status_code, response.text)
        body: dict[str, Any] = response.json()
        return body

    def data(self, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(token, query, variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def _side(places: dict[str, Any], managed: dict[str, str], street: str, number: int) -> tuple[Side, list[Device], list[Case]]:
    def under(code: str, level: Level) -> list[str]:
        found = []
        for candidate, place in places.items():
            line, parent = [], place.parent_code
            while parent is not None:
                line.append(parent)
                parent = places[parent].parent_code
            if place.level == level and code in line:
                found.append(candidate)
        return sorted(found)

    estate = next(code for code in under(street, Level.ESTATE) if code in managed)
    house = under(estate, Level.HOUSE)[0]
    device = Device(f"MH-FED-{street}", DeviceType.MANHOLE_COVER, "联邦测试型", estate, 60, Point(120.38, 36.07), name="联邦测试井盖")
    at = dt.datetime(2026, 1, 1, number, tzinfo=dt.timezone.utc)
    source = Provenance("federation-tests", f"case-{number}", at, "federation-tests")
    case = Case(
        f"GD20260101FED{number:03d}", CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED, f"联邦测试工单{number}",
        at, at, description="楼道灯不亮", place_code=estate, provenance=source,
    )
    return Side(street, estate, house, device.code, case.id, managed[estate]), [device], [case]


async def _main(url: str, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(url, sealer=keys.sealer())
    places: dict[str, Any] = {}
    managed: dict[str, str] = {}

    def recorded(batches: Iterator[Batch]) -> Iterator[Batch]:
        for batch in batches:
            places.update((place.code, place) for place in batch.places)
            managed.update((item.estate_code, item.firm_code) for item in batch.managements if item.until is None)
            yield batch

    try:
        await load(store, recorded(generate(PRESET, seed=SEED)), progress=False)
        mine, my_devices, my_cases = _side(places, managed, STREET, 1)
        theirs, their_devices, their_cases = _side(places, managed, OTHER_STREET, 2)
        await store.register_devices(my_devices + their_devices)
        await store.write(Batch(cases=my_cases + their_cases))
        levels = {level: min(code for code, place in places.items() if place.level == level and (
            level in (Level.CITY, Level.DISTRICT) or code.startswith(STREET))) for level in Level}
        day = dt.timedelta(days=1)
        tokens = {
            "admin": await issue_token(store, keys, "admin", "*", "federation tests", day),
            "street": await issue_token(store, keys, "street", STREET, "federation tests street", day),
            "other": await issue_token(store, keys, "street", OTHER_STREET, "federation tests other street", day),
        }
    except BaseException:
        await store.close()
        raise
    await serve_counting(store, keys, sock, started, tokens=tokens, mine=mine, theirs=theirs, levels=levels)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backends.keep_graph_params(config, items, "fed_hub", GRAPH_SUITES)


@pytest.fixture(scope="session", params=backends.api_params())
def fed_hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FedHub:
    """The served hub on the param's backend: one per worker and backend for the session
    (tests.kept), however often pytest switches between backends."""
    backend: str = request.param
    backends.prepare(backend, request)
    return kept(backend, request).get("fed_hub", lambda: _fed_hub(backend, request, tmp_path_factory))


@contextmanager
def _fed_hub(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FedHub]:
    folder = tmp_path_factory.mktemp("federation")
    url = asyncio.run(backends.url_for(backend, request, folder))
    with served(functools.partial(_main, url), startup_seconds=STARTUP_SECONDS) as (base, started):
        client = httpx.Client(base_url=base, timeout=120, trust_env=False)
        try:
            yield FedHub(
                url=base, client=client, store=started["store"], tokens=started["tokens"], mine=started["mine"],
                theirs=started["theirs"], levels=started["levels"], loop=started["loop"], server=started["server"],
            )
        finally:
            client.close()


@pytest.fixture
def counting(fed_hub: FedHub) -> Iterator[CountingStore]:
    fed_hub.store.reset()
    yield fed_hub.store
    fed_hub.store.reset()


# -- the second subgraph --------------------------------------------------------------------


@dataclass
class Subgraph:
    url: str
    registry: Registry | None = None


def _serve_schema(schema: Any) -> Any:
    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        server = uvicorn.Server(uvicorn.Config(GraphQL(schema), log_level="warning", lifespan="off", ws="none", http="h11"))
        started["server"] = server
        await server.serve(sockets=[sock])

    return served(main, startup_seconds=30)


def civil_records(fed_hub: FedHub) -> dict[str, CivilRecord]:
    """The registry's records: both streets' estates and one house of each."""
    return {
        fed_hub.mine.estate: CivilRecord(1287, "王网格"),
        fed_hub.mine.house: CivilRecord(3, "王网格"),
        fed_hub.theirs.estate: CivilRecord(954, "李网格"),
        fed_hub.theirs.house: CivilRecord(2, "李网格"),
    }


@pytest.fixture(scope="session")
def civil(fed_hub: FedHub) -> Iterator[Subgraph]:
    registry = Registry(civil_records(fed_hub))
    with _serve_schema(civil_schema(registry)) as (base, _):
        yield Subgraph(f"{base}/graphql", registry)


@pytest.fixture(scope="session")
def broken_civil() -> Iterator[Subgraph]:
    with _serve_schema(broken_schema()) as (base, _):
        yield Subgraph(f"{base}/graphql")


# -- Apollo's npm packages --------------------------------------------------------------------


@dataclass(frozen=True)
class Apollo:
    """Apollo's tools, installed in `directory` (node_modules and the scripts beside them)."""

    directory: Path
    node: str

    def compose(self, subgraphs: list[dict[str, str]]) -> tuple[int, dict[str, Any]]:
        """`composeServices` over [{"name", "url", "sdl"}]: the exit status and the script's answer."""
        done = subprocess.run(
            [self.node, str(self.directory / "compose.mjs")], input=json.dumps(subgraphs), capture_output=True,
            text=True, timeout=120, check=False,
        )
        try:
            answer: dict[str, Any] = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"compose.mjs gave no JSON (status {done.returncode}): {done.stderr}") from None
        return done.returncode, answer


@pytest.fixture(scope="session")
def apollo() -> Apollo:
    directory = npm.installed(JS, name="federation")
    for name in SCRIPTS:  # the scripts may change without the lock: always copy the current ones
        shutil.copyfile(JS / name, directory / name)
    return Apollo(directory, npm.node())


# -- the gateway ------------------------------------------------------------------------------


@dataclass
class Gateway:
    url: str
    client: httpx.Client
    process: subprocess.Popen[str]

    def post(self, token: str | None, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        response = self.client.post(self.url, json={"query": query, "variables": variables or {}}, headers=headers)
        assert response.headers["content-type"].startswith("application/json"), response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="session")
def gateway(apollo: Apollo, fed_hub: FedHub, civil: Subgraph) -> Iterator[Gateway]:
    config = {
        "subgraphs": [
            {"name": "hub", "url": f"{fed_hub.url}/graphql", "forwardAuthorization": True},
            {"name": "civil", "url": civil.url},
        ],
        "introspectionAuthorization": f"Bearer {fed_hub.tokens['admin']}",
    }
    # Apollo's gateway sends usage metrics to Apollo unless told not to; nothing leaves the machine
    env = {**os.environ, "APOLLO_TELEMETRY_DISABLED": "1", "NODE_ENV": "production"}
    process = subprocess.Popen(
        [apollo.node, str(apollo.directory / "gateway.mjs"), json.dumps(config)], cwd=apollo.directory,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = process.stdout, process.stderr

    def read() -> None:
        for line in stdout:
            lines.put(line)
        lines.put("")  # the gateway closed its output: it stopped

    errors: list[str] = []
    readers = [threading.Thread(target=read, daemon=True), threading.Thread(target=lambda: errors.extend(stderr), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        first = lines.get(timeout=60)
    except queue.Empty:
        process.kill()
        pytest.fail("the gateway did not start within 60 s:\n" + "".join(errors)[-4000:])
    if not first.strip():
        process.wait(10)
        pytest.fail(f"the gateway stopped (status {process.returncode}):\n" + "".join(errors)[-4000:])
    url = json.loads(first)["url"]
    client = httpx.Client(timeout=60, trust_env=False)
    try:
        yield Gateway(url, client, process)
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        for reader in readers:
            reader.join(10)
        stdout.close()
        stderr.close()


__all__ = [
    "OTHER_STREET", "STREET", "UNKNOWN_CASE", "UNKNOWN_DEVICE", "UNKNOWN_ESTATE", "UNKNOWN_FIRM", "UNKNOWN_HOUSE",
    "Apollo", "FedHub", "Gateway", "Side", "Subgraph",
]
