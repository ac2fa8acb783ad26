"""The shared runner: one sync of one connector, incremental, checkpointed, idempotent.

For each stream, in the order the source gives them, the runner reads the records after the
saved cursor in batches and, per batch: checks each record against the stream's schema,
keeps the last record of each key, asks the stream to link the batch to the graph, stamps every
fact with its provenance, writes the facts through the store port, sets aside what could not be
used, and only then checkpoints the cursor of the batch's last record. A crash between the
write and the checkpoint therefore re-reads records whose rewrite changes nothing.

Facts the store's bulk write does not hold (`Facts.entries`: the custodian's statement lines,
booked on the estates' fund journals) go to their `Facts.writer` once per batch, after the bulk
write and before the checkpoint, with the provenance graph facts get; what it refuses is set
aside with its reason like any rejected record.

A batch the store refuses (a record the stream let through breaks a rule of the graph) is
written again one record at a time, and the records the store still refuses are dead-lettered
with the store's message: one bad record never stops a sync. A source that fails mid-read ends
the run FAILED with its message; every checkpoint already saved stays.

Dead letters follow their records: a linked record resolves the open letters of its key (by
this run), and a run asked to `retry` (or a `retry_letters` run, after another run added
places) reads the open letters of its connector again from what they kept (streams that are
`Retryable`) and sends them through the same linking, writing and setting aside, without
touching the cursors.

A run holds a lease (connectors.leases) from its start: renewed with its counts after each
batch and, while a batch or the source stalls, by a timer every third of the lease. Should a
reader have closed it as abandoned meanwhile (it stalled past its lease), the run stops at its
next batch and leaves the ledger's ABANDONED record as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any, cast

from connectors.base import (
    Check,
    ConnectorError,
    Facts,
    Rejected,
    Retryable,
    Source,
    SourceRecord,
    Stream,
    Verdict,
    Writer,
    json_record,
    with_provenance,
)
from connectors.leases import LEASE, close_abandoned, lease
from connectors.relay import Announce
from graph.errors import CodeError, HubError, InvalidInput
from graph.events import Event, Topic
from graph.ledger import RETRIED_REASONS, ConnectorRun, DeadLetter, Lease, Reason, RunCounts, RunStatus, StreamState
from graph.model import Batch, Provenance, WriteCounts
from graph.store import MAX_PAGE, Store

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
    store: Store,
    connector: str,
    *,
    full: bool,
    trigger: str,
    run_id: str | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    lease_for: dt.timedelta = LEASE,
) -> ConnectorRun:
    """A run of `connector` recorded RUNNING in the ledger, under `run_id` or a new id, holding
    a lease of this process for `lease_for`. Runs whose lease expired are closed first, as
    every reader of the ledger does (connectors.leases)."""
    await close_abandoned(store, f"the start of a {trigger} run of {connector}", clock=clock)
    now = clock()
    run = ConnectorRun(
        id=check_run_id(run_id) if run_id is not None else new_run_id(),
        connector=connector,
        started_at=now,
        full=full,
        trigger=trigger,
        lease=lease(now, lease_for),
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
    retried: int = 0
    resolved: int = 0
    places_added: int = 0

    def counts(self) -> RunCounts:
        return RunCounts(
            self.read, self.written, self.unchanged, self.dead_lettered, self.duplicates,
            self.retried, self.resolved, self.places_added,
        )


class LeaseLost(ConnectorError):
    """The run's lease expired and a reader closed it as ABANDONED while it was still going."""


