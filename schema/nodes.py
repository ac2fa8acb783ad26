"""`node(id:)` and `nodes(ids:)`: any place, house, owner or firm by its Relay global id.

The type name inside the id picks the loader; the key is checked like any other input, so a
forged id gets the same clear error as a malformed code. A well-formed id of something absent
or outside the caller's scope resolves to null, never to an error that would reveal it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Literal

import strawberry

from graph.codes import CreditCode, place_code
from graph.errors import InvalidInput
from schema.context import Info
from schema.fields import field
from schema.firms.types import PropertyFirm
from schema.owners.types import Owner
from schema.places.types import PLACE_TYPES, maybe_place
from schema.relay import Node, decode_global_id

_LEVEL_OF_TYPE = {kind.__name__: level for level, kind in PLACE_TYPES.items()}
_MAX_OWNER_ID = 64
MAX_NODES = 100


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A checked global id: which loader to ask (`place`, `owner`, `firm`) and the key."""

    kind: Literal["place", "owner", "firm"]
    key: str


def parse_node_id(global_id: str, *, argument: str) -> NodeRef:
    """The loader and key a global id names; a malformed or forged id is refused."""
    type_name, key = decode_global_id(global_id, field=argument)
    if type_name in _LEVEL_OF_TYPE:
        code, level = place_code(key, field=argument)
        if level != _LEVEL_OF_TYPE[type_name]:
            raise InvalidInput(argument, global_id, f"names a {type_name} but holds a {level.name} code")
        return NodeRef("place", code)
    if type_name == "Owner":
        if len(key) > _MAX_OWNER_ID:
            raise InvalidInput(argument, global_id, "holds an owner id longer than any the hub makes")
        return NodeRef("owner", key)
    if type_name == "PropertyFirm":
        return NodeRef("firm", str(CreditCode.parse(key, field=argument)))
    raise InvalidInput(argument, global_id, f"names an unknown type {type_name!r}")


async def load_node(info: Info, ref: NodeRef) -> Node | None:
    context = info.context
    if ref.kind == "place":
        return maybe_place(await context.places.by_code.load(ref.key))
    if ref.kind == "owner":
        owner = await context.owners.by_id.load(ref.key)
        return None if owner is None else Owner.of(owner)
    firm = await context.firms.by_code.load(ref.key)
    return None if firm is None else PropertyFirm.of(firm)


@strawberry.type
class NodeQueries:
    @field(description="Any object by its global id; null if none is seen.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, parse_node_id(id, argument="id"))

    @field(description=f"Objects by global id, in order, null where none; at most {MAX_NODES}.")
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids.")],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise InvalidInput("ids", f"{len(ids)} ids", f"may hold at most {MAX_NODES}")
        refs = [parse_node_id(id, argument="ids") for id in ids]
        return list(await asyncio.gather(*(load_node(info, ref) for ref in refs)))
