"""A hub served over real HTTP for the shared-query tests: a small demo city in SQLite, two firms
managing estates in different streets, a street office, the city and an admin, with cases,
devices and alarms planted at each firm's estate so each caller's answer can be told apart."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx
import pytest

from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.casework import Casework
from graph.ciphers.keyring import Keyring
from graph.devices import Alarm, Device, DeviceState, DeviceStatus, DeviceType, Severity
from graph.levels import Level
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.demo import generate
from hub.demo.presets import Preset
from hub.limits import Limits
from hub.loading import load
from tests import backends
from tests.serving import serve_app, served

TINY = Preset("shared", ("370202",), houses=600, estates=12)
NEEDS = ("tokens", "audit", "cases", "devices", "shared queries")
GRAPH_SUITES = {"test_shared_queries": NEEDS}
"""The modules that also run with the hub on the graph stores, with what they need; the others
on SQLite only."""
EVERYTHING = Scope.everything()
DAY = dt.timedelta(days=1)
CACHE_SECONDS = 3.0
"""The served hub's cache TTL: long enough for a second run to hit, short enough to expire in a test."""
_Result = TypeVar("_Result")


@dataclass
class Cast:
    estate_a: str
    estate_b: str
    firm_a: str
    firm_b: str
    street: str
    """The street of estate A (estate B lies in another street)."""
    titles: dict[str, str]
    """Estate → the title of the overdue case planted there."""
    devices: dict[str, str]
    """Estate → the code of the offline device planted there."""


@dataclass
class SharedHub:
    url: str
    tokens: dict[str, str]
    cast: Cast
    store: SqlStore
    loop: asyncio.AbstractEventLoop
    client: httpx.Client

    def run(self, coroutine: Coroutine[Any, Any, _Result]) -> _Result:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def post(self, who: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers={"authorization": f"Bearer {self.tokens[who]}"}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, who: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(who, query, variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def get(self, who: str, path: str, params: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        return self.client.get(path, params=params, headers={"authorization": f"Bearer {self.tokens[who]}", **headers})

    def audit(self, action: str) -> list[Any]:
        entries = self.run(self.store.audit_tail(500))
        return [entry for entry in entries if entry.action == action]


async def _plant(store: SqlStore, keys: Keyring) -> tuple[Cast, dict[str, str]]:
    now = dt.datetime.now(dt.timezone.utc)
    estates = list((await store.subtree(Level.ESTATE, None, EVERYTHING, 50)).items)
    managing = await store.managements([estate.code for estate in estates], now.date(), EVERYTHING)
    firm_of = {estate.code: max(items, key=lambda item: item.since).firm_code for estate, items in zip(estates, managing) if items}
    estate_a = min(firm_of)
    estate_b = next(
        code for code in sorted(firm_of) if code[:9] != estate_a[:9] and firm_of[code] != firm_of[estate_a]
    )
    firm_a, firm_b = firm_of[estate_a], firm_of[estate_b]
    titles, devices = {}, {}
    for estate, firm, title, code in (
        (estate_a, firm_a, "甲小区电梯停运", "EL-SHARED-A-01"),
        (estate_b, firm_b, "乙小区漏水", "EL-SHARED-B-01"),
    ):
        await Casework(store).open_case(
            Case(
                "", CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED, title, now - 3 * DAY, now - 3 * DAY,
                description="共享查询测试", place_code=estate, firm_code=firm, deadline=now - DAY,
            ),
            actor="测试",
        )
        await store.register_devices([Device(code, DeviceType.ELEVATOR, "测试型", estate, 60, name=f"{title[:3]}电梯")])
        await store.save_device_states([DeviceState(code, DeviceStatus.OFFLINE, now - DAY, {})])
        alarm = await store.raise_alarm(
            Alarm("", code, DeviceType.ELEVATOR, "elevator.trapped", Severity.CRITICAL, f"{title[:3]}困人", now - DAY, estate, None, "1")
        )
        assert alarm is not None
        titles[estate], devices[estate] = title, code
    await store.refresh_stats()
    street = estate_a[:9]
    tokens = {
        "admin": await issue_token(store, keys, "admin", "*", "运维", DAY),
        "city": await issue_token(store, keys, "city", "370200", "青岛市城运中心", DAY),
        "street": await issue_token(store, keys, "street", street, "街道办", DAY),
        "firm_a": await issue_token(store, keys, "property_firm", firm_a, "甲物业", DAY),
        "firm_b": await issue_token(store, keys, "property_firm", firm_b, "乙物业", DAY),
        "committee": await issue_token(store, keys, "committee", estate_a, "业委会", DAY),
    }
    return Cast(estate_a, estate_b, firm_a, firm_b, street, titles, devices), tokens


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backends.keep_graph_params(config, items, "shared_hub", GRAPH_SUITES)


@pytest.fixture(scope="module", params=backends.api_params())
def shared_hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedHub]:
    folder = tmp_path_factory.mktemp("shared")
    keys = Keyring.generate()
    backends.prepare(request.param, request)
    url = asyncio.run(backends.url_for(request.param, request, folder))

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        store = await open_store(url, sealer=keys.sealer())
        try:
            await load(store, generate(TINY, seed=5), progress=False)
            cast, tokens = await _plant(store, keys)
        except BaseException:
            await store.close()
            raise
        app = create_app(
            store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000), shared_cache_seconds=CACHE_SECONDS
        )
        await serve_app(app, sock, started, store=store, cast=cast, tokens=tokens)

    with served(main, startup_seconds=300) as (base, started):
        with httpx.Client(base_url=base, timeout=60, trust_env=False) as client:
            yield SharedHub(base, started["tokens"], started["cast"], started["store"], started["loop"], client)
