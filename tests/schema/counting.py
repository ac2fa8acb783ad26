"""A store proxy that counts calls per method, and can be told to fail, for the API's tests.

Counting the store calls a query makes is how the tests prove the DataLoaders work: the number
must not grow with the page size. `fail_with` makes every call raise, to see that unexpected
errors reach the client masked.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Awaitable
from typing import Any

from graph.store import Store


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


