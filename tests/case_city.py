"""A small demo city for the case suites (Open311, the GraphQL case API, the Open311 client):
built once into a SQLite file, then served by a hub over a copy after the suite's own setup."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.ciphers.keyring import Keyring
from graph.levels import Level
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from hub.app import create_app
from hub.demo import generate
from hub.demo.presets import Preset
from hub.limits import Limits
from hub.loading import load
from tests.serving import serve_app, served

TINY = Preset("open311", ("370202",), houses=600, estates=6)
EVERYTHING = Scope.everything()
DAY = dt.timedelta(days=1)


@dataclass
class City:
    """A demo city in a SQLite file, its keys, and the estates by street."""

    path: Path
    keys: Keyring
    estates: list[Any]


async def build_city(path: Path) -> City:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{path}", sealer=keys.sealer())
    # seed 6: the first estate and the first estate of another street have different firms (the
    # tests hide one firm's cases from the other), and the other firm once managed an estate
    # with the first (so it sees the first firm, and counts none of its cases)
    await load(store, generate(TINY, seed=6), progress=False)
    estates = list((await store.subtree(Level.ESTATE, None, EVERYTHING, 50)).items)
    await store.close()
    return City(path, keys, estates)


@contextmanager
def serve_hub(url: str, keys: Keyring, prepare: Callable[[SqlStore, dict[str, Any]], Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The hub over the store at `url`, after `prepare(store, shared)` (issue tokens, open cases);
    `shared` also holds the `store` and the server's `loop`, for tests to act on the store there."""

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        store = await open_store(url, sealer=keys.sealer())
        await prepare(store, started)
        app = create_app(store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000))
        await serve_app(app, sock, started, store=store)

    with served(main, startup_seconds=60) as running:
        yield running


def case_at(estate: str | None, at: dt.datetime, **changes: Any) -> Case:
    case = Case(
        id="",
        source=CaseSource.HOTLINE,
        category=CaseCategory.REPAIR,
        status=CaseStatus.ACCEPTED,
        title="楼道灯不亮",
        description="3号楼楼道灯不亮",
        reported_at=at,
        updated_at=at,
        place_code=estate,
    )
    return replace(case, **changes)


@dataclass
class CaseHub:
    """A hub `serve_hub` runs: GraphQL over HTTP as the holder of one of its `tokens`, what
    `prepare` shared, and its store, to be acted on in the server's own loop (`run`)."""

    url: str
    tokens: dict[str, str]
    shared: dict[str, Any]
    store: SqlStore
    loop: asyncio.AbstractEventLoop

    @classmethod
    def of(cls, url: str, shared: dict[str, Any]) -> CaseHub:
        """The hub `serve_hub` yields, whose `prepare` shared the `tokens`."""
        return cls(url, shared["tokens"], shared, shared["store"], shared["loop"])

    def post(self, who: str, query: str, **variables: Any) -> dict[str, Any]:
        """The GraphQL response body (errors included)."""
        response = httpx.post(
            self.url + "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {self.tokens[who]}"},
            timeout=60,
            trust_env=False,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, who: str, query: str, **variables: Any) -> dict[str, Any]:
        """The `data` of a query that must succeed."""
        body = self.post(who, query, **variables)
        assert not body.get("errors"), body
        answer: dict[str, Any] = body["data"]
        return answer

    def error(self, who: str, query: str, **variables: Any) -> str:
        """The first error's message of a query that must fail."""
        body = self.post(who, query, **variables)
        assert body.get("errors"), body
        return str(body["errors"][0]["message"])

    def run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)

    def case(self, key: str) -> Any:
        [case] = self.run(self.store.cases([key], EVERYTHING))
        return case
