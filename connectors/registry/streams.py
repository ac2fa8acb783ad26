"""The registry's three streams, and how their records become graph facts (shared by both kinds).

- units (bdcdy): a unit updates its house (户) with the registered area, usage and floor, found
  by its 不动产单元号; a house the hub does not hold yet is created in its building (the
  不动产单元号's first 24 characters) when the hub knows the building, under the entrance its
  坐落 names (so a city whose places came from a places connector fills with houses).
- holders (qlr): a rights holder (权利人) becomes an `Owner`, with the hub's owner id derived from
  the ID number, the same rule the demo city uses, so a holder the registry and the property
  platform both know is one owner. Names, ID numbers and phones travel wrapped in `Personal`, so
  that a record printed, logged or set aside shows them masked; the store seals them as it writes.
- registrations (djxx): 首次登记 opens an ownership, 转移登记 closes the previous holder's and
  opens the new holder's on the registration date, 变更登记 changes a holder's share from that
  date, 注销登记 closes. A batch is replayed per house in date order over the ownerships the
  store holds, and every record's facts are the final state of what it touched, so that
  records arriving out of order within a batch, chains (A→B→C) and re-reads all end the same.

Dead letters of units and registrations can be retried (connectors.base.Retryable): a unit keeps
its row as read (it holds no personal data); a registration keeps its row with the owner ids of
its holders (`qlr_owner`, `yqlr_owner`, made with the store's key) beside their masked ID
numbers, so that a retry links it without the numbers. A holder's letter cannot be retried: its
name, ID number and phone are kept masked; it waits for the registry to send the row again.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import FieldSpec, Facts, RecordSchema, Rejected, SourceRecord, Verdict, json_record, replaced
from connectors.registry import exchange
from graph.addresses import parse_address
from graph.codes import CreditCode, HouseCode, ResidentId
from graph.errors import CodeError
from graph.ledger import Reason
from graph.levels import Level
from graph.masking import mask
from graph.model import Batch, Owner, OwnerKind, Ownership, Place, Usage, centi_m2_of
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from graph.identity import OwnerIds

EVERYTHING = Scope.everything()
CURSOR_FIELD = "gxsj"
EPOCH = dt.datetime(1, 1, 1)
"""Where a record whose gxsj cannot be read sorts: first, so a full read meets it and sets it aside."""
USAGES = {usage.value: usage for usage in Usage}
SHARE_SLACK = 1e-6


class Personal:
    """A personal value (name, ID number, phone) that shows itself only masked.

    Records carry personal data wrapped in this, so the runner's dead-letter payloads, logs and
    reprs show '张*' or '370202********1234', never the value; `value` is for building the Owner,
    which the store seals.
    """

    __slots__ = ("field", "value")

    def __init__(self, field: str, value: str) -> None:
        self.field = field
        self.value = value

    def __str__(self) -> str:
        return mask(self.field, self.value)

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Personal) and (self.field, self.value) == (other.field, other.value)

    def __hash__(self) -> int:
        return hash((self.field, self.value))


PERSONAL_COLUMNS = {"qlrmc": "name", "zjhm": "id_number", "dh": "phone"}
"""The holder columns that hold personal data, and the personal field each is."""


def wrap_personal(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with its personal columns wrapped in `Personal` (blank ones become None)."""
    for column, field in PERSONAL_COLUMNS.items():
        value = data.get(column)
        if isinstance(value, str):
            data[column] = Personal(field, value.strip()) if value.strip() else None
        elif value is not None and not isinstance(value, Personal):
            data[column] = Personal(field, str(value))
    return data


# --- cursors --------------------------------------------------------------------------------


def cursor_of(gxsj: dt.datetime, key: str) -> str:
    """'timestamp|key', the timestamp at fixed width so that cursors sort as text too."""
    naive = gxsj if gxsj.tzinfo is None else gxsj.replace(tzinfo=None)
    return f"{naive.isoformat(sep='T', timespec='microseconds')}|{key}"


def parse_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """The (gxsj, key) a saved cursor stands for; ValueError if it is not one of ours."""
    stamp, bar, key = cursor.partition("|")
    if not bar:
        raise ValueError(f"cursor {cursor!r} is not 'gxsj|key'")
    return dt.datetime.fromisoformat(stamp), key


