"""Relay plumbing: global ids, the `Node` interface, and connections over the store's pages.

A global id is base64 of `Type:key`, where the key is the national code (places, firms) or the
hub's owner id, so ids are stable across stores and deployments:

>>> encode_global_id("District", "370202")
'RGlzdHJpY3Q6MzcwMjAy'
>>> decode_global_id("RGlzdHJpY3Q6MzcwMjAy")
('District', '370202')

Connections wrap a `graph.model.Page`; edges carry `graph.cursors` cursors, and `totalCount`
is a resolver so the store counts only when the client asks for it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar, cast

import strawberry

from graph.cursors import encode_cursor
from graph.errors import InvalidInput
from graph.model import Page
from schema.fields import field

_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,40}")
_MAX_ID = 256


def encode_global_id(type_name: str, key: str) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode("ascii")


def decode_global_id(value: str, *, field: str = "id") -> tuple[str, str]:
    """The (type name, key) inside a global id; anything this hub did not make is refused."""
    text = ""
    if len(value) <= _MAX_ID:
        try:
            padded = value.strip() + "=" * (-len(value.strip()) % 4)
            text = base64.b64decode(padded.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            text = ""
    type_name, _, key = text.partition(":")
    if not _TYPE_NAME.fullmatch(type_name) or not key.strip() or not key.isprintable():
        raise InvalidInput(field, value, "is not a node id of this hub; pass an `id` it returned")
    return type_name, key


class Keyed(Protocol):
    """What every type implementing `Node` provides: the code or id it is known by."""

    def node_key(self) -> str: ...


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    @field(description="The global id: base64 of `Type:code` (or `Owner:ownerId`).")
    def id(self) -> strawberry.ID:
        keyed = cast(Keyed, self)  # places, houses, owners and firms each define node_key
        return strawberry.ID(encode_global_id(type(self).__name__, keyed.node_key()))


@strawberry.type(description="Where a page sits in its list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool = strawberry.field(
        description="True when the page was asked `after` a cursor (forward paging only)."
    )
    start_cursor: str | None
    end_cursor: str | None


NodeT = TypeVar("NodeT")
RecordT = TypeVar("RecordT")


@strawberry.type(description="One item of a connection with the cursor that points at it.")
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type(description="A page of a list ordered by code; continue with `after: endCursor`.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @field(description="How many items the whole list holds; counted only when asked.")
    async def total_count(self) -> int:
        return await self.counter()


COUNT_LIMIT = 100_000
"""Where `count_pages` stops counting a long list."""


async def count_pages(read: Callable[[str | None], Awaitable[Page[Any]]], *, limit: int | None = COUNT_LIMIT) -> int:
    """`totalCount` of a list the store only pages: `read(after)` is called a page at a time
    until the list ends or `limit` items (if any) are counted."""
    total, after = 0, None
    while True:
        page = await read(after)
        total += len(page.items)
        if not page.has_next or (limit is not None and total >= limit):
            return total
        after = page.end_cursor


async def _no_items() -> int:
    return 0


def empty_connection() -> Connection[NodeT]:
    """A connection with nothing in it, for lists that cannot hold anything (a house's children)."""
    info = PageInfo(has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=None)
    return Connection(edges=[], page_info=info, counter=_no_items)


def connection(
    page: Page[RecordT],
    *,
    key: Callable[[RecordT], str],
    wrap: Callable[[RecordT], NodeT],
    counter: Callable[[], Awaitable[int]],
    after: str | None,
) -> Connection[NodeT]:
    """A connection over one page of the store; `key` gives the code each edge's cursor holds."""
    edges = [Edge(cursor=encode_cursor(key(item)), node=wrap(item)) for item in page.items]
    start = page.start_cursor or (edges[0].cursor if edges else None)
    end = page.end_cursor or (edges[-1].cursor if edges else None)
    info = PageInfo(
        has_next_page=page.has_next,
        has_previous_page=after is not None,
        start_cursor=start,
        end_cursor=end,
    )
    return Connection(edges=edges, page_info=info, counter=counter)
