"""The contractors' maintenance records as a stream: each row linked to its device and booked
on the facility's life record once (`graph.facilities.service.Facilities.record_maintenance`).

A row becomes a maintenance by the contractor (维保单位代码) and its staff member, at its time
and point, keyed `<connector>:<file id>:<记录编号>`: the facility books a key once, so a file
read again (after a crash, by a full run, sent twice) books nothing twice and counts unchanged.

Set aside, each with its reason, the rest of the file going on:

- SCHEMA_MISMATCH: a file that is not a record file; a column missing or malformed (a 记录编号
  out of shape, a time that is not one or lies in the future, coordinates that are not);
- MALFORMED_CODE: a 设备编码 or 维保单位代码 that is not a code of its kind;
- UNKNOWN_DEVICE: a device the hub has not registered;
- CONFLICT: a retired device (its record only reads); a contractor that is neither the
  facility's contractor on that day nor the firm managing its estate; a point far from the
  device's place;
- DUPLICATE: a 记录编号 repeated in its file (only its first row is taken).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from connectors.base import Facts, FieldSpec, RecordSchema, Rejected, SourceRecord, Verdict, json_record
from connectors.maintenance.records import Maintenance, maintenance_of
from graph.codes import CreditCode
from graph.devices import device_code
from graph.errors import CodeError, InvalidInput
from graph.facilities.service import Facilities
from graph.ledger import Reason
from graph.model import Provenance, WriteCounts
from graph.scope import Scope
from graph.store import Store

EVERYTHING = Scope.everything()
STREAM = "maintenance"
SCHEMA = RecordSchema(
    (
        FieldSpec("statement", str),
        FieldSpec("file", str),
        FieldSpec("row", int),
        *(FieldSpec(name, str, required=False) for name in ("line", "device", "org", "date", "staff", "lon", "lat", "items", "note")),
        FieldSpec("repeats", int, required=False),
        FieldSpec("problem", str, required=False),
    )
)
"""A record: the file id (`statement`, as the file reader names it), file and row it was read
from, the row's columns as text (connectors.maintenance.records); `repeats` the row that first
had its 记录编号, `problem` why a whole file cannot be read."""
_NAMES = {"line": "记录编号", "device": "设备编码", "org": "维保单位代码", "date": "维保时间"}


class MaintenanceStream:
    """The `maintenance` stream of a maintenance source named `source`, read by `reader`."""

    name = STREAM
    primary_key: tuple[str, ...] = ("statement", "line")
    cursor_field = "row"
    schema = SCHEMA

    def __init__(self, source: str, reader: Callable[[str | None], AsyncIterator[SourceRecord]]) -> None:
        self.source = source
        self._reader = reader
        self.writer = MaintenanceWriter(source)

    def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        return self._reader(after)

    def kept(self, record: SourceRecord, store: Store) -> dict[str, Any]:
        """A row holds no personal data (staff are ids, never names): kept whole."""
        return json_record(record.data)

    def revive(self, payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return dict(payload)

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        parsed: list[Verdict | Maintenance] = [self._parse(record) for record in records]
        codes = sorted({item.device for item in parsed if isinstance(item, Maintenance)})
        devices = dict(zip(codes, await store.devices(codes, EVERYTHING))) if codes else {}
        lives = dict(zip(codes, await store.facilities(codes, EVERYTHING))) if codes else {}
        verdicts: list[Verdict] = []
        for record, item in zip(records, parsed):
            if not isinstance(item, Maintenance):
                verdicts.append(item)
                continue
            where = f"file {record.data.get('file')} row {record.data.get('row')}"
            if devices.get(item.device) is None:
                verdicts.append(Rejected(Reason.UNKNOWN_DEVICE, f"{where}: 设备编码 {item.device} is not a device registered in the hub"))
                continue
            life = lives.get(item.device)
            if life is not None and life.retired_at is not None:
                verdicts.append(
                    Rejected(Reason.CONFLICT, f"{where}: device {item.device} was retired at {life.retired_at.isoformat()}: its record only reads")
                )
                continue
            verdicts.append(Facts(entries=(item,), writer=self.writer))
        return verdicts

    def _parse(self, record: SourceRecord) -> Verdict | Maintenance:
        data = record.data
        where = f"file {data.get('file')} row {data.get('row')}"
        if data.get("problem"):
            return Rejected(Reason.SCHEMA_MISMATCH, f"maintenance record file {data.get('file')} {data['problem']}; nothing of it was booked")
        if data.get("repeats"):
            return Rejected(
                Reason.DUPLICATE, f"{where}: 记录编号 {data.get('line')} repeats row {data['repeats']} of the same file; a record is taken once"
            )
        missing = [chinese for name, chinese in _NAMES.items() if not data.get(name)]
        if missing:
            return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: {', '.join(missing)} is empty")
        try:
            item = maintenance_of(data)
        except ValueError as error:
            return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: {error}")
        try:
            device_code(item.device, field_name=f"{where} 设备编码")
            CreditCode.parse(item.org, field=f"{where} 维保单位代码")
        except (CodeError, InvalidInput) as error:
            return Rejected(Reason.MALFORMED_CODE, str(error))
        return item


_CONFLICTS = frozenset({"by_org", "point", "code"})


class MaintenanceWriter:
    """Books the accepted rows of a batch, one by one, on their facilities (`connectors.base.Writer`)."""

    def __init__(self, source: str) -> None:
        self.source = source

    async def write(self, items: Sequence[tuple[SourceRecord, Facts, Provenance]], store: Store) -> list[WriteCounts | Rejected]:
        facilities = Facilities(store)
        outcomes: list[WriteCounts | Rejected] = []
        for record, facts, provenance in items:
            [item] = facts.entries
            assert isinstance(item, Maintenance)
            try:
                done = await facilities.record_maintenance(
                    item.device,
                    at=item.at,
                    by_org=item.org,
                    by_staff=item.staff,
                    point=item.point,
                    scope=EVERYTHING,
                    recorded_by=f"connector:{self.source} run {provenance.run_id}"[:200],
                    items=item.items,
                    key=f"{self.source}:{record.key}"[:128],
                    note=item.note,
                )
            except InvalidInput as error:
                where = f"file {record.data.get('file')} row {record.data.get('row')}"
                outside = error.field == "at" and "contract" in error.rule
                reason = Reason.CONFLICT if error.field in _CONFLICTS or outside else Reason.SCHEMA_MISMATCH
                outcomes.append(Rejected(reason, f"{where}: {error}"))
                continue
            outcomes.append(WriteCounts(inserted=1) if done.booked else WriteCounts(unchanged=1))
        return outcomes
