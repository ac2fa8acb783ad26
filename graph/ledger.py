"""What the hub remembers of its connectors: runs with their counts, saved cursors, dead letters.

A connector run reads records from a source, writes the facts it finds through the store, and
sets aside each record it cannot use as a `DeadLetter` with the reason. The ledger is part of
the store port (`Ledger`), so every adapter keeps it beside the facts it describes.

A running run holds a `Lease` (the process and host running it, and until when), renewed with
each heartbeat. A process that dies stops renewing it; once it has expired, whoever reads the
ledger next closes the run as ABANDONED (`Ledger.close_abandoned`), so no run stays "running"
for ever, and the connector's next run resumes from the last checkpoint.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from graph.cursors import decode_cursor, encode_cursor
from graph.errors import InvalidInput
from graph.model import Page


BUILT_IN_SOURCES: dict[str, str] = {"mqtt": "device messages over MQTT (devices.pipeline)"}
"""Sources that set records aside without being configured connectors, by the connector name
their dead letters are filed under: they have dead letters but no runs, cursors or settings."""


class RunStatus(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Stopped by an error (source down, store refused a batch); what was checkpointed stays."""
    ABANDONED = "abandoned"
    """Its lease expired while it was running: the process holding it died (or stalled longer
    than its lease) and a reader of the ledger closed it (`closed_by`, `closed_at`); what was
    checkpointed stays, and the next run resumes from there."""


