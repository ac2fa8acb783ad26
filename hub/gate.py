"""The gate in front of the API (plain ASGI middleware): body size, authentication, rate limit,
and the last word on failures.

What passes carries its `Caller` (principal and scope) in `scope["state"]["caller"]`; what does
not gets a JSON error with the reason: 413, 401 (with `WWW-Authenticate`), or 429 (with
`Retry-After`). Public paths (health, static files, the GraphiQL page itself, the map and voting
pages whose data comes through `/graphql` with the user's token) pass untouched. A multipart
subscription stream is served only while its token stands: revoked or expired, the stream ends
with a last part saying why (WebSockets are closed by hub.sockets).

Whatever fails behind the gate, or in it (an audit append that found the store busy), is logged
here and answered with a JSON error the client can read: 503 with `Retry-After` when the store
was busy (graph.errors.StoreBusy: nothing was written, the same request may pass in a moment),
500 `internal error` otherwise, never a trace and never a dropped connection. A WebSocket is
closed with 1011 instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.http.streaming import MultipartSubscriptionTransport

from graph.errors import StoreBusy
from hub.auth.authentication import Authenticator, Caller
from hub.auth.tokens import TokenError
from hub.limits import Limiter, Limits, RateLimiter, retry_after

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 1
INTERNAL_MESSAGE = "internal error"


def failure(error: BaseException) -> tuple[int, dict[str, str], dict[str, str]]:
    """The status, JSON body and headers that answer a request that failed with `error`."""
    if isinstance(error, StoreBusy):
        return 503, {"error": "busy", "reason": str(error)}, {"retry-after": str(BUSY_RETRY_SECONDS)}
    return 500, {"error": INTERNAL_MESSAGE, "reason": INTERNAL_MESSAGE}, {}


async def failed_response(_: Request, error: Exception) -> Response:
    """Starlette's handler for exceptions its routes raise (its own would answer text/plain)."""
    status, body, headers = failure(error)
    return JSONResponse(body, status_code=status, headers=headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _refuse(send: Send, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
    label = {401: "unauthorized", 413: "too large", 429: "too many requests"}.get(status, "refused")
    await _respond(send, status, {"error": label, "reason": reason}, headers)


async def _respond(send: Send, status: int, answer: dict[str, str], headers: dict[str, str] | None = None) -> None:
    body = json.dumps(answer, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    raw += [(key.encode(), value.encode("latin-1")) for key, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Gate:
    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        limits: Limits,
        *,
        callers: Limiter | None = None,
        strangers: Limiter | None = None,
    ) -> None:
        """`callers` counts requests per token, `strangers` refused ones per address: in this
        process unless given (hub.limits.limiter: in the hub's Redis)."""
        self.app = app
        self.authenticator = authenticator
        self.limits = limits
        self.callers: Limiter = callers or RateLimiter(limits.rate, limits.burst)
        self.strangers: Limiter = strangers or RateLimiter(limits.rate, limits.burst)

    @staticmethod
    def _public(scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if path in ("/", "/healthz", "/map", "/map/", "/vote", "/vote/", "/funds", "/funds/") or path.startswith("/static/"):
            return True
        if path != "/graphql" or scope.get("method") != "GET":
            return False
        # The GraphiQL page itself is public; a GET that carries a query is a query, whatever
        # it accepts, and needs a token like any other (strawberry runs it if `query` is given).
        arguments = urllib.parse.parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True)
        return "text/html" in (_header(scope, b"accept") or "") and "query" not in arguments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] in ("http.response.start", "websocket.accept", "websocket.close")
            await send(message)

        try:
            await self._pass(scope, receive, tracked)
        except Exception as error:  # the last word: see the module docstring
            what = f"{scope.get('method', 'WEBSOCKET')} {scope.get('path', '')}"
            if isinstance(error, StoreBusy):
                log.warning("%s answered busy: %s", what, error)
            else:
                log.error("%s failed", what, exc_info=error)
            if scope["type"] == "websocket":
                with contextlib.suppress(Exception):  # the socket may be closed already
                    await send({"type": "websocket.close", "code": 1011, "reason": INTERNAL_MESSAGE})
                return
            if started:
                return  # answered already (Starlette's handler sent the JSON error)
            status, body, headers = failure(error)
            await _respond(send, status, body, headers)

    async def _pass(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._public(scope):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("", 0)
        address = str(client[0])
        body: _Body | None = None
        if scope["type"] == "http":
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > self.limits.body_bytes:
                await _refuse(send, 413, f"request body over {self.limits.body_bytes} bytes")
                return
            body = _Body(receive, self.limits.body_bytes)
            receive = body.receive
        authorization = _header(scope, b"authorization")
        if authorization is None and scope["type"] == "websocket" and scope.get("path") == "/graphql":
            # a browser cannot send headers with a WebSocket: the GraphQL view authenticates the
            # token of its `connection_init` message before it acknowledges the connection, and
            # until then the connection reads nothing (hub.app.HubGraphQL.on_ws_connect)
            await self.app(scope, receive, send)
            return
        if authorization is None and str(scope.get("path", "")).startswith("/open311/"):
            try:
                key, receive = await _api_key(scope, receive)
            except _TooLarge:
                await _refuse(send, 413, f"request body over {self.limits.body_bytes} bytes")
                return
            authorization = f"Bearer {key}" if key else None
        try:
            caller = await self.authenticator.authenticate(authorization, client=address)
        except TokenError as error:
            wait = await self.strangers.take(address)
            if wait:
                await _refuse(send, 429, "too many refused requests from this address", {"retry-after": retry_after(wait)})
                return
            await self.authenticator.refused(error, client=address)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4401, "reason": str(error)[:120]})
                return
            await _refuse(send, 401, str(error), {"www-authenticate": f'Bearer error="invalid_token", error_description="{error}"'.encode("utf-8").decode("latin-1")})
            return
        wait = await self.callers.take(caller.principal.token_id)
        if wait:
            await _refuse(send, 429, f"over {self.limits.rate:g} requests per second", {"retry-after": retry_after(wait)})
            return
        scope.setdefault("state", {})["caller"] = caller
        if body is None:
            await self.app(scope, receive, send)
            return
        bounded: _Body = body
        started = False

        async def answer(message: Message) -> None:
            # once the body is over the limit the 413 below is the answer, not the app's (whose
            # error middleware would already have sent a 500 for the exception it saw)
            nonlocal started
            if bounded.over:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            if _streamed(scope):
                await self._while_valid(caller, scope, receive, answer)
            else:
                await self.app(scope, receive, answer)
        except Exception:
            if not bounded.over:
                raise
        if bounded.over and not started:
            await _refuse(send, 413, f"request body over {self.limits.body_bytes} bytes")

    async def _while_valid(self, caller: Caller, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a response that may stream for hours (a multipart subscription) only while its
        token stands: once it is revoked or expires (Authenticator.watch), the stream ends with
        a last part saying why and the closing boundary."""
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        serving = asyncio.ensure_future(self.app(scope, receive, sending))
        ended: list[str] = []

        async def end(reason: str) -> None:
            ended.append(reason)
            serving.cancel()

        stop = self.authenticator.watch(caller.principal, end)
        try:
            await serving
        except asyncio.CancelledError:
            if not ended:
                raise
        finally:
            stop()
        if not ended:
            return
        if not started:
            await _refuse(send, 401, ended[0])
            return
        stream = MultipartSubscriptionTransport()
        last = stream.encode_multipart_data({"payload": None, "errors": [{"message": ended[0]}]}, json.dumps) + stream.encode_complete()
        await send({"type": "http.response.body", "body": last.encode("utf-8"), "more_body": False})


def _streamed(scope: Scope) -> bool:
    """Whether a request asks for a multipart subscription stream (what GraphiQL sends)."""
    return "multipart/mixed" in (_header(scope, b"accept") or "").lower()


async def _api_key(scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
    """Open311 clients send their key as `api_key` in the query or, on POST, in the form: the
    key and a receive that replays the form (read here, within the body limit)."""
    query = urllib.parse.parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    if query.get("api_key"):
        return query["api_key"][-1], receive
    kind = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if scope.get("method") != "POST" or kind != "application/x-www-form-urlencoded":
        return None, receive
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    return (form["api_key"][-1] if form.get("api_key") else None), replay


class _Body:
    """A receive that stops a body sent without Content-Length (chunked) at the limit."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self.limit = limit
        self.seen = 0
        self.over = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                self.over = True
                raise _TooLarge
        return message


class _TooLarge(Exception):
    pass
