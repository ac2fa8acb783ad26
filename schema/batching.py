"""Turning a DataLoader's keys into as few store calls as possible.

Loader keys are tuples whose first part is a code (or owner id) and whose other parts are
arguments of the store's batch method (`as_of`, a page size and cursor). Keys that share their
arguments go to the store in one call; values come back in key order, as DataLoader requires.

>>> import asyncio
>>> async def fetch(codes, as_of):
...     return [f"{code}@{as_of}" for code in codes]
>>> asyncio.run(by_arguments([("a", 1), ("b", 2), ("c", 1)], fetch))
['a@1', 'b@2', 'c@1']
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

Args = TypeVar("Args")
Value = TypeVar("Value")


async def by_arguments(
    keys: Sequence[tuple[str, Args]],
    fetch: Callable[[list[str], Args], Awaitable[Sequence[Value]]],
) -> list[Value | Exception]:
    """`fetch(codes, arguments)` once per distinct arguments; the values in key order.

    Groups run one after the other: a SQLite store serves one writer and gains nothing from
    parallel reads on one request, and the number of groups is what the test for N+1 counts.
    A group that fails answers its own keys with the exception (DataLoader raises it to those
    callers only), so one bad date does not fail the other fields of the request.
    """
    groups: dict[Args, list[int]] = {}
    for index, (_, arguments) in enumerate(keys):
        groups.setdefault(arguments, []).append(index)
    values: dict[int, Value | Exception] = {}
    for arguments, indexes in groups.items():
        try:
            answers = await fetch([keys[index][0] for index in indexes], arguments)
            if len(answers) != len(indexes):
                raise RuntimeError(f"store answered {len(answers)} values for {len(indexes)} keys")
        except Exception as error:  # noqa: BLE001  (handed to the callers of these keys)
            values.update((index, error) for index in indexes)
        else:
            values.update(zip(indexes, answers, strict=True))
    return [values[index] for index in range(len(keys))]
