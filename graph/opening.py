"""`open_store(url)`: the one place that picks a store adapter from a URL. Nothing else calls an
adapter's constructor: commands, the server, workers and tests all open stores here.

- a path or `sqlite://` URL, or `postgresql://`: the SQL store (graph.sql);
- `falkordb://host:port/graph`, `bolt://` or `neo4j://`: the Cypher store (graph.cypher).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from graph.ciphers.sealing import Sealer
from graph.clock import today
from graph.store import Store

GRAPH_SCHEMES = ("falkordb://", "bolt://", "neo4j://", "bolt+s://", "neo4j+s://", "bolt+ssc://", "neo4j+ssc://")


def is_graph_url(url: str) -> bool:
    return url.lower().startswith(GRAPH_SCHEMES)


async def open_store(
    url: str, *, sealer: Sealer, upgrade: bool = True, clock: Callable[[], dt.date] = today
) -> Store:
    """The store `url` names, its schema brought to head unless `upgrade` is false."""
    if is_graph_url(url):
        from graph.cypher.store import CypherStore

        return await CypherStore.open(url, sealer=sealer, upgrade=upgrade, clock=clock)
    from graph.sql import SqlStore

    return await SqlStore.open(url, sealer=sealer, upgrade=upgrade, clock=clock)
