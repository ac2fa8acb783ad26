"""A reference 不动产登记 exchange database built from a hub store holding the demo city.

It is what the registry connector reads in the tests, in `hub demo` and in the bench: the
tables of `connectors.registry.exchange` (bdcdy units, qlr rights holders, djxx registrations)
filled from the store's houses, owners and ownerships, as a registry would hold them:

- every house is a unit, its 坐落 the full address (市 区 街道 社区 小区 楼 单元 室);
- every owner is a holder with the registry's own id (QLR + number), name, ID number and phone;
- each house's ownership history becomes registrations: the first holders' 首次登记, then on
  each day the holders changed a 转移登记 per new holder from a previous one (every previous
  holder appears as yqlrid at least once), and a 注销登记 for an ownership that ended without
  a successor;
- gxsj (更新时间) is when the exchange job wrote the row: a registration's a few hours to two
  days after its date, during office hours; a unit's and a holder's with their first
  registration.

Replaying the registrations therefore gives back the store's ownerships exactly, which the tests
check. `record_changes` then plays the registry's day-to-day: transfers of some units to new or
existing holders and re-measured areas (面积更正), all with newer gxsj. `export_files` writes the
same tables as the CSV or JSON-lines exports the `registry-files` kind reads.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from connectors.registry import exchange
from connectors.sourcedb import source_url
from graph.codes import resident_id_check_digit
from graph.levels import Level
from graph.model import Owner, OwnerKind, Ownership, Place, m2_text
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from hub.demo.names import person_name
from hub.demo.people import mobile_phone

EVERYTHING = Scope.everything()
INSERT_CHUNK = 2_000
BEIJING = dt.timezone(dt.timedelta(hours=8))


def _engine(url: str) -> AsyncEngine:
    return create_async_engine(source_url("reference", url))


@dataclass(slots=True)
class _Rows:
    """Rows gathered for the three tables, flushed in chunks."""

    units: list[dict[str, Any]] = field(default_factory=list)
    holders: list[dict[str, Any]] = field(default_factory=list)
    registrations: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.units) + len(self.holders) + len(self.registrations)


def _office_hours(rng: random.Random, day: dt.date, lag_days: int = 2) -> dt.datetime:
    """When the exchange job wrote a row about `day`: 0-`lag_days` days later, 8:30-17:30."""
    seconds = int(8.5 * 3600) + rng.randrange(9 * 3600)
    return dt.datetime(day.year, day.month, day.day) + dt.timedelta(days=rng.randint(0, lag_days), seconds=seconds)


class _Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.qlrids: dict[str, str] = {}
        self.ywh = 0

    def holder(self, owner: Owner, since: dt.date, rows: _Rows) -> str:
        qlrid = self.qlrids.get(owner.id)
        if qlrid is None:
            qlrid = f"QLR{len(self.qlrids) + 1:09d}"
            self.qlrids[owner.id] = qlrid
            rows.holders.append(
                {
                    "qlrid": qlrid,
                    "qlrmc": owner.name,
                    "zjzl": exchange.PERSON_ID if owner.kind is OwnerKind.PERSON else exchange.CREDIT_CODE,
                    "zjhm": owner.id_number,
                    "dh": owner.phone,
                    "gxsj": _office_hours(self.rng, since, lag_days=0),
                }
            )
        return qlrid

    def registration(
        self, house: str, kind: str, day: dt.date, qlrid: str, share: float, previous: str | None
    ) -> dict[str, Any]:
        self.ywh += 1
        return {
            "ywh": f"{day:%Y}{self.ywh:010d}",
            "bdcdyh": house,
            "djlx": kind,
            "djsj": day,
            "qlrid": qlrid,
            "fe": share,
            "yqlrid": previous,
            "gxsj": _office_hours(self.rng, day),
        }

    def house(self, house: Place, address: str, spans: Sequence[Ownership], rows: _Rows) -> None:
        holders = {span.owner_id: self.holder(span.owner, span.since, rows) for span in spans if span.owner is not None}
        spans = [span for span in spans if span.owner_id in holders]
        days = sorted({span.since for span in spans} | {span.until for span in spans if span.until is not None})
        first_day = days[0] if days else None
        for day in days:
            starting = sorted((s for s in spans if s.since == day), key=lambda s: s.owner_id)
            ending = sorted((s for s in spans if s.until == day), key=lambda s: s.owner_id)
            if day == first_day or not ending:
                kind = exchange.FIRST
                pairs: list[tuple[Ownership, Ownership | None]] = [(s, None) for s in starting]
            else:
                kind = exchange.TRANSFER
                pairs = [(s, ending[i % len(ending)]) for i, s in enumerate(starting)]
                # every previous holder is named once, the extra ones beside the first new holder
                pairs += [(starting[0], old) for old in ending[len(starting):]] if starting else []
            for new, old in pairs:
                previous = holders[old.owner_id] if old is not None else None
                rows.registrations.append(
                    self.registration(house.code, kind, day, holders[new.owner_id], new.share, previous)
                )
            if not starting:  # ended without a successor: cancelled
                for old in ending:
                    rows.registrations.append(
                        self.registration(house.code, exchange.CANCEL, day, holders[old.owner_id], old.share, None)
                    )
        stamp_day = first_day or dt.date(2016, 1, 1)
        rows.units.append(
            {
                "bdcdyh": house.code,
                "zl": address,
                "jzmj": float(m2_text(house.area_centi_m2)) if house.area_centi_m2 is not None else None,  # the registry's own REAL column
                "ghyt": house.usage.value if house.usage is not None else None,
                "szc": house.floor,
                "gxsj": _office_hours(self.rng, stamp_day, lag_days=0),
            }
        )


async def create_tables(connection: AsyncConnection, schema: str | None = None) -> exchange.ExchangeTables:
    tables = exchange.exchange_tables(schema)
    await connection.run_sync(tables.metadata.create_all)
    return tables


async def _insert(connection: AsyncConnection, tables: exchange.ExchangeTables, rows: _Rows) -> None:
    for table, items in ((tables.units, rows.units), (tables.holders, rows.holders), (tables.registrations, rows.registrations)):
        for start in range(0, len(items), INSERT_CHUNK):
            await connection.execute(insert(table), items[start : start + INSERT_CHUNK])
        items.clear()


def _address(ancestors: Sequence[Place], house: Place) -> str:
    """坐落: the names from the city down, without the entrance (the house's name carries it)."""
    return "".join(p.name for p in ancestors if p.level != Level.ENTRANCE) + house.name


async def build_exchange(
    url: str, store: Store, *, seed: int = 7, within: str | None = None, schema: str | None = None
) -> int:
    """Fill the exchange database at `url` (tables created, former rows replaced) from the houses
    under `within` (all when None) in `store`, their owners and ownerships; returns the rows written.
    """
    rng = random.Random(f"registry-exchange:{seed}")
    builder = _Builder(rng)
    engine = _engine(url)
    written = 0
    try:
        async with engine.begin() as connection:
            tables = await create_tables(connection, schema)
            for table in (tables.registrations, tables.holders, tables.units):
                await connection.execute(delete(table))
            rows = _Rows()
            after: str | None = None
            while True:
                page = await store.subtree(Level.HOUSE, within, EVERYTHING, MAX_PAGE, after)
                houses = list(page.items)
                if houses:
                    codes = [house.code for house in houses]
                    ancestors = await store.ancestors(codes, EVERYTHING)
                    spans = await store.ownerships(codes, None, EVERYTHING)
                    for house, above, owned in zip(houses, ancestors, spans):
                        builder.house(house, _address(above, house), sorted(owned, key=lambda s: (s.since, s.owner_id)), rows)
                if len(rows) >= INSERT_CHUNK * 3 or not page.has_next:
                    written += len(rows)
                    await _insert(connection, tables, rows)
                if not page.has_next:
                    break
                after = page.end_cursor
    finally:
        await engine.dispose()
    return written


# --- day-to-day changes ---------------------------------------------------------------------


def _naive_beijing(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is None else at.astimezone(BEIJING).replace(tzinfo=None)


def current_holders(registrations: Iterable[Any]) -> dict[str, float]:
    """Who holds a unit after its registrations (rows with djlx, qlrid, yqlrid, fe, djsj, ywh),
    replayed in date order: qlrid → share."""
    holding: dict[str, float] = {}
    for row in sorted(registrations, key=lambda r: (r.djsj, r.ywh)):
        if row.djlx == exchange.TRANSFER:
            holding.pop(row.yqlrid, None)
            holding[row.qlrid] = row.fe
        elif row.djlx == exchange.CANCEL:
            holding.pop(row.qlrid, None)
        else:
            holding[row.qlrid] = row.fe
    return holding


def _resident_id(rng: random.Random, day: dt.date) -> str:
    """A valid 18-digit ID number (GB 11643) of someone born in 市南区 22-70 years before `day`."""
    born = day - dt.timedelta(days=rng.randint(22 * 365, 70 * 365))
    first17 = f"370202{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + resident_id_check_digit(first17)


async def record_changes(
    url: str, *, fraction: float, seed: int, at: dt.datetime, schema: str | None = None
) -> int:
    """Register changes for `fraction` of the units, all stamped from `at` on: each chosen unit is
    re-measured (jzmj corrected by up to ±0.5 m²) and transferred on `at`'s day to a new holder
    (seven in ten) or to a holder of another unit. Returns the records changed or added."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction} must be above 0 and at most 1")
    rng = random.Random(f"registry-changes:{seed}:{at.isoformat()}")
    stamp, day = _naive_beijing(at), _naive_beijing(at).date()
    tables = exchange.exchange_tables(schema)
    engine = _engine(url)
    try:
        async with engine.begin() as connection:
            units = list((await connection.execute(select(tables.units.c.bdcdyh, tables.units.c.jzmj).order_by(tables.units.c.bdcdyh))).all())
            if not units:
                return 0
            chosen = sorted(rng.sample(units, max(1, round(len(units) * fraction))))
            codes = [unit.bdcdyh for unit in chosen]
            history: dict[str, list[Any]] = {code: [] for code in codes}
            for start in range(0, len(codes), 900):
                part = codes[start : start + 900]
                query = select(tables.registrations).where(tables.registrations.c.bdcdyh.in_(part))
                for row in (await connection.execute(query)).all():
                    history[row.bdcdyh].append(row)
            prefix = f"BG{day:%Y%m%d}"
            taken = (
                await connection.execute(
                    select(func.count()).select_from(tables.registrations).where(tables.registrations.c.ywh.like(prefix + "%"))
                )
            ).scalar_one()
            holders = (await connection.execute(select(func.count()).select_from(tables.holders))).scalar_one()
            pool = [
                qlrid
                for (qlrid,) in (
                    await connection.execute(select(tables.holders.c.qlrid).order_by(tables.holders.c.qlrid).limit(5_000))
                ).all()
            ]
            new_holders: list[dict[str, Any]] = []
            new_registrations: list[dict[str, Any]] = []
            corrections: list[dict[str, Any]] = []
            tick = 0

            def next_stamp() -> dt.datetime:
                nonlocal tick
                tick += 1
                return stamp + dt.timedelta(milliseconds=tick)

            for unit in chosen:
                area = unit.jzmj or 90.0
                delta = rng.choice((-1, 1)) * rng.randint(1, 50) / 100
                corrections.append({"key": unit.bdcdyh, "new_jzmj": round(max(area + delta, 1.0), 2), "new_gxsj": next_stamp()})
                current = current_holders(history[unit.bdcdyh])
                if rng.random() < 0.7 or not pool:
                    male = rng.random() < 0.5
                    number = _resident_id(rng, day)
                    holders += 1
                    buyer = f"QLR{holders:09d}N{seed % 1000:03d}"
                    new_holders.append(
                        {
                            "qlrid": buyer,
                            "qlrmc": person_name(rng, male, int(number[6:10])),
                            "zjzl": exchange.PERSON_ID,
                            "zjhm": number,
                            "dh": mobile_phone(rng),
                            "gxsj": next_stamp(),
                        }
                    )
                else:
                    buyer = rng.choice([qlrid for qlrid in pool if qlrid not in current] or pool)
                sellers: list[str | None] = list(sorted(current)) if buyer not in current else []
                for seller in sellers or [None]:
                    taken += 1
                    new_registrations.append(
                        {
                            "ywh": f"{prefix}{taken:08d}",
                            "bdcdyh": unit.bdcdyh,
                            "djlx": exchange.TRANSFER if seller else exchange.FIRST,
                            "djsj": day,
                            "qlrid": buyer,
                            "fe": 1.0,
                            "yqlrid": seller,
                            "gxsj": next_stamp(),
                        }
                    )
            new_holders = _unique_numbers(new_holders, await _numbers_taken(connection, tables, new_holders), rng, day)
            if new_holders:
                await connection.execute(insert(tables.holders), new_holders)
            if new_registrations:
                await connection.execute(insert(tables.registrations), new_registrations)
            units_table = tables.units
            await connection.execute(
                update(units_table)
                .where(units_table.c.bdcdyh == bindparam("key"))
                .values(jzmj=bindparam("new_jzmj"), gxsj=bindparam("new_gxsj")),
                corrections,
            )
    finally:
        await engine.dispose()
    return len(corrections) + len(new_holders) + len(new_registrations)


async def _numbers_taken(connection: AsyncConnection, tables: exchange.ExchangeTables, rows: list[dict[str, Any]]) -> set[str]:
    numbers = [row["zjhm"] for row in rows]
    taken: set[str] = set()
    for start in range(0, len(numbers), 900):
        query = select(tables.holders.c.zjhm).where(tables.holders.c.zjhm.in_(numbers[start : start + 900]))
        taken.update(number for (number,) in (await connection.execute(query)).all())
    return taken


def _unique_numbers(rows: list[dict[str, Any]], taken: set[str], rng: random.Random, day: dt.date) -> list[dict[str, Any]]:
    """New holders' ID numbers, re-drawn where one is already issued (in the table or here)."""
    used = set(taken)
    for row in rows:
        while row["zjhm"] in used:
            row["zjhm"] = _resident_id(rng, day)
        used.add(row["zjhm"])
    return rows


# --- exports --------------------------------------------------------------------------------

FORMATS = ("csv", "jsonl")


def _text(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") + (f".{value.microsecond:06d}" if value.microsecond else "")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


async def export_files(
    url: str, folder: str | Path, fmt: str, *, encoding: str = "utf-8", bom: bool = False, schema: str | None = None
) -> dict[str, Path]:
    """Write the exchange tables at `url` as `bdcdy.csv`, `qlr.csv`, `djxx.csv` (or `.jsonl`) in
    `folder`, as a registry's export job would; returns table → file written."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    tables = exchange.exchange_tables(schema)
    engine = _engine(url)
    files: dict[str, Path] = {}
    try:
        async with engine.connect() as connection:
            for name in (exchange.UNITS, exchange.HOLDERS, exchange.REGISTRATIONS):
                table = tables.by_name(name)
                columns = exchange.COLUMNS[name]
                path = target / f"{name}.{fmt}"
                result = await connection.stream(select(*(table.c[c] for c in columns)).order_by(table.c[exchange.KEYS[name]]))
                with path.open("w", encoding=encoding, newline="") as out:
                    if bom:
                        out.write("\ufeff")
                    writer = csv.writer(out) if fmt == "csv" else None
                    if writer is not None:
                        writer.writerow(columns)
                    async for row in result:
                        values = [_text(value) for value in row]
                        if writer is not None:
                            writer.writerow(["" if value is None else value for value in values])
                        else:
                            out.write(json.dumps(dict(zip(columns, values)), ensure_ascii=False) + "\n")
                files[name] = path
    finally:
        await engine.dispose()
    return files
