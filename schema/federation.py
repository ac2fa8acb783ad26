"""The hub as an Apollo Federation v2 subgraph: `_service { sdl }` and `_entities`.

Entities are keyed by the codes the hub already speaks: every place type by `code` (GB/T 2260,
statistical code, hub estate code, 不动产单元号), `Device` and `PropertyFirm` by `code`, `Case` by
`id`. Each entity type has a `resolve_reference(info, <key>)` classmethod that checks the key
and reads through the request's DataLoaders, so `_entities` is scoped exactly like every other
read (a foreign or unknown key is null) and a gateway's batch of representations costs one store
call per kind of entity, not one per representation.

A gateway sends representations such as

    {"__typename": "Estate", "code": "370202001001E001"}

and gets the entities back in the same order; a malformed representation (an unknown type, a
missing key, a code of the wrong level) gets the hub's clear error at its own index
(`path: ["_entities", 3]`) while the others still resolve.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import AddValidationRules
from strawberry.federation.schema import FederationAny

from graph.errors import InvalidInput
from graph.store import MAX_PAGE
from schema.context import Info

FIELD = "representations"
"""What errors about a representation name as the faulty input."""
MAX_REPRESENTATIONS = MAX_PAGE
"""A gateway asks for at most this many entities in one `_entities` call: a page of the hub's
biggest size, each with a field of another subgraph, still fits."""

Resolver = Callable[..., Awaitable[Any]]


def entity_keys(types: Mapping[str, type]) -> dict[str, tuple[str, Resolver]]:
    """Type name → (its key field, its `resolve_reference`), for the types keyed with `@key`."""
    from strawberry.federation.schema_directives import Key

    found: dict[str, tuple[str, Resolver]] = {}
    for name, kind in types.items():
        definition = getattr(kind, "__strawberry_definition__", None)
        keys = [directive for directive in getattr(definition, "directives", None) or [] if isinstance(directive, Key)]
        if not keys:
            continue
        resolver = getattr(kind, "resolve_reference", None)
        if resolver is None:
            raise TypeError(f"{name} has @key but no resolve_reference")
        found[name] = (str(keys[0].fields), resolver)
    return found


def _index_error(index: int, value: object, rule: str) -> InvalidInput:
    return InvalidInput(f"{FIELD}[{index}]", value, rule)


def _checked(index: int, representation: object, entities: Mapping[str, tuple[str, Resolver]]) -> tuple[Resolver, str, Any]:
    """The resolver, key name and key value of one representation; anything else is refused."""
    if not isinstance(representation, dict):
        raise _index_error(index, representation, 'must be an object such as {"__typename": "Estate", "code": "…"}')
    type_name = representation.get("__typename")
    if not isinstance(type_name, str) or type_name not in entities:
        raise _index_error(
            index, type_name, f"is not an entity type of this subgraph: one of {', '.join(sorted(entities))}"
        )
    key, resolver = entities[type_name]
    if key not in representation:
        raise _index_error(index, representation, f"lacks the key field {key!r} of {type_name}")
    extra = sorted(set(representation) - {"__typename", key})
    if extra:
        raise _index_error(index, representation, f"carries fields {', '.join(extra)} that are not the key {key!r} of {type_name}")
    value = representation[key]
    if not isinstance(value, str):
        raise _index_error(index, value, f"the key {key!r} of {type_name} must be a string")
    return resolver, key, value


async def resolve_entities(
    info: Info, representations: list[Any], entities: Mapping[str, tuple[str, Resolver]]
) -> list[Any]:
    """The entity of each representation, in order: None where absent or out of the caller's
    scope, an error (shown at its index) where the representation is malformed.

    Every lookup is started before any is awaited, so the DataLoaders batch them."""
    if len(representations) > MAX_REPRESENTATIONS:
        raise InvalidInput(FIELD, f"{len(representations)} representations", f"may hold at most {MAX_REPRESENTATIONS}")

    async def one(index: int, representation: object) -> Any:
        resolver, key, value = _checked(index, representation, entities)
        return await resolver(info, **{key: value})

    # graphql-core reports an exception in a list at the item's own path and nulls that item
    return list(
        await asyncio.gather(
            *(one(index, representation) for index, representation in enumerate(representations)),
            return_exceptions=True,
        )
    )


class NoServiceSdl(ValidationRule):
    """Refuses `_service`: its SDL is the whole schema, so a hub with introspection off hides it
    too (gateways in front of such a hub compose from a supergraph made offline)."""

    def enter_field(self, node: FieldNode, *_args: object) -> None:
        parent = self.context.get_parent_type()
        if node.name.value == "_service" and parent is not None and parent is self.context.schema.query_type:
            self.report_error(
                GraphQLError("_service (the schema's SDL) is off on this hub, like introspection", [node])
            )


class DisableServiceSdl(AddValidationRules):
    def __init__(self) -> None:
        super().__init__([NoServiceSdl])


__all__ = ["DisableServiceSdl", "FederationAny", "MAX_REPRESENTATIONS", "entity_keys", "resolve_entities"]
