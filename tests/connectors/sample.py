"""A small real source for the framework's tests: a property-firm register in a SQL database.

The register (物业企业信用档案) holds firms (`firm_record`: credit code, name, phone) and their
service contracts with estates (`contract`: firm, estate, since, until), each row stamped with
the time it last changed. `SampleFirms` reads them through SQLAlchemy like a real connector
would: incrementally by 'updated_at|key', linking each contract to an estate the hub knows.
It is not in `connectors.catalog.KINDS`: configurations name it by its import path
(`kind = "tests.connectors.sample:SampleFirms"`), which is also how a deployment plugs in a
kind of its own.

Its streams are Retryable (a row holds no personal data: the letter keeps it whole). `HeldFirms`
is the same register read by a source that stops answering after `hold_after` firms, without
failing, as a source that hangs would: a run of it stays alive until its process is killed.

`SampleEstates` reads the register's `estate_record` table (estates the register knows of) and
writes them as places: a run of it adds places, as the hub's place sources do.

`SampleDatabase` builds and changes such a register in a SQLite file for the tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Column, MetaData, String, Table, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from connectors.base import (
    Check,
    Config,
    ConfigField,
    ConfigSchema,
    ConnectorError,
    Facts,
    FieldSpec,
    FieldType,
    RecordSchema,
    Rejected,
    SourceRecord,
    Stream,
    Verdict,
    json_record,
)
from graph.codes import CreditCode
from graph.errors import CodeError
from graph.ledger import Reason
from graph.levels import Level
from graph.model import Batch, Management, Place, PropertyFirm
from graph.scope import Scope
from graph.store import Store

metadata = MetaData()
firm_record = Table(
    "firm_record",
    metadata,
    Column("credit_code", String, primary_key=True),
    Column("name", String),
    Column("phone", String, nullable=True),
    Column("updated_at", String, nullable=False),
)
contract = Table(
    "contract",
    metadata,
    Column("id", String, primary_key=True),
    Column("credit_code", String, nullable=False),
    Column("estate_code", String, nullable=False),
    Column("since", String, nullable=False),
    Column("until", String, nullable=True),
    Column("updated_at", String, nullable=False),
)


estate_record = Table(
    "estate_record",
    metadata,
    Column("code", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("community", String, nullable=False),
    Column("updated_at", String, nullable=False),
)


class _TableStream:
    """Rows of one table in 'updated_at|key' order, after a cursor."""

    table: Table
    key_column: str

    def __init__(self, source: SampleFirms) -> None:
        self._source = source

    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        key = self.table.c[self.key_column]
        cursor = self.table.c.updated_at + "|" + key
        query = select(self.table, cursor.label("_cursor")).order_by(cursor)
        if after is not None:
            query = query.where(cursor > after)
        try:
            async with self._source.engine.connect() as connection:
                result = await connection.stream(query)
                async for row in result:
                    data = {k: v for k, v in row._mapping.items() if k != "_cursor"}
                    yield SourceRecord(self.name, str(data[self.key_column]), row._cursor, data)
        except SQLAlchemyError as error:
            raise ConnectorError(f"{self._source.name}: {self.name} could not be read: {_cause(error)}") from None

    def kept(self, record: SourceRecord, store: Store) -> dict[str, Any]:
        return json_record(record.data)

    def revive(self, payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return dict(payload)

    name: str


class FirmStream(_TableStream):
    name = "firms"
    primary_key = ("credit_code",)
    cursor_field = "updated_at"
    table = firm_record
    key_column = "credit_code"
    schema = RecordSchema((
        FieldSpec("credit_code", str),
        FieldSpec("name", str),
        FieldSpec("phone", str, required=False),
        FieldSpec("updated_at", str),
    ))

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for record in records:
            try:
                code = str(CreditCode.parse(record.data["credit_code"], field="credit_code"))
            except CodeError as error:
                verdicts.append(Rejected(Reason.MALFORMED_CODE, f"firm {record.key}: {error}"))
                continue
            firm = PropertyFirm(code=code, name=record.data["name"], phone=record.data.get("phone"))
            verdicts.append(Facts(Batch(firms=[firm])))
        return verdicts


class ContractStream(_TableStream):
    name = "contracts"
    primary_key = ("id",)
    cursor_field = "updated_at"
    table = contract
    key_column = "id"
    schema = RecordSchema((
        FieldSpec("id", str),
        FieldSpec("credit_code", str),
        FieldSpec("estate_code", str),
        FieldSpec("since", str),
        FieldSpec("until", str, required=False),
        FieldSpec("updated_at", str),
    ))

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        codes = sorted({r.data["estate_code"] for r in records})
        places = dict(zip(codes, await store.places(codes, Scope.everything())))
        verdicts: list[Verdict] = []
        for record in records:
            data = record.data
            estate = places.get(data["estate_code"])
            if estate is None or estate.level is not Level.ESTATE:
                detail = f"contract {record.key}: estate {data['estate_code']!r} is not an estate the hub knows"
                verdicts.append(Rejected(Reason.UNKNOWN_PLACE, detail))
                continue
            try:
                since = dt.date.fromisoformat(data["since"])
                until = dt.date.fromisoformat(data["until"]) if data.get("until") else None
            except ValueError as error:
                verdicts.append(Rejected(Reason.SCHEMA_MISMATCH, f"contract {record.key}: {error}"))
                continue
            # The firm is not looked up here on purpose: a contract with a firm the hub has never
            # seen is refused by the store, which exercises the runner's record-by-record path.
            management = Management(data["credit_code"], estate.code, since, until)
            verdicts.append(Facts(Batch(managements=[management])))
        return verdicts


class EstateStream(_TableStream):
    name = "estates"
    primary_key: tuple[str, ...] = ("code",)
    cursor_field = "updated_at"
    table = estate_record
    key_column = "code"
    schema = RecordSchema((
        FieldSpec("code", str),
        FieldSpec("name", str),
        FieldSpec("community", str),
        FieldSpec("updated_at", str),
    ))

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        parents = sorted({r.data["community"] for r in records})
        known = {code for code, place in zip(parents, await store.places(parents, Scope.everything())) if place}
        verdicts: list[Verdict] = []
        for record in records:
            data = record.data
            if data["community"] not in known:
                verdicts.append(Rejected(Reason.UNKNOWN_PLACE, f"estate {record.key}: community {data['community']} is unknown"))
            else:
                verdicts.append(Facts(Batch(places=[Place(data["code"], Level.ESTATE, data["name"], data["community"])])))
        return verdicts


class SampleFirms:
    """A firm register read through a SQLAlchemy URL (the `url` may carry a password: secret)."""

    kind: ClassVar[str] = "sample-firms"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema((
        ConfigField("url", FieldType.URL, "SQLAlchemy URL of the register database", secret=True),
        ConfigField("label", FieldType.STRING, "a name shown in logs", required=False, default="register"),
    ))

    def __init__(self, name: str, config: Config) -> None:
        self.name = name
        self.config = config
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_async_engine(self.config["url"])
        return self._engine

    def streams(self) -> Sequence[Stream]:
        return [FirmStream(self), ContractStream(self)]

    async def check(self) -> Check:
        lines = []
        try:
            async with self.engine.connect() as connection:
                for table in (firm_record, contract):
                    count = (await connection.execute(text(f"SELECT count(*) FROM {table.name}"))).scalar_one()
                    lines.append(f"{table.name}: {count} rows")
        except SQLAlchemyError as error:
            return Check(False, f"{self.name}: the register cannot be read: {_cause(error)}")
        return Check(True, f"{self.name}: " + "; ".join(lines))

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


class SampleEstates(SampleFirms):
    """The register's estates, written as places."""

    kind: ClassVar[str] = "sample-estates"

    def streams(self) -> Sequence[Stream]:
        return [EstateStream(self)]