def parse_timestamp(value: object) -> dt.datetime | None:
    """An exchange timestamp as a naive local (Beijing) time; None when it is not one.

    Exports write '2021-03-04 05:06:07', with 'T', fractions, or '/' between date parts."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is None else value.astimezone(_BEIJING).replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("/", "-")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is None else parsed.astimezone(_BEIJING).replace(tzinfo=None)


_BEIJING = dt.timezone(dt.timedelta(hours=8))


def parse_day(value: object) -> dt.date | None:
    """A registration date: 'YYYY-MM-DD' (or with '/', or a timestamp whose day it takes)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    stamp = parse_timestamp(value)
    return stamp.date() if stamp is not None else None


# --- declarations ---------------------------------------------------------------------------

Linker = Callable[[Sequence[SourceRecord], Store], Awaitable[list[Verdict]]]

NUMBER = (float, int)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What a registry stream is, whichever kind reads it."""

    name: str
    table: str
    key: str
    schema: RecordSchema
    link: Linker


class RegistryStream:
    """A registry stream's declaration and linking; `database` and `files` add `read`."""

    cursor_field: str = CURSOR_FIELD

    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.primary_key: tuple[str, ...] = (spec.key,)
        self.schema = spec.schema

    def record(self, data: dict[str, Any], stamp: dt.datetime | None, key: str | None = None) -> SourceRecord:
        """A SourceRecord of this stream from a row (`data`, its gxsj already read as `stamp`);
        `key` names a row that has no key of its own (a file's line)."""
        key = str(data[self.spec.key]) if key is None else key
        return SourceRecord(self.name, key, cursor_of(stamp or EPOCH, key), data)

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        """The spec's linking, after setting aside records whose gxsj is not a timestamp (they
        could not be placed in cursor order, so no incremental read would see them again)."""
        verdicts: list[Verdict | None] = [None] * len(records)
        good: list[int] = []
        for index, record in enumerate(records):
            if parse_timestamp(record.data[CURSOR_FIELD]) is None:
                verdicts[index] = Rejected(
                    Reason.SCHEMA_MISMATCH,
                    f"{self.spec.table} {record.key}: gxsj (更新时间) {record.data[CURSOR_FIELD]!r} is not a timestamp "
                    "(YYYY-MM-DD HH:MM:SS)",
                )
            else:
                good.append(index)
        if good:
            linked = await self.spec.link([records[index] for index in good], store)
            for index, verdict in zip(good, linked, strict=True):
                verdicts[index] = verdict
        return [verdict for verdict in verdicts if verdict is not None]

    def kept(self, record: SourceRecord, store: Store) -> dict[str, Any]:
        """The row as read, personal values masked; a registration's also with its holders'
        owner ids, which a retry links by (the numbers themselves are never kept)."""
        data = json_record(record.data)
        if self.spec.name == REGISTRATIONS_NAME:
            for target, column in (("qlr_owner", "qlr_number"), ("yqlr_owner", "yqlr_number")):
                data[target] = _holder_id(record.data.get(column), store.owner_ids)
        return data

    def revive(self, payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """A unit's row; a registration's row with its holders' owner ids in place of their
        masked numbers (None for one kept before owner ids were); never a holder's."""
        if self.spec.name == UNITS_NAME:
            return dict(payload)
        if self.spec.name == REGISTRATIONS_NAME and "qlr_owner" in payload:
            return {k: v for k, v in payload.items() if k not in ("qlr_number", "yqlr_number")}
        return None


# --- units ----------------------------------------------------------------------------------


def _house_code(table: str, key: str, value: object) -> str | Rejected:
    try:
        return str(HouseCode.parse(value, field=f"{table} {key}: bdcdyh (不动产单元号)"))
    except CodeError as error:
        return Rejected(Reason.MALFORMED_CODE, str(error))


async def link_units(records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
    verdicts: list[Verdict | None] = [None] * len(records)
    wanted: dict[int, tuple[str, int, Usage, int | None]] = {}
    for index, record in enumerate(records):
        data, where = record.data, f"bdcdy {record.key}"
        code = _house_code("bdcdy", record.key, data["bdcdyh"])
        if isinstance(code, Rejected):
            verdicts[index] = code
            continue
        try:
            area = centi_m2_of(data["jzmj"])  # whole hundredths of a m², exactly
        except ValueError as error:
            verdicts[index] = Rejected(Reason.SCHEMA_MISMATCH, f"{where}: jzmj (建筑面积): {error}")
            continue
        usage = USAGES.get(str(data["ghyt"]).strip())
        floor = data.get("szc")
        if area <= 0:
            verdicts[index] = Rejected(Reason.SCHEMA_MISMATCH, f"{where}: jzmj (建筑面积) {data['jzmj']} m² must be above 0")
        elif usage is None:
            verdicts[index] = Rejected(
                Reason.SCHEMA_MISMATCH, f"{where}: ghyt (规划用途) {data['ghyt']!r} is not one of {'/'.join(USAGES)}"
            )
        elif floor is not None and not -20 <= int(floor) <= 300:
            verdicts[index] = Rejected(Reason.SCHEMA_MISMATCH, f"{where}: szc (所在层) {floor} is not a floor of a building")
        else:
            wanted[index] = (code, round(area, 2), usage, None if floor is None else int(floor))
    codes = list(dict.fromkeys(code for code, *_ in wanted.values()))
    found = {code: place for code, place in zip(codes, await store.places(codes, EVERYTHING)) if place}
    new = {index: code for index, (code, *_) in wanted.items() if code not in found}
    homes = await _homes([records[index] for index in new], list(new.values()), store)
    for index, (code, area, usage, floor) in wanted.items():
        place = found.get(code)
        if place is None:
            home = homes[code]
            if isinstance(home, Rejected):
                verdicts[index] = home
                continue
            parent, name, room_floor = home
            place = Place(code, Level.HOUSE, name, parent)
            floor = floor if floor is not None else room_floor
        elif place.level != Level.HOUSE:
            verdicts[index] = Rejected(Reason.UNKNOWN_PLACE, f"bdcdy {records[index].key}: {code} is not a house in the hub")
            continue
        house = replaced(place, area_centi_m2=area, usage=usage, floor=floor, provenance=None)
        verdicts[index] = Facts(Batch(places=[house]))
    return [verdict for verdict in verdicts if verdict is not None]


Home = tuple[str, str, int | None] | Rejected
"""Where a new house goes: (its entrance or building, its name, the floor its room says), or why
it cannot be placed."""


async def _homes(records: Sequence[SourceRecord], codes: Sequence[str], store: Store) -> dict[str, Home]:
    """For each unit whose house the hub does not hold yet, where the house goes: a house in a
    building the hub knows is created under the entrance its 坐落 (zl) names (`2单元501室`), or
    under the building's only entrance, or under the building itself when it has none; its name
    is the room as the place tree spells it. A building the hub does not know, or an entrance
    that cannot be told, leaves the unit unplaced (UNKNOWN_PLACE, saying which)."""
    buildings = list(dict.fromkeys(HouseCode(code).building or "" for code in codes))
    known = {
        code: place
        for code, place in zip(buildings, await store.places(buildings, EVERYTHING) if buildings else [])
        if place is not None and place.level == Level.BUILDING
    }
    entrances: dict[str, list[Place]] = {}
    for code in known:
        found: list[Place] = []
        after: str | None = None
        while True:
            [page] = await store.children([code], EVERYTHING, MAX_PAGE, after)
            found.extend(child for child in page.items if child.level == Level.ENTRANCE)
            if not page.has_next:
                break
            after = page.end_cursor
        entrances[code] = found
    homes: dict[str, Home] = {}
    for record, code in zip(records, codes):
        homes[code] = _home(record, code, known, entrances)
    return homes


def _home(record: SourceRecord, code: str, known: dict[str, Place], entrances: dict[str, list[Place]]) -> Home:
    where = f"bdcdy {record.key}"
    building = HouseCode(code).building
    if building is None or building not in known:
        return Rejected(
            Reason.UNKNOWN_PLACE,
            f"{where}: no house {code} in the hub (不动产单元号 not found), nor its building {building or '(fixture is not F)'}",
        )
    located = str(record.data.get("zl") or "")
    address = parse_address(located)
    numbered = {_entrance_number(e): e for e in entrances[building]}
    if address.entrance is not None:
        entrance = numbered.get(address.entrance)
        if entrance is None:
            return Rejected(
                Reason.UNKNOWN_PLACE,
                f"{where}: zl (坐落) {located!r} names entrance {address.entrance}, which building {building} does not have "
                f"(its entrances: {', '.join(e.name for e in entrances[building]) or 'none'})",
            )
    elif len(entrances[building]) == 1:
        entrance = entrances[building][0]
    elif not entrances[building]:
        entrance = None
    else:
        return Rejected(
            Reason.UNKNOWN_PLACE,
            f"{where}: no house {code} in the hub, and building {building} has {len(entrances[building])} entrances: "
            f"zl (坐落) {located!r} does not say which (…N单元…)",
        )
    number = _entrance_number(entrance) if entrance is not None else None
    if address.room is not None:
        name = f"{number or 1}单元{address.room}{'网点' if address.shop else '室'}"
    elif address.parking:
        name = address.parking
    else:
        name = f"{int(code[24:])}号"
    return (entrance.code if entrance is not None else building, name, address.floor)


def _entrance_number(entrance: Place) -> int | None:
    if len(entrance.code) == 26 and entrance.code[24:].isdigit():
        return int(entrance.code[24:])
    return None


# --- holders --------------------------------------------------------------------------------


def _owner(record: SourceRecord, owner_ids: OwnerIds) -> Owner | Rejected:
    data, where = record.data, f"qlr {record.key}"
    name, number, phone = data["qlrmc"], data["zjhm"], data.get("dh")
    kind_text = str(data["zjzl"]).strip()
    if kind_text not in exchange.ID_KINDS:
        return Rejected(
            Reason.SCHEMA_MISMATCH, f"{where}: zjzl (证件种类) {kind_text!r} is not one of {'/'.join(exchange.ID_KINDS)}"
        )
    code_type = ResidentId if kind_text == exchange.PERSON_ID else CreditCode
    try:
        checked = str(code_type.parse(number.value, field="zjhm"))
    except CodeError as error:  # the rule broken, never the number itself
        return Rejected(Reason.MALFORMED_CODE, f"{where}: zjhm (证件号码) {number} {error.rule}")
    if not name.value:
        return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: qlrmc (权利人名称) is empty")
    return Owner(
        id=owner_ids(checked),
        kind=OwnerKind.PERSON if code_type is ResidentId else OwnerKind.ORGANISATION,
        name=name.value,
        id_number=checked,
        phone=phone.value if phone is not None else None,
    )


async def link_holders(records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
    """An owner is written by its id (insert or update), made with the store's key."""
    verdicts: list[Verdict] = []
    for record in records:
        owner = _owner(record, store.owner_ids)
        verdicts.append(owner if isinstance(owner, Rejected) else Facts(Batch(owners=[owner])))
    return verdicts


# --- registrations --------------------------------------------------------------------------


@dataclass(slots=True)
class _Registration:
    index: int
    ywh: str
    house: str
    kind: str
    day: dt.date
    holder: str | None
    holder_qlrid: str
    share: float
    previous: str | None
    previous_qlrid: str | None


SpanKey = tuple[str, dt.date]
"""An ownership of one house by its owner id and start: the store's natural key, per house."""


def _holder_id(number: object, owner_ids: Callable[[str], str]) -> str | None:
    """The owner id of a holder's ID number as the registration carries it (wrapped as personal
    data, so it never shows in a dead letter), None when its qlr row had none."""
    text = number.value if isinstance(number, Personal) else number
    return owner_ids(text) if isinstance(text, str) and text.strip() else None


def _remembered(owner_ids: OwnerIds) -> Callable[[str], str]:
    """`owner_ids`, each number's id made once (for one batch: the numbers are not kept)."""
    made: dict[str, str] = {}

    def owner_id(number: str) -> str:
        found = made.get(number)
        if found is None:
            found = made[number] = owner_ids(number)
        return found

    return owner_id


def _holder(data: Mapping[str, Any], role: str, owner_ids: Callable[[str], str]) -> str | None:
    """The owner id of a registration's holder (`role` "qlr") or previous holder ("yqlr"): as a
    retried dead letter kept it, else from the ID number its qlr row gave."""
    kept = f"{role}_owner"
    if kept in data:
        value = data[kept]
        return value if isinstance(value, str) and value else None
    return _holder_id(data.get(f"{role}_number"), owner_ids)


def _registration(index: int, record: SourceRecord, owner_ids: Callable[[str], str]) -> _Registration | Rejected:
    data, where = record.data, f"djxx {record.key}"
    code = _house_code("djxx", record.key, data["bdcdyh"])
    if isinstance(code, Rejected):
        return code
    kind = str(data["djlx"]).strip()
    if kind not in exchange.REGISTRATION_TYPES:
        return Rejected(
            Reason.SCHEMA_MISMATCH, f"{where}: djlx (登记类型) {kind!r} is not one of {'/'.join(exchange.REGISTRATION_TYPES)}"
        )
    day = parse_day(data["djsj"])
    if day is None:
        return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: djsj (登记时间) {data['djsj']!r} is not a date (YYYY-MM-DD)")
    raw_share = data.get("fe")
    share = 1.0 if raw_share is None else float(raw_share)
    if not (math.isfinite(share) and 0 < share <= 1):
        return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: fe (份额) {share:g} must be above 0 and at most 1")
    previous_qlrid = data.get("yqlrid") or None
    if kind == exchange.TRANSFER and previous_qlrid is None:
        return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: a 转移登记 must name the previous holder (yqlrid)")
    if kind == exchange.TRANSFER and previous_qlrid == data["qlrid"]:
        return Rejected(Reason.CONFLICT, f"{where}: a 转移登记 from holder {previous_qlrid} to itself (use 变更登记)")
    return _Registration(
        index,
        record.key,
        code,
        kind,
        day,
        _holder(data, "qlr", owner_ids),
        str(data["qlrid"]),
        share,
        _holder(data, "yqlr", owner_ids) if previous_qlrid else None,
        str(previous_qlrid) if previous_qlrid else None,
    )


def _unknown_owner(where: str, qlrid: str, owner: str | None, role: str) -> Rejected:
    if owner is None:
        detail = f"{where}: {role} {qlrid} is not in the registry's qlr table"
    else:
        detail = f"{where}: {role} {qlrid} is not an owner in the hub (its qlr record was set aside or not read yet)"
    return Rejected(Reason.UNKNOWN_OWNER, detail)


class _House:
    """One house's ownerships while a batch is replayed: the store's, then the batch's changes."""

    def __init__(self, code: str, stored: Iterable[Ownership]) -> None:
        self.code = code
        self.spans: dict[SpanKey, Ownership] = {(o.owner_id, o.since): replaced(o, provenance=None, owner=None) for o in stored}

    def holding(self, owner: str, day: dt.date, *, closed_on_day: bool) -> Ownership | None:
        """`owner`'s latest span started by `day` and open on it (or, with `closed_on_day`,
        ended that very day: the span a re-read of the same registration closed before)."""
        found = [
            span
            for span in self.spans.values()
            if span.owner_id == owner
            and span.since <= day
            and (span.until is None or span.until > day or (closed_on_day and span.until == day))
        ]
        return max(found, key=lambda span: span.since) if found else None

    def shares_on(self, day: dt.date, besides: SpanKey) -> float:
        return sum(s.share for key, s in self.spans.items() if key != besides and s.holds_on(day))

    def open(self, owner: str, day: dt.date, share: float) -> SpanKey:
        """`owner` holds `share` from `day`; a span already stored with this start keeps its end
        (a later registration ended it)."""
        key = (owner, day)
        known = self.spans.get(key)
        if known is None:
            self.spans[key] = Ownership(self.code, owner, share, day)
        else:
            self.spans[key] = replaced(known, share=share, source="registration")
        return key

    def close(self, span: Ownership, day: dt.date) -> SpanKey:
        key = (span.owner_id, span.since)
        self.spans[key] = replaced(span, until=day)
        return key


def _apply(house: _House, item: _Registration) -> list[SpanKey] | Rejected:
    """Replay one registration on its house; the spans it touched, or why it cannot be."""
    where, day = f"djxx {item.ywh}", item.day
    holder = item.holder
    assert holder is not None
    if item.kind == exchange.FIRST:
        taken = house.shares_on(day, besides=(holder, day))
        if taken + item.share > 1 + SHARE_SLACK:
            return Rejected(
                Reason.CONFLICT,
                f"{where}: 首次登记 of {item.share:g} of house {house.code} on {day} by {item.holder_qlrid}, "
                f"but {taken:g} of it is already held then",
            )
        return [house.open(holder, day, item.share)]
    if item.kind == exchange.TRANSFER:
        assert item.previous is not None
        previous = house.holding(item.previous, day, closed_on_day=True)
        if previous is None:
            return Rejected(
                Reason.CONFLICT,
                f"{where}: 转移登记 of house {house.code} on {day} from {item.previous_qlrid}, who holds "
                "nothing of it then (no current ownership to close)",
            )
        touched = [house.close(previous, day)]
        mine = house.holding(holder, day, closed_on_day=False)
        if mine is not None and mine.since < day:  # the buyer's older share is part of the new one
            touched.append(house.close(mine, day))
        touched.append(house.open(holder, day, item.share))
        return touched
    current = house.holding(holder, day, closed_on_day=item.kind == exchange.CANCEL)
    if current is None:
        return Rejected(
            Reason.CONFLICT,
            f"{where}: {item.kind} of house {house.code} on {day} for {item.holder_qlrid}, who holds nothing of it then",
        )
    if item.kind == exchange.CANCEL:
        return [house.close(current, day)]
    if current.since == day:  # 变更登记 on the day the span starts: the share itself changes
        return [house.open(holder, day, item.share)]
    return [house.close(current, day), house.open(holder, day, item.share)]


async def link_registrations(records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
    verdicts: list[Verdict | None] = [None] * len(records)
    items: list[_Registration] = []
    ids_of = _remembered(store.owner_ids)  # a holder's number recurs across its registrations
    for index, record in enumerate(records):
        parsed = _registration(index, record, ids_of)
        if isinstance(parsed, Rejected):
            verdicts[index] = parsed
        else:
            items.append(parsed)
    codes = list(dict.fromkeys(item.house for item in items))
    owner_ids = list(dict.fromkeys(o for item in items for o in (item.holder, item.previous) if o))
    places: list[Place | None] = await store.places(codes, EVERYTHING) if codes else []
    houses_known = {code for code, place in zip(codes, places) if place is not None and place.level == Level.HOUSE}
    owners_known = {o for o, known in zip(owner_ids, await store.owners_known(owner_ids) if owner_ids else []) if known}
    linked: list[_Registration] = []
    for item in items:
        where = f"djxx {item.ywh}"
        if item.house not in houses_known:
            verdicts[item.index] = Rejected(
                Reason.UNKNOWN_PLACE, f"{where}: no house {item.house} in the hub (不动产单元号 not found)"
            )
        elif item.holder not in owners_known:
            verdicts[item.index] = _unknown_owner(where, item.holder_qlrid, item.holder, "holder (qlrid)")
        elif item.previous_qlrid is not None and item.previous not in owners_known:
            verdicts[item.index] = _unknown_owner(where, item.previous_qlrid, item.previous, "previous holder (yqlrid)")
        else:
            linked.append(item)
    touched_houses = list(dict.fromkeys(item.house for item in linked))
    stored = await store.ownerships(touched_houses, None, EVERYTHING, with_owners=False) if touched_houses else []
    houses = {code: _House(code, spans) for code, spans in zip(touched_houses, stored)}
    touched: dict[int, list[SpanKey]] = {}
    for item in sorted(linked, key=lambda i: (i.day, _KIND_ORDER[i.kind], i.ywh)):
        outcome = _apply(houses[item.house], item)
        if isinstance(outcome, Rejected):
            verdicts[item.index] = outcome
        else:
            touched[item.index] = outcome
    for item in linked:  # every record states the final spans it touched: order in the batch no longer matters
        keys = touched.get(item.index)
        if keys is not None:
            house = houses[item.house]
            spans = [house.spans[key] for key in dict.fromkeys(keys)]
            verdicts[item.index] = Facts(Batch(ownerships=spans))
    return [verdict for verdict in verdicts if verdict is not None]


_KIND_ORDER = {exchange.CANCEL: 0, exchange.TRANSFER: 1, exchange.CHANGE: 2, exchange.FIRST: 3}
"""On one day, what ends is replayed before what starts."""


# --- the streams ----------------------------------------------------------------------------

UNITS_NAME, REGISTRATIONS_NAME = "units", "registrations"

UNITS = StreamSpec(
    UNITS_NAME,
    exchange.UNITS,
    "bdcdyh",
    RecordSchema(
        (
            FieldSpec("bdcdyh", str),
            FieldSpec("zl", str, required=False),
            FieldSpec("jzmj", (float, int, Decimal)),
            FieldSpec("ghyt", str),
            FieldSpec("szc", int, required=False),
            FieldSpec("gxsj", str),
        )
    ),
    link_units,
)
HOLDERS = StreamSpec(
    "holders",
    exchange.HOLDERS,
    "qlrid",
    RecordSchema(
        (
            FieldSpec("qlrid", str),
            FieldSpec("qlrmc", Personal),
            FieldSpec("zjzl", str),
            FieldSpec("zjhm", Personal),
            FieldSpec("dh", Personal, required=False),
            FieldSpec("gxsj", str),
        )
    ),
    link_holders,
)
REGISTRATIONS = StreamSpec(
    REGISTRATIONS_NAME,
    exchange.REGISTRATIONS,
    "ywh",
    RecordSchema(
        (
            FieldSpec("ywh", str),
            FieldSpec("bdcdyh", str),
            FieldSpec("djlx", str),
            FieldSpec("djsj", str),
            FieldSpec("qlrid", str),
            FieldSpec("fe", NUMBER, required=False),
            FieldSpec("yqlrid", str, required=False),
            FieldSpec("gxsj", str),
            FieldSpec("qlr_number", Personal, required=False),
            FieldSpec("yqlr_number", Personal, required=False),
            FieldSpec("qlr_owner", str, required=False),
            FieldSpec("yqlr_owner", str, required=False),
        )
    ),
    link_registrations,
)
SPECS = (UNITS, HOLDERS, REGISTRATIONS)
"""In the order a sync reads them: houses and owners before the registrations that join them."""


def with_holder_numbers(data: dict[str, Any], holder_number: object, previous_number: object) -> dict[str, Any]:
    """`data` (a registration) with the ID numbers of its holder and previous holder from their
    qlr rows (`qlr_number`, `yqlr_number`; None: no such row, or no number), wrapped as personal
    data so that a dead letter or a log shows them masked. `link` turns them into owner ids with
    the store's key (graph.identity): a source never holds the key."""
    for target, number in (("qlr_number", holder_number), ("yqlr_number", previous_number)):
        text = number.value if isinstance(number, Personal) else number
        data[target] = Personal("id_number", text) if isinstance(text, str) and text.strip() else None
    return data


_FLOATS = frozenset({"jzmj", "fe"})
_INTEGERS = frozenset({"szc"})


def _decimal(text: str) -> Decimal | str:
    """A decimal from an export's text, exactly; the text itself when it is not one."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return number if number.is_finite() else text


def _number(value: Any, integer: bool) -> Any:
    """A number from an export's text; the text itself when it is none (the schema says so)."""
    if not isinstance(value, str):
        if integer and isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    if integer:
        return int(number) if number.is_integer() else value
    return number


def row_data(spec: StreamSpec, raw: Mapping[str, Any]) -> tuple[dict[str, Any], dt.datetime | None]:
    """A record's data from a row of `spec`'s table (a database row or an export's line):
    text stripped and blanks as None, numbers as numbers, dates and timestamps as ISO text,
    personal columns wrapped; with the row's gxsj as a timestamp (None when unreadable)."""
    data: dict[str, Any] = {}
    for column in exchange.COLUMNS[spec.table]:
        value = raw.get(column)
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            data[column] = None
        elif column == "jzmj" and isinstance(value, str):
            data[column] = _decimal(value)  # an area is read exactly (graph.model.centi_m2_of)
        elif column in _FLOATS or column in _INTEGERS:
            data[column] = _number(value, column in _INTEGERS)
        elif column == "djsj":
            day = parse_day(value)
            data[column] = day.isoformat() if day is not None else str(value)
        elif column == CURSOR_FIELD:
            data[column] = value
        else:
            data[column] = value if isinstance(value, str | Personal) else str(value)
    stamp = parse_timestamp(data[CURSOR_FIELD])
    if stamp is not None:
        data[CURSOR_FIELD] = stamp.isoformat(sep=" ")
    elif data[CURSOR_FIELD] is not None:
        data[CURSOR_FIELD] = str(data[CURSOR_FIELD])
    if spec.table == exchange.HOLDERS:
        wrap_personal(data)
    return data, stamp
