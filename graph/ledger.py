"""What the hub remembers of its connectors: runs with their counts, saved cursors, dead letters.

A connector run reads records from a source, writes the facts it finds through the store, and
sets aside each record it cannot use as a `DeadLetter` with the reason. The ledger is part of
the store port (`Ledger`), so every adapter keeps it beside the facts it describes.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from graph.model import Page


class RunStatus(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Stopped by an error (source down, store refused a batch); what was checkpointed stays."""


@dataclass(frozen=True, slots=True)
class RunCounts:
    """Records read and set aside; facts written (inserted or updated) and unchanged."""

    read: int = 0
    written: int = 0
    unchanged: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    """Records read again with a key already seen in the same run (the later one wins)."""

    def __add__(self, other: RunCounts) -> RunCounts:
        return RunCounts(
            self.read + other.read,
            self.written + other.written,
            self.unchanged + other.unchanged,
            self.dead_lettered + other.dead_lettered,
            self.duplicates + other.duplicates,
        )


@dataclass(frozen=True, slots=True)
class ConnectorRun:
    """One sync of one connector: when, how it ended, what it did."""

    id: str
    connector: str
    started_at: dt.datetime
    status: RunStatus = RunStatus.RUNNING
    finished_at: dt.datetime | None = None
    counts: RunCounts = RunCounts()
    full: bool = False
    """A full read from the start, ignoring saved cursors."""
    trigger: str = "manual"
    """What started it: manual, schedule, api, worker."""
    error: str | None = None
    heartbeat_at: dt.datetime | None = None
    """When a running run last checkpointed (its counts are saved with it): a RUNNING run with
    no heartbeat for long was interrupted (its process died) and no longer holds the connector."""

    @property
    def duration(self) -> dt.timedelta | None:
        return None if self.finished_at is None else self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class StreamState:
    """Where a connector's stream stopped: the cursor of the last record checkpointed."""

    connector: str
    stream: str
    cursor: str | None
    updated_at: dt.datetime
    run_id: str


class Reason(enum.Enum):
    """Why a record was set aside."""

    MALFORMED_CODE = "malformed_code"
    SCHEMA_MISMATCH = "schema_mismatch"
    UNKNOWN_PLACE = "unknown_place"
    UNKNOWN_OWNER = "unknown_owner"
    UNMATCHED_ADDRESS = "unmatched_address"
    CONFLICT = "conflict"
    """The record contradicts what is stored (a transfer of a share nobody holds, say)."""
    # messages from devices (devices/), set aside by the MQTT ingestion
    MALFORMED_PAYLOAD = "malformed_payload"
    """Not a JSON object of the documented shape (too big, not UTF-8, NaN, no `ts`, …)."""
    UNKNOWN_DEVICE = "unknown_device"
    """A topic naming a device code nobody registered."""
    OUT_OF_RANGE = "out_of_range"
    """A value outside what its metric can physically be (the type's rules say)."""
    BAD_TOPIC = "bad_topic"
    """A topic outside the documented scheme."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record a connector could not use, kept with the reason so someone can fix it at source.

    A dead letter is identified by (connector, stream, record_key, reason); setting the same
    record aside again for the same reason updates `last_run_id` and `seen`, nothing else.
    """

    connector: str
    stream: str
    record_key: str
    reason: Reason
    detail: str
    """What is wrong and where, in a sentence a person at the source can act on."""
    payload: dict[str, Any]
    """The record as read, secrets and personal data already removed by the stream."""
    run_id: str
    at: dt.datetime
    candidates: tuple[str, ...] = ()
    """For an address that did not match with confidence: the place codes it might be."""
    id: int | None = None
    seen: int = 1
    last_run_id: str | None = None


class Ledger(Protocol):
    """The connector part of the store port."""

    async def save_run(self, run: ConnectorRun) -> None:
        """Insert or replace the run with this id (the runner saves it as it starts and ends)."""

    async def runs(
        self, connector: str | None, first: int, after: str | None = None
    ) -> Page[ConnectorRun]:
        """Runs of one connector (or all), newest first, paged with opaque cursors."""

    async def last_runs(self, connectors: Sequence[str]) -> list[ConnectorRun | None]:
        """For each connector, its newest run (None if it never ran)."""

    async def stream_states(self, connector: str) -> list[StreamState]:
        """The saved cursors of a connector's streams, by stream name."""

    async def save_states(self, states: Sequence[StreamState]) -> None:
        """Checkpoint cursors (insert or replace by connector and stream)."""

    async def reset_states(self, connector: str) -> None:
        """Forget a connector's cursors: its next run reads everything again."""

    async def set_aside(self, letters: Sequence[DeadLetter]) -> int:
        """Record dead letters (upsert by connector, stream, record_key, reason); returns how
        many were new."""

    async def dead_letters(
        self, connector: str | None, first: int, after: str | None = None
    ) -> Page[DeadLetter]:
        """Dead letters of one connector (or all), newest first, paged with opaque cursors."""

    async def dead_letter_count(self, connector: str) -> int:
        """How many dead letters a connector has."""


@dataclass(frozen=True, slots=True)
class ConnectorSummary:
    """What `connectors` in the API says of one configured connector."""

    name: str
    kind: str
    schedule_seconds: int | None
    last_run: ConnectorRun | None
    states: list[StreamState] = field(default_factory=list)
    dead_letters: int = 0
