"""Ids numbered by day in China: a prefix, the day (yyyymmdd) and a six-digit sequence of that day.

The hub's own cases (`GD20260115000042`) are numbered so: unique, readable over the phone, and
sortable by day. The sequence is the store's counter named by the prefix and the day
(`CaseStore.next_number`), so two writers allocating at once never pick the same number, on any
backend; the formatting and the day's limit are decided here, once.
"""

from __future__ import annotations

import datetime as dt

from graph.clock import CHINA_STANDARD_TIME
from graph.errors import InvalidInput, StoreError

DIGITS = 6
"""The sequence's width: at most 999999 ids per prefix and day."""


def day_prefix(prefix: str, at: dt.datetime) -> str:
    """`prefix` followed by the day of `at` in China (no daylight saving there).

    >>> day_prefix("GD", dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.timezone.utc))
    'GD20260302'
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("at", at.isoformat(), "must be an aware time to tell its day in China")
    return prefix + at.astimezone(CHINA_STANDARD_TIME).strftime("%Y%m%d")


def daily_id(head: str, number: int, *, what: str) -> str:
    """The id of the `number`th of the day `head` (a `day_prefix`); StoreError naming `what`
    when the day's sequence is full.

    >>> daily_id("GD20260302", 42, what="cases opened")
    'GD20260302000042'
    """
    if not 1 <= number < 10**DIGITS:
        raise StoreError(f"more than {10**DIGITS - 1} {what} on {head[-8:]}: the day's sequence is full")
    return f"{head}{number:0{DIGITS}d}"
