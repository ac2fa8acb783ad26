"""Shared queries: saved, versioned GraphQL query documents that others run in their own scope.

A firm, a street or the city publishes a query once; those it is shared with (roles, or named
organisations: a firm's credit code, a place's code) run it and each gets what its own scope
holds, never what the author's does. The rules of who may publish, share with whom and see what
live here so the GraphQL face and `/q/NAME` apply the same ones.

Sharing rules (the issue: "published by the city, a street or a firm, and shared with roles or
named organisations"):

- admin and city publish and share with any role or organisation, and see every query;
- a street shares with the roles below the district that serve estates (street, community,
  property_firm, committee) and with named organisations;
- a property firm shares with firms only: the property_firm role (every firm) and firms named
  by their credit codes. A firm pushing queries to offices or owners is not its place;
- other roles (district, community, committee, owner) run what is shared with them but do not
  publish;
- the author (same role and scope) always sees its own queries; a query shared with nobody else
  answers everyone else exactly like an unknown name.

The safelist mode (`Safelist`) is a per-role switch the city turns on: principals of a
safelisted role may run only shared queries (like a persisted-query list). Every process rereads
it from the store at most every two seconds, so a switch takes effect in every process of the
hub within two seconds (at once in the process that switched it).

Cached answers are never stale (`ResultCache`): each answer is kept with the store's write
generation read before it was computed, and served only while the generation is still that one.
The generation (`Generation`) moves after every committed write to the store except the audit
log's appends, which no answer reads: in this process alone (`LocalGeneration`), or, for the
processes of one hub, in their Redis (hub.cluster.RedisGeneration, bumped by every process that
writes: `hub serve`, `hub ingest`), so a write in any process retires every cached answer in
all of them. An answer is also dropped after `seconds` (what bounds the cache's memory), and
none is kept or served while the generation cannot be read.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from graph.codes import CreditCode, place_code
from graph.errors import CodeError, InvalidInput
from graph.security import Principal, Role

NAME = re.compile(r"[a-z0-9-]{3,64}")
MAX_DOCUMENT = 20_000
"""The longest document a shared query may hold (characters)."""
MAX_DESCRIPTION = 2000
MAX_SHARES = 200
"""How many organisations one query may name."""

PUBLISHERS = frozenset({Role.ADMIN, Role.CITY, Role.STREET, Role.PROPERTY_FIRM})
OVERSEERS = frozenset({Role.ADMIN, Role.CITY})
"""Roles that see, withdraw and switch everything (the city's)."""
_STREET_SHARES = frozenset({Role.STREET, Role.COMMUNITY, Role.PROPERTY_FIRM, Role.COMMITTEE})
_FIRM_SHARES = frozenset({Role.PROPERTY_FIRM})

RELATIVE_DEFAULT = re.compile(r"@(area|today|now(?:-(\d{1,4})([dh]))?)")
"""Defaults computed when a query runs: `@area` (the smallest place holding the caller's whole
scope), `@now`, `@now-7d`, `@now-24h` (a moment, UTC) and `@today` (a date)."""


@dataclass(frozen=True, slots=True)
class VariableSpec:
    """One variable a shared query takes: its GraphQL type as written in the document, whether
    the caller must give it, the default used otherwise (a JSON value or a relative default such
    as `@area`), and what it means."""

    name: str
    type: str
    required: bool
    default: Any = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Owner:
    """Who published a query: the principal's name, role and scope when it did."""

    name: str
    role: Role
    scope: str


@dataclass(frozen=True, slots=True)
class SharedQuery:
    """One version of a shared query. `csv_path` names the list a CSV export flattens (dotted,
    e.g. `cases.edges`); None: the first list in the answer."""

    name: str
    version: int
    description: str
    document: str
    variables: tuple[VariableSpec, ...]
    owner: Owner
    roles: frozenset[Role]
    organisations: frozenset[str]
    published_at: dt.datetime
    csv_path: str | None = None
    withdrawn_at: dt.datetime | None = None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    def authored_by(self, principal: Principal) -> bool:
        return self.owner.role is principal.role and self.owner.scope == principal.scope

    def visible_to(self, principal: Principal) -> bool:
        """Whether `principal` sees and may run this version (withdrawn ones: nobody)."""
        if self.withdrawn or principal.role is Role.STAFF:
            return False  # a member of staff runs no shared query: it reads its own cases only
        return (
            principal.role in OVERSEERS
            or self.authored_by(principal)
            or principal.role in self.roles
            or principal.scope in self.organisations
        )

    def manageable_by(self, principal: Principal) -> bool:
        """Whether `principal` may withdraw it or publish the name's next version."""
        return principal.role in OVERSEERS or self.authored_by(principal)


@dataclass(frozen=True, slots=True)
class SharedDraft:
    """What a publisher sends; the store gives it its version and time."""

    name: str
    description: str
    document: str
    variables: tuple[VariableSpec, ...]
    owner: Owner
    roles: frozenset[Role]
    organisations: frozenset[str]
    csv_path: str | None = None


def variables_json(variables: Sequence[VariableSpec]) -> str:
    """A query's variables as every store keeps them: one JSON text (read back by
    `variables_from_json` as equal specs)."""
    return json.dumps(
        [{"name": v.name, "type": v.type, "required": v.required, "default": v.default, "description": v.description} for v in variables],
        ensure_ascii=False,
        sort_keys=True,
    )


def variables_from_json(text: str) -> tuple[VariableSpec, ...]:
    return tuple(
        VariableSpec(item["name"], item["type"], item["required"], item.get("default"), item.get("description", ""))
        for item in json.loads(text)
    )


class SharedQueryError(InvalidInput):
    """A shared query refused, said in a sentence that names the field (or the variable) and,
    for a broken document, quotes GraphQL's own error text."""

    def __init__(self, field: str, message: str, value: object = None) -> None:
        self.field = field
        self.value = value
        self.rule = message
        Exception.__init__(self, message)


def query_name(value: str, *, field: str = "name") -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise InvalidInput(field, value, "must be 3 to 64 characters of a-z, 0-9 and '-'")
    return value


def version_number(value: int | None, *, field: str = "version") -> int | None:
    if value is not None and not 1 <= value <= 1_000_000:
        raise InvalidInput(field, value, "must be a version number (1, 2, …)")
    return value


def organisation(value: str, *, field: str = "organisations") -> str:
    """A named organisation: a firm's credit code or a place's code (a street's, an estate's…)."""
    text = value.strip().upper() if isinstance(value, str) else value
    try:
        if isinstance(text, str) and len(text) == 18:
            return str(CreditCode.parse(text, field=field))
        return place_code(text, field=field)[0]
    except CodeError as error:
        raise InvalidInput(field, value, f"is neither a credit code nor a place code ({error.rule})") from None


def check_sharing(publisher: Principal, roles: frozenset[Role], organisations: frozenset[str]) -> None:
    """Refuse a publisher that may not publish, or sharing it may not do (see the module)."""
    if publisher.role not in PUBLISHERS:
        names = ", ".join(sorted(role.value for role in PUBLISHERS))
        raise InvalidInput("role", publisher.role.value, f"may not publish shared queries (only {names})")
    if len(organisations) > MAX_SHARES:
        raise InvalidInput("organisations", len(organisations), f"names too many organisations (at most {MAX_SHARES})")
    if Role.STAFF in roles:
        raise InvalidInput("roles", Role.STAFF.value, "shared queries are never shared with staff (they read their own cases only)")
    if publisher.role in OVERSEERS:
        return
    allowed = _STREET_SHARES if publisher.role is Role.STREET else _FIRM_SHARES
    refused = sorted(role.value for role in roles - allowed)
    if refused:
        may = ", ".join(sorted(role.value for role in allowed))
        raise InvalidInput("roles", ",".join(refused), f"a {publisher.role.value} may share only with {may}")
    if publisher.role is Role.PROPERTY_FIRM:
        places = sorted(code for code in organisations if len(code) != 18)
        if places:
            raise InvalidInput("organisations", places[0], "a property firm may share only with firms (credit codes)")


def relative_default(value: Any, *, field: str) -> Any:
    """A default as given, checked: a string starting with `@` must be a relative default."""
    if isinstance(value, str) and value.startswith("@") and not RELATIVE_DEFAULT.fullmatch(value):
        raise InvalidInput(field, value, "is not a relative default (@area, @today, @now, @now-7d, @now-24h)")
    return value


def resolve_relative(value: Any, *, area: str | None, now: dt.datetime) -> Any:
    """The value a relative default stands for at `now`; other values as they are. `area` is the
    caller's (None when its scope is empty)."""
    if not isinstance(value, str):
        return value
    match = RELATIVE_DEFAULT.fullmatch(value)
    if match is None:
        return value
    if match.group(1) == "area":
        return area
    if match.group(1) == "today":
        return now.astimezone(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    amount = int(match.group(2) or 0)
    delta = dt.timedelta(days=amount) if match.group(3) == "d" else dt.timedelta(hours=amount)
    return (now - delta).astimezone(dt.timezone.utc).isoformat()


class SharedQueryStore(Protocol):
    """The shared-query part of the store port."""

    async def publish_shared(self, draft: SharedDraft, at: dt.datetime) -> SharedQuery:
        """Save `draft` as the next version of its name (1 for a new name; withdrawn versions
        keep their numbers) published at `at`, and return it as stored. Publishers of one name
        at once each get a number of their own, none lost (a store that cannot take one after
        retrying says so with StoreError). Who may publish what is checked above the store
        (`check_sharing`)."""

    async def shared_versions(self, name: str) -> list[SharedQuery]:
        """Every version of `name`, oldest first, withdrawn ones too, each as published
        (variables, roles, organisations, times in UTC); [] for an unknown name. Unscoped:
        callers filter with `SharedQuery.visible_to`."""

    async def shared_latest(self) -> list[SharedQuery]:
        """Every version of every name, by name then version (a hub holds few); unscoped."""

    async def withdraw_shared(self, name: str, version: int, at: dt.datetime) -> SharedQuery | None:
        """Mark a version withdrawn at `at` (kept, no longer runnable) and return it; withdrawing
        it again keeps the first time. None if there is no such version."""

    async def safelisted_roles(self) -> frozenset[Role]:
        """The roles whose principals may run only shared queries (none until switched on)."""

    async def set_safelist(self, role: Role, enabled: bool, actor: str, at: dt.datetime) -> None:
        """Switch the safelist mode of `role` on or off (switching to the mode it has already
        changes nothing visible), recording who switched it and when."""


class Generation(Protocol):
    """The store's write generation (see the module docstring)."""

    async def current(self) -> int | None:
        """The generation now; None when it cannot be read (then nothing is cached)."""

    async def bump(self) -> None:
        """Move it on: a write committed."""


@dataclass(slots=True)
class LocalGeneration:
    """The write generation of a hub one process serves."""

    value: int = 0

    async def current(self) -> int | None:
        return self.value

    async def bump(self) -> None:
        self.value += 1


@dataclass(slots=True)
class ResultCache:
    """Answers of shared-query runs for `seconds`, keyed by everything that decides them: the
    query, its version, the variables and the caller's scope (never shared across scopes), each
    valid only in the write generation it was computed in (see the module docstring).
    Bounded: the oldest answers go first when it is full.

    >>> cache = ResultCache(clock=lambda: 0.0)
    >>> cache.put("q", "answer", generation=1)
    >>> cache.get("q", generation=1), cache.get("q", generation=2)
    ('answer', None)
    """

    seconds: float = 30.0
    capacity: int = 2000
    clock: Any = time.monotonic
    _entries: dict[Hashable, tuple[float, int, Any]] = field(default_factory=dict)

    def get(self, key: Hashable, *, generation: int | None) -> Any | None:
        found = self._entries.get(key)
        if found is None or generation is None:
            return None
        if self.clock() - found[0] >= self.seconds or found[1] != generation:
            del self._entries[key]
            return None
        return found[2]

    def put(self, key: Hashable, value: Any, *, generation: int | None) -> None:
        if self.seconds <= 0 or generation is None:
            return
        self._entries.pop(key, None)
        while len(self._entries) >= self.capacity:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self.clock(), generation, value)


@dataclass(slots=True)
class Safelist:
    """The safelisted roles, reread from the store at most every `seconds` (and at once in the
    process that switched them, which calls `forget`)."""

    seconds: float = 2.0
    _roles: frozenset[Role] = frozenset()
    _read: float = float("-inf")

    async def roles(self, store: SharedQueryStore) -> frozenset[Role]:
        now = time.monotonic()
        if now - self._read >= self.seconds:
            self._roles = await store.safelisted_roles()
            self._read = now
        return self._roles

    def forget(self) -> None:
        self._read = float("-inf")


def shares_text(roles: Sequence[Role], organisations: Sequence[str]) -> str:
    """A short account of who a query is shared with (for audit entries)."""
    return ",".join([role.value for role in roles] + list(organisations)) or "nobody"
