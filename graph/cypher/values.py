"""How Python values are kept as graph properties, the same on Neo4j and FalkorDB.

Times are integer microseconds since the epoch (UTC), dates ISO strings (`YYYY-MM-DD`, which
order as dates do), sealed bytes base64 text, GeoJSON as JSON text, enums by name or value.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def micros(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int | None) -> dt.datetime | None:
    if value is None:
        return None
    return _EPOCH + dt.timedelta(microseconds=int(value))


def day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def from_day(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def blob(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")


def from_blob(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)


def document(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def from_document(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def present(values: dict[str, Any]) -> dict[str, Any]:
    """The map without its None values: a node set from it holds no nulls (graphs keep none)."""
    return {key: value for key, value in values.items() if value is not None}