@dataclasses.dataclass(slots=True)
class _Run:
    """What one sync shares across its streams and batches."""

    store: Store
    source: Source
    run: ConnectorRun
    """The run as saved when it started."""
    clock: Callable[[], dt.datetime]
    tally: _Tally
    lease_for: dt.timedelta = LEASE
    beat: float = dataclasses.field(default_factory=time.monotonic)
    announce: Announce | None = None
    heartbeat_at: dt.datetime | None = None
    lease: Lease | None = None
    """The lease as last renewed (the one it started with until then)."""
    lost: bool = False
    """A reader closed the run as abandoned (its lease had expired): it must stop."""
    open_letters: bool = True
    """Whether the connector may have open dead letters a linked record would resolve."""
    renewing: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)

    @property
    def id(self) -> str:
        return self.run.id

    def renewed(self) -> ConnectorRun:
        """The run as it stands, beating now: counts so far, its lease renewed from now."""
        self.heartbeat_at = self.clock()
        self.lease = lease(self.heartbeat_at, self.lease_for)
        return dataclasses.replace(self.run, counts=self.tally.counts(), heartbeat_at=self.heartbeat_at, lease=self.lease)


async def sync(
    store: Store,
    source: Source,
    *,
    full: bool = False,
    retry: bool = False,
    batch_size: int = 500,
    trigger: str = "manual",
    clock: Callable[[], dt.datetime] = utcnow,
    run_id: str | None = None,
    announce: Announce | None = None,
    lease_for: dt.timedelta = LEASE,
) -> ConnectorRun:
    """Sync `source` into `store` once; returns the run as saved in the ledger.

    `announce` hears the cases of every batch that changed something (connectors.relay), so
    live subscribers see a feed's orders arrive and move.

    `full` reads every stream from the start (saved cursors are ignored, then replaced);
    `retry` then reads the connector's open dead letters again (`RETRIED_REASONS`, streams that
    are Retryable) and links what it can; `run_id` names the run (an API enqueues a run on a
    worker and answers with its id at once); `lease_for` is how long its lease lasts unrenewed.
    Never raises for a source or a record that fails: the run says so (FAILED, `error`).
    """
    return await _execute(
        store, source, read=True, reasons=RETRIED_REASONS if retry else None, full=full, batch_size=batch_size,
        trigger=trigger, clock=clock, run_id=run_id, announce=announce, lease_for=lease_for,
    )


async def retry_letters(
    store: Store,
    source: Source,
    *,
    reasons: Collection[Reason] = RETRIED_REASONS,
    batch_size: int = 500,
    trigger: str = "retry",
    clock: Callable[[], dt.datetime] = utcnow,
    run_id: str | None = None,
    announce: Announce | None = None,
    lease_for: dt.timedelta = LEASE,
) -> ConnectorRun:
    """A run of `source` that reads nothing from it: only its open dead letters of `reasons`,
    again, from what they kept (after another run added places, say). Recorded like any run,
    with `retried` and `resolved` counts; cursors stay as they are."""
    return await _execute(
        store, source, read=False, reasons=reasons, full=False, batch_size=batch_size, trigger=trigger,
        clock=clock, run_id=run_id, announce=announce, lease_for=lease_for,
    )


async def _execute(
    store: Store,
    source: Source,
    *,
    read: bool,
    reasons: Collection[Reason] | None,
    full: bool,
    batch_size: int,
    trigger: str,
    clock: Callable[[], dt.datetime],
    run_id: str | None,
    announce: Announce | None,
    lease_for: dt.timedelta,
) -> ConnectorRun:
    if batch_size < 1:
        raise InvalidInput("batch_size", batch_size, "must be at least 1")
    if not 1 <= len(trigger) <= 16:
        raise InvalidInput("trigger", trigger, "must be 1 to 16 characters")
    run = await start_run(store, source.name, full=full, trigger=trigger, run_id=run_id, clock=clock, lease_for=lease_for)
    state = _Run(store, source, run, clock, _Tally(), lease_for=lease_for, announce=announce)
    keeper = asyncio.create_task(_keep_lease(state), name=f"lease {source.name}")
    began = time.monotonic()
    error: str | None = None
    try:
        state.open_letters = await store.dead_letter_count(source.name) > 0
        if read:
            saved = {} if full else {s.stream: s.cursor for s in await store.stream_states(source.name)}
            for stream in source.streams():
                await _sync_stream(state, stream, saved.get(stream.name), batch_size)
        if reasons is not None:
            for stream in source.streams():
                await _retry_stream(state, stream, reasons, batch_size)
        if callable(getattr(source, "push", None)):
            from connectors.outbox import flush  # the 12345 push-back; only sources that push

            await flush(store, cast(Any, source), now=clock())
    except HubError as failure:  # ConnectorError (source down), or a store that refused
        error = _clean(str(failure), source)
    except Exception as failure:  # a bug or an outage below the source: its words, no traceback
        error = _clean(f"{type(failure).__name__}: {failure}", source)
        log.debug("connector %s: run %s failed", source.name, run.id, exc_info=True)
    except BaseException:  # cancelled (the server is stopping): record it, then let it go
        await _stop_keeping(keeper)
        await _finish(state, "the run was cancelled before it finished", began)
        raise
    await _stop_keeping(keeper)
    return await _finish(state, error, began)


