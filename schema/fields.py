"""`@field(description=...)`: strawberry's field decorator, typed for mypy --strict.

Strawberry types the bare `@strawberry.field` but returns `Any` from `strawberry.field(...)`
with arguments, which strict mypy rejects as an untyped decorator. This keeps the resolver's
own signature visible to the type checker; at runtime it is exactly `strawberry.field`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

Resolver = TypeVar("Resolver", bound=Callable[..., Any])


def field(*, description: str) -> Callable[[Resolver], Resolver]:
    return cast(Callable[[Resolver], Resolver], strawberry.field(description=description))


def subscription(*, description: str) -> Callable[[Resolver], Resolver]:
    """`strawberry.subscription(description=...)`, typed the same way."""
    return cast(Callable[[Resolver], Resolver], strawberry.subscription(description=description))
