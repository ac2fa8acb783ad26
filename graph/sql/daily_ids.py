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

from graph.daily_ids import DIGITS, daily_id, day_prefix


async def next_daily_id(connection: AsyncConnection, column: Any, prefix: str, at: dt.datetime, *, what: str) -> str:
    """The next free `<prefix><yyyymmdd><000001>` of `at`'s day in `column` (a key column of
    byte-wise ordered text); `what` names the ids in the error when the day is full. The
    format and the day's limit are `graph.daily_ids`'."""
    head = day_prefix(prefix, at)
    query = select(func.max(column)).where(
        column >= head + "0" * DIGITS, column <= head + "9" * DIGITS, func.length(column) == len(head) + DIGITS
    )
    last = (await connection.execute(query)).scalar_one_or_none()
    return daily_id(head, int(last[len(head):]) + 1 if last else 1, what=what)
