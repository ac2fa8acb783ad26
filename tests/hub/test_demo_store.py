"""The small demo city loaded through the port: stats add up level by level, and match what was
generated, on the real store."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from graph.levels import Level
from graph.scope import Scope
from graph.ciphers.sealing import Sealer
from graph import open_store
from graph.sql import SqlStore
from hub import demo
from hub.loading import load

EVERYTHING = Scope.everything()
SEED = 11


@pytest.fixture(scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[SqlStore, Counter[str]]]:
    generated: Counter[str] = Counter()

    def counted() -> object:
        for batch in demo.generate("small", SEED):
            for place in batch.places:
                generated[place.level.name] += 1
                if place.level == Level.HOUSE:
                    generated["area_centi"] += place.area_centi_m2 or 0
            generated["owners"] += len(batch.owners)
            yield batch

    path = tmp_path_factory.mktemp("demo") / "small.sqlite"
    store = await open_store(f"sqlite:///{path}", sealer=Sealer.generate())
    report = await load(store, counted(), progress=False)  # type: ignore[arg-type]
    assert report.counts.inserted == report.records
    yield store, generated
    await store.close()


async def test_the_city_row_counts_what_was_generated(city: tuple[SqlStore, Counter[str]]) -> None:
    store, generated = city
    [row] = await store.stats("370200", Level.CITY, EVERYTHING)
    assert row.houses == generated["HOUSE"]
    assert row.estates == generated["ESTATE"]
    assert row.buildings == generated["BUILDING"]
    assert row.floor_area_centi_m2 == generated["area_centi"]  # exact: whole hundredths of a m² add up
    assert 0 < row.owners <= generated["owners"]


@pytest.mark.parametrize(
    ("parent", "child"),
    [
        (Level.CITY, Level.DISTRICT),
        (Level.DISTRICT, Level.STREET),
        (Level.STREET, Level.COMMUNITY),
        (Level.COMMUNITY, Level.ESTATE),
        (Level.ESTATE, Level.BUILDING),
    ],
)
async def test_rows_add_up_from_each_level_to_the_one_above(
    city: tuple[SqlStore, Counter[str]], parent: Level, child: Level
) -> None:
    store, _ = city
    parents = await store.stats("370200", parent, EVERYTHING)
    assert parents
    for row in parents:
        children = await store.stats(row.place.code, child, EVERYTHING)
        assert sum(c.houses for c in children) == row.houses, row.place.code
        assert sum(c.floor_area_centi_m2 for c in children) == row.floor_area_centi_m2, row.place.code
        # a place counts itself (an estate row says estates=1), so estates add up from any
        # level down to estates, buildings from any level down to buildings
        if child <= Level.ESTATE:
            assert sum(c.estates for c in children) == row.estates
        assert sum(c.buildings for c in children) == row.buildings
        # an owner may hold houses in two children, so owners only bound the parent's count
        assert sum(c.owners for c in children) >= row.owners


async def test_every_place_level_is_listed_in_full(city: tuple[SqlStore, Counter[str]]) -> None:
    store, generated = city
    for level in Level:
        assert await store.count(level, "370200", EVERYTHING) == generated[level.name], level
