"""What every connector declares, and what the shared runner (connectors.runner) needs from it.

A connector kind (`registry-db`, `utilities-http`, `cityops-feed`, ...) is a `Source` class with a
`ConfigSchema`; a configured instance has a name (`registry`, `water`, ...) and its streams. A
stream reads `SourceRecord`s in cursor order after a saved cursor, and turns a chunk of them
into graph facts (`Facts`) or `Rejected` verdicts; the runner attaches provenance, writes the
facts through the store port, checkpoints the cursor and sets rejected records aside.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from graph.errors import HubError, InvalidInput
from graph.ledger import Reason
from graph.model import Batch, Provenance, WriteCounts
from graph.store import Store


class ConnectorError(HubError):
    """A source could not be reached or read; the message names the connector and the cause."""


class FieldType(enum.Enum):
    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    URL = "url"
    PATH = "path"


@dataclass(frozen=True, slots=True)
class ConfigField:
    """One setting of a connector kind. A `secret` one (passwords, API keys, URLs that carry a
    password) is never logged, printed or returned by the API: `Config.redacted()` hides it."""

    name: str
    type: FieldType
    help: str
    required: bool = True
    secret: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    bounds: tuple[int, int] | None = None
    """For an integer: the least and the greatest value allowed."""


@dataclass(frozen=True, slots=True)
class ConfigSchema:
    fields: tuple[ConfigField, ...]

    def validate(self, connector: str, values: Mapping[str, Any]) -> Config:
        """A `Config` from raw values (a TOML table, environment), or InvalidInput naming the
        connector, the field and the rule."""
        known = {f.name: f for f in self.fields}
        for name in values:
            if name not in known:
                raise InvalidInput(f"connectors.{connector}.{name}", name, f"is not a setting of this connector (known: {', '.join(sorted(known))})")
        checked: dict[str, Any] = {}
        for spec in self.fields:
            where = f"connectors.{connector}.{spec.name}"
            value = values.get(spec.name, spec.default)
            if value is None:
                if spec.required:
                    raise InvalidInput(where, "", "is required: " + spec.help)
                checked[spec.name] = None
                continue
            checked[spec.name] = _coerce(where, spec, value)
        return Config(connector, self, checked)


def _coerce(where: str, spec: ConfigField, value: Any) -> Any:
    shown = "***" if spec.secret else value
    if spec.type is FieldType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidInput(where, shown, "must be a whole number")
        try:
            value = int(value)
        except ValueError:
            raise InvalidInput(where, shown, "must be a whole number") from None
        if spec.bounds is not None and not spec.bounds[0] <= value <= spec.bounds[1]:
            raise InvalidInput(where, shown, f"must be {spec.bounds[0]} to {spec.bounds[1]}")
    elif spec.type is FieldType.BOOLEAN:
        if isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise InvalidInput(where, shown, "must be true or false")
            value = value.lower() in ("true", "1", "yes")
        elif not isinstance(value, bool):
            raise InvalidInput(where, shown, "must be true or false")
    else:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(where, shown, "must be a non-empty string")
        if spec.type is FieldType.URL and "://" not in value:
            raise InvalidInput(where, shown, "must be a URL (scheme://...)")
    if spec.choices and value not in spec.choices:
        raise InvalidInput(where, shown, f"must be one of {', '.join(spec.choices)}")
    return value


@dataclass(frozen=True, slots=True)
class Config:
    """A connector's checked settings."""

    connector: str
    schema: ConfigSchema
    values: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def redacted(self) -> dict[str, Any]:
        """The settings with every secret replaced by '***': what logs and the API may show."""
        secret = {f.name for f in self.schema.fields if f.secret}
        return {k: ("***" if k in secret and v is not None else v) for k, v in self.values.items()}

    def __repr__(self) -> str:
        return f"Config({self.connector!r}, {self.redacted()!r})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record as a source gave it.

    `key` is the stream's primary key value (a string; compound keys joined with '|'); `cursor`
    orders records within the stream and is what the runner saves to resume after this record.
    A stream yields records in ascending cursor order; two records may share a timestamp, so a
    cursor usually is 'timestamp|key'.
    """

    stream: str
    key: str
    cursor: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record the stream cannot use: why, in words a person at the source can act on."""

    reason: Reason
    detail: str
    candidates: tuple[str, ...] = ()


@dataclass(slots=True)
class Facts:
    """What one record says about the graph (any mix of records of a `Batch`), and any facts
    kept where the store's bulk write does not reach (`entries`, written by `writer`)."""

    batch: Batch = field(default_factory=Batch)
    entries: tuple[Any, ...] = ()
    """Facts `writer` writes itself: entries of an append-only journal, say (the custodian's
    statement lines, booked on each estate's fund journal)."""
    writer: Writer | None = None


class Writer(Protocol):
    """Writes the `entries` of accepted records where the store's bulk write does not reach.

    The runner gives it, once per batch, every accepted record whose facts name it, each with
    its facts and the provenance the runner stamps on graph facts (source, record id, fetch
    time, run), and it answers for each record in order: the facts it wrote and found already
    so (`WriteCounts`, counted like the bulk write's), or why the record cannot be used
    (`Rejected`, set aside as a dead letter). It must be idempotent: a record read again after
    a crash, or by a full run, writes nothing twice."""

    async def write(self, items: Sequence[tuple[SourceRecord, Facts, Provenance]], store: Store) -> list[WriteCounts | Rejected]:
        """See the class docstring."""


