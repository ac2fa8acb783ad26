"""DataLoaders for the place tree, one set per request so caches never leak between callers.

Every list the store returns (children, subtrees, search hits, ancestors) primes `by_code`, so
following `parent` or opening a place already seen costs no further call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graph.levels import Level
from graph.model import Page, Place
from graph.scope import Scope
from graph.store import Store
from schema.batching import by_arguments

PageArgs = tuple[int, str | None]
"""A page request: its size and the cursor it continues after (None: from the start)."""

ChildrenKey = tuple[str, PageArgs]
CountKey = tuple[Level, str | None]


@dataclass(frozen=True, slots=True)
class PlaceLoaders:
    by_code: DataLoader[str, Place | None]
    children: DataLoader[ChildrenKey, Page[Place]]
    ancestors: DataLoader[str, list[Place]]
    counts: DataLoader[CountKey, int]

    @classmethod
    def create(cls, store: Store, scope: Scope) -> PlaceLoaders:
        async def load_places(codes: list[str]) -> list[Place | None]:
            return await store.places(codes, scope)

        by_code = DataLoader(load_fn=load_places)

        async def load_children(keys: list[ChildrenKey]) -> list[Page[Place] | Exception]:
            async def fetch(codes: list[str], page: PageArgs) -> list[Page[Place]]:
                first, after = page
                return await store.children(codes, scope, first, after)

            pages = await by_arguments(keys, fetch)
            for page in pages:
                if not isinstance(page, Exception):
                    prime(by_code, page.items)
            return pages

        async def load_ancestors(codes: list[str]) -> list[list[Place]]:
            lines = await store.ancestors(codes, scope)
            prime(by_code, (place for line in lines for place in line))
            return lines

        async def load_counts(keys: list[CountKey]) -> list[int]:
            # The port counts one (level, within) at a time; the loader at least asks once per key.
            return [await store.count(level, within, scope) for level, within in keys]

        return cls(
            by_code=by_code,
            children=DataLoader(load_fn=load_children),
            ancestors=DataLoader(load_fn=load_ancestors),
            counts=DataLoader(load_fn=load_counts),
        )

    def seen(self, places: Sequence[Place]) -> None:
        """Remember places a list returned, so later lookups by code are free."""
        prime(self.by_code, places)


def prime(loader: DataLoader[str, Place | None], places: Iterable[Place]) -> None:
    loader.prime_many({place.code: place for place in places})
