"""Certificates and shifts as JSON documents: how both adapters keep them (read whole with the
member, never queried inside), so one spelling serves SQL and Cypher.

Reading them back is cached by the document's text (what they hold is immutable): a firm's staff
share a handful of shift patterns, and a dispatch reads hundreds of members at a time."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from typing import Any

from graph.staff.records import Certificate, CertificateKind, DatedShift, Shift, WeeklyShift


def certificates_document(certificates: Sequence[Certificate]) -> str:
    return json.dumps(
        [[item.kind.value, item.number, item.issued.isoformat(), item.expiry.isoformat()] for item in certificates],
        ensure_ascii=False,
        separators=(",", ":"),
    )


@functools.lru_cache(maxsize=65_536)
def certificates_of(text: str) -> tuple[Certificate, ...]:
    return tuple(
        Certificate(CertificateKind(kind), number, dt.date.fromisoformat(issued), dt.date.fromisoformat(expiry))
        for kind, number, issued, expiry in json.loads(text)
    )


def shifts_document(shifts: Sequence[Shift]) -> str:
    items: list[list[Any]] = []
    for shift in shifts:
        if isinstance(shift, WeeklyShift):
            items.append(["weekly", shift.weekday, shift.start.isoformat(), shift.end.isoformat()])
        else:
            items.append(["dated", shift.start.isoformat(), shift.end.isoformat()])
    return json.dumps(items, separators=(",", ":"))


@functools.lru_cache(maxsize=4_096)
def shifts_of(text: str) -> tuple[Shift, ...]:
    shifts: list[Shift] = []
    for item in json.loads(text):
        if item[0] == "weekly":
            shifts.append(WeeklyShift(int(item[1]), dt.time.fromisoformat(item[2]), dt.time.fromisoformat(item[3])))
        else:
            shifts.append(DatedShift(dt.datetime.fromisoformat(item[1]), dt.datetime.fromisoformat(item[2])))
    return tuple(shifts)
