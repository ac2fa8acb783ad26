"""Connectors, runs and dead letters as the API shows them (from graph.ledger records)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from graph import ledger
from schema.context import Info
from schema.fields import field
from schema.relay import PageInfo


@strawberry.enum(description="How a run ended, or that it still goes.")
class RunStatus(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@strawberry.enum(description="Why a record was set aside.")
class DeadLetterReason(enum.Enum):
    MALFORMED_CODE = "malformed_code"
    SCHEMA_MISMATCH = "schema_mismatch"
    UNKNOWN_PLACE = "unknown_place"
    UNKNOWN_OWNER = "unknown_owner"
    UNMATCHED_ADDRESS = "unmatched_address"
    CONFLICT = "conflict"


@strawberry.type(description="What a run did: records read and set aside, facts written or already so.")
class RunCounts:
    read: int
    written: int = strawberry.field(description="Facts inserted or updated.")
    unchanged: int = strawberry.field(description="Facts read that were already stored as they are.")
    dead_lettered: int
    duplicates: int = strawberry.field(description="Records read again with a key already seen in the same batch.")


@strawberry.type(description="One sync of one connector.")
class ConnectorRun:
    id: str
    connector: str
    status: RunStatus
    trigger: str = strawberry.field(description="What started it: manual, schedule, api, worker.")
    full: bool = strawberry.field(description="A full read from the start, ignoring saved cursors.")
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_seconds: float | None
    heartbeat_at: dt.datetime | None = strawberry.field(
        description="When a running run last saved its counts (they grow while it runs); a run "
        "silent for 15 minutes was interrupted and is closed as failed by the next run."
    )
    counts: RunCounts = strawberry.field(description="So far while it runs; final once it has finished.")
    error: str | None

    @classmethod
    def of(cls, run: ledger.ConnectorRun) -> ConnectorRun:
        duration = run.duration
        c = run.counts
        return cls(
            id=run.id,
            connector=run.connector,
            status=RunStatus(run.status.value),
            trigger=run.trigger,
            full=run.full,
            started_at=run.started_at,
            finished_at=run.finished_at,
            duration_seconds=None if duration is None else duration.total_seconds(),
            heartbeat_at=run.heartbeat_at,
            counts=RunCounts(read=c.read, written=c.written, unchanged=c.unchanged, dead_lettered=c.dead_lettered, duplicates=c.duplicates),
            error=run.error,
        )


@strawberry.type(description="Where a stream of a connector stopped: the cursor of its last checkpoint.")
class StreamCursor:
    stream: str
    cursor: str | None
    updated_at: dt.datetime
    run_id: str


@strawberry.type(description="A configured connector: its kind, schedule, settings (secrets hidden) and state.")
class Connector:
    name: str
    kind: str
    schedule_seconds: int | None = strawberry.field(description="Seconds between scheduled runs; null: manual only.")
    settings: JSON = strawberry.field(description="The connector's settings, every secret shown as ***.")
    last_run: ConnectorRun | None
    cursors: list[StreamCursor]
    dead_letter_count: int
    last_success_at: strawberry.Private[dt.datetime | None]

    @field(description="Seconds since the last successful run finished; null if none ever did.")
    def lag(self, info: Info) -> float | None:
        if self.last_success_at is None:
            return None
        return round((dt.datetime.now(dt.timezone.utc) - self.last_success_at).total_seconds(), 3)


@strawberry.type(description="A record a connector could not use, kept with the reason.")
class DeadLetter:
    connector: str
    stream: str
    record_key: str
    reason: DeadLetterReason
    detail: str
    payload: JSON = strawberry.field(description="The record as read (personal data removed by the source).")
    candidates: list[str] = strawberry.field(description="For an unmatched address: the place codes it might be.")
    seen: int = strawberry.field(description="How many runs set it aside.")
    at: dt.datetime
    run_id: str = strawberry.field(description="The run that first set it aside.")
    last_run_id: str | None

    @classmethod
    def of(cls, letter: ledger.DeadLetter) -> DeadLetter:
        payload: Any = dict(letter.payload)
        return cls(
            connector=letter.connector,
            stream=letter.stream,
            record_key=letter.record_key,
            reason=DeadLetterReason(letter.reason.value),
            detail=letter.detail,
            payload=payload,
            candidates=list(letter.candidates),
            seen=letter.seen,
            at=letter.at,
            run_id=letter.run_id,
            last_run_id=letter.last_run_id,
        )


@strawberry.type(description="A page of runs, newest first; continue with `after: pageInfo.endCursor`.")
class ConnectorRunConnection:
    nodes: list[ConnectorRun]
    page_info: PageInfo


@strawberry.type(description="A page of dead letters, newest first; continue with `after: pageInfo.endCursor`.")
class DeadLetterConnection:
    nodes: list[DeadLetter]
    page_info: PageInfo
