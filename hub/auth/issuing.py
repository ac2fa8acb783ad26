"""Issuing and revoking tokens: scopes checked against the store, every act audited."""

from __future__ import annotations

import datetime as dt
import re
import secrets

from graph.ciphers.keyring import Keyring
from graph.clock import today
from graph.codes import CreditCode, place_code
from graph.errors import InvalidInput
from graph.scope import Scope
from graph.security import AuditDraft, Role, TokenRecord
from graph.store import Store
from hub.auth.tokens import Claims, encode

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_TTL = dt.timedelta(days=366)


def parse_duration(text: str) -> dt.timedelta:
    """`90s`, `15m`, `8h`, `30d`, `2w`.

    >>> parse_duration("8h")
    datetime.timedelta(seconds=28800)
    """
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise InvalidInput("ttl", text, "must be a number and a unit: s, m, h, d or w (e.g. 8h, 30d)")
    duration = dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not dt.timedelta(0) < duration <= MAX_TTL:
        raise InvalidInput("ttl", text, "must be more than 0 and at most 366 days")
    return duration


async def check_scope(store: Store, role: Role, scope: str) -> str:
    """The scope code in canonical form, if it names something of the role's kind in the store."""
    everything = Scope.everything()
    level = role.place_level
    if level is not None:
        code, found = place_code(scope, field="scope")
        if found != level:
            raise InvalidInput("scope", scope, f"is a {found.name.lower()} code; a {role.value} token needs a {level.name.lower()}")
        if (await store.places([code], everything))[0] is None:
            raise InvalidInput("scope", scope, "is not a place in the store")
        if role is Role.COMMITTEE:
            await _check_committee(store, code)
        return code
    if role is Role.PROPERTY_FIRM:
        code = str(CreditCode.parse(scope, field="scope"))
        if (await store.firms([code], everything))[0] is None:
            raise InvalidInput("scope", scope, "is not a property firm in the store")
        return code
    if role is Role.STAFF:
        if (await store.staff([scope.strip()], everything))[0] is None:
            raise InvalidInput("scope", scope, "is not a staff id in the store")
        return scope.strip()
    if role is Role.OWNER:
        if (await store.owners([scope], everything))[0] is None:
            raise InvalidInput("scope", scope, "is not an owner id in the store")
        return scope
    return "*"  # admin: the whole hub


async def _check_committee(store: Store, estate: str) -> None:
    """A committee token speaks for the estate's owners' committee (业主委员会): when the hub
    keeps the estate's committees (elected through a vote, or recorded), one must be in office
    today; an estate whose committees the hub has never recorded is taken at the issuer's word."""
    everything = Scope.everything()
    [history] = await store.committees([estate], None, everything)
    if not history:
        return
    [sitting] = await store.committees([estate], today(), everything)
    if not sitting:
        ended = max(committee.term_end for committee in history)
        raise InvalidInput("scope", estate, f"has no owners' committee in office (the last term ended on {ended.isoformat()})")


async def issue_token(
    store: Store,
    keys: Keyring,
    role: str,
    scope: str,
    name: str,
    ttl: dt.timedelta,
    *,
    issuer: str = "cli",
    now: dt.datetime | None = None,
) -> str:
    """A bearer token for the principal, recorded and audited; the string itself is not kept."""
    kind = Role.parse(role)
    if not name.strip():
        raise InvalidInput("name", name, "must name who holds the token")
    code = await check_scope(store, kind, scope)
    moment = now or dt.datetime.now(dt.timezone.utc)
    record = TokenRecord(secrets.token_hex(8), kind, code, name.strip(), moment, moment + ttl)
    await store.save_token(record)
    await store.append_audit(
        [
            AuditDraft(
                actor=issuer,
                role="admin",
                action="token.issue",
                target=record.id,
                detail={"role": kind.value, "scope": code, "name": record.name, "expires_at": record.expires_at.isoformat()},
                at=moment,
            )
        ]
    )
    return encode(keys.token_key, Claims(record.id, kind.value, code, record.name, record.issued_at, record.expires_at))


async def revoke_token(store: Store, token_id: str, reason: str, *, by: str = "cli") -> TokenRecord:
    moment = dt.datetime.now(dt.timezone.utc)
    record = await store.revoke_token(token_id, reason, moment)
    if record is None:
        raise InvalidInput("id", token_id, "is not a token this hub issued")
    await store.append_audit(
        [AuditDraft(actor=by, role="admin", action="token.revoke", target=token_id, detail={"reason": reason}, at=moment)]
    )
    return record
