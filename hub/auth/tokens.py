"""Bearer tokens: `hub1.<claims>.<mac>`, the claims base64url JSON, the MAC keyed SM3 (HMAC-SM3).

A keyed MAC rather than an SM2 signature because the hub both issues and checks its tokens: SM3
through OpenSSL checks one in microseconds, pure-Python SM2 would cost milliseconds on every
request. SM2 signs what leaves the hub (exports, votes).

>>> import datetime as dt
>>> key = bytes(32)
>>> now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
>>> text = encode(key, Claims("t1", "street", "370202001", "香港中路街道办事处", now, now + dt.timedelta(days=1)))
>>> decode(key, text, now).scope
'370202001'
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass

from graph.ciphers.sm3 import hmac_sm3, same
from graph.errors import HubError

PREFIX = "hub1"


class TokenError(HubError):
    """Why a bearer token is refused; the message is shown to the caller (HTTP 401)."""


@dataclass(frozen=True, slots=True)
class Claims:
    token_id: str
    role: str
    scope: str
    name: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def _unb64(text: str) -> bytes:
    # strictly: the decoder on its own skips characters outside the alphabet
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(key: bytes, claims: Claims) -> str:
    payload = {
        "tid": claims.token_id,
        "role": claims.role,
        "scope": claims.scope,
        "name": claims.name,
        "iat": int(claims.issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
    }
    body = _b64(json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac_sm3(key, f"{PREFIX}.{body}".encode("ascii"))
    return f"{PREFIX}.{body}.{_b64(mac)}"


VERIFIED = 4096
"""Tokens whose MAC and claims were checked, kept so their next requests skip both."""

_verified: dict[tuple[bytes, str], Claims] = {}


def decode(key: bytes, text: str, now: dt.datetime) -> Claims:
    """The claims of a token this hub issued and that has not expired; TokenError says why not.

    A token that passed is remembered (at most `VERIFIED`, under the key that checked it): its
    MAC and claims cannot change, so its next requests only check that it has not expired.
    Revocation is not decided here (hub.auth.authentication checks every request)."""
    claims = _verified.get((key, text))
    if claims is None:
        claims = _checked(key, text)
        if len(_verified) >= VERIFIED:
            _verified.clear()
        _verified[(key, text)] = claims
    if claims.expires_at <= now:
        raise TokenError(f"token expired at {claims.expires_at.isoformat()}")
    return claims


def _checked(key: bytes, text: str) -> Claims:
    """The claims of `text` if its MAC under `key` and its claims are the hub's."""
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise TokenError(f"malformed token: expected {PREFIX}.<claims>.<mac>")
    try:
        mac = _unb64(parts[2])
        raw = _unb64(parts[1])
    except (binascii.Error, ValueError):
        raise TokenError("malformed token: not base64url") from None
    # The MAC must be spelled exactly as the hub spells it: base64 decoding ignores the spare
    # low bits of the last character, so without this check four spellings of one MAC pass.
    if _b64(mac) != parts[2] or not same(mac, hmac_sm3(key, f"{PREFIX}.{parts[1]}".encode("ascii"))):
        raise TokenError("token signature does not match: altered, or issued by another hub")
    try:
        payload = json.loads(raw)
        claims = Claims(
            token_id=str(payload["tid"]),
            role=str(payload["role"]),
            scope=str(payload["scope"]),
            name=str(payload["name"]),
            issued_at=dt.datetime.fromtimestamp(int(payload["iat"]), dt.timezone.utc),
            expires_at=dt.datetime.fromtimestamp(int(payload["exp"]), dt.timezone.utc),
        )
    except (ValueError, KeyError, TypeError):
        raise TokenError("malformed token: its claims are not the hub's") from None
    return claims
