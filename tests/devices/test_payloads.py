"""Topic and payload decoding, against hostile input: every refusal is a reason, never a crash."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from devices.payloads import MAX_BYTES, MAX_VALUES, PayloadError, decode_reading, decode_status, render
from devices.topics import Stream, check_prefix, parse_topic, subscription, topic
from graph.devices import DeviceStatus
from graph.errors import InvalidInput

NOW = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)
OLDEST = NOW - dt.timedelta(days=30)


def decode(payload: bytes | str):  # type: ignore[no-untyped-def]
    data = payload.encode() if isinstance(payload, str) else payload
    return decode_reading(data, now=NOW, oldest=OLDEST)


def refused(payload: bytes | str) -> str:
    with pytest.raises(PayloadError) as caught:
        decode(payload)
    return caught.value.detail


def test_topics_round_trip_and_refusals() -> None:
    name = topic("hub-1", "EL-0001", Stream.EVENTS)
    assert name == "hub-1/devices/EL-0001/events"
    assert parse_topic("hub-1", name).code == "EL-0001"
    assert parse_topic("hub-1", name).stream is Stream.EVENTS
    assert subscription("hub") == "hub/devices/+/+"
    for bad, says in [
        ("other/devices/EL-0001/telemetry", "must start with hub/devices/"),
        ("hub/devices/EL-0001", "CODE/STREAM"),
        ("hub/devices/EL-0001/telemetry/x", "CODE/STREAM"),
        ("hub/devices/EL-0001/debug", "/telemetry, /events or /status"),
        ("hub/devices/a b/telemetry", "malformed device code"),
        ("hub/devices//telemetry", "malformed device code"),
        ("hub/devices/" + "x" * 70 + "/status", "malformed device code"),
    ]:
        with pytest.raises(InvalidInput, match=says):
            parse_topic("hub", bad)
    with pytest.raises(InvalidInput, match="topic levels"):
        check_prefix("hub/+")


def test_good_payloads_in_every_time_form() -> None:
    local = decode('{"ts": "2026-03-02T09:29:00+08:00", "values": {"lel": 3, "running": true, "fault_code": "E12"}}')
    assert local.at == NOW - dt.timedelta(minutes=1)
    assert local.values == {"lel": 3.0, "running": True, "fault_code": "E12"}
    assert isinstance(local.values["lel"], float)
    epoch = NOW.timestamp()
    assert decode(json.dumps({"ts": epoch, "values": {"lel": 1}})).at == NOW
    assert decode(json.dumps({"ts": int(epoch * 1000), "values": {"lel": 1}})).at == NOW
    assert decode('{"ts": "2026-03-02T01:30:00Z", "values": {"lel": 1}}').at == NOW


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (bytes(random.Random(5).randrange(256) for _ in range(300)), "not UTF-8"),
        ("not json at all", "not JSON"),
        ("[1, 2, 3]", "JSON object"),
        ('"a string"', "JSON object"),
        ('{"values": {"lel": 1}}', "ts is missing"),
        ('{"ts": "2026-03-02T01:30:00Z"}', "values is missing"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {}}', "values is empty"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": [1]}', "values must be an object"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"lel": NaN}}', "NaN is not a number"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"lel": Infinity}}', "Infinity is not a number"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"lel": -Infinity}}', "Infinity is not a number"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"lel": 1e999}}', "not finite"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"lel": null}}', "is null"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"lel": {"x": 1}}}', "is object"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"lel": [1]}}', "is array"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"lel": ' + "9" * 40 + "}}", "too large"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"Bad Name": 1}}', "metric name"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"x": "' + "a" * 65 + '"}}', "printable text"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"x": "a\\u0000b"}}', "printable text"),
        ('{"ts": "2026-03-02T01:30:00Z", "values": {"lel": 1}, "extra": 1}', "unknown keys"),
        ('{"ts": "2026-03-02T09:30:00", "values": {"lel": 1}}', "no offset"),
        ('{"ts": "yesterday", "values": {"lel": 1}}', "not an ISO 8601 time"),
        ('{"ts": true, "values": {"lel": 1}}', "ts must be"),
        ('{"ts": null, "values": {"lel": 1}}', "ts must be"),
        ('{"ts": [1], "values": {"lel": 1}}', "ts must be"),
        ('{"ts": 1e300, "values": {"lel": 1}}', "not a time"),
        ('{"ts": "2026-03-02T01:41:00Z", "values": {"lel": 1}}', "ahead of the hub's clock"),
        ('{"ts": "2026-01-01T00:00:00Z", "values": {"lel": 1}}', "older than the readings retention"),
        ('{"ts": 0, "values": {"lel": 1}}', "older than the readings retention"),
    ],
)
def test_hostile_payloads_are_refused_with_a_reason(payload: bytes | str, says: str) -> None:
    assert says in refused(payload)


def test_huge_deep_and_wide_payloads() -> None:
    huge = b'{"ts": 1, "values": {"x": "' + b"a" * MAX_BYTES + b'"}}'
    assert "more than the 16384" in refused(huge)
    deep = "[" * 10_000 + "]" * 10_000
    assert refused(deep)  # nested beyond the size limit or refused by depth: a reason either way
    deep_small = '{"ts": 1, "values": {"x": ' + "[" * 3000 + "]" * 3000 + "}}"
    assert len(deep_small) < MAX_BYTES
    assert refused(deep_small)
    wide = json.dumps({"ts": NOW.isoformat(), "values": {f"m{i}": i for i in range(10_000)}})
    assert "more than the" in refused(wide)  # 10k values do not fit in 16 KiB
    wide_small = json.dumps({"ts": NOW.isoformat(), "values": {f"m{i}": 1 for i in range(MAX_VALUES + 1)}})
    assert f"more than {MAX_VALUES}" in refused(wide_small)


def test_random_garbage_never_escapes_as_another_exception() -> None:
    rng = random.Random(42)
    pieces = ['{', '}', '[', ']', '"ts"', '"values"', ':', ',', '1', 'NaN', '"x"', 'true', 'null', '\\u0000', '1e999']
    for _ in range(2000):
        if rng.random() < 0.5:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        else:
            data = "".join(rng.choice(pieces) for _ in range(rng.randrange(30))).encode()
        try:
            decode(data)
        except PayloadError:
            pass


def test_status_payloads() -> None:
    assert decode_status(b"online") is DeviceStatus.ONLINE
    assert decode_status(b" OFFLINE\n") is DeviceStatus.OFFLINE
    assert decode_status(b'{"status": "offline"}') is DeviceStatus.OFFLINE
    for bad in (b"", b"maybe", b'{"status": "sleeping"}', b"\xff", b'{"status": "online", "x": 1}', b"o" * (MAX_BYTES + 1)):
        with pytest.raises(PayloadError):
            decode_status(bad)


def test_render_keeps_little_of_a_refused_payload() -> None:
    assert render(b'{"a": 1}') == {"bytes": 8, "truncated": False, "text": '{"a": 1}'}
    big = render(b"x" * 100_000)
    assert big["bytes"] == 100_000 and big["truncated"] and len(big["text"]) == 512
    binary = render(b"\xff" * 1000)
    assert binary["hex"] == "ff" * 128 and "text" not in binary
    cut = render("€".encode() * 200)  # 600 bytes: the 512th falls inside a character
    assert cut["text"] == "€" * 170 and cut["truncated"]
