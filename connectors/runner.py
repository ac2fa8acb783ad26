"""The shared runner: one sync of one connector, incremental, checkpointed, idempotent.

For each stream, in the order the source gives them, the runner reads the records after the
saved cursor in batches and, per batch: checks each record against the stream's schema,
keeps the last record of each key, asks the stream to link the batch to the graph, stamps every
fact with its provenance, writes the facts through the store port, sets aside what could not be
used, and only then checkpoints the cursor of the batch's last record. A crash between the
write and the checkpoint therefore re-reads records whose rewrite changes nothing.

A batch the store refuses (a record the stream let through breaks a rule of the graph) is
written again one record at a time, and the records the store still refuses are dead-lettered
with the store's message: one bad record never stops a sync. A source that fails mid-read ends
the run FAILED with its message; every checkpoint already saved stays.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from connectors.base import (
    Check,
    ConnectorError,
    Facts,
    Rejected,
    Source,
    SourceRecord,
    Stream,
    Verdict,
    with_provenance,
)
from connectors.relay import Announce
from graph.errors import CodeError, HubError, InvalidInput
from graph.events import Event, Topic
from graph.ledger import ConnectorRun, DeadLetter, Reason, RunCounts, RunStatus, StreamState
from graph.model import Batch, Provenance, WriteCounts
from graph.store import Store

log = logging.getLogger("connectors.runner")

_RUN_ID = re.compile(r"[0-9A-Za-z_.-]{1,40}")
_LISTS = tuple(f.name for f in dataclasses.fields(Batch))
"""The record lists of a Batch (places, owners, ... cases), each record with a provenance."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_run_id() -> str:
    """A run id: random, so a run enqueued on a worker can be named before it starts."""
    return uuid.uuid4().hex


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.fullmatch(run_id):
        raise InvalidInput("run_id", run_id, "must be 1 to 40 letters, digits, '.', '_' or '-'")
    return run_id


async def start_run(
    store: Store, connector: str, *, full: bool, trigger: str, run_id: str | None = None, clock: Callable[[], dt.datetime] = utcnow
) -> ConnectorRun:
    """A run of `connector` recorded RUNNING in the ledger, under `run_id` or a new id."""
    run = ConnectorRun(
        id=check_run_id(run_id) if run_id is not None else new_run_id(),
        connector=connector,
        started_at=clock(),
        full=full,
        trigger=trigger,
    )
    await store.save_run(run)
    return run


@dataclasses.dataclass(slots=True)
class _Tally:
    read: int = 0
    written: int = 0
    unchanged: int = 0
    dead_lettered: int = 0
    duplicates: int = 0

    def counts(self) -> RunCounts:
        return RunCounts(self.read, self.written, self.unchanged, self.dead_lettered, self.duplicates)


@dataclasses.dataclass(slots=True)
class _Run:
    """What one sync shares across its streams and batches."""

    store: Store
    source: Source
    run: ConnectorRun
    """The run as saved when it started."""
    clock: Callable[[], dt.datetime]
    tally: _Tally
    beat: float = dataclasses.field(default_factory=time.monotonic)
    announce: Announce | None = None
    heartbeat_at: dt.datetime | None = None

    @property
    def id(self) -> str:
        return self.run.id


async def sync(
    store: Store,
    source: Source,
    *,
    full: bool = False,
    batch_size: int = 500,
    trigger: str = "manual",
    clock: Callable[[], dt.datetime] = utcnow,
    run_id: str | None = None,
    announce: Announce | None = None,
) -> ConnectorRun:
    """Sync `source` into `store` once; returns the run as saved in the ledger.

    `announce` hears the cases of every batch that changed something (connectors.relay), so
    live subscribers see a feed's orders arrive and move.

    `full` reads every stream from the start (saved cursors are ignored, then replaced);
    `run_id` names the run (an API enqueues a run on a worker and answers with its id at once).
    Never raises for a source or a record that fails: the run says so (FAILED, `error`).
    """
    if batch_size < 1:
        raise InvalidInput("batch_size", batch_size, "must be at least 1")
    if not 1 <= len(trigger) <= 16:
        raise InvalidInput("trigger", trigger, "must be 1 to 16 characters")
    run = await start_run(store, source.name, full=full, trigger=trigger, run_id=run_id, clock=clock)
    state = _Run(store, source, run, clock, _Tally(), announce=announce)
    began = time.monotonic()
    error: str | None = None
    try:
        saved = {} if full else {s.stream: s.cursor for s in await store.stream_states(source.name)}
        for stream in source.streams():
            await _sync_stream(state, stream, saved.get(stream.name), batch_size)
        if callable(getattr(source, "push", None)):
            from connectors.outbox import flush  # the 12345 push-back; only sources that push

            await flush(store, cast(Any, source), now=clock())
    except HubError as failure:  # ConnectorError (source down), or a store that refused
        error = _clean(str(failure), source)
    except Exception as failure:  # a bug or an outage below the source: its words, no traceback
        error = _clean(f"{type(failure).__name__}: {failure}", source)
        log.debug("connector %s: run %s failed", source.name, run.id, exc_info=True)
    except BaseException:  # cancelled (the server is stopping): record it, then let it go
        await _finish(state, "the run was cancelled before it finished", began)
        raise
    return await _finish(state, error, began)


