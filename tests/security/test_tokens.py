"""Bearer tokens over HTTP: every way a token can be wrong gets a 401 that says which.

Each refusal is a JSON body `{"error": "unauthorized", "reason": ...}` with a
`WWW-Authenticate: Bearer ...` header, and nothing of the data; the audit log records each
token's first request (its login) and each refusal.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from graph.ciphers.keyring import Keyring
from graph.events import Event, Topic
from hub.auth.issuing import issue_token, revoke_token
from hub.auth.tokens import Claims, encode
from tests.security.conftest import CASE_HOUSE, REVOCATION_SECONDS, STREET, SecureHub
from tests.wsclient import LiveClient, live

QUERY = '{ place(code: "370202") { code name } }'


def _refused(response: httpx.Response) -> str:
    """The reason of a 401, after checking everything a refusal must carry."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    body = response.json()
    assert set(body) == {"error", "reason"} and body["error"] == "unauthorized"
    assert "370202" not in response.text and "市南区" not in response.text
    reason: str = body["reason"]
    return reason


def _send(secure_hub: SecureHub, authorization: str | None) -> httpx.Response:
    headers = {} if authorization is None else {"authorization": authorization}
    return secure_hub.client.post("/graphql", json={"query": QUERY}, headers=headers)


def _flip(text: str, index: int) -> str:
    """`text` with the character at `index` replaced by another of the base64url alphabet."""
    old = text[index]
    new = "B" if old == "A" else "A"
    return text[:index] + new + text[index + 1 :]


def _claims_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return loaded


def _forged(token: str, **changes: Any) -> str:
    """The token with its claims rewritten and its MAC kept: what an attacker can make."""
    prefix, _, mac = token.split(".")
    claims = {**_claims_of(token), **changes}
    body = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()).decode().rstrip("=")
    return f"{prefix}.{body}.{mac}"


def test_a_good_token_is_let_in(secure_hub: SecureHub) -> None:
    response = _send(secure_hub, f"Bearer {secure_hub.roles['district'].token}")
    assert response.status_code == 200
    assert response.json() == {"data": {"place": {"code": "370202", "name": "市南区"}}}


