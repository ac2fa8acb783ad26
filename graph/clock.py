"""The hub's notion of today: registry dates are Beijing dates, and China keeps UTC+8 all year."""

from __future__ import annotations

import datetime as dt

CHINA_STANDARD_TIME = dt.timezone(dt.timedelta(hours=8), "CST")


def china_time(text: str) -> dt.datetime:
    """An ISO 8601 time as Chinese systems send it ('Z' allowed); one without an offset is
    Beijing time. ValueError when unreadable.

    >>> china_time("2026-03-02 09:30").isoformat()
    '2026-03-02T09:30:00+08:00'
    """
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_STANDARD_TIME)


def today() -> dt.date:
    """Today's date in Beijing, whatever the server's own time zone."""
    return dt.datetime.now(CHINA_STANDARD_TIME).date()


def utc_now() -> dt.datetime:
    """Now, as an aware time in UTC: the default clock of the services that stamp what they write."""
    return dt.datetime.now(dt.timezone.utc)
