"""graphql-transport-ws connections that end when their token does.

A WebSocket is authenticated once (by the gate from its Authorization header, or from its
`connection_init` payload) and may then carry subscriptions for hours. A revoked token must not
go on hearing events: once the connection is acknowledged its principal is watched
(`Authenticator.watch`), and when the token is revoked or expires every operation of the
connection is stopped and the socket closed with 4403 and the reason, within the two seconds a
request with that token would be refused in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from schema.context import Context

if TYPE_CHECKING:
    from hub.auth.authentication import Authenticator

REVOKED = 4403
"""The close code of a connection whose token was revoked or expired (graphql-transport-ws's
Forbidden, as for a token refused at `connection_init`)."""
MAX_REASON_BYTES = 123
"""A close frame's reason is at most 123 bytes of UTF-8."""


def close_reason(text: str) -> str:
    """`text` cut to fit a close frame, on a character boundary."""
    return text.encode("utf-8")[:MAX_REASON_BYTES].decode("utf-8", "ignore")


class WatchedConnection(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler, closing the connection when its token ends."""

    _stop_watching: Callable[[], None] | None = None

    def _authenticator(self) -> Authenticator | None:
        authenticator: Authenticator | None = getattr(self.view, "authenticator", None)
        return authenticator

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        authenticator = self._authenticator()
        principal = self.context.principal
        # the hub's own principals (no token: tests of the schema, tools) have nothing to revoke
        if self.connection_acknowledged and authenticator is not None and principal.expires_at is not None:
            self._stop_watching = authenticator.watch(principal, self.token_ended)

    async def token_ended(self, reason: str) -> None:
        """Stop every operation and wait until each has stopped, so nothing more is sent after
        the close, then close with the reason."""
        tasks = [operation.task for operation in self.operations.values() if operation.task is not None]
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await self.websocket.close(code=REVOKED, reason=close_reason(reason))

    async def shutdown(self) -> None:
        if self._stop_watching is not None:
            self._stop_watching()
            self._stop_watching = None
        await super().shutdown()
