"""The graph's schema: indexes (and, on Neo4j, uniqueness constraints) per backend, and the
schema version recorded in the graph, upgraded by `hub db upgrade` as Alembic does for SQL.

A part declares what it looks nodes up by with `index(label, property)`, at import; `upgrade`
creates what is missing (an existing index is left alone) and records the head version on the
`:Meta {name: 'schema'}` node. Steps that change stored data go in `STEPS`, run once each, in
order, from the version the graph records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from graph.cypher import statements as st
from graph.cypher.transport import BoltTransport, Transport
from graph.errors import StoreError

Step = Callable[[Transport], Awaitable[None]]

STEPS: dict[int, tuple[str, Step | None]] = {1: ("the graph model: places, owners, firms, roll-ups, records", None)}
"""version → (what it brings, the data step to run when upgrading to it; None: indexes only)."""

HEAD = max(STEPS)

_FALKOR: list[st.Statement] = []
_NEO4J: list[st.Statement] = []

VERSION = st.read("schema.version", "MATCH (m:Meta {name: 'schema'}) RETURN m.version")
RECORD = st.write(
    "schema.record",
    "MERGE (m:Meta {name: 'schema'}) SET m.version = $version WITH m MERGE (k:Meta {name: 'rollups'}) "
    "ON CREATE SET k.pending = '' RETURN m.version",
)
TOUCH = st.write("schema.touch", "MERGE (m:Meta {name: 'schema'}) RETURN m.name")
DROP = st.write("schema.drop", "MATCH (n) DETACH DELETE n")


def index(label: str, prop: str, *, unique: bool = False) -> None:
    """Nodes of `label` are looked up by `prop` (unique: one node per value, enforced on Neo4j;
    on FalkorDB the write lease and the planner keep it so)."""
    name = f"{label.lower()}_{prop}"
    _FALKOR.append(st.write(f"schema.falkordb.{name}", f"CREATE INDEX FOR (n:{label}) ON (n.{prop})"))
    if unique:
        _NEO4J.append(
            st.write(f"schema.neo4j.{name}", f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE")
        )
    else:
        _NEO4J.append(st.write(f"schema.neo4j.{name}", f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})"))


for _label, _prop, _unique in (
    ("Place", "code", True),
    ("Owner", "id", True),
    ("Owner", "name_index", False),
    ("Owner", "id_number_index", False),
    ("Owner", "phone_index", False),
    ("Firm", "code", True),
    ("Rollup", "code", True),
    ("Lease", "name", True),
    ("Meta", "name", True),
):
    index(_label, _prop, unique=_unique)


async def current(transport: Transport) -> int | None:
    """The schema version the graph records; None for a graph the hub never wrote."""
    await transport.run(TOUCH)  # FalkorDB cannot read a graph that was never written
    rows = await transport.run(VERSION)
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


async def upgrade(transport: Transport) -> int:
    """Bring the graph to `HEAD`: indexes first, then each data step above the recorded version."""
    at = await current(transport) or 0
    if at > HEAD:
        raise StoreError(f"the graph records schema version {at}, newer than this hub's {HEAD}: upgrade the hub")
    for statement in _NEO4J if isinstance(transport, BoltTransport) else _FALKOR:
        try:
            await transport.run(statement)
        except StoreError as error:
            if "already indexed" not in str(error) and "already exists" not in str(error):
                raise
    for version in range(at + 1, HEAD + 1):
        _, step = STEPS[version]
        if step is not None:
            await step(transport)
    await transport.run(RECORD, {"version": HEAD})
    return HEAD
