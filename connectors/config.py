"""The connectors file (`connectors.toml`): which sources the hub syncs, how often, with what settings.

    [connectors.registry]
    kind = "registry-db"          # a kind of connectors.catalog, or "package.module:Class"
    every = "15m"                 # 30s, 15m, 2h, 1d (or whole seconds); absent: manual only
    url_env = "REGISTRY_URL"      # any setting X may come from an environment variable: X_env

Settings other than `kind` and `every` belong to the kind and are checked by its
`ConfigSchema`. `X_env = "VAR"` takes X from the environment variable VAR, so the file itself
need hold no password. Every error names the file, the connector and the setting.

A kind named by import path (`"mycity.sources:WaterBoard"`) lets a deployment plug in a source
of its own without touching the hub.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import re
import tomllib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from connectors import catalog
from connectors.base import Config, Source
from connectors.leases import LEASE
from graph.errors import HubError, InvalidInput
from graph.ledger import BUILT_IN_SOURCES, ConnectorRun

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_EVERY = re.compile(r"\s*(\d+)\s*([smhd]?)\s*")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PLUGIN = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
MIN_EVERY = 10
"""The shortest schedule: a sync every few seconds would only queue up behind itself."""


class ConfigFileError(InvalidInput):
    """A connectors file that cannot be used: says which file, which connector, which setting."""

    def __init__(self, path: Path | str, where: str, problem: str) -> None:
        self.field = where
        self.value = None
        self.rule = problem
        HubError.__init__(self, f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """One configured connector: its name, kind, schedule and checked settings."""

    name: str
    kind: str
    every: int | None
    """Seconds between scheduled runs; None: run only when asked."""
    config: Config
    source_class: type[Source] = field(repr=False, compare=False)

    def redacted(self) -> dict[str, Any]:
        return self.config.redacted()


def parse_every(value: object, *, where: str = "every") -> int:
    """Seconds from '30s', '15m', '2h', '1d' or a whole number of seconds.

    >>> parse_every("15m"), parse_every("1d"), parse_every(90)
    (900, 86400, 90)
    """
    if isinstance(value, bool):
        raise InvalidInput(where, value, "must be a duration such as 30s, 15m, 2h or 1d")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (match := _EVERY.fullmatch(value.lower())):
        seconds = int(match.group(1)) * _UNIT[match.group(2)]
    else:
        raise InvalidInput(where, value, "must be a duration such as 30s, 15m, 2h or 1d")
    if seconds < MIN_EVERY:
        raise InvalidInput(where, value, f"must be at least {MIN_EVERY} seconds")
    return seconds


def kind_class(kind: str, *, where: str = "kind") -> type[Source]:
    """The Source class of a catalog kind or of a 'package.module:Class' path."""
    if kind in catalog.KINDS or not _PLUGIN.fullmatch(kind):
        return catalog.kind(kind, field=where)
    module, _, attribute = kind.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise InvalidInput(where, kind, f"cannot be imported: {error}") from None
    if not isinstance(cls, type) or not hasattr(cls, "config_schema"):
        raise InvalidInput(where, kind, "is not a connector class (it has no config_schema)")
    found: type[Source] = cls
    return found


def _settings(path: Path, name: str, table: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The kind's settings of one connector table, `X_env` indirections resolved."""
    settings: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("kind", "every"):
            continue
        if key.endswith("_env") and len(key) > 4:
            target = key[:-4]
            where = f"connectors.{name}.{key}"
            if target in table:
                raise ConfigFileError(path, where, f"give {target} or {key}, not both")
            if not isinstance(value, str) or not value:
                raise ConfigFileError(path, where, "must name an environment variable")
            if value not in environ:
                raise ConfigFileError(path, where, f"names the environment variable {value}, which is not set")
            settings[target] = environ[value]
        else:
            settings[key] = value
    return settings


