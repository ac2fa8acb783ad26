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
    ABANDONED = strawberry.enum_value(
        "abandoned",
        description="Its lease expired while it ran (its process died or stalled): closed by a reader of the "
        "ledger (closedBy, closedAt); the next run resumes from its last checkpoint.",
    )


@strawberry.enum(description="Why a record (or a device's message) was set aside.")
class DeadLetterReason(enum.Enum):
    MALFORMED_CODE = "malformed_code"
    SCHEMA_MISMATCH = "schema_mismatch"
    UNKNOWN_PLACE = "unknown_place"
    UNKNOWN_OWNER = "unknown_owner"
    UNMATCHED_ADDRESS = "unmatched_address"
    CONFLICT = "conflict"
    DUPLICATE = strawberry.enum_value(
        "duplicate", description="A record to be taken once that came again unlike itself (a custodian's statement line repeated or booked already)."
    )
    MALFORMED_PAYLOAD = strawberry.enum_value("malformed_payload", description="MQTT: not a payload of the documented shape.")
    UNKNOWN_DEVICE = strawberry.enum_value("unknown_device", description="MQTT: a device code nobody registered.")
    OUT_OF_RANGE = strawberry.enum_value("out_of_range", description="MQTT: a value its metric cannot physically have.")
    BAD_TOPIC = strawberry.enum_value("bad_topic", description="MQTT: a topic outside the documented scheme.")


@strawberry.type(description="What a run did: records read and set aside, facts written or already so.")
class RunCounts:
    read: int
    written: int = strawberry.field(description="Facts inserted or updated.")
    unchanged: int = strawberry.field(description="Facts read that were already stored as they are.")
    dead_lettered: int
    duplicates: int = strawberry.field(description="Records read again with a key already seen in the same batch.")
    retried: int = strawberry.field(description="Dead letters read again from what they kept and linked once more.")
    resolved: int = strawberry.field(description="Open dead letters resolved: a record with their key was linked.")
    places_added: int = strawberry.field(description="New places written (a run that adds places retries place-related dead letters).")


@strawberry.type(description="Who holds a running run, and until when unless renewed.")
class RunLease:
    pid: int = strawberry.field(description="The process running it, on `host`.")
    host: str
    expires_at: dt.datetime


@strawberry.type(description="One sync of one connector.")
class ConnectorRun:
    id: str
    connector: str
    status: RunStatus
    trigger: str = strawberry.field(description="What started it: manual, schedule, api, worker, places (a retry after a run added places).")
    full: bool = strawberry.field(description="A full read from the start, ignoring saved cursors.")
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_seconds: float | None
    heartbeat_at: dt.datetime | None = strawberry.field(
        description="When a running run last renewed its lease and saved its counts (they grow while it runs)."
    )
    counts: RunCounts = strawberry.field(description="So far while it runs; final once it has finished.")
    error: str | None
    lease: RunLease | None = strawberry.field(
        description="Its lease: a run whose lease expires unrenewed is closed as ABANDONED by the next reader."
    )
    closed_at: dt.datetime | None = strawberry.field(description="When a reader closed it as ABANDONED.")
    closed_by: str | None = strawberry.field(description="Who closed it as ABANDONED (command or service, process, host).")

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
            counts=RunCounts(
                read=c.read, written=c.written, unchanged=c.unchanged, dead_lettered=c.dead_lettered, duplicates=c.duplicates,
                retried=c.retried, resolved=c.resolved, places_added=c.places_added,
            ),
            error=run.error,
            lease=None if run.lease is None else RunLease(pid=run.lease.pid, host=run.lease.host, expires_at=run.lease.expires_at),
            closed_at=run.closed_at,
            closed_by=run.closed_by,
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


@strawberry.type(description="A record a connector (or a device message the MQTT ingestion) could not use, kept with the reason.")
class DeadLetter:
    connector: str = strawberry.field(description="The connector, or the built-in source `mqtt`.")
    stream: str
    record_key: str
    reason: DeadLetterReason
    detail: str = strawberry.field(description="What was wrong the last time it was set aside.")
    first_detail: str = strawberry.field(description="What was wrong the first time.")
    payload: JSON = strawberry.field(description="The record as last read (personal data masked or replaced by the hub's ids).")
    candidates: list[str] = strawberry.field(description="For an unmatched address: the place codes it might be.")
    seen: int = strawberry.field(description="How many times the record or message was set aside, each one counted.")
    first_at: dt.datetime = strawberry.field(description="When it was first set aside.")
    at: dt.datetime = strawberry.field(description="When it was last set aside.")
    run_id: str = strawberry.field(description="The run that first set it aside.")
    last_run_id: str | None = strawberry.field(description="The run that last set it aside.")
    retryable: bool = strawberry.field(
        description="Whether the payload holds the record whole enough for a retry to link it again; false: it waits "
        "for the source to send the record again (personal data kept masked, or an MQTT message)."
    )
    resolved_at: dt.datetime | None = strawberry.field(description="When a later run linked a record with its key.")
    resolved_by_run: str | None = strawberry.field(description="The run that linked it (null: still open).")

    @classmethod
    def of(cls, letter: ledger.DeadLetter) -> DeadLetter:
        payload: Any = dict(letter.payload)
        return cls(
            connector=letter.connector,
            stream=letter.stream,
            record_key=letter.record_key,
            reason=DeadLetterReason(letter.reason.value),
            detail=letter.detail,
            first_detail=letter.first_detail or letter.detail,
            payload=payload,
            candidates=list(letter.candidates),
            seen=letter.seen,
            first_at=letter.first_at or letter.at,
            at=letter.at,
            run_id=letter.run_id,
            last_run_id=letter.last_run_id,
            retryable=letter.retryable,
            resolved_at=letter.resolved_at,
            resolved_by_run=letter.resolved_by_run,
        )


@strawberry.type(description="A page of runs, newest first; continue with `after: pageInfo.endCursor`.")
class ConnectorRunConnection:
    nodes: list[ConnectorRun]
    page_info: PageInfo


@strawberry.type(description="A page of dead letters, newest first; continue with `after: pageInfo.endCursor`.")
class DeadLetterConnection:
    nodes: list[DeadLetter]
    page_info: PageInfo
