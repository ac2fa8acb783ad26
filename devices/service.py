"""Device ingestion as one service that `hub serve` starts and stops with its lifespan.

Without a broker (`HUB_MQTT` unset) the pipeline still runs (sweeps, prune) but nothing reads
MQTT; `hub simulate` feeds a pipeline of its own in that case.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from devices.mqtt import MqttReader, cancel, parse_broker
from devices.pipeline import IngestStore, Pipeline, PipelineStats
from graph.alarm_cases import CaseOpener
from devices.sharing import SharedRules, namespace
from devices.topics import check_prefix, check_share
from graph.errors import InvalidInput
from graph.events import EventBus
from graph.rules import RuleEngine
from hub.settings import Settings


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Ingestion:
    """The pipeline and, when a broker is set, the MQTT reader feeding it."""

    def __init__(
        self,
        store: IngestStore,
        settings: Settings,
        *,
        bus: EventBus | None,
        workflow: CaseOpener,
        engine: RuleEngine | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        **pipeline_options: Any,
    ) -> None:
        if engine is None:
            engine = RuleEngine()
        self.settings = settings
        self.shared = _shared_rules(settings)
        if self.shared is not None:
            pipeline_options.setdefault("shared", self.shared)
        self.pipeline = Pipeline(
            store,
            engine,
            workflow,
            bus,
            clock=clock,
            prefix=check_prefix(settings.mqtt_prefix),
            retention=dt.timedelta(days=settings.readings_retention_days),
            **pipeline_options,
        )
        self.reader = (
            MqttReader(
                self.pipeline,
                parse_broker(settings.mqtt),
                client_id=settings.mqtt_client_id,
                prefix=settings.mqtt_prefix,
                clock=clock,
                share=settings.mqtt_share,
            )
            if settings.mqtt
            else None
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def stats(self) -> PipelineStats:
        return self.pipeline.stats

    async def start(self) -> None:
        await self.pipeline.start()
        if self.reader is not None:
            self._task = asyncio.create_task(self.reader.run(), name="devices-mqtt")

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        """Wait until the reader is connected and subscribed (no-op without a broker)."""
        if self.reader is not None:
            await asyncio.wait_for(self.reader.subscribed.wait(), timeout)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop reading, handle what the pipeline holds while the connection stays open (each
        message is acknowledged as its batch commits), then disconnect: what was received but
        not handed on stays with the broker, which sends it again next time."""
        if self.reader is not None and self._task is not None:
            await self.reader.pause()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.pipeline.drain(), timeout)
        await cancel(self._task)
        self._task = None
        await self.pipeline.stop(timeout=timeout)
        if self.shared is not None:
            await self.shared.close()


def _shared_rules(settings: Settings) -> SharedRules | None:
    """The share group's rule states (devices.sharing), when ingesting through one."""
    if not settings.mqtt or not settings.mqtt_share:
        return None
    url = settings.mqtt_rules or settings.cluster_redis
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        raise InvalidInput(
            "HUB_MQTT_RULES", url,
            "must be a Redis URL (redis://host:6379/0; default the hub's HUB_REDIS) when ingesting through a "
            "share group (HUB_MQTT_SHARE): the group's members keep the devices' rule states there",
        )
    return SharedRules(url, namespace(check_prefix(settings.mqtt_prefix), check_share(settings.mqtt_share)))