def parse_connectors(
    text: str, *, path: Path | str = "connectors.toml", environ: Mapping[str, str] | None = None
) -> list[ConnectorSpec]:
    """The connectors a file's text declares, in file order, each checked by its kind."""
    path = Path(path)
    environ = os.environ if environ is None else environ
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(path, "", f"is not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"connectors"})
    if unknown:
        raise ConfigFileError(path, unknown[0], "is not understood; connectors go in [connectors.NAME] tables")
    tables = document.get("connectors", {})
    if not isinstance(tables, dict):
        raise ConfigFileError(path, "connectors", "must be a table of [connectors.NAME] tables")
    specs: list[ConnectorSpec] = []
    for name, table in tables.items():
        where = f"connectors.{name}"
        if not _NAME.fullmatch(name):
            raise ConfigFileError(path, where, "a connector name is lower-case letters, digits, '-' or '_' (at most 64), starting with a letter")
        if not isinstance(table, dict):
            raise ConfigFileError(path, where, "must be a table with kind = \"...\" and its settings")
        kind = table.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ConfigFileError(path, f"{where}.kind", "is required: the kind of source, e.g. kind = \"registry-db\"")
        try:
            cls = kind_class(kind, where=f"{where}.kind")
            every = None if table.get("every") is None else parse_every(table["every"], where=f"{where}.every")
            config = cls.config_schema.validate(name, _settings(path, name, table, environ))
        except ConfigFileError:
            raise
        except InvalidInput as error:
            raise ConfigFileError(path, error.field, f"{_shown(error.value)}{error.rule}") from None
        specs.append(ConnectorSpec(name, kind, every, config, cls))
    return specs


def _shown(value: object) -> str:
    return "" if value in (None, "") else f"{str(value)!r} "


def load_connectors(path: str | Path, *, environ: Mapping[str, str] | None = None) -> list[ConnectorSpec]:
    """The connectors configured in the file at `path`; none when there is no such file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigFileError(path, "", f"cannot be read: {error}") from None
    return parse_connectors(text, path=path, environ=environ)


def open_source(spec: ConnectorSpec) -> Source:
    """A connector built from its spec; close it when done."""
    return spec.source_class(spec.name, spec.config)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def opened(spec: ConnectorSpec) -> AsyncIterator[Source]:
    """`open_source` for the length of a `with` block, closed when it ends."""
    source = open_source(spec)
    try:
        yield source
    finally:
        await source.close()


class Launcher(Protocol):
    """How a server starts a run it does not wait for: an asyncio task, or a Celery task."""

    async def launch(self, spec: ConnectorSpec, *, full: bool, trigger: str, retry: bool = False) -> ConnectorRun:
        """Start a run of `spec` and return it as RUNNING, with the id it will keep; `retry`:
        the run also retries the connector's open dead letters."""


class AlreadyRunning(HubError):
    """A connector is asked to run while a run of it is still going."""


@dataclass(frozen=True, slots=True)
class ConnectorSet:
    """The configured connectors as the API sees them, and how it may start a run."""

    specs: Sequence[ConnectorSpec] = ()
    launcher: Launcher | None = None
    path: str | None = None
    lease_for: dt.timedelta = LEASE
    """How long a run's lease lasts unrenewed (`HUB_RUN_LEASE_SECONDS`), for runs started here."""

    def names(self) -> list[str]:
        return [spec.name for spec in self.specs]

    def get(self, name: str, *, field: str = "name") -> ConnectorSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        known = ", ".join(self.names()) or "none are configured"
        raise InvalidInput(field, name, f"is not a configured connector ({known})")

    def check_letters_source(self, name: str, *, field: str = "connector") -> str:
        """`name` if dead letters may be filed under it: a configured connector or a built-in
        source (`mqtt`); InvalidInput otherwise, naming both kinds."""
        if name in BUILT_IN_SOURCES or name in self.names():
            return name
        known = ", ".join([*self.names(), *BUILT_IN_SOURCES])
        raise InvalidInput(field, name, f"is neither a configured connector nor a built-in source ({known})")
