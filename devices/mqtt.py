"""The MQTT side of ingestion (aiomqtt): one persistent session that survives the broker.

The reader connects with a fixed client id and `clean_session=False`, subscribes to
`{prefix}/devices/+/+` at QoS 1, and hands each message to `Pipeline.submit`, awaiting it. It
acknowledges a message (PUBACK) only once the pipeline's bounded queue has taken it (paho's
manual acknowledgement): while the queue is full nothing is acknowledged, the broker stops
sending after its in-flight window (mosquitto's `max_inflight_messages`, 20 by default) and
keeps the rest queued for the session (`max_queued_messages`: raise it on a broker that must
ride out long floods). A message never acknowledged is sent again by the broker when the session
resumes, so a crash between receiving and queueing loses nothing.

When the connection drops (the broker restarts, the network fails) the reader reconnects with
exponential backoff (`backoff_start` doubling up to `backoff_max`, with jitter) under the same
client id; the broker resumes the session and delivers what it kept while the hub was away.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiomqtt

from devices.topics import check_prefix, subscription
from graph.errors import InvalidInput

log = logging.getLogger("hub.devices.mqtt")


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the broker is and who the hub is to it."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def client(self, *, identifier: str | None = None, clean_session: bool | None = None, **options: object) -> aiomqtt.Client:
        """An aiomqtt client for this broker (not connected yet)."""
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            identifier=identifier,
            clean_session=clean_session,
            tls_context=ssl.create_default_context() if self.tls else None,
            **options,  # type: ignore[arg-type]
        )


def parse_broker(url: str) -> Broker:
    """`mqtt://user:pass@host:1883` (or `mqtts://…`, port 8883 by default) as a `Broker`.

    >>> parse_broker("mqtt://hub:s3cret@127.0.0.1:1884")
    Broker(host='127.0.0.1', port=1884, username='hub', password='s3cret', tls=False)
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("HUB_MQTT", _hide(url), "is not a URL (mqtt://user:pass@host:1883)") from None
    if parts.scheme not in ("mqtt", "mqtts", "tcp") or not parts.hostname:
        raise InvalidInput("HUB_MQTT", _hide(url), "must be mqtt://[user:pass@]host[:port] or mqtts://…")
    tls = parts.scheme == "mqtts"
    return Broker(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


def _hide(url: str) -> str:
    head, at, tail = url.rpartition("@")
    return f"{head.split('//')[0]}//***@{tail}" if at else url


class Submitter(Protocol):
    """What the reader hands messages to (devices.pipeline.Pipeline)."""

    async def submit(self, topic: str, payload: bytes, received_at: dt.datetime | None = None) -> None: ...


@dataclass
class ReaderStats:
    connects: int = 0
    disconnects: int = 0
    messages: int = 0
    connected: bool = False
    last_error: str | None = None


ACK_BATCH = 100
"""At most this many messages already received are handed on and acknowledged together."""


class MqttReader:
    """Reads every device topic under `prefix` into the pipeline until cancelled."""

    def __init__(
        self,
        pipeline: Submitter,
        broker: Broker,
        *,
        client_id: str,
        prefix: str = "hub",
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
        backoff_start: float = 0.5,
        backoff_max: float = 30.0,
        keepalive: int = 30,
    ) -> None:
        self.pipeline = pipeline
        self.broker = broker
        self.client_id = client_id
        self.prefix = check_prefix(prefix)
        self.clock = clock
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.keepalive = keepalive
        self.stats = ReaderStats()
        self.subscribed = asyncio.Event()
        """Set while the reader is connected and subscribed (tests and `hub serve` wait on it)."""

    async def run(self) -> None:
        delay = self.backoff_start
        while True:
            client = self.broker.client(identifier=self.client_id, clean_session=False, keepalive=self.keepalive)
            # PUBACK only once the pipeline's queue took the message (see the module docstring)
            client._client.manual_ack_set(True)  # noqa: SLF001 - aiomqtt does not expose it
            try:
                async with client:
                    self.stats.connects += 1
                    self.stats.connected = True
                    await client.subscribe(subscription(self.prefix), qos=1)
                    self.subscribed.set()
                    delay = self.backoff_start
                    queued = client._queue  # noqa: SLF001 - see below
                    async for message in client.messages:
                        # aiomqtt's iterator makes a task and an asyncio.wait per message; what
                        # is already queued is taken directly, and acknowledged together once
                        # the pipeline holds it all (one write for the PUBACKs, not one each)
                        batch = [message]
                        while len(batch) < ACK_BATCH and not queued.empty():
                            batch.append(queued.get_nowait())
                        received = self.clock()
                        for item in batch:
                            payload = item.payload
                            data = payload if isinstance(payload, (bytes, bytearray)) else str(payload or "").encode()
                            await self.pipeline.submit(item.topic.value, bytes(data), received)
                        self.stats.messages += len(batch)
                        for item in batch:
                            client._client.ack(item.mid, item.qos)  # noqa: SLF001
            except aiomqtt.MqttError as error:
                self.stats.last_error = str(error)
                log.warning("MQTT connection to %s:%d lost or refused (%s); retrying in %.1fs",
                            self.broker.host, self.broker.port, error, delay)
            finally:
                if self.stats.connected:
                    self.stats.disconnects += 1
                self.stats.connected = False
                self.subscribed.clear()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(self.backoff_max, delay * 2)


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a reader's task and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