class _HeldFirmStream(FirmStream):
    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        left = int(self._source.config["hold_after"])
        async for record in super().read(after):
            if left <= 0:
                await asyncio.Event().wait()  # the source hangs: nothing more, no error, ever
            left -= 1
            yield record


class HeldFirms(SampleFirms):
    """The register, but its firms stream hangs after `hold_after` firms (a source that stops
    answering mid-read); the run stays alive, renewing its lease, until its process dies."""

    kind: ClassVar[str] = "sample-held-firms"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema((
        *SampleFirms.config_schema.fields,
        ConfigField("hold_after", FieldType.INTEGER, "firms read before the source hangs", bounds=(0, 1_000_000)),
    ))

    def streams(self) -> Sequence[Stream]:
        return [_HeldFirmStream(self), ContractStream(self)]


def _cause(error: SQLAlchemyError) -> str:
    return str(getattr(error, "orig", None) or error).splitlines()[0]


def credit_code(number: int) -> str:
    """A valid credit code for firm `number` (企业法人, 青岛市南区)."""
    from graph.codes import credit_check_character

    first17 = f"91370202MA{number:07d}"
    return first17 + credit_check_character(first17)


class SampleDatabase:
    """A register in a SQLite file: seeded, changed and spoiled by the tests."""

    def __init__(self, path: Path, estates: Sequence[str]) -> None:
        self.path = path
        self.url = f"sqlite+aiosqlite:///{path}"
        self.estates = list(estates)
        self.engine = create_async_engine(self.url)
        self.tick = 0

    def stamp(self) -> str:
        self.tick += 1
        return (dt.datetime(2024, 1, 1) + dt.timedelta(seconds=self.tick)).isoformat()

    async def seed(self, firms: int, contracts: int) -> int:
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(firm_record.insert(), [
                {"credit_code": credit_code(i), "name": f"青岛物业服务有限公司{i:03d}", "phone": f"0532-8{i:07d}",
                 "updated_at": self.stamp()}
                for i in range(firms)
            ])
            await connection.execute(contract.insert(), [
                {"id": f"C{i:05d}", "credit_code": credit_code(i % firms), "estate_code": self.estates[i % len(self.estates)],
                 "since": (dt.date(2010, 1, 1) + dt.timedelta(days=i)).isoformat(), "until": None,
                 "updated_at": self.stamp()}
                for i in range(contracts)
            ])
        return firms + contracts

    async def rename(self, numbers: Sequence[int]) -> None:
        async with self.engine.begin() as connection:
            for i in numbers:
                await connection.execute(
                    firm_record.update().where(firm_record.c.credit_code == credit_code(i))
                    .values(name=f"青岛物业服务有限公司{i:03d}（更名）", updated_at=self.stamp())
                )

    async def end_contracts(self, ids: Sequence[str], until: dt.date) -> None:
        async with self.engine.begin() as connection:
            for key in ids:
                await connection.execute(
                    contract.update().where(contract.c.id == key).values(until=until.isoformat(), updated_at=self.stamp())
                )

    async def insert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(table.insert(), [{**row, "updated_at": self.stamp()} for row in rows])

    async def close(self) -> None:
        await self.engine.dispose()
