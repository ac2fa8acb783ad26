"""Settings of a hub process, from the command line first and then the environment.

A worker started by Celery has no command line of its own: everything a task needs to open the
store and a connector (`HUB_DB`, `HUB_KEYS`, `HUB_CONNECTORS`) and to find its broker
(`HUB_BROKER`, `HUB_RESULT_BACKEND`, `HUB_QUEUE`) comes from the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DB = "sqlite:///hub.sqlite"
"""The embedded default store: a SQLite file in the working directory."""
DEFAULT_KEYS = "hub.keys"
DEFAULT_CONNECTORS = "connectors.toml"
"""The connectors file; absent means no connectors."""
DEFAULT_QUEUE = "hub"
DEFAULT_MQTT_PREFIX = "hub"
DEFAULT_MQTT_CLIENT_ID = "hub-ingest"
DEFAULT_READINGS_RETENTION_DAYS = 30
DEFAULT_CREDIT_WEIGHTS = "credit.toml"
"""The file whose `[credit]` table weighs firms' credit (graph.credit.weights); absent: the defaults."""
DEFAULT_SHARED_CACHE_SECONDS = 30.0
"""How long an answer of a shared query is reused for the same variables and scope."""


@dataclass(frozen=True, slots=True)
class Settings:
    db: str = DEFAULT_DB
    host: str = "127.0.0.1"
    port: int = 8000
    keys: str = DEFAULT_KEYS
    connectors: str = DEFAULT_CONNECTORS
    broker: str | None = None
    """Celery broker URL (redis://…); None: no worker, `hub serve` runs the schedules itself."""
    result_backend: str | None = None
    """Where task results go; the broker when not set."""
    queue: str = DEFAULT_QUEUE
    mqtt: str | None = None
    """MQTT broker URL (mqtt://user:pass@127.0.0.1:1883); None: no broker, no device ingestion
    (and `hub simulate` feeds the pipeline in-process)."""
    mqtt_prefix: str = DEFAULT_MQTT_PREFIX
    """First segment of every device topic: `{prefix}/devices/{code}/telemetry`."""
    mqtt_client_id: str = DEFAULT_MQTT_CLIENT_ID
    """The ingestion's MQTT client id: fixed, so the broker keeps its session while it is away
    (each member of a share group needs its own: `hub ingest` derives one from host and slot)."""
    mqtt_share: str | None = None
    """MQTT 5 shared subscription group (`$share/GROUP/{prefix}/devices/+/+`): the processes
    ingesting with the same group split the stream (devices.sharing); None: one reads it all."""
    mqtt_rules: str | None = None
    """Redis URL where a share group keeps its devices' rule states and locks (devices.sharing);
    needed with `mqtt_share`: None takes `cluster_redis`, the hub's own Redis."""
    readings_retention_days: int = DEFAULT_READINGS_RETENTION_DAYS
    shared_cache_seconds: float = DEFAULT_SHARED_CACHE_SECONDS
    """How long shared-query answers are cached per scope (0: not at all)."""
    run_lease_seconds: float | None = None
    """How long a connector run's lease lasts unrenewed before a reader closes the run as
    abandoned (None: connectors.leases.LEASE, 15 minutes)."""
    credit_weights: str = DEFAULT_CREDIT_WEIGHTS
    """The TOML file whose `[credit]` table holds the weights of firms' credit."""
    redis: str | None = None
    """The Redis (redis://…) through which several hub processes act as one hub (hub.cluster):
    events, rate limits, once-per-city sweeps, shared-query cache generations. None: the
    broker's when it is a Redis, else none (one process serves the hub)."""

    @property
    def results(self) -> str | None:
        return self.result_backend or self.broker

    @property
    def cluster_redis(self) -> str | None:
        """`redis`, else the broker when it is a Redis; None: this process is the whole hub."""
        if self.redis:
            return self.redis
        if self.broker and self.broker.startswith(("redis://", "rediss://", "unix://")):
            return self.broker
        return None

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """`HUB_DB`, `HUB_HOST`, `HUB_PORT`, `HUB_KEYS`, `HUB_CONNECTORS`, `HUB_BROKER`,
        `HUB_RESULT_BACKEND`, `HUB_QUEUE`, `HUB_MQTT`, `HUB_MQTT_PREFIX`, `HUB_MQTT_CLIENT_ID`,
        `HUB_MQTT_SHARE`, `HUB_MQTT_RULES`,
        `HUB_READINGS_RETENTION_DAYS`, `HUB_SHARED_CACHE_SECONDS`, `HUB_RUN_LEASE_SECONDS`, `HUB_CREDIT_WEIGHTS`, `HUB_REDIS`, overridden by
        non-None keyword arguments."""
        values: dict[str, object] = {
            "db": os.environ.get("HUB_DB", DEFAULT_DB),
            "host": os.environ.get("HUB_HOST", "127.0.0.1"),
            "port": int(os.environ.get("HUB_PORT", "8000")),
            "keys": os.environ.get("HUB_KEYS", DEFAULT_KEYS),
            "connectors": os.environ.get("HUB_CONNECTORS", DEFAULT_CONNECTORS),
            "broker": os.environ.get("HUB_BROKER") or None,
            "result_backend": os.environ.get("HUB_RESULT_BACKEND") or None,
            "queue": os.environ.get("HUB_QUEUE") or DEFAULT_QUEUE,
            "mqtt": os.environ.get("HUB_MQTT") or None,
            "mqtt_prefix": os.environ.get("HUB_MQTT_PREFIX") or DEFAULT_MQTT_PREFIX,
            "mqtt_client_id": os.environ.get("HUB_MQTT_CLIENT_ID") or DEFAULT_MQTT_CLIENT_ID,
            "mqtt_share": os.environ.get("HUB_MQTT_SHARE") or None,
            "mqtt_rules": os.environ.get("HUB_MQTT_RULES") or None,
            "readings_retention_days": int(
                os.environ.get("HUB_READINGS_RETENTION_DAYS") or DEFAULT_READINGS_RETENTION_DAYS
            ),
            "shared_cache_seconds": float(os.environ.get("HUB_SHARED_CACHE_SECONDS") or DEFAULT_SHARED_CACHE_SECONDS),
            "run_lease_seconds": float(os.environ["HUB_RUN_LEASE_SECONDS"]) if os.environ.get("HUB_RUN_LEASE_SECONDS") else None,
            "credit_weights": os.environ.get("HUB_CREDIT_WEIGHTS") or DEFAULT_CREDIT_WEIGHTS,
            "redis": os.environ.get("HUB_REDIS") or None,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]