@dataclass(frozen=True, slots=True)
class RunCounts:
    """Records read and set aside; facts written (inserted or updated) and unchanged."""

    read: int = 0
    written: int = 0
    unchanged: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    """Records read again with a key already seen in the same run (the later one wins)."""
    retried: int = 0
    """Dead letters read again from what they kept and sent through linking once more (not
    counted in `read`, which counts records read from the source)."""
    resolved: int = 0
    """Open dead letters this run resolved: it linked a record with their key."""
    places_added: int = 0
    """Places the run inserted (new places, not updates of known ones): a run that adds places
    makes the place-related dead letters of every connector worth retrying."""

    def __add__(self, other: RunCounts) -> RunCounts:
        return RunCounts(
            self.read + other.read,
            self.written + other.written,
            self.unchanged + other.unchanged,
            self.dead_lettered + other.dead_lettered,
            self.duplicates + other.duplicates,
            self.retried + other.retried,
            self.resolved + other.resolved,
            self.places_added + other.places_added,
        )


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a running run, and until when unless renewed."""

    pid: int
    """The process id of the process running it (on `host`)."""
    host: str
    expires_at: dt.datetime
    """After this, with no renewal, the run is taken for dead and closed as ABANDONED."""

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


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
    """What started it: manual, schedule, api, worker; `places` for a retry of dead letters after
    another run added places."""
    error: str | None = None
    heartbeat_at: dt.datetime | None = None
    """When a running run last renewed its lease (its counts so far are saved with it)."""
    lease: Lease | None = None
    """Who runs it and until when (RUNNING runs; kept on the closed record for the story). A
    RUNNING run saved without a lease is never taken for dead: every run the hub starts has one."""
    closed_at: dt.datetime | None = None
    """When a reader of the ledger closed it as ABANDONED (its `finished_at` is its last sign of
    life)."""
    closed_by: str | None = None
    """Who closed it as ABANDONED: the command or service and its process (`hub sync (pid 41 on
    host-a)`)."""

    @property
    def duration(self) -> dt.timedelta | None:
        return None if self.finished_at is None else self.finished_at - self.started_at


def abandoned(run: ConnectorRun, *, now: dt.datetime, by: str) -> ConnectorRun:
    """`run`, whose lease expired before `now`, closed as ABANDONED by `by`: it finished at its
    last sign of life, and its error says whose lease lapsed when."""
    last_seen = run.heartbeat_at or run.started_at
    held = f" (held by {run.lease})" if run.lease is not None else ""
    expired = f" expired at {run.lease.expires_at:%Y-%m-%d %H:%M:%S} UTC" if run.lease is not None else " expired"
    return dataclasses.replace(
        run,
        status=RunStatus.ABANDONED,
        finished_at=last_seen,
        closed_at=now,
        closed_by=by,
        error=f"abandoned: its lease{held}{expired} with no sign of life since "
        f"{last_seen:%Y-%m-%d %H:%M:%S} UTC (its process died or stalled); closed by {by}",
    )


def lease_expired(run: ConnectorRun, now: dt.datetime) -> bool:
    """Whether `run` is taken for dead at `now`: RUNNING with a lease that expired before `now`
    (a lease expiring at `now` itself still holds; a run saved without a lease never expires)."""
    return run.status is RunStatus.RUNNING and run.lease is not None and run.lease.expires_at < now


MAX_RUN_ID = 40
"""The longest run id: it rides in page cursors, which hold 64 characters in all."""


def check_run_id(run: ConnectorRun) -> None:
    """Refuse a run id no page cursor could hold (InvalidInput naming `run id`)."""
    if not 0 < len(run.id) <= MAX_RUN_ID:
        raise InvalidInput("run id", run.id, f"must be 1 to {MAX_RUN_ID} characters")


NAME_LIMIT = 64
"""The longest connector name, stream name or run id the ledger keeps."""
KEY_LIMIT = 400
"""The longest stream cursor or record key the ledger keeps."""


def _check_length(what: str, value: str | None, limit: int, *, empty: bool = False) -> None:
    if value is None:
        return
    if not empty and not value:
        raise InvalidInput(what, value, "must not be empty")
    if len(value) > limit:
        raise InvalidInput(what, value[:40] + "…", f"is longer than {limit} characters")


def check_states(states: Iterable[StreamState]) -> None:
    """Refuse checkpoints the ledger cannot keep alike on every backend (InvalidInput naming the
    field; a call is refused whole): names and run ids of 1 to `NAME_LIMIT` characters, a
    cursor of at most `KEY_LIMIT`."""
    for state in states:
        _check_length("connector", state.connector, NAME_LIMIT)
        _check_length("stream", state.stream, NAME_LIMIT)
        _check_length("run id", state.run_id, NAME_LIMIT)
        _check_length("cursor", state.cursor, KEY_LIMIT, empty=True)


def check_letters(letters: Iterable[DeadLetter]) -> None:
    """Refuse dead letters the ledger cannot keep alike on every backend (InvalidInput naming
    the field; a call is refused whole): names and run ids of 1 to `NAME_LIMIT` characters, a
    record key of at most `KEY_LIMIT`. (A letter's cursor is cut to `MAX_LETTER_CURSOR` instead:
    it only orders retries.)"""
    for letter in letters:
        _check_length("connector", letter.connector, NAME_LIMIT)
        _check_length("stream", letter.stream, NAME_LIMIT)
        _check_length("run id", letter.run_id, NAME_LIMIT)
        _check_length("record_key", letter.record_key, KEY_LIMIT, empty=True)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def ledger_cursor(moment: dt.datetime, key: str | int) -> str:
    """The page cursor just after the row at (`moment`, `key`) in a newest-first ledger list
    (runs: started_at and id; dead letters: at and id). Every adapter makes and reads the same
    cursors; a naive `moment` is taken as UTC.

    >>> at = dt.datetime(2024, 5, 1, 8, tzinfo=dt.timezone.utc)
    >>> ledger_position(ledger_cursor(at, "run001")) == (at, "run001")
    True
    """
    moment = moment.replace(tzinfo=dt.timezone.utc) if moment.utcoffset() is None else moment
    micros = (moment - _EPOCH) // dt.timedelta(microseconds=1)
    return encode_cursor(f"{micros}|{key}")


def ledger_position(cursor: str | None, *, numeric: bool = False) -> tuple[dt.datetime, str] | None:
    """(moment in UTC, key) a `ledger_cursor` points after; None for no cursor. Anything else is
    refused naming `after` (and so is a key that is not a number when the list's keys are)."""
    text = decode_cursor(cursor)
    if text is None:
        return None
    micros, bar, key = text.partition("|")
    if not bar or not micros.lstrip("-").isdigit() or not key or (numeric and not key.isdigit()):
        raise InvalidInput("after", cursor, "is not a cursor from this list; pass a pageInfo.endCursor")
    try:
        return _EPOCH + dt.timedelta(microseconds=int(micros)), key
    except OverflowError:
        raise InvalidInput("after", cursor, "is not a cursor from this list; pass a pageInfo.endCursor") from None


def latest_states(states: Iterable[StreamState]) -> list[StreamState]:
    """One state per (connector, stream): the last given wins (a checkpoint call may carry a
    stream twice)."""
    return list({(state.connector, state.stream): state for state in states}.values())


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
    DUPLICATE = "duplicate"
    """A record that must be taken once arrived again unlike itself (a statement line of the
    fund's custodian repeated in its file, or booked already with other values)."""
    # messages from devices (devices/), set aside by the MQTT ingestion
    MALFORMED_PAYLOAD = "malformed_payload"
    """Not a JSON object of the documented shape (too big, not UTF-8, NaN, no `ts`, …)."""
    UNKNOWN_DEVICE = "unknown_device"
    """A topic naming a device code nobody registered."""
    OUT_OF_RANGE = "out_of_range"
    """A value outside what its metric can physically be (the type's rules say)."""
    BAD_TOPIC = "bad_topic"
    """A topic outside the documented scheme."""


PLACE_REASONS: frozenset[Reason] = frozenset({Reason.UNKNOWN_PLACE, Reason.UNMATCHED_ADDRESS})
"""Reasons a record may stop having once the hub holds more places: a run that adds places
retries the open letters of these reasons of every connector."""
RETRIED_REASONS: frozenset[Reason] = PLACE_REASONS | {Reason.UNKNOWN_OWNER, Reason.CONFLICT}
"""Reasons that depend on what the hub holds, not on the record alone, so linking the same
record again later may succeed; a malformed code or a schema mismatch is the record's own
fault and waits for the source to send it again, fixed."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record a connector could not use, kept with the reason so someone can fix it at source.

    A dead letter is identified by (connector, stream, record_key, reason). Setting the same
    record aside again for the same reason counts it in `seen` (every record or message, even
    several in one call), keeps the first `first_detail`/`first_at` and replaces `detail`, `at`,
    `payload`, `candidates`, `cursor`, `retryable` and `last_run_id` with the latest; a resolved letter
    set aside again is open again.

    A letter is resolved when a later run links a record with the same (connector, stream,
    record_key): `resolved_at`, `resolved_by_run`. Resolved letters leave the default listing.
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
    """How many times the record (or message) was set aside, counting each one."""
    last_run_id: str | None = None
    first_at: dt.datetime | None = None
    """When it was first set aside (`at` is the latest time); filled by the store."""
    first_detail: str | None = None
    """What was wrong the first time (`detail` is the latest); filled by the store."""
    resolved_at: dt.datetime | None = None
    resolved_by_run: str | None = None
    """The run that linked a record with this key, resolving the letter (None: still open)."""
    cursor: str | None = None
    """Where the record stood in its stream when last set aside (its cursor): a retry replays a
    stream's letters in this order, the source's own, so that records that build on each other
    (a registration after the one it transfers from) are linked in turn."""
    retryable: bool = False
    """Whether `payload` holds the record whole enough for a run to link it again (connectors
    retry open letters); False when the stream masked what it needs (personal data) or keeps no
    record whole (MQTT messages, first 512 bytes): such a letter waits for the source to send
    the record again."""

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None


@dataclass(frozen=True, slots=True)
class LetterGroup:
    """The letters of one (connector, stream, record_key, reason) in one `set_aside` call: the
    store keeps `first`'s run, time and detail when the letter is new, and `last`'s as the
    latest, and counts `seen` more sightings."""

    first: DeadLetter
    last: DeadLetter
    seen: int

    @property
    def identity(self) -> tuple[str, str, str, Reason]:
        return (self.first.connector, self.first.stream, self.first.record_key, self.first.reason)


def group_letters(letters: Iterable[DeadLetter]) -> list[LetterGroup]:
    """`letters` by identity, in the order each identity first appears: every letter counts."""
    groups: dict[tuple[str, str, str, Reason], list[DeadLetter]] = {}
    for letter in letters:
        groups.setdefault((letter.connector, letter.stream, letter.record_key, letter.reason), []).append(letter)
    return [LetterGroup(items[0], items[-1], len(items)) for items in groups.values()]


MAX_LETTER_CURSOR = 400
"""The longest stream cursor a dead letter keeps (longer ones are cut: it only orders retries)."""


def payload_json(value: Any) -> str:
    """A dead letter's payload (or candidates) as stored: JSON with sorted keys, non-ASCII as
    itself; dates, decimals and the like that sources hand over are kept as their text."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class Ledger(Protocol):
    """The connector part of the store port.

    The ledger holds no place, owner or firm, so it has no scope of its own: who may read it is
    decided above the store (the API shows it to admin and city roles only). Times go in with
    any zone and come back as the same instants in UTC.

    Adapters implement the storage members; `renew_run`, `close_abandoned` and `last_runs` are
    rules over them, written once in `LedgerRules`, which every adapter inherits.
    """

    async def save_run(self, run: ConnectorRun) -> None:
        """Insert or replace the run with this id, every field (the runner saves it as it starts
        and ends). A run id must be 1 to `MAX_RUN_ID` characters (InvalidInput naming `run id`,
        nothing saved): it rides in page cursors."""

    async def update_running_run(self, run: ConnectorRun, *, expired_before: dt.datetime | None = None) -> bool:
        """Replace the stored run with `run.id` by `run` only while the stored one is RUNNING
        and, with `expired_before`, holds a lease that expired before that instant
        (`lease_expired`); True if it replaced it. Never creates a run. One atomic conditional
        update: of callers racing on one run, each sees the state the previous one left (a
        renewal and a closing never both succeed on an expired run, two closings never both)."""

    async def renew_run(self, run: ConnectorRun) -> bool:
        """Save a run (its progress: counts, heartbeat, renewed lease; or how it ended) only
        while the ledger still holds it RUNNING; False, saving nothing, when it was closed
        meanwhile (its lease had expired and a reader closed it as ABANDONED): the run learns
        it no longer holds the connector, and the reader's record stands. (`LedgerRules`:
        `update_running_run(run)`.)"""

    async def close_abandoned(self, now: dt.datetime, by: str) -> list[ConnectorRun]:
        """Close every RUNNING run, of any connector, whose lease expired before `now` as
        ABANDONED by `by` (`abandoned`); returns the runs closed, oldest start first. A run
        renewed meanwhile is left running: each is closed only if it is still RUNNING with an
        expired lease, so readers closing at once close each run once. (`LedgerRules`.)"""

    async def run(self, run_id: str) -> ConnectorRun | None:
        """The run with this id, if any."""

    async def runs(
        self, connector: str | None, first: int, after: str | None = None, *, status: RunStatus | None = None
    ) -> Page[ConnectorRun]:
        """Runs of one connector (or all), of one status (or any), newest `started_at` first,
        ties by id descending; `first` clamped to 1..MAX_PAGE; keyset-paged with
        `ledger_cursor(started_at, id)`, so runs added in front of a page never shift it. A
        cursor that is not such a cursor is InvalidInput naming `after`."""

    async def last_runs(self, connectors: Sequence[str]) -> list[ConnectorRun | None]:
        """For each connector, in key order (repeats answered again), its newest run as `runs`
        orders them (None if it never ran). (`LedgerRules`: the first of `runs`.)"""

    async def stream_states(self, connector: str) -> list[StreamState]:
        """The saved cursors of a connector's streams, by stream name."""

    async def save_states(self, states: Sequence[StreamState]) -> None:
        """Checkpoint cursors: insert or replace by (connector, stream), the last given for a
        stream winning (`latest_states`); all of them or none (`check_states` refuses the call
        whole, naming the field)."""

    async def reset_states(self, connector: str) -> None:
        """Forget a connector's cursors (none: nothing to do): its next run reads everything
        again."""

    async def set_aside(self, letters: Sequence[DeadLetter]) -> int:
        """Record dead letters: upsert by (connector, stream, record_key, reason) as
        `DeadLetter` says, one `LetterGroup` per identity (every letter counts in `seen`, even
        several of one record in one call); the payload and candidates kept as `payload_json`
        reads them back, the cursor cut to `MAX_LETTER_CURSOR`. Returns how many identities
        were new (counted right when other processes set the same letters aside at once); all
        of them or none (`check_letters` refuses the call whole, naming the field)."""

    async def resolve(self, connector: str, stream: str, keys: Sequence[str], run_id: str, at: dt.datetime) -> int:
        """Resolve the open dead letters (any reason) of these record keys of a connector's
        stream, by `run_id` at `at` (repeated keys count once, any number of keys); returns how
        many letters were resolved. Resolved ones stay resolved (a second call resolves none)."""

    async def dead_letters(
        self,
        connector: str | None,
        first: int,
        after: str | None = None,
        *,
        stream: str | None = None,
        reasons: Collection[Reason] | None = None,
        include_resolved: bool = False,
        retryable: bool | None = None,
    ) -> Page[DeadLetter]:
        """Dead letters of one connector (or all), newest (`at`) first, ties by id descending,
        paged as `runs` is (`ledger_cursor(at, id)`, InvalidInput naming `after` for anything
        else): open ones only unless `include_resolved`; narrowed to one stream, some reasons
        (an empty set: none), or whether they can be retried, when given."""

    async def dead_letter_count(self, connector: str) -> int:
        """How many open (unresolved) dead letters a connector has."""


class LedgerRules:
    """`renew_run`, `close_abandoned` and `last_runs`, written once over the storage members of
    the ledger: an adapter's ledger class inherits this and implements the rest of `Ledger`."""

    if TYPE_CHECKING:

        async def update_running_run(self, run: ConnectorRun, *, expired_before: dt.datetime | None = None) -> bool: ...

        async def runs(
            self, connector: str | None, first: int, after: str | None = None, *, status: RunStatus | None = None
        ) -> Page[ConnectorRun]: ...

    async def renew_run(self, run: ConnectorRun) -> bool:
        return await self.update_running_run(run)

    async def close_abandoned(self, now: dt.datetime, by: str) -> list[ConnectorRun]:
        expired: list[ConnectorRun] = []
        after: str | None = None
        while True:
            page = await self.runs(None, _PAGE, after, status=RunStatus.RUNNING)
            expired += [run for run in page.items if lease_expired(run, now)]
            if not page.has_next:
                break
            after = page.end_cursor
        closed: list[ConnectorRun] = []
        for run in sorted(expired, key=lambda item: (item.started_at, item.id)):
            closing = abandoned(run, now=now, by=by)
            # only if it is still running with an expired lease: a renewal in between wins
            if await self.update_running_run(closing, expired_before=now):
                closed.append(closing)
        return closed

    async def last_runs(self, connectors: Sequence[str]) -> list[ConnectorRun | None]:
        newest: dict[str, ConnectorRun | None] = {}
        for name in dict.fromkeys(connectors):
            page = await self.runs(name, 1)
            newest[name] = page.items[0] if page.items else None
        return [newest[name] for name in connectors]


_PAGE = 500
"""The page `close_abandoned` reads running runs by (graph.store.MAX_PAGE)."""


@dataclass(frozen=True, slots=True)
class ConnectorSummary:
    """What `connectors` in the API says of one configured connector."""

    name: str
    kind: str
    schedule_seconds: int | None
    last_run: ConnectorRun | None
    states: list[StreamState] = field(default_factory=list)
    dead_letters: int = 0