async def _keep_lease(state: _Run) -> None:
    """Renew the lease every third of it while the run goes, even while a batch or the source
    stalls: a live run is never taken for dead, a killed one stops renewing."""
    every = state.lease_for.total_seconds() / 3
    while not state.lost:
        await asyncio.sleep(every)
        try:
            await _renew(state)
        except Exception:  # the store is busy or down: the batch path will say so
            log.warning("connector %s: run %s could not renew its lease", state.source.name, state.id, exc_info=True)


async def _stop_keeping(keeper: asyncio.Task[None]) -> None:
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper


def describe(counts: RunCounts) -> str:
    """A run's counts in words that say what each counts, so they add up.

    `read`, `retried`, `dead_lettered` and `duplicates` count records (`retried`: dead letters
    sent through linking again from what they kept); `written` and `unchanged` count the facts
    the records taken carry (a unit is a house; a transfer closes one ownership and opens
    another: two facts from one record), so facts may outnumber records. Records read and
    retried are those taken plus those dead-lettered plus duplicates.

    >>> describe(RunCounts(read=10, written=3, unchanged=9, dead_lettered=1, duplicates=2))
    'read 10 records (7 taken, 1 dead-lettered, 2 duplicates); their facts: 3 written, 9 already stored'
    >>> describe(RunCounts(read=0, written=4, retried=5, dead_lettered=1, resolved=4))
    'read 0 records and retried 5 dead letters (4 taken, 1 dead-lettered, 0 duplicates); their facts: 4 written, 0 already stored; 4 dead letters resolved'
    """
    taken = counts.read + counts.retried - counts.dead_lettered - counts.duplicates
    retried = f" and retried {counts.retried:,} dead letters" if counts.retried else ""
    words = (
        f"read {counts.read:,} records{retried} ({taken:,} taken, {counts.dead_lettered:,} dead-lettered, "
        f"{counts.duplicates:,} duplicates); their facts: {counts.written:,} written, "
        f"{counts.unchanged:,} already stored"
    )
    if counts.resolved:
        words += f"; {counts.resolved:,} dead letters resolved"
    if counts.places_added:
        words += f"; {counts.places_added:,} places added"
    return words


async def _finish(state: _Run, error: str | None, began: float) -> ConnectorRun:
    ended = dataclasses.replace(
        state.run,
        status=RunStatus.FAILED if error else RunStatus.SUCCEEDED,
        finished_at=state.clock(),
        heartbeat_at=state.heartbeat_at,
        lease=state.lease or state.run.lease,
        counts=state.tally.counts(),
        error=error,
    )
    if state.lost or not await state.store.renew_run(ended):
        # a reader closed the run as abandoned while it went (it stalled past its lease): its
        # record stays as that reader wrote it, since the run no longer held the connector for
        # sure; every checkpoint it saved stays too
        closed = await state.store.run(state.id)
        log.warning("connector %s: run %s went on after its lease expired and was closed: %s",
                    state.source.name, state.id, closed.error if closed else "?")
        if closed is not None:
            return closed
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