Verdict = Facts | Rejected


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: type | tuple[type, ...]
    required: bool = True


@dataclass(frozen=True, slots=True)
class RecordSchema:
    """The fields a stream's records carry; a record that breaks it is dead-lettered as a
    schema mismatch before the stream sees it."""

    fields: tuple[FieldSpec, ...]

    def problem(self, data: Mapping[str, Any]) -> str | None:
        """What is wrong with `data` (None when it fits)."""
        for spec in self.fields:
            value = data.get(spec.name)
            if value is None or value == "":
                if spec.required:
                    return f"field {spec.name!r} is missing"
                continue
            if isinstance(value, bool) and bool not in _types(spec.type):
                return f"field {spec.name!r} must be {_names(spec.type)}, not a boolean"
            if not isinstance(value, spec.type):
                return f"field {spec.name!r} must be {_names(spec.type)}, not {type(value).__name__} {str(value)[:40]!r}"
        return None

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": f.name, "type": _names(f.type), "required": f.required} for f in self.fields]


def _types(spec: type | tuple[type, ...]) -> tuple[type, ...]:
    return spec if isinstance(spec, tuple) else (spec,)


def _names(spec: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in _types(spec))


class Stream(Protocol):
    """A kind of record a source holds (units, holders, registrations, bills, orders...)."""

    name: str
    primary_key: tuple[str, ...]
    cursor_field: str
    schema: RecordSchema

    def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        """Records with a cursor after `after` (all when None), in ascending cursor order.
        Raises ConnectorError when the source fails mid-read."""

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        """For each record (already checked against `schema`), its facts or why it is rejected;
        may read the store (with `Scope.everything()`) to link records to places and owners.
        Must not write."""


def json_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """A record's data as JSON holds it (dates and decimals as text, personal values as their
    masked text): what a dead letter keeps of a record by default."""
    loaded: dict[str, Any] = json.loads(json.dumps(dict(data), ensure_ascii=False, default=str))
    return loaded


@runtime_checkable
class Retryable(Protocol):
    """A stream whose dead letters a later run can link again from what they kept.

    The runner keeps `kept(record, store)` as a dead letter's payload, and marks the letter
    retryable when `revive` can give the record back from it. A retry (`hub sync NAME --retry`,
    and after a run that adds places) sends the revived records through `link` and the write
    path again, so a letter whose place, owner or account has arrived since is linked and
    resolved. A stream that is not Retryable keeps `json_record(data)` and is never retried.
    """

    def kept(self, record: SourceRecord, store: Store) -> dict[str, Any]:
        """What a dead letter of `record` keeps: its data as JSON (`json_record`), personal data
        masked or replaced by what the hub derives from it (an owner id), never whole."""

    def revive(self, payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The record's data again from a kept payload, as `read` would give it; None when the
        payload cannot give it back honestly (it was kept masked, or before retries existed)."""


@dataclass(frozen=True, slots=True)
class Check:
    """What `check()` found: reachable and readable, with a line per stream."""

    ok: bool
    detail: str


class Source(Protocol):
    """A configured connector: a kind's class built from its checked config.

    Every kind's class is constructed as `Cls(name: str, config: Config)`, where `config` is
    `Cls.config_schema.validate(name, settings)` (see connectors.config.open_source).
    """

    kind: ClassVar[str]
    config_schema: ClassVar[ConfigSchema]
    name: str
    config: Config

    async def check(self) -> Check:
        """Prove the source is reachable and readable (connect, authenticate, read one record
        of each stream); never raises for a source that is down: says so in `detail`."""

    def streams(self) -> Sequence[Stream]:
        """The streams, in the order a sync reads them (parents before what refers to them)."""

    async def close(self) -> None:
        """Release connections and clients."""


class Pusher(Protocol):
    """A source that takes changes back (the 12345 feed): the runner flushes the outbox through it."""

    async def push(self, messages: Sequence[Any]) -> list[str | None]:
        """Deliver outbox messages in order; for each, None when delivered or the error."""


def with_provenance(record: Any, provenance: Any) -> Any:
    """A copy of a fact record with its provenance set (records are frozen dataclasses)."""
    return replaced(record, provenance=provenance)


_FIELDS: dict[type, tuple[str, ...]] = {}
"""The fields of each fact class `replaced` copies (those it may copy so)."""


def replaced(record: Any, **changes: Any) -> Any:
    """`dataclasses.replace(record, **changes)` for a frozen dataclass whose fields are all set
    by its `__init__` and checked nowhere else: the fields copied as they are, without running
    `__init__` again (a third of the cost; the runner stamps every fact of every record)."""
    cls = type(record)
    names = _FIELDS.get(cls)
    if names is None:
        fields = dataclasses.fields(cls)
        if hasattr(cls, "__post_init__") or any(not f.init for f in fields):
            return dataclasses.replace(record, **changes)
        names = _FIELDS[cls] = tuple(f.name for f in fields)
    if any(name not in names for name in changes):
        return dataclasses.replace(record, **changes)  # which says what is wrong
    copy = object.__new__(cls)
    for name in names:
        object.__setattr__(copy, name, changes[name] if name in changes else getattr(record, name))
    return copy
