"""The MQTT topic scheme of devices, in one place so the ingestion, the ACL file and the
simulator cannot disagree about it.

    {prefix}/devices/{code}/telemetry   periodic measurements        JSON {"ts", "values"}
    {prefix}/devices/{code}/events      things that happened         JSON {"ts", "values"}
    {prefix}/devices/{code}/status      online / offline, retained   text or JSON {"status"}

`prefix` (settings `mqtt_prefix`, default `hub`) lets several hubs, or several test runs, share a
broker. A device publishes its status `online` retained when it connects and sets a last will of
`offline` (retained) on the same topic, so the broker announces its death for it. The device
code is one topic level (graph.devices.device_code refuses `/`, `+` and `#`), so a device's ACL
pattern `{prefix}/devices/{code}/#` covers its own topics and no one else's.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from graph.devices import device_code
from graph.errors import InvalidInput


class Stream(enum.Enum):
    """The last level of a device topic."""

    TELEMETRY = "telemetry"
    EVENTS = "events"
    STATUS = "status"


_PREFIX = re.compile(r"[A-Za-z0-9_.-]{1,64}(/[A-Za-z0-9_.-]{1,64}){0,3}")


def check_prefix(prefix: str) -> str:
    """A topic prefix checked: one to four levels of letters, digits, `_`, `.` or `-`.

    >>> check_prefix("hub")
    'hub'
    >>> check_prefix("hub/#")
    Traceback (most recent call last):
    ...
    graph.errors.InvalidInput: mqtt_prefix: 'hub/#' must be 1 to 4 topic levels of ASCII letters, digits, '_', '.' or '-'
    """
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise InvalidInput("mqtt_prefix", prefix, "must be 1 to 4 topic levels of ASCII letters, digits, '_', '.' or '-'")
    return prefix


def topic(prefix: str, code: str, stream: Stream) -> str:
    """The topic a device publishes `stream` on.

    >>> topic("hub", "DT-0001", Stream.TELEMETRY)
    'hub/devices/DT-0001/telemetry'
    """
    return f"{prefix}/devices/{code}/{stream.value}"


def subscription(prefix: str, share: str | None = None) -> str:
    """What the ingestion subscribes to: every stream of every device under `prefix`; with a
    `share` group, as an MQTT 5 shared subscription, so the group's members split the stream.

    >>> subscription("hub", "ingest")
    '$share/ingest/hub/devices/+/+'
    """
    if share is None:
        return f"{prefix}/devices/+/+"
    return f"$share/{check_share(share)}/{prefix}/devices/+/+"


_SHARE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def check_share(group: str) -> str:
    """A shared subscription's group name checked: one topic level of letters, digits, `_`, `.`
    or `-` (MQTT 5 forbids `/`, `+` and `#` in it)."""
    if not isinstance(group, str) or not _SHARE.fullmatch(group):
        raise InvalidInput("mqtt_share", group, "must be 1 to 64 ASCII letters, digits, '_', '.' or '-'")
    return group


def device_pattern(prefix: str, code: str) -> str:
    """The ACL pattern of one device's own topics."""
    return f"{prefix}/devices/{code}/#"


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    code: str
    stream: Stream


def parse_topic(prefix: str, name: str) -> DeviceTopic:
    """The device and stream a topic names; InvalidInput (field `topic`) when it is not of the
    scheme, names a malformed code or an unknown stream.

    >>> parse_topic("hub", "hub/devices/DT-0001/status")
    DeviceTopic(code='DT-0001', stream=<Stream.STATUS: 'status'>)
    >>> parse_topic("hub", "hub/devices/DT-0001/debug")
    Traceback (most recent call last):
    ...
    graph.errors.InvalidInput: topic: 'hub/devices/DT-0001/debug' must end in /telemetry, /events or /status
    """
    head = f"{prefix}/devices/"
    shown = name if len(name) <= 200 else name[:200] + "…"
    if not name.startswith(head):
        raise InvalidInput("topic", shown, f"must start with {head}")
    rest = name[len(head):].split("/")
    if len(rest) != 2:
        raise InvalidInput("topic", shown, f"must be {head}CODE/STREAM")
    code, last = rest
    try:
        stream = Stream(last)
    except ValueError:
        raise InvalidInput("topic", shown, "must end in /telemetry, /events or /status") from None
    try:
        device_code(code)
    except InvalidInput as error:
        raise InvalidInput("topic", shown, f"names a malformed device code ({error.rule})") from None
    return DeviceTopic(code, stream)
