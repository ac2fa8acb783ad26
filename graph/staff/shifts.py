"""Whether a member of staff is on shift at a moment: weekly patterns and dated shifts, both in
China Standard Time (UTC+8 all year), so a shift from 22:00 to 06:00 on a Monday covers Tuesday
05:59 Beijing time whatever the server's zone.

>>> import datetime as dt
>>> night = WeeklyShift(1, dt.time(22), dt.time(6))
>>> on_shift([night], dt.datetime(2026, 12, 7, 22, 30, tzinfo=CHINA_STANDARD_TIME))  # a Monday
True
>>> on_shift([night], dt.datetime(2026, 12, 8, 5, 59, tzinfo=CHINA_STANDARD_TIME))
True
>>> on_shift([night], dt.datetime(2026, 12, 8, 6, 0, tzinfo=CHINA_STANDARD_TIME))
False
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from graph.clock import CHINA_STANDARD_TIME
from graph.staff.records import DatedShift, Shift, WeeklyShift


def _weekly(shift: WeeklyShift, local: dt.datetime, days: tuple[tuple[dt.date, int], ...]) -> bool:
    for day, weekday in days:  # the shift that started today, or one that started yesterday and runs on
        if weekday != shift.weekday:
            continue
        start = dt.datetime.combine(day, shift.start, CHINA_STANDARD_TIME)
        end = dt.datetime.combine(day, shift.end, CHINA_STANDARD_TIME)
        if end <= start:
            end += dt.timedelta(days=1)
        if start <= local < end:
            return True
    return False


def on_shift(shifts: Iterable[Shift], at: dt.datetime) -> bool:
    """Whether `at` (aware) falls in one of the shifts: [start, end)."""
    local = at.astimezone(CHINA_STANDARD_TIME)
    today = local.date()
    yesterday = today - dt.timedelta(days=1)
    days = ((today, today.isoweekday()), (yesterday, yesterday.isoweekday()))
    for shift in shifts:
        if isinstance(shift, DatedShift):
            if shift.start <= at < shift.end:
                return True
        elif _weekly(shift, local, days):
            return True
    return False
