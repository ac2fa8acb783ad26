"""Ids numbered by day in China: a prefix, the day (yyyymmdd) and a six-digit sequence of that day.

Device alarms (`AL20260302000001`) are numbered so here: unique, readable over the phone, and
sortable by day (the hub's cases take theirs from the port's counter: `graph.daily_ids`,
`graph.casework`). The next number is the day's highest plus one, so two writers allocating at
once may pick the same id; the column's unique constraint lets one of them commit, and the
caller retries or serialises its writers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from graph.clock import CHINA_STANDARD_TIME
from graph.errors import StoreError
from graph.sql.rows import utc

DIGITS = 6
"""The sequence's width: at most 999999 ids per prefix and day."""


def day_prefix(prefix: str, at: dt.datetime) -> str:
    """`prefix` followed by the day of `at` in China (no daylight saving there).

    >>> day_prefix("AL", dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.timezone.utc))
    'AL20260302'
    """
    return prefix + utc(at).astimezone(CHINA_STANDARD_TIME).strftime("%Y%m%d")


async def next_daily_id(connection: AsyncConnection, column: Any, prefix: str, at: dt.datetime, *, what: str) -> str:
    """The next free `<prefix><yyyymmdd><000001>` of `at`'s day in `column` (a key column of
    byte-wise ordered text); `what` names the ids in the error when the day is full."""
    head = day_prefix(prefix, at)
    query = select(func.max(column)).where(
        column >= head + "0" * DIGITS, column <= head + "9" * DIGITS, func.length(column) == len(head) + DIGITS
    )
    last = (await connection.execute(query)).scalar_one_or_none()
    number = int(last[len(head):]) + 1 if last else 1
    if number >= 10**DIGITS:
        raise StoreError(f"more than {10**DIGITS - 1} {what} on {head[len(prefix):]}: the day's sequence is full")
    return f"{head}{number:0{DIGITS}d}"
