"""A store proxy that counts calls per method, and can be told to fail, for the API's tests.

Counting the store calls a query makes is how the tests prove the DataLoaders work: the number
must not grow with the page size. `fail_with` makes every call raise, to see that unexpected
errors reach the client masked. `serve_counting` serves the hub over one.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any, cast

from graph.ciphers.keyring import Keyring
from graph.sql import SqlStore
from graph.store import Store
from hub.app import create_app
from hub.auth.authentication import Authenticator
from hub.limits import Limits
from tests.serving import serve_app


class CountingStore:
    """Forwards every method to `store`, counting the calls (thread-safe: the server runs apart)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.fail_with: Exception | None = None

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.calls)

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if name.startswith("_") or not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Awaitable[Any]:
            with self._lock:
                self.calls[name] += 1
            if self.fail_with is not None and name != "close":
                raise self.fail_with
            result: Awaitable[Any] = target(*args, **kwargs)
            return result

        return counted




async def serve_counting(store: SqlStore, keys: Keyring, sock: socket.socket, started: dict[str, Any], **shared: Any) -> None:
    """Serve the hub over a `CountingStore` of `store` (shared as `store`, with `shared`), as
    `tests.serving.serve_app` does. The gate reads tokens through `store` itself, so the counter
    sees only the schema's reads; the rate limit is lifted, since the suites send queries fast
    (tests/security covers 429)."""
    counting = CountingStore(store)
    app = create_app(
        cast(Store, counting),
        keys=keys,
        owns_store=True,
        authenticator=Authenticator(store, keys),
        limits=replace(Limits(), rate=1e6, burst=1_000_000),
    )
    await serve_app(app, sock, started, store=counting, **shared)
