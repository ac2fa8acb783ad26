"""0022: the credit table arrives empty beside what was stored, leaves on a downgrade, comes back."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from graph.ciphers.sealing import Sealer
from graph.credit.records import CreditPart, CreditScore
from graph.scope import Scope
from graph.sql import SqlStore, migrate
from tests.conftest import PostgresDatabases
from tests.graph.conformance import E_A, FIRM_2, fixture_city


def _names(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


async def _up_and_down(url: str) -> None:
    store = await SqlStore.open(url, sealer=Sealer.generate(), upgrade=False)
    try:
        await migrate.upgrade(store.engine, "0018")
        await store.write(fixture_city())
        async with store.engine.connect() as connection:
            assert "credit_score" not in await connection.run_sync(_names)
        await migrate.upgrade(store.engine, "0022")
        score = CreditScore(FIRM_2, "2026-11", 10000, (CreditPart("dismissals", (("estates", 2), ("dismissals", 0)), Fraction(1), 6, 10000),), 2, 15, dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))
        [stored] = await store.save_scores([score])
        assert stored.version == 1
        await migrate.downgrade(store.engine, "0018")
        async with store.engine.connect() as connection:
            assert "credit_score" not in await connection.run_sync(_names)
        assert await store.places([E_A], Scope.everything()) != [None]
        await migrate.upgrade(store.engine, "0022")
        assert await store.credit_scores([FIRM_2], "2026-11") == [None]
        [again] = await store.save_scores([score])
        assert again.version == 1
    finally:
        await store.close()


async def test_credit_table_comes_and_goes_sqlite(sqlite_path: str) -> None:
    await _up_and_down(f"sqlite:///{sqlite_path}")


@pytest.mark.postgres
async def test_credit_table_comes_and_goes_postgresql(postgres_databases: PostgresDatabases) -> None:
    await _up_and_down(await postgres_databases.create())
