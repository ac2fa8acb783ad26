"""The domain of the hub: places, owners, firms and their codes, and the store port.

`graph` imports nothing from the other packages of the hub: sources and devices write
through it, the GraphQL schema reads through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph.store import Store


async def open_store(url: str, **options: Any) -> Store:
    """The store a URL names (SQLite, PostgreSQL, FalkorDB or Neo4j): see graph.opening."""
    from graph.opening import open_store as opening

    return await opening(url, **options)
