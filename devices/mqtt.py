"""The MQTT side of ingestion (aiomqtt): one persistent session that survives the broker and the hub.

The reader connects over MQTT 5 with a fixed client id, `clean_start` off and a session that
never expires, subscribes to `{prefix}/devices/+/+` at QoS 1, and hands each message to
`Pipeline.submit`. It acknowledges a message (PUBACK, paho's manual acknowledgement) only when
the pipeline says the batch holding it is committed (its `settled` callback): QoS 1's promise
holds through `kill -9`, because a message the hub never acknowledged is sent again by the
broker when the session resumes, and the pipeline makes handling it again harmless.

**The window.** A broker sends a subscriber at most so many unacknowledged QoS 1 messages. With
MQTT 3.1.1 that is the broker's own setting (Mosquitto's `max_inflight_messages`, 20 by
default), which would let a batch hold at most 20 messages and starve the pipeline; MQTT 5 lets
the client say it in CONNECT (Receive Maximum, at most 65,535), and Mosquitto honours it for MQTT 5
clients whatever `max_inflight_messages` says. The reader asks for `receive_maximum` (10,000 by
default, the pipeline queue's size): enough for batches of 500 to be written while the next
ones arrive, and the bound on what the hub holds unacknowledged. A hub that falls behind stops
acknowledging, the broker stops sending after the window, and keeps the rest queued for the
session (`max_queued_messages`: raise it on a broker that must ride out long floods).

A message the pipeline could not handle even alone (settled False: the store refused or is
down) is not acknowledged. A broker sends unacknowledged messages again only on a new
connection, so the reader then drops its connection and reconnects (with the backoff below):
what failed is tried again, nothing is dropped for a store that was away for a while.

When the connection drops (the broker restarts, the network fails) the reader reconnects with
exponential backoff (`backoff_start` doubling up to `backoff_max`, with jitter) under the same
client id; the broker resumes the session and delivers what it kept while the hub was away. A
message committed on the old connection whose acknowledgement could no longer be sent comes
again, and is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.client import Client as PahoClient
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

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
    """What the reader hands messages to (devices.pipeline.Pipeline): `settled` is told True
    once what was written for the message is committed, False if it failed."""

    async def submit(
        self,
        topic: str,
        payload: bytes,
        received_at: dt.datetime | None = None,
        settled: Callable[[bool], None] | None = None,
    ) -> None: ...


@dataclass
class ReaderStats:
    connects: int = 0
    disconnects: int = 0
    messages: int = 0
    """Messages received (a message the broker sends again counts again)."""
    acknowledged: int = 0
    """Messages acknowledged, each after its batch was committed."""
    unacknowledged: int = 0
    """Messages the pipeline could not handle, left for the broker to send again."""
    retries: int = 0
    """Reconnections made to have such messages sent again."""
    connected: bool = False
    last_error: str | None = None


HAND_ON = 100
"""At most this many messages already received are handed to the pipeline in one go."""

RECEIVE_MAXIMUM = 10_000
"""Unacknowledged messages the broker may send the hub (MQTT 5 Receive Maximum); see above."""

NEVER_EXPIRES = 0xFFFFFFFF
"""MQTT 5 Session Expiry Interval: the session is kept however long the hub is away."""


class MqttReader:
    """Reads every device topic under `prefix` into the pipeline until cancelled; with `share`,
    the part of them the broker gives this member of the share group."""

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
        receive_maximum: int = RECEIVE_MAXIMUM,
        share: str | None = None,
    ) -> None:
        if not 1 <= receive_maximum <= 65_535:
            raise InvalidInput("receive_maximum", receive_maximum, "must be 1 to 65535 (MQTT 5 Receive Maximum)")
        self.pipeline = pipeline
        self.broker = broker
        self.client_id = client_id
        self.prefix = check_prefix(prefix)
        self.clock = clock
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.keepalive = keepalive
        self.receive_maximum = receive_maximum
        self.topic = subscription(self.prefix, share)
        """`{prefix}/devices/+/+`, or with a share group `$share/GROUP/…` (devices.sharing)."""
        self.stats = ReaderStats()
        self._connection: PahoClient | None = None
        """The connection acknowledgements go to; a message received on an earlier one is sent
        again by the broker and not acknowledged here."""
        self._failed = asyncio.Event()
        self._paused = asyncio.Event()
        self._reading: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        """Set while the reader is connected and subscribed (tests and `hub serve` wait on it)."""

    def _client(self) -> aiomqtt.Client:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = NEVER_EXPIRES
        properties.ReceiveMaximum = self.receive_maximum
        return self.broker.client(
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            keepalive=self.keepalive,
        )

    async def run(self) -> None:
        delay = self.backoff_start
        while True:
            client = self._client()
            # PUBACK only once the message's batch is committed (see the module docstring)
            client._client.manual_ack_set(True)  # noqa: SLF001 - aiomqtt does not expose it
            self._failed.clear()
            try:
                async with client:
                    self.stats.connects += 1
                    self.stats.connected = True
                    self._connection = client._client  # noqa: SLF001
                    await client.subscribe(self.topic, qos=1)
                    self.subscribed.set()
                    if await self._read_until_failure(client):
                        self.stats.retries += 1
                        log.warning("MQTT: messages the hub could not store are left unacknowledged; "
                                    "reconnecting in %.1fs so that the broker sends them again", delay)
                    else:
                        delay = self.backoff_start
            except aiomqtt.MqttError as error:
                self.stats.last_error = str(error)
                log.warning("MQTT connection to %s:%d lost or refused (%s); retrying in %.1fs",
                            self.broker.host, self.broker.port, error, delay)
            finally:
                self._connection = None
                if self.stats.connected:
                    self.stats.disconnects += 1
                self.stats.connected = False
                self.subscribed.clear()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(self.backoff_max, delay * 2)

    async def pause(self) -> None:
        """Stop handing messages on but keep the connection, so that what the pipeline still
        holds is acknowledged as it commits (`Ingestion.stop`: a graceful stop leaves nothing
        for the broker to send again but what was never handed on)."""
        self._paused.set()
        reading = self._reading
        if reading is not None:
            reading.cancel()
            await asyncio.wait((reading,))

    async def _read_until_failure(self, client: aiomqtt.Client) -> bool:
        """Read until the connection fails (MqttError) or a message could not be handled (True);
        once paused, hold the connection until cancelled."""
        if self._paused.is_set():
            await asyncio.Event().wait()
        reading = asyncio.create_task(self._read(client), name="devices-mqtt-read")
        failure = asyncio.create_task(self._failed.wait(), name="devices-mqtt-failure")
        self._reading = reading
        try:
            await asyncio.wait((reading, failure), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._reading = None
            for task in (reading, failure):
                task.cancel()
            for task in (failure, reading):  # the reading last: its MqttError goes on up
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._paused.is_set():
            await asyncio.Event().wait()
        return failure.done() and not failure.cancelled()

    async def _read(self, client: aiomqtt.Client) -> None:
        connection = client._client  # noqa: SLF001
        queued = client._queue  # noqa: SLF001 - see below
        async for message in client.messages:
            # aiomqtt's iterator makes a task and an asyncio.wait per message; what is already
            # queued is taken directly
            batch = [message]
            while len(batch) < HAND_ON and not queued.empty():
                batch.append(queued.get_nowait())
            received = self.clock()
            for item in batch:
                payload = item.payload
                data = payload if isinstance(payload, (bytes, bytearray)) else str(payload or "").encode()
                settled = functools.partial(self._settled, connection, item.mid, item.qos)
                await self.pipeline.submit(item.topic.value, bytes(data), received, settled)
            self.stats.messages += len(batch)

    def _settled(self, connection: PahoClient, mid: int, qos: int, committed: bool) -> None:
        """The pipeline's word on one message: acknowledge it if committed and its connection
        is still the one open (on another, the broker sends it again); else ask for it again."""
        if connection is not self._connection:
            return  # received on a connection since closed: the broker sends it again anyway
        if not committed:
            self.stats.unacknowledged += 1
            self._failed.set()
        elif qos > 0:
            connection.ack(mid, qos)
            self.stats.acknowledged += 1


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a reader's task and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
