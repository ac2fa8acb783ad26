"""Decoding what devices send, strictly: a payload comes from the network and may be hostile.

Telemetry and events carry one JSON object:

    {"ts": "2026-03-02T09:30:00+08:00", "values": {"lel": 3.5, "running": true, "fault_code": "E12"}}

`ts` is an ISO 8601 time with its offset (`Z` allowed), or epoch seconds, or epoch milliseconds
(any number above 10^11 is taken as milliseconds); `values` is a flat object of at most
`MAX_VALUES` metrics, each a finite number, a boolean or a short string. Status carries `online`
or `offline`, bare or as `{"status": "online"}`.

Refused, with a reason a person can act on (`PayloadError`), never with an exception of the
parser: more than `MAX_BYTES`, not UTF-8, not a JSON object, nesting, NaN or Infinity, keys
other than `ts` and `values`, malformed metric names, strings longer than `MAX_TEXT`, a time
more than `FUTURE_SLACK` ahead of the hub's clock or older than the readings retention (a device
with a dead clock would otherwise write readings nobody can place).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from graph.devices import DeviceStatus, Value

MAX_BYTES = 16 * 1024
MAX_VALUES = 64
MAX_TEXT = 64
FUTURE_SLACK = dt.timedelta(minutes=10)
SHOWN_BYTES = 512
"""How much of a refused payload a dead letter keeps."""

_METRIC = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MILLIS_ABOVE = 10**11
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class PayloadError(ValueError):
    """A payload that cannot be used; `detail` says what is wrong in it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Decoded:
    """A telemetry or event message: the device's time and its values."""

    at: dt.datetime
    values: dict[str, Value]


def _refuse_constant(name: str) -> Any:
    raise PayloadError(f"{name} is not a number a device may send")


def _json(payload: bytes) -> Any:
    if len(payload) > MAX_BYTES:
        raise PayloadError(f"{len(payload)} bytes is more than the {MAX_BYTES} a message may have")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(f"not UTF-8 (byte {error.start})") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except PayloadError:
        raise
    except RecursionError:
        raise PayloadError("nested too deeply") from None
    except ValueError as error:
        raise PayloadError(f"not JSON: {error}") from None


def decode_time(raw: Any, *, now: dt.datetime, oldest: dt.datetime) -> dt.datetime:
    """`ts` as an aware UTC time, checked to lie between `oldest` and `now + FUTURE_SLACK`."""
    if isinstance(raw, bool) or raw is None:
        raise PayloadError("ts must be an ISO 8601 time with offset, or epoch seconds or milliseconds")
    if isinstance(raw, (int, float)):
        seconds = raw / 1000 if raw > _MILLIS_ABOVE else raw
        try:
            at = _EPOCH + dt.timedelta(seconds=seconds)
        except OverflowError:
            raise PayloadError(f"ts {raw!r} is not a time") from None
    elif isinstance(raw, str) and len(raw) <= 40:
        try:
            at = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise PayloadError(f"ts {raw!r} is not an ISO 8601 time") from None
        if at.tzinfo is None:
            raise PayloadError(f"ts {raw!r} has no offset (add Z or +08:00)")
        at = at.astimezone(dt.timezone.utc)
    else:
        raise PayloadError("ts must be an ISO 8601 time with offset, or epoch seconds or milliseconds")
    if at > now + FUTURE_SLACK:
        raise PayloadError(f"ts {at.isoformat()} is more than {FUTURE_SLACK} ahead of the hub's clock")
    if at < oldest:
        raise PayloadError(f"ts {at.isoformat()} is older than the readings retention ({oldest.isoformat()})")
    return at


def _value(name: str, raw: Any) -> Value:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        if abs(raw) > 2**53:
            raise PayloadError(f"values.{name} {raw} is too large")
        return float(raw)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise PayloadError(f"values.{name} is not finite")
        return raw
    if isinstance(raw, str):
        if len(raw) > MAX_TEXT or not raw.isprintable():
            raise PayloadError(f"values.{name} must be printable text of at most {MAX_TEXT} characters")
        return raw
    kind = "null" if raw is None else type(raw).__name__.replace("dict", "object").replace("list", "array")
    raise PayloadError(f"values.{name} is {kind}: a value must be a number, a boolean or text")


def decode_reading(payload: bytes, *, now: dt.datetime, oldest: dt.datetime) -> Decoded:
    """A telemetry or event payload decoded and checked (see the module's docstring)."""
    body = _json(payload)
    if not isinstance(body, dict):
        raise PayloadError("must be a JSON object with ts and values")
    extra = sorted(set(body) - {"ts", "values"})
    if extra:
        raise PayloadError(f"unknown keys {', '.join(repr(k[:32]) for k in extra[:5])}: only ts and values")
    if "ts" not in body:
        raise PayloadError("ts is missing")
    if "values" not in body:
        raise PayloadError("values is missing")
    values = body["values"]
    if not isinstance(values, dict):
        raise PayloadError("values must be an object of metric: value")
    if not values:
        raise PayloadError("values is empty")
    if len(values) > MAX_VALUES:
        raise PayloadError(f"values has {len(values)} metrics, more than {MAX_VALUES}")
    decoded: dict[str, Value] = {}
    for name, raw in values.items():
        if not _METRIC.fullmatch(name):
            raise PayloadError(f"metric name {name[:40]!r} must be 1 to 32 of a-z, 0-9 and _, starting with a letter")
        decoded[name] = _value(name, raw)
    return Decoded(decode_time(body["ts"], now=now, oldest=oldest), decoded)


def decode_status(payload: bytes) -> DeviceStatus:
    """`online` or `offline`, bare or as JSON `{"status": …}`."""
    if len(payload) > MAX_BYTES:
        raise PayloadError(f"{len(payload)} bytes is more than the {MAX_BYTES} a message may have")
    bare = payload.strip().lower()
    if bare in (b"online", b"offline"):
        return DeviceStatus.ONLINE if bare == b"online" else DeviceStatus.OFFLINE
    body = _json(payload)
    if isinstance(body, dict) and set(body) <= {"status", "ts"} and body.get("status") in ("online", "offline"):
        return DeviceStatus.ONLINE if body["status"] == "online" else DeviceStatus.OFFLINE
    raise PayloadError('status must be online or offline (bare, or {"status": "online"})')


def render(payload: bytes) -> dict[str, Any]:
    """A refused payload as a dead letter keeps it: its size and at most `SHOWN_BYTES` of it, as
    text when it is UTF-8 and as hex otherwise (never the whole of a flood)."""
    head = payload[:SHOWN_BYTES]
    shown: dict[str, Any] = {"bytes": len(payload), "truncated": len(payload) > SHOWN_BYTES}
    try:
        shown["text"] = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3 and len(payload) > SHOWN_BYTES:
            shown["text"] = head[: error.start].decode("utf-8")  # cut inside a character
        else:
            shown["hex"] = head[:128].hex()
    return shown
