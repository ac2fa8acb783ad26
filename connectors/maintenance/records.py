"""The contractors' maintenance record files (维保记录): their columns, and how a row's text
becomes exact values.

**CSV**: UTF-8 with or without a BOM, or GB18030/GBK, a header row naming the columns in
Chinese, in any order:

=============  ========  ==================================================================
column         required  what it holds
=============  ========  ==================================================================
记录编号        yes       the contractor's own id of the record: 1–32 of ``0-9 A-Z a-z _ . -``
设备编码        yes       the device's registry code in the hub
维保单位代码    yes       the contractor's 统一社会信用代码 (GB 32100)
维保时间        yes       when: ``2026-01-05 09:30[:00]``, ``2026/01/05 09:30`` or
                         ``20260105`` (Beijing time; a date alone is 00:00)
维保人员        no        the staff member's id at the contractor (at most 64 characters)
经度, 纬度      no        where it was signed for (WGS-84), both or neither
保养项目        no        what was done (at most 200 characters)
备注            no        a note (at most 200 characters are kept)
=============  ========  ==================================================================

``维保日期`` is the same column as 维保时间, ``人员编号`` as 维保人员. **JSON**: an array of
objects, or an object whose ``records`` is that array, keyed by the same names.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.custodian.statements import Columns, booked_at
from graph.cases import Point

COLUMNS = Columns(
    names={
        "记录编号": "line",
        "设备编码": "device",
        "维保单位代码": "org",
        "维保时间": "date",
        "维保人员": "staff",
        "经度": "lon",
        "纬度": "lat",
        "保养项目": "items",
        "备注": "note",
    },
    aliases={"维保日期": "date", "人员编号": "staff"},
    required=("line", "device", "org", "date"),
    what="a maintenance record file",
    container="records",
)
RECORD_ID = re.compile(r"[0-9A-Za-z_.-]{1,32}")
TEXT_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A row read exactly."""

    record: str
    device: str
    org: str
    at: dt.datetime
    staff: str | None
    point: Point | None
    items: str | None
    note: str


def _text(data: Mapping[str, Any], name: str, chinese: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    text = " ".join(str(value).split())
    if not text.isprintable() or len(text) > limit:
        raise ValueError(f"{chinese} {text[:40]!r} must be at most {limit} printable characters")
    return text or None


def _coordinate(data: Mapping[str, Any], name: str, chinese: str, bound: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        number = float(str(value))
    except ValueError:
        raise ValueError(f"{chinese} {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number) or not -bound <= number <= bound:
        raise ValueError(f"{chinese} {str(value)[:40]!r} is not a WGS-84 {'longitude' if bound == 180 else 'latitude'}")
    return number


def maintenance_of(data: Mapping[str, Any]) -> Maintenance:
    """A record's maintenance, or ValueError naming the column and what is wrong with it (the
    device and the credit code are checked against the hub by the stream)."""
    record = str(data.get("line", ""))
    if not RECORD_ID.fullmatch(record):
        raise ValueError(f"记录编号 {record[:40]!r} must be 1 to 32 letters, digits, '_', '.' or '-'")
    try:
        at = booked_at(str(data.get("date", "")))
    except ValueError as error:
        raise ValueError(f"维保时间 {error}") from None
    lon = _coordinate(data, "lon", "经度", 180)
    lat = _coordinate(data, "lat", "纬度", 90)
    if (lon is None) != (lat is None):
        raise ValueError("经度 and 纬度 go together: give both or neither")
    return Maintenance(
        record=record,
        device=str(data.get("device", "")).strip(),
        org=str(data.get("org", "")).strip().upper(),
        at=at,
        staff=_text(data, "staff", "维保人员", 64),
        point=None if lon is None or lat is None else Point(lon, lat),
        items=_text(data, "items", "保养项目", TEXT_LIMIT),
        note=_text(data, "note", "备注", TEXT_LIMIT) or "",
    )
