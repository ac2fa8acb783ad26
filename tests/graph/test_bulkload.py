"""The SQL adapter's bulk load (graph.sql.bulkload): which indexes it defers, and a load killed
inside the context repaired when the store is next opened."""

from __future__ import annotations

from pathlib import Path

from graph.ciphers.keyring import Keyring
from graph.scope import Scope
from graph.sql import bulkload
from graph.sql.store import SqlStore
from tests.graph.conformance import fixture_city


async def _indexes(store: SqlStore) -> set[str]:
    async with store.engine.connect() as connection:
        return await bulkload.present(connection)


async def test_a_load_killed_inside_is_repaired_at_the_next_open(tmp_path: Path) -> None:
    url = str(tmp_path / "killed.sqlite")
    sealer = Keyring.generate().sealer()
    store = await SqlStore.open(url, sealer=sealer)
    every = {str(index.name) for index in bulkload.DEFERRED}
    assert await _indexes(store) == every
    inside = store.bulk_loading()
    await inside.__aenter__()  # and never left: the process dies here
    await store.write(fixture_city())
    assert await _indexes(store) == set()
    await store.close()
    reopened = await SqlStore.open(url, sealer=sealer)
    try:
        assert await _indexes(reopened) == every
        assert await reopened.owners_by("name", "刘洋", Scope.everything()) != []
    finally:
        await reopened.close()
