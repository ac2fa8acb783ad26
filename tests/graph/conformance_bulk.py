"""The store conformance suite: `Store.bulk_loading`, the context a large load runs in.

Whatever an adapter defers inside it, writes inside answer exactly as outside (counts, places,
roll-ups, owners found by their blind indexes), reads are answered inside, contexts nest, and a
load that fails inside leaves a store that answers as before once the context is left.
"""

from __future__ import annotations

import pytest

from graph.levels import Level
from graph.model import Batch, WriteCounts
from graph.store import Store
from tests.graph.conformance import CITY, EVERYTHING, FACTS, OWNER_D, assert_figures, codes, fixture_city


async def _answers_as_the_oracle(store: Store) -> None:
    for level in (Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.ESTATE, Level.BUILDING, Level.HOUSE):
        rows = await store.stats(CITY, level, EVERYTHING)
        assert codes([row.place for row in rows]) == FACTS.level(level, CITY)
        for row in rows:
            assert_figures(row, FACTS.stats(row.place.code))
    [d] = await store.owners([OWNER_D], EVERYTHING)
    assert d is not None and d.phone is not None
    assert await store.owners_by("name", "刘洋", EVERYTHING) == [d]
    assert await store.owners_by("phone", "138-0000-0004", EVERYTHING) == [d]
    assert await store.owners_by("id_number", d.id_number, EVERYTHING) == [d]


def _halves(batch: Batch) -> tuple[Batch, Batch]:
    """The city in two batches: the places, firms and owners, then ownerships and managements."""
    return (
        Batch(places=batch.places, firms=batch.firms, owners=batch.owners),
        Batch(ownerships=batch.ownerships, managements=batch.managements),
    )


class TestBulkLoading:
    async def test_a_load_inside_answers_as_one_outside(self, store: Store) -> None:
        first, second = _halves(fixture_city())
        async with store.bulk_loading():
            counts = await store.write(first) + await store.write(second)
            assert await store.owners_by("name", "刘洋", EVERYTHING) != []  # reads are answered inside
        assert counts == WriteCounts(inserted=len(fixture_city()))
        await _answers_as_the_oracle(store)
        async with store.bulk_loading():
            again = await store.write(fixture_city())
        assert again == WriteCounts(unchanged=len(fixture_city()))
        await _answers_as_the_oracle(store)

    async def test_a_load_into_a_store_that_holds_a_city(self, store: Store) -> None:
        first, second = _halves(fixture_city())
        await store.write(first)
        async with store.bulk_loading():
            assert await store.write(second) == WriteCounts(inserted=len(second))
        await _answers_as_the_oracle(store)

    async def test_contexts_nest(self, store: Store) -> None:
        async with store.bulk_loading():
            async with store.bulk_loading():
                await store.write(_halves(fixture_city())[0])
            await store.write(_halves(fixture_city())[1])
        await _answers_as_the_oracle(store)

    async def test_a_load_that_fails_inside_leaves_the_store_answering(self, store: Store) -> None:
        with pytest.raises(RuntimeError, match="stopped"):
            async with store.bulk_loading():
                await store.write(fixture_city())
                raise RuntimeError("stopped midway")
        await _answers_as_the_oracle(store)


__all__ = ["TestBulkLoading"]
