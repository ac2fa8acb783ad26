"""The periods a credit score is computed for: a calendar month ("2026-11") or year ("2026") in
China Standard Time. A period starts at 00:00 CST on its first day and ends (exclusive) at 00:00
CST on the day after its last.

>>> p = Period.parse("2026-11")
>>> p.key, p.first_day, p.last_day, p.start.isoformat(), p.months
('2026-11', datetime.date(2026, 11, 1), datetime.date(2026, 11, 30), '2026-10-31T16:00:00+00:00', 1)
>>> Period.parse("2026").months, Period.parse("2026").end.isoformat()
(12, '2026-12-31T16:00:00+00:00')
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from graph.clock import CHINA_STANDARD_TIME
from graph.errors import InvalidInput

_FORM = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    year: int
    month: int | None = None
    """None: the whole year."""

    @classmethod
    def parse(cls, text: str, *, field: str = "period") -> Period:
        found = _FORM.match(text.strip()) if isinstance(text, str) else None
        if found is None:
            raise InvalidInput(field, text, "must be a month YYYY-MM or a year YYYY (China Standard Time)")
        year, month = int(found.group(1)), found.group(2)
        if not 2000 <= year <= 2999:
            raise InvalidInput(field, text, "must be a year from 2000 to 2999")
        if month is not None and not 1 <= int(month) <= 12:
            raise InvalidInput(field, text, "must name a month 01 to 12")
        return cls(year, None if month is None else int(month))

    @classmethod
    def month_of(cls, day: dt.date) -> Period:
        return cls(day.year, day.month)

    @property
    def key(self) -> str:
        return f"{self.year:04d}" if self.month is None else f"{self.year:04d}-{self.month:02d}"

    @property
    def monthly(self) -> bool:
        return self.month is not None

    @property
    def months(self) -> int:
        return 1 if self.month is not None else 12

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month or 1, 1)

    @property
    def next_day(self) -> dt.date:
        """The first day after the period."""
        if self.month is None or self.month == 12:
            return dt.date(self.year + 1, 1, 1)
        return dt.date(self.year, self.month + 1, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next_day - dt.timedelta(days=1)

    @property
    def start(self) -> dt.datetime:
        return _utc(self.first_day)

    @property
    def end(self) -> dt.datetime:
        return _utc(self.next_day)

    def previous(self) -> Period:
        if self.month is None:
            return Period(self.year - 1)
        return Period(self.year, self.month - 1) if self.month > 1 else Period(self.year - 1, 12)


def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), CHINA_STANDARD_TIME).astimezone(dt.timezone.utc)
