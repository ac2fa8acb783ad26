"""The hub's notion of today: registry dates are Beijing dates, and China keeps UTC+8 all year."""

from __future__ import annotations

import datetime as dt

CHINA_STANDARD_TIME = dt.timezone(dt.timedelta(hours=8), "CST")


def today() -> dt.date:
    """Today's date in Beijing, whatever the server's own time zone."""
    return dt.datetime.now(CHINA_STANDARD_TIME).date()