BAD_HEADERS = {
    "missing": (None, "missing bearer token"),
    "empty": ("", "missing bearer token"),
    "wrong scheme": ("Basic dXNlcjpwYXNz", "malformed Authorization header"),
    "scheme only": ("Bearer", "malformed Authorization header"),
    "token without scheme": ("hub1.abc.def", "malformed Authorization header"),
    "not a token": ("Bearer abc", "malformed token"),
    "three parts of garbage": ("Bearer x.y.z", "malformed token"),
    "four parts": ("Bearer hub1.a.b.c", "malformed token"),
    "not base64": ("Bearer hub1.!!!.###", "malformed token: not base64url"),
    "empty claims": ("Bearer hub1.e30.AAAA", "signature does not match"),
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_missing_and_malformed_tokens_are_refused(secure_hub: SecureHub, case: str) -> None:
    header, reason = BAD_HEADERS[case]
    assert reason in _refused(_send(secure_hub, header))


def test_a_token_with_altered_claims_is_refused(secure_hub: SecureHub) -> None:
    token = secure_hub.roles["street"].token
    prefix, claims, mac = token.split(".")
    for index in (0, len(claims) // 2, len(claims) - 1):
        reason = _refused(_send(secure_hub, f"Bearer {prefix}.{_flip(claims, index)}.{mac}"))
        assert "signature does not match" in reason
    # widening the scope (or the role) by rewriting the claims is what the MAC is there to stop
    for changes in ({"scope": "370200"}, {"role": "admin", "scope": "*"}, {"exp": 4102444800}):
        assert "signature does not match" in _refused(_send(secure_hub, f"Bearer {_forged(token, **changes)}"))


def test_a_token_with_an_altered_mac_is_refused(secure_hub: SecureHub) -> None:
    """Every change of the MAC is refused, its last character too: base64 decoding ignores
    that character's spare bits, so a lenient check would accept four spellings of one MAC."""
    token = secure_hub.roles["street"].token
    prefix, claims, mac = token.split(".")
    for index in (0, len(mac) // 2, len(mac) - 1):
        assert "signature does not match" in _refused(_send(secure_hub, f"Bearer {prefix}.{claims}.{_flip(mac, index)}"))
    # 32 bytes are 43 characters, the last carrying 4 bits and 2 spare ones: its three
    # neighbours in the alphabet that differ only in the spare bits decode to the same bytes
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    base = alphabet.index(mac[-1]) & ~3
    twins = [alphabet[base + spare] for spare in range(4) if alphabet[base + spare] != mac[-1]]
    assert len(twins) == 3 and len(base64.urlsafe_b64decode(mac + "=")) == 32
    for twin in twins:
        spelled = f"{prefix}.{claims}.{mac[:-1]}{twin}"
        assert "signature does not match" in _refused(_send(secure_hub, f"Bearer {spelled}"))
    for extra in ("=", "==", "!", " x"):
        assert _send(secure_hub, f"Bearer {prefix}.{claims}.{mac}{extra}").status_code == 401


def test_a_token_of_another_hub_is_refused(secure_hub: SecureHub) -> None:
    other = Keyring.generate()
    now = dt.datetime.now(dt.timezone.utc)
    role = secure_hub.roles["street"]
    forged = encode(other.token_key, Claims(role.token_id, "admin", "*", "intruder", now, now + dt.timedelta(hours=1)))
    assert "signature does not match" in _refused(_send(secure_hub, f"Bearer {forged}"))


def test_an_expired_token_is_refused(secure_hub: SecureHub) -> None:
    then = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
    token = secure_hub.run(
        issue_token(secure_hub.store, secure_hub.keys, "street", "370202001", "expired", dt.timedelta(days=1), now=then)
    )
    reason = _refused(_send(secure_hub, f"Bearer {token}"))
    assert reason.startswith("token expired at ")
    assert (then + dt.timedelta(days=1)).date().isoformat() in reason


def test_a_short_lived_token_stops_working(secure_hub: SecureHub) -> None:
    token = secure_hub.run(
        issue_token(secure_hub.store, secure_hub.keys, "street", "370202001", "brief", dt.timedelta(seconds=1))
    )
    deadline = time.monotonic() + 5
    while _send(secure_hub, f"Bearer {token}").status_code == 200:
        assert time.monotonic() < deadline, "a one-second token still works after five seconds"
        time.sleep(0.2)
    assert _refused(_send(secure_hub, f"Bearer {token}")).startswith("token expired at ")


def test_a_revoked_token_is_refused(secure_hub: SecureHub) -> None:
    store, keys = secure_hub.store, secure_hub.keys
    token = secure_hub.run(issue_token(store, keys, "community", secure_hub.cast.community, "revoked later", dt.timedelta(days=1)))
    assert _send(secure_hub, f"Bearer {token}").status_code == 200
    token_id = next(record.id for record in secure_hub.run(store.tokens()) if record.name == "revoked later")
    secure_hub.run(revoke_token(store, token_id, "lost laptop"))
    started = time.monotonic()
    while _send(secure_hub, f"Bearer {token}").status_code == 200:
        assert time.monotonic() - started < REVOCATION_SECONDS + 3, "the revoked token still works"
        time.sleep(0.1)
    reason = _refused(_send(secure_hub, f"Bearer {token}"))
    assert reason.startswith(f"token {token_id} was revoked at ")
    # the other tokens are untouched
    assert _send(secure_hub, f"Bearer {secure_hub.roles['community'].token}").status_code == 200


def test_queries_over_get_need_a_token_too(secure_hub: SecureHub) -> None:
    """The GraphiQL page is public; a GET carrying a query is a query, even one that accepts
    HTML (strawberry would run it): without a token it is refused."""
    page = secure_hub.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    for query in ("{ levels { level } }", QUERY, "{ __schema { queryType { name } } }", ""):
        for accept in ("text/html", "application/json", "*/*"):
            response = secure_hub.client.get("/graphql", params={"query": query}, headers={"accept": accept})
            assert "missing bearer token" in _refused(response), (query, accept)
    allowed = secure_hub.client.get(
        "/graphql",
        params={"query": QUERY},
        headers={"accept": "application/json", "authorization": f"Bearer {secure_hub.roles['district'].token}"},
    )
    assert allowed.status_code == 200 and allowed.json()["data"]["place"]["code"] == "370202"


def test_logins_and_refusals_are_audited(secure_hub: SecureHub) -> None:
    store = secure_hub.store
    token = secure_hub.run(issue_token(store, secure_hub.keys, "street", "370202001", "audited login", dt.timedelta(hours=1)))
    token_id = next(record.id for record in secure_hub.run(store.tokens()) if record.name == "audited login")
    [before] = secure_hub.run(store.audit_tail(1))
    assert _send(secure_hub, f"Bearer {token}").status_code == 200
    assert _send(secure_hub, f"Bearer {token}").status_code == 200
    assert _send(secure_hub, "Bearer hub1.x.y").status_code == 401
    entries = secure_hub.run(store.audit_entries(after=before.seq))
    logins = [entry for entry in entries if entry.action == "login" and entry.target == token_id]
    assert len(logins) == 1  # a token's first request is its login; later ones are not logins
    [login] = logins
    assert login.actor == "audited login" and login.role == "street"
    assert login.detail["scope"] == "370202001" and login.detail["client"] == "127.0.0.1"
    refused = [entry for entry in entries if entry.action == "login.refused"]
    assert len(refused) == 1
    assert refused[0].actor == "127.0.0.1" and "malformed token" in refused[0].detail["reason"]
    issued = [entry for entry in secure_hub.run(store.audit_tail(200)) if entry.action == "token.issue" and entry.target == token_id]
    assert len(issued) == 1 and issued[0].detail["scope"] == "370202001"


# -- open subscriptions end with their token ------------------------------------------------

CLOSE_WITHIN = 2.0
"""The README's promise: a revoked token stops working within two seconds, open sockets too."""
CASE_UPDATES = "subscription($s: String!) { caseUpdates(scope: $s) { kind case { id } } }"


@contextlib.contextmanager
def _events(secure_hub: SecureHub) -> Iterator[None]:
    """A case of the street moves every 50 ms on the served app's bus while the block runs, so
    an open subscription would go on hearing of it."""
    assert secure_hub.bus is not None
    bus, stop = secure_hub.bus, threading.Event()

    async def keep_publishing() -> None:
        while not stop.is_set():
            bus.publish(Event(Topic.CASES, CASE_HOUSE, "moved", secure_hub.world.cases[CASE_HOUSE]))
            await asyncio.sleep(0.05)

    running = asyncio.run_coroutine_threadsafe(keep_publishing(), secure_hub.loop)
    try:
        yield
    finally:
        stop.set()
        running.result(10)


async def _until_closed(client: LiveClient, within: float = 10.0) -> tuple[float, int, str, list[dict[str, Any]]]:
    """Every frame until the server closes the socket: (when, close code, reason, frames); fails
    when the socket is still open `within` seconds from now."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while True:
        try:
            frames.append(await client.receive(max(0.01, deadline - time.monotonic())))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the client, not the server, closed the socket"
            return time.monotonic(), closed.rcvd.code, closed.rcvd.reason, frames
        except TimeoutError:
            pass
        assert time.monotonic() < deadline, f"the socket is still open after {within:g} s, {len(frames)} events later"


async def _listening(secure_hub: SecureHub, before: int) -> None:
    for _ in range(250):
        if secure_hub.bus is not None and secure_hub.bus.listeners(Topic.CASES) > before:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the subscription never listened")


def _revoke_with_the_cli(secure_hub: SecureHub, token_id: str, folder: Path) -> None:
    """`hub token revoke ID`, a process of its own on the suite's database."""
    keys = folder / "hub.keys"
    if not keys.exists():
        secure_hub.keys.save(keys)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hub")), "token", "revoke", token_id, "--reason", "离职",
         "--db", f"sqlite:///{secure_hub.database}", "--keys", str(keys)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("how", ["header and cli", "connection_init and store"])
async def test_a_revoked_tokens_subscriptions_are_closed_within_two_seconds(
    secure_hub: SecureHub, tmp_path: Path, how: str
) -> None:
    """A street office's socket hears its street's cases; its token is revoked (by `hub token
    revoke` in another process, or through the store): within two seconds every subscription
    stops and the socket is closed with 4403 and the reason, the last frame it gets; the hub
    stops listening for it; and the token opens no socket any more."""
    store, keys = secure_hub.store, secure_hub.keys
    name = f"live revoked {how}"
    token = secure_hub.run(issue_token(store, keys, "street", STREET, name, dt.timedelta(hours=1)))
    token_id = next(record.id for record in secure_hub.run(store.tokens()) if record.name == name)
    by_header = how.startswith("header")
    assert secure_hub.bus is not None
    before = secure_hub.bus.listeners(Topic.CASES)
    with _events(secure_hub):
        async with live(secure_hub.url, {"Authorization": f"Bearer {token}"} if by_header else None) as client:
            assert (await client.init(None if by_header else token))["type"] == "connection_ack"
            key = await client.subscribe(CASE_UPDATES, {"s": STREET})
            await _listening(secure_hub, before)
            heard = await client.next_data(key)
            assert heard["caseUpdates"]["case"]["id"] == CASE_HOUSE  # the control: it does hear
            if by_header:
                await asyncio.to_thread(_revoke_with_the_cli, secure_hub, token_id, tmp_path)
            else:
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(revoke_token(store, token_id, "离职"), secure_hub.loop))
            revoked = time.monotonic()
            closed, code, reason, frames = await _until_closed(client)
    assert code == 4403 and reason.startswith(f"token {token_id} was revoked at "), (code, reason)
    assert closed - revoked < CLOSE_WITHIN, f"closed {closed - revoked:.2f} s after the revocation"
    assert all(frame["type"] == "next" and frame["id"] == key for frame in frames), frames
    assert secure_hub.bus.listeners(Topic.CASES) == before  # nothing listens for it any more
    async with live(secure_hub.url) as again:
        with pytest.raises(ConnectionClosed) as refused:
            await again.init(token)
            await again.receive(5)
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4403


async def test_an_expiring_tokens_subscriptions_are_closed_when_it_expires(secure_hub: SecureHub) -> None:
    """A token that expires while its socket is open: closed with 4403 within two seconds of
    the expiry, saying so, and not before."""
    store, keys = secure_hub.store, secure_hub.keys
    token = secure_hub.run(issue_token(store, keys, "street", STREET, "live expiring", dt.timedelta(seconds=3)))
    expires = _claims_of(token)["exp"]
    assert secure_hub.bus is not None
    before = secure_hub.bus.listeners(Topic.CASES)
    with _events(secure_hub):
        async with live(secure_hub.url) as client:
            assert (await client.init(token))["type"] == "connection_ack"
            key = await client.subscribe(CASE_UPDATES, {"s": STREET})
            await _listening(secure_hub, before)
            await client.next_data(key)
            _, code, reason, frames = await _until_closed(client)
            closed = time.time()
    assert code == 4403 and reason.startswith("token expired at "), (code, reason)
    assert expires <= closed < expires + CLOSE_WITHIN, (expires, closed)
    assert frames and all(frame["type"] == "next" for frame in frames)
    assert secure_hub.bus.listeners(Topic.CASES) == before


async def test_a_revoked_tokens_multipart_subscription_ends_within_two_seconds(secure_hub: SecureHub) -> None:
    """A subscription streamed over HTTP (multipart/mixed, what GraphiQL uses) ends too: within
    two seconds of the revocation, its last part says why and the closing boundary follows; no
    event comes after it."""
    store, keys = secure_hub.store, secure_hub.keys
    token = secure_hub.run(issue_token(store, keys, "street", STREET, "multipart revoked", dt.timedelta(hours=1)))
    token_id = next(record.id for record in secure_hub.run(store.tokens()) if record.name == "multipart revoked")
    headers = {"authorization": f"Bearer {token}", "accept": 'multipart/mixed;subscriptionSpec="1.0"'}
    with _events(secure_hub):
        async with httpx.AsyncClient(base_url=secure_hub.url, timeout=30, trust_env=False) as http:
            async with http.stream("POST", "/graphql", json={"query": CASE_UPDATES, "variables": {"s": STREET}}, headers=headers) as response:
                assert response.status_code == 200 and response.headers["content-type"].startswith("multipart/mixed")
                chunks = response.aiter_text()
                heard = ""
                while '"payload"' not in heard:  # the control: it does hear
                    heard += await asyncio.wait_for(chunks.__anext__(), 10)
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(revoke_token(store, token_id, "离职"), secure_hub.loop))
                revoked = time.monotonic()

                async def rest() -> str:
                    return "".join([chunk async for chunk in chunks])

                tail = await asyncio.wait_for(rest(), 10)
                ended = time.monotonic()
    assert ended - revoked < CLOSE_WITHIN, f"ended {ended - revoked:.2f} s after the revocation"
    stream = heard + tail  # parsed whole: a chunk may end in the middle of a part
    assert stream.endswith("\r\n--graphql--\r\n"), stream[-200:]
    parts = [json.loads(part.split("\r\n\r\n", 1)[1]) for part in stream.split("\r\n--graphql") if "\r\n\r\n" in part]
    assert any(part.get("payload") for part in parts)
    last = parts[-1]
    assert last["payload"] is None and last["errors"][0]["message"].startswith(f"token {token_id} was revoked at "), last
    assert all(part.get("payload") is None or "data" in part["payload"] for part in parts)