def describe(counts: RunCounts) -> str:
    """A run's counts in words that say what each counts, so they add up.

    `read`, `dead_lettered` and `duplicates` count records; `written` and `unchanged` count the
    facts the records taken carry (a unit is a house; a transfer closes one ownership and opens
    another: two facts from one record), so facts may outnumber records. Records read are those
    taken plus those dead-lettered plus duplicates.

    >>> describe(RunCounts(read=10, written=3, unchanged=9, dead_lettered=1, duplicates=2))
    'read 10 records (7 taken, 1 dead-lettered, 2 duplicates); their facts: 3 written, 9 already stored'
    """
    taken = counts.read - counts.dead_lettered - counts.duplicates
    return (
        f"read {counts.read:,} records ({taken:,} taken, {counts.dead_lettered:,} dead-lettered, "
        f"{counts.duplicates:,} duplicates); their facts: {counts.written:,} written, "
        f"{counts.unchanged:,} already stored"
    )


async def _finish(state: _Run, error: str | None, began: float) -> ConnectorRun:
    ended = dataclasses.replace(
        state.run,
        status=RunStatus.FAILED if error else RunStatus.SUCCEEDED,
        finished_at=state.clock(),
        heartbeat_at=state.heartbeat_at,
        counts=state.tally.counts(),
        error=error,
    )
    await state.store.save_run(ended)
    log.log(
        logging.WARNING if error else logging.INFO,
        "connector %s (%s) run %s %s in %.1fs: %s%s; config %s",
        state.source.name,
        getattr(state.source, "kind", "?"),
        ended.id,
        ended.status.value,
        time.monotonic() - began,
        describe(ended.counts),
        f"; error: {error}" if error else "",
        state.source.config.redacted(),
    )
    return ended


def _clean(message: str, source: Source) -> str:
    """One line, at most 500 characters, with any secret setting's value blotted out."""
    schema = getattr(source.config, "schema", None)
    secrets = [f.name for f in getattr(schema, "fields", ()) if f.secret]
    for name in secrets:
        value = source.config.values.get(name)
        if value:
            message = message.replace(str(value), "***")
    line = " ".join(message.split())
    return (line[:497] + "...") if len(line) > 500 else line or "failed without a message"


async def _sync_stream(state: _Run, stream: Stream, after: str | None, batch_size: int) -> None:
    chunk: list[SourceRecord] = []
    async for record in stream.read(after):
        state.tally.read += 1
        chunk.append(record)
        if len(chunk) >= batch_size:
            await _sync_batch(state, stream, chunk)
            await _heartbeat(state)
            chunk = []
    if chunk:
        await _sync_batch(state, stream, chunk)
        await _heartbeat(state)


HEARTBEAT_SECONDS = 5.0
"""How often, at most, a running run saves its counts so far (progress in the API, and the
sign of life that keeps a second run of the connector away)."""


async def _heartbeat(state: _Run) -> None:
    if time.monotonic() - state.beat < HEARTBEAT_SECONDS:
        return
    state.beat = time.monotonic()
    state.heartbeat_at = state.clock()
    await state.store.save_run(dataclasses.replace(state.run, counts=state.tally.counts(), heartbeat_at=state.heartbeat_at))


