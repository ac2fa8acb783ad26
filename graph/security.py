"""Who is asking, and the records that keep them honest: roles, principals, tokens, audit entries.

The rules of who sees what live here so that every face of the hub (GraphQL, exports, later the
map and shared queries) applies the same ones.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from graph.errors import InvalidInput
from graph.levels import Level


class Role(enum.Enum):
    """What a principal is; the scope code of its token means something different per role."""

    ADMIN = "admin"
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    PROPERTY_FIRM = "property_firm"
    COMMITTEE = "committee"
    OWNER = "owner"
    STAFF = "staff"
    """A member of a firm's staff (物业从业人员): its scope code is its staff id; it sees and acts on
    the cases assigned to it and nothing else (no place, owner, device, figure or shared query)."""

    @property
    def sees_personal_data(self) -> bool:
        """Whether answers to this role show owners' names, ID numbers and phones unmasked.

        Dashboards (city, district) see aggregates and masked people; those who serve residents
        in person (street and community offices, the managing firm, the owners' committee) and
        operators see them whole, each read audited; an owner sees only its own record whole.
        """
        return self in _PERSONAL_DATA

    @property
    def place_level(self) -> Level | None:
        """The level of the place a token's scope must name, for the roles scoped by a place."""
        return _PLACE_LEVEL.get(self)

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(text.strip().lower())
        except ValueError:
            from graph.errors import InvalidInput

            names = ", ".join(role.value for role in cls)
            raise InvalidInput("role", text, f"is not a role; use one of {names}") from None


_PERSONAL_DATA = frozenset({Role.ADMIN, Role.STREET, Role.COMMUNITY, Role.PROPERTY_FIRM, Role.COMMITTEE, Role.OWNER})
_PLACE_LEVEL = {
    Role.CITY: Level.CITY,
    Role.DISTRICT: Level.DISTRICT,
    Role.STREET: Level.STREET,
    Role.COMMUNITY: Level.COMMUNITY,
    Role.COMMITTEE: Level.ESTATE,
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, as its token says: role, scope code, name, token id, and
    when the token expires (None for the hub's own principals, which have no token)."""

    role: Role
    scope: str
    name: str
    token_id: str
    expires_at: dt.datetime | None = None

    @property
    def sees_personal_data(self) -> bool:
        return self.role.sees_personal_data


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token the hub issued (its bearer string is never stored, only what it says)."""

    id: str
    role: Role
    scope: str
    name: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoke_reason: str | None = None


TOKEN_LIMITS: dict[str, int] = {"id": 64, "scope": 64, "name": 200, "revoke_reason": 200}
"""The longest value each text field of a token record may hold (characters), on every backend."""


def check_token(token: TokenRecord) -> None:
    """Refuse a token record a store must not save (InvalidInput naming `token <field>`): an
    empty id, a field longer than `TOKEN_LIMITS`, times without a zone."""
    if not token.id:
        raise InvalidInput("token id", token.id, "must not be empty")
    for name, length in TOKEN_LIMITS.items():
        value = getattr(token, name)
        if isinstance(value, str) and len(value) > length:
            raise InvalidInput(f"token {name}", value[:40] + "…", f"is longer than {length} characters")
    for name in ("issued_at", "expires_at"):
        if getattr(token, name).utcoffset() is None:
            raise InvalidInput(f"token {name}", getattr(token, name).isoformat(), "must carry a time zone")


@dataclass(frozen=True, slots=True)
class AuditDraft:
    """An event to append to the audit log: who did what to which target, and why if said."""

    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An entry of the hash chain: `hash` covers its content and `prev_hash` (see graph.audit)."""

    seq: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, Any]
    reason: str | None
    prev_hash: str
    hash: str