async def _retry_stream(state: _Run, stream: Stream, reasons: Collection[Reason], batch_size: int) -> None:
    """The stream's open, retryable dead letters of `reasons`, linked again from what they kept,
    one record per key (its newest letter's), in the order the source gave them (their cursors)
    and in batches like a read: records that build on each other (a transfer after the first
    registration it ends) are linked in turn. The letters are listed whole before any is
    retried (a retry resolves some and sets others aside again, which reorders the list)."""
    if not isinstance(stream, Retryable) or not reasons:
        return
    newest: dict[str, SourceRecord] = {}
    after: str | None = None
    while True:
        page = await state.store.dead_letters(state.source.name, MAX_PAGE, after, stream=stream.name, reasons=reasons, retryable=True)
        for letter in page.items:
            if letter.record_key in newest:
                continue
            data = stream.revive(letter.payload)
            if data is not None:
                newest[letter.record_key] = SourceRecord(stream.name, letter.record_key, letter.cursor or "", data)
        if not page.has_next:
            break
        after = page.end_cursor
    records = sorted(newest.values(), key=lambda record: (record.cursor, record.key))
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        state.tally.retried += len(chunk)
        await _sync_batch(state, stream, chunk, checkpoint=False)
        await _heartbeat(state)


HEARTBEAT_SECONDS = 5.0
"""How often, at most, a running run saves its counts so far after a batch (progress in the API);
its lease is renewed at least every third of its length whatever the batches do."""


async def _heartbeat(state: _Run) -> None:
    if time.monotonic() - state.beat >= min(HEARTBEAT_SECONDS, state.lease_for.total_seconds() / 3):
        await _renew(state)
    if state.lost:
        raise LeaseLost(
            f"{state.source.name}: run {state.id} outlived its lease and was closed as abandoned; "
            "the next run resumes from the last checkpoint"
        )


async def _renew(state: _Run) -> None:
    """Save the counts so far with a renewed lease, unless a reader closed the run meanwhile."""
    async with state.renewing:
        if state.lost:
            return
        state.beat = time.monotonic()
        if not await state.store.renew_run(state.renewed()):
            state.lost = True