async def _sync_batch(state: _Run, stream: Stream, records: list[SourceRecord]) -> None:
    now = state.clock()
    letters: list[DeadLetter] = []

    def set_aside(record: SourceRecord, reason: Reason, detail: str, candidates: Sequence[str] = ()) -> None:
        letters.append(
            DeadLetter(
                connector=state.source.name,
                stream=stream.name,
                record_key=record.key,
                reason=reason,
                detail=detail,
                payload=_payload(record.data),
                run_id=state.id,
                at=now,
                candidates=tuple(candidates),
            )
        )

    latest: dict[str, SourceRecord] = {}
    for record in records:
        problem = stream.schema.problem(record.data)
        if problem is not None:
            set_aside(record, Reason.SCHEMA_MISMATCH, f"{stream.name} record {record.key}: {problem}")
            continue
        if record.key in latest:
            state.tally.duplicates += 1
            del latest[record.key]  # the later record wins, in its own place in cursor order
        latest[record.key] = record
    usable = list(latest.values())
    verdicts: list[Verdict] = await stream.link(usable, state.store) if usable else []
    if len(verdicts) != len(usable):
        raise ConnectorError(
            f"{state.source.name}: stream {stream.name} gave {len(verdicts)} verdicts for {len(usable)} records"
        )
    accepted: list[tuple[SourceRecord, Batch]] = []
    for record, verdict in zip(usable, verdicts):
        if isinstance(verdict, Rejected):
            set_aside(record, verdict.reason, verdict.detail, verdict.candidates)
        else:
            accepted.append((record, _stamped(verdict, state, record, now)))
    for record, error in await _write(state, accepted):
        reason = Reason.MALFORMED_CODE if isinstance(error, CodeError) else Reason.CONFLICT
        set_aside(record, reason, f"{stream.name} record {record.key}: {error}")
    if letters:
        await state.store.set_aside(letters)
        state.tally.dead_lettered += len(letters)
    await state.store.save_states(
        [StreamState(state.source.name, stream.name, records[-1].cursor, now, state.id)]
    )


def _stamped(facts: Facts, state: _Run, record: SourceRecord, now: dt.datetime) -> Batch:
    provenance = Provenance(source=state.source.name, record_id=record.key, fetched_at=now, run_id=state.id)
    batch = Batch()
    for name in _LISTS:
        getattr(batch, name).extend(with_provenance(item, provenance) for item in getattr(facts.batch, name))
    return batch


async def _write(state: _Run, accepted: list[tuple[SourceRecord, Batch]]) -> list[tuple[SourceRecord, HubError]]:
    """Write the batch whole; if the store refuses it, record by record. Returns the refused."""
    merged = Batch()
    for _, batch in accepted:
        for name in _LISTS:
            getattr(merged, name).extend(getattr(batch, name))
    if not len(merged):
        return []
    try:
        counts = await state.store.write(merged)
    except HubError:
        pass
    else:
        state.tally.written += counts.inserted + counts.updated
        state.tally.unchanged += counts.unchanged
        await _announce(state, merged, counts)
        return []
    refused: list[tuple[SourceRecord, HubError]] = []
    for record, batch in accepted:
        if not len(batch):
            continue
        try:
            counts = await state.store.write(batch)
        except HubError as error:
            refused.append((record, error))
        else:
            state.tally.written += counts.inserted + counts.updated
            state.tally.unchanged += counts.unchanged
            await _announce(state, batch, counts)
    return refused


async def _announce(state: _Run, batch: Batch, counts: WriteCounts) -> None:
    """The batch's cases, when the write changed anything (an unchanged resync says nothing)."""
    if state.announce is None or not batch.cases or not counts.inserted + counts.updated:
        return
    await state.announce([Event(Topic.CASES, case.id, "synced", case.place_code) for case in batch.cases])


def _payload(data: Mapping[str, Any]) -> dict[str, Any]:
    """The record as JSON would hold it (dates and decimals as text), for the dead-letter store."""
    loaded: dict[str, Any] = json.loads(json.dumps(dict(data), ensure_ascii=False, default=str))
    return loaded


async def check(source: Source) -> Check:
    """The source's own check, but one that never raises: a failure is a failed check."""
    try:
        return await source.check()
    except Exception as failure:
        return Check(False, f"{source.name}: {_clean(str(failure) or type(failure).__name__, source)}")


async def discover(source: Source) -> list[dict[str, Any]]:
    """What each stream declares: its name, primary key, cursor field and record schema."""
    return [
        {
            "stream": stream.name,
            "primary_key": list(stream.primary_key),
            "cursor_field": stream.cursor_field,
            "schema": stream.schema.describe(),
        }
        for stream in source.streams()
    ]
