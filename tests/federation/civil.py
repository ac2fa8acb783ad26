"""A second subgraph for the federation tests: the civil affairs bureau's (民政) registry.

It knows nothing of the place tree: it extends the hub's `Estate` and `House` entities, keyed
by `code` like the hub's, with two fields of its own (residents registered, 网格员 the grid
member in charge), from a small registry of its own. It records every code a gateway asked it
about, so the tests can see that nothing outside the caller's scope ever reached it.

`broken_schema()` is the same subgraph with a mistake composition must refuse: it declares the
hub's `Estate.name` again, with another type and without `@shareable`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import strawberry
import strawberry.federation


@dataclass(frozen=True, slots=True)
class CivilRecord:
    """What the civil registry holds about one estate or house."""

    residents: int
    grid_member: str


@dataclass
class Registry:
    """The registry's records by place code, and the codes gateways asked about."""

    records: Mapping[str, CivilRecord]
    asked: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def look_up(self, code: str) -> CivilRecord | None:
        with self._lock:
            self.asked.append(code)
        return self.records.get(code)

    def forget(self) -> None:
        with self._lock:
            self.asked.clear()


def _keeper() -> str:
    return "青岛市民政局 (test registry)"


def civil_schema(registry: Registry) -> strawberry.federation.Schema:
    """The civil affairs subgraph over `registry`."""

    @strawberry.federation.type(keys=["code"], description="An estate, as the civil registry knows it.")
    class Estate:
        code: str
        residents_registered: int | None = strawberry.field(description="Residents with 户籍 registered here.")
        grid_member: str | None = strawberry.field(description="The 网格员 in charge.")

        @classmethod
        def resolve_reference(cls, code: str) -> Estate:
            found = registry.look_up(code)
            if found is None:
                return cls(code=code, residents_registered=None, grid_member=None)
            return cls(code=code, residents_registered=found.residents, grid_member=found.grid_member)

    @strawberry.federation.type(keys=["code"], description="A house, as the civil registry knows it.")
    class House:
        code: str
        residents_registered: int | None = strawberry.field(description="Residents with 户籍 registered here.")
        grid_member: str | None = strawberry.field(description="The 网格员 in charge.")

        @classmethod
        def resolve_reference(cls, code: str) -> House:
            found = registry.look_up(code)
            if found is None:
                return cls(code=code, residents_registered=None, grid_member=None)
            return cls(code=code, residents_registered=found.residents, grid_member=found.grid_member)

    @strawberry.type
    class Query:
        civil_registry: str = strawberry.field(resolver=_keeper, description="Who keeps this registry.")

    return strawberry.federation.Schema(query=Query, types=[Estate, House])


def broken_schema() -> strawberry.federation.Schema:
    """The civil subgraph with a field that clashes with the hub's `Estate.name: String!`."""

    @strawberry.federation.type(keys=["code"])
    class Estate:
        code: str
        name: int | None
        residents_registered: int | None

        @classmethod
        def resolve_reference(cls, code: str) -> Estate:
            return cls(code=code, name=None, residents_registered=None)

    @strawberry.type
    class Query:
        civil_registry: str = strawberry.field(resolver=_keeper, description="Who keeps this registry.")

    return strawberry.federation.Schema(query=Query, types=[Estate])
