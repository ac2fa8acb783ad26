"""A house read by its code on SQLite — its place, its ancestors, its owners — makes no trip to
the connection's thread (graph.sql.onehop, graph.sql.pointreads) and answers what it answered
through SQLAlchemy; other reads make one trip per statement.

Trips are counted at aiosqlite's own door (`Connection._execute`, still run), not imitated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiosqlite
import pytest

from graph.ciphers.sealing import Sealer
from graph.model import Owner, OwnerKind, Ownership
from graph.scope import Scope
from graph.sql.store import SqlStore
from tests.graph.conformance import resident_id
from tests.graph.two_streets import BUILDING_1, ENTRANCE_1, ESTATE_1, HOUSE_1, STREET_1, city

OWNER = Owner("owner-1", OwnerKind.PERSON, "周杰", resident_id("37020219950505009"), "13800000000")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(str(tmp_path / "hub.sqlite"), sealer=Sealer.generate())
    batch = dataclasses.replace(
        city(), owners=[OWNER], ownerships=[Ownership(HOUSE_1, OWNER.id, 1.0, dt.date(2021, 6, 1))]
    )
    await opened.write(batch)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The functions sent to aiosqlite's threads, by name, as they are sent."""
    sent: list[str] = []
    door = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object, **kwargs: object) -> object:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await door(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield sent


@pytest.mark.parametrize("roots", [None, ["370200"], [STREET_1]], ids=["admin", "city", "street"])
async def test_a_houses_point_reads_make_no_trip(store: SqlStore, trips: list[str], roots: list[str] | None) -> None:
    scope = Scope.everything() if roots is None else Scope.of_codes(roots)
    for _ in range(2):  # the first reads also work the scope and the statements out
        trips.clear()
        places = await store.places([HOUSE_1, "nowhere"], scope)
        lines = await store.ancestors([HOUSE_1], scope)
        held = await store.ownerships([HOUSE_1], dt.date(2024, 1, 1), scope)
        history = await store.ownerships([HOUSE_1], None, scope, with_owners=False)
        assert trips == []
    assert [place.code if place else None for place in places] == [HOUSE_1, None]
    assert places[0] is not None and places[0].parent_code == ENTRANCE_1 and places[0].area_centi_m2 == 8800
    line = [place.code for place in lines[0]]
    assert line[-3:] == [ESTATE_1, BUILDING_1, ENTRANCE_1] and line[0] == ("370200" if roots != [STREET_1] else STREET_1)
    assert [(span.owner_id, span.since) for span in held[0]] == [(OWNER.id, dt.date(2021, 6, 1))]
    assert held[0][0].owner is not None and held[0][0].owner.phone == OWNER.phone  # opened from its seal
    assert [(span.owner_id, span.until) for span in history[0]] == [(OWNER.id, None)]


async def test_a_house_out_of_scope_stays_out(store: SqlStore, trips: list[str]) -> None:
    other_street = Scope.of_codes(["370202002"])
    assert await store.places([HOUSE_1], other_street) == [None]
    assert await store.ancestors([HOUSE_1], other_street) == [[]]
    assert await store.ownerships([HOUSE_1], None, other_street) == [[]]
    assert trips == []


async def test_other_reads_make_one_trip_per_statement(store: SqlStore, trips: list[str]) -> None:
    await store.children(["370202"], Scope.everything(), 10)  # warm: the scope and statements
    trips.clear()
    page = await store.children(["370202"], Scope.everything(), 10)
    assert [place.code for place in page[0].items] == [STREET_1, "370202002"]
    # the parent's anchor is cached; the page is one statement: one trip, none for a rollback
    assert trips == ["_run"]
