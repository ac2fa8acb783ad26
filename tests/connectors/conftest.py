"""The connectors' demo cities (`small`, seed 7), each built once per worker for the session.

`city` (the registry's: its store, a building of 60-140 houses in an estate of more than 450)
and `utility_city` (a SQLite file to copy, with a water utility's dataset of 50 houses) are
shared by every module that syncs into them. Defined here, not in a test module: a fixture a
module imports from another is that module's own, built again for it (6-10 s each).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.utilities.reference import build_dataset
from graph import open_store
from graph.ciphers.sealing import Sealer
from graph.levels import Level
from graph.utilities import Utility
from hub import demo
from hub.loading import load
from tests.connectors.test_registry_database import EVERYTHING, SEALER, City, _houses_of
from tests.connectors.test_utilities_http import City as UtilityCity


@pytest.fixture(scope="session")
async def city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[City]:
    path = tmp_path_factory.mktemp("registry-city") / "small.sqlite"
    store = await open_store(f"sqlite:///{path}", sealer=SEALER)
    await load(store, demo.generate("small", 7, owner_ids=store.owner_ids), progress=False)
    # an estate of more than 450 houses (a sync of it that fails mid-read has pages behind it),
    # with a building of 60-140 houses: a few hundred records, several batches of the contract's 50
    for estate in (await store.subtree(Level.ESTATE, None, EVERYTHING, 100)).items:
        if await store.count(Level.HOUSE, estate.code, EVERYTHING) <= 450:
            continue
        buildings = (await store.subtree(Level.BUILDING, estate.code, EVERYTHING, 100)).items
        sizes = [(len(await _houses_of(store, b.code)), b.code) for b in buildings]
        fitting = [(size, code) for size, code in sizes if 60 <= size <= 140]
        if fitting:
            break
    else:
        raise AssertionError("the small city has no estate of more than 450 houses with a building of 60-140")
    yield City(store, min(fitting)[1], estate.code)
    await store.close()


@pytest.fixture(scope="session")
async def utility_city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UtilityCity]:
    path = tmp_path_factory.mktemp("utility-city") / "small.sqlite"
    store = await open_store(f"sqlite:///{path}", sealer=Sealer.generate())
    await load(store, demo.generate("small", 7), progress=False)
    data = await build_dataset(store, utility=Utility.WATER, houses=50, months=3, awkward=0)
    await store.close()
    yield UtilityCity(path, data)
