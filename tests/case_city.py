"""A small demo city for the case suites (Open311, the GraphQL case API, the Open311 client):
built once into a SQLite file, then served by a hub over a copy after the suite's own setup."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.ciphers.keyring import Keyring
from graph.levels import Level
from graph.scope import Scope
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
    store = await SqlStore.open(f"sqlite:///{path}", sealer=keys.sealer())
    await load(store, generate(TINY, seed=3), progress=False)
    estates = list((await store.subtree(Level.ESTATE, None, EVERYTHING, 50)).items)
    await store.close()
    return City(path, keys, estates)


@contextmanager
def serve_hub(url: str, keys: Keyring, prepare: Callable[[SqlStore, dict[str, Any]], Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The hub over the store at `url`, after `prepare(store, shared)` (issue tokens, open cases);
    `shared` also holds the `store` and the server's `loop`, for tests to act on the store there."""

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        store = await SqlStore.open(url, sealer=keys.sealer())
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