async def _sync_batch(state: _Run, stream: Stream, records: list[SourceRecord], *, checkpoint: bool = True) -> None:
    now = state.clock()
    letters: list[DeadLetter] = []
    retryable = stream if isinstance(stream, Retryable) else None

    def set_aside(record: SourceRecord, reason: Reason, detail: str, candidates: Sequence[str] = ()) -> None:
        payload = retryable.kept(record, state.store) if retryable is not None else json_record(record.data)
        letters.append(
            DeadLetter(
                connector=state.source.name,
                stream=stream.name,
                record_key=record.key,
                reason=reason,
                detail=detail,
                payload=payload,
                run_id=state.id,
                at=now,
                candidates=tuple(candidates),
                cursor=record.cursor or None,
                retryable=retryable is not None and retryable.revive(payload) is not None,
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
    own: dict[int, tuple[Writer, list[tuple[SourceRecord, Facts, Provenance]]]] = {}
    for record, verdict in zip(usable, verdicts):
        if isinstance(verdict, Rejected):
            set_aside(record, verdict.reason, verdict.detail, verdict.candidates)
            continue
        if verdict.writer is not None and verdict.entries:
            own.setdefault(id(verdict.writer), (verdict.writer, []))[1].append((record, verdict, _provenance(state, record, now)))
        if len(verdict.batch) or verdict.writer is None or not verdict.entries:
            accepted.append((record, _stamped(verdict, state, record, now)))
    refused = await _write(state, accepted)
    for record, error in refused:
        reason = Reason.MALFORMED_CODE if isinstance(error, CodeError) else Reason.CONFLICT
        set_aside(record, reason, f"{stream.name} record {record.key}: {error}")
    for writer, items in own.values():
        outcomes = await writer.write(items, state.store)
        if len(outcomes) != len(items):
            raise ConnectorError(f"{state.source.name}: stream {stream.name} wrote {len(outcomes)} outcomes for {len(items)} records")
        for (record, facts, _), outcome in zip(items, outcomes):
            if isinstance(outcome, Rejected):
                set_aside(record, outcome.reason, outcome.detail, outcome.candidates)
                continue
            state.tally.written += outcome.inserted + outcome.updated
            state.tally.unchanged += outcome.unchanged
            if not len(facts.batch):
                accepted.append((record, Batch()))  # linked and written: it resolves its letters
    if letters:
        await state.store.set_aside(letters)
        state.tally.dead_lettered += len(letters)
        state.open_letters = True
    await _resolve(state, stream, accepted, refused, letters, now)
    if checkpoint:
        await state.store.save_states(
            [StreamState(state.source.name, stream.name, records[-1].cursor, now, state.id)]
        )


async def _resolve(
    state: _Run,
    stream: Stream,
    accepted: list[tuple[SourceRecord, Batch]],
    refused: list[tuple[SourceRecord, HubError]],
    letters: list[DeadLetter],
    now: dt.datetime,
) -> None:
    """Resolve the open letters of the records this batch linked and wrote. A key also set aside
    in this batch (an earlier copy that broke the schema, say) stays open: which of its copies
    the source meant last is not for this batch to guess."""
    if not state.open_letters or not accepted:
        return
    kept_back = {record.key for record, _ in refused} | {letter.record_key for letter in letters}
    linked = [record.key for record, _ in accepted if record.key not in kept_back]
    if linked:
        state.tally.resolved += await state.store.resolve(state.source.name, stream.name, linked, state.id, now)


def _provenance(state: _Run, record: SourceRecord, now: dt.datetime) -> Provenance:
    return Provenance(source=state.source.name, record_id=record.key, fetched_at=now, run_id=state.id)


def _stamped(facts: Facts, state: _Run, record: SourceRecord, now: dt.datetime) -> Batch:
    provenance = _provenance(state, record, now)
    batch = Batch()
    for name in _LISTS:
        items = getattr(facts.batch, name)
        if items:  # a record's facts fill one or two of the lists: the rest are skipped, not copied
            setattr(batch, name, [with_provenance(item, provenance) for item in items])
    return batch


async def _write(state: _Run, accepted: list[tuple[SourceRecord, Batch]]) -> list[tuple[SourceRecord, HubError]]:
    """Write the batch whole; if the store refuses it, record by record. Returns the refused."""
    merged = Batch()
    for _, batch in accepted:
        for name in _LISTS:
            items = getattr(batch, name)
            if items:
                getattr(merged, name).extend(items)
    if not len(merged):
        return []
    try:
        await _write_counted(state, merged)
    except HubError:
        pass
    else:
        return []
    refused: list[tuple[SourceRecord, HubError]] = []
    for record, batch in accepted:
        if not len(batch):
            continue
        try:
            await _write_counted(state, batch)
        except HubError as error:
            refused.append((record, error))
    return refused


async def _write_counted(state: _Run, batch: Batch) -> None:
    """Write `batch` and count what it did. Places go in a write of their own when the batch
    holds other facts too (no stream mixes them today), so that the places a run adds are
    counted exactly: they are what makes other connectors' dead letters worth retrying."""
    if batch.places and len(batch) > len(batch.places):
        rest = dataclasses.replace(batch, places=[])
        await _write_counted(state, Batch(places=batch.places))
        await _write_counted(state, rest)
        return
    counts = await state.store.write(batch)
    state.tally.written += counts.inserted + counts.updated
    state.tally.unchanged += counts.unchanged
    if batch.places:
        state.tally.places_added += counts.inserted
    await _announce(state, batch, counts)


async def _announce(state: _Run, batch: Batch, counts: WriteCounts) -> None:
    """The batch's cases, when the write changed anything (an unchanged resync says nothing)."""
    if state.announce is None or not batch.cases or not counts.inserted + counts.updated:
        return
    await state.announce([Event(Topic.CASES, case.id, "synced", case.place_code) for case in batch.cases])


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
