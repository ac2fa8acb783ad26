"""Session-long instances of a backend-parametrised session fixture (a served hub, say).

pytest sets a parametrised session fixture up again each time the param its tests use changes,
and under `--dist loadfile` it changes at every module: a worker runs one module's tests on
SQLite and then on FalkorDB, then the next module's on SQLite again, building a hub each time
(8-11 s each for the security suites' world). A fixture that takes its instance from `Kept`
builds it once per worker and backend, as `pytest -n 0` already does; the instances are closed
when the session ends, before the servers they use (see tests/conftest.py `kept`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager, ExitStack
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


class Kept:
    """Context managers entered once by key, all exited by `close` (last entered, first exited)."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._values: dict[Hashable, Any] = {}

    def get(self, key: Hashable, make: Callable[[], AbstractContextManager[T]]) -> T:
        """The value `make()` entered for `key`, entering it on the first call."""
        if key not in self._values:
            self._values[key] = self._stack.enter_context(make())
        value: T = self._values[key]
        return value

    def close(self) -> None:
        self._values.clear()
        self._stack.close()


def kept(backend: str, request: pytest.FixtureRequest) -> Kept:
    """The session's instances on `backend`, closed before that backend's server stops: the
    fixture `kept_<backend>` (tests/conftest.py), which depends on the server it needs."""
    found: Kept = request.getfixturevalue(f"kept_{backend}")
    return found
