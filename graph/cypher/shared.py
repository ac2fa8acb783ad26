"""Shared queries and the safelist switch on Cypher (`graph.shared.SharedQueryStore`).

A version is a `:SharedQuery` node (name, version, the document and who it is shared with, the
variables as `graph.shared.variables_json`); its number comes from the name's `:Counter`,
taken in the statement that creates it, so publishers of one name at once each get their own.
The safelist is one `:Safelist` node per role. A hub holds few queries: visibility is decided
above the store (`SharedQuery.visible_to`), as on SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.security import Role
from graph.shared import Owner, SharedDraft, SharedQuery, variables_from_json, variables_json

index("SharedQuery", "name")
index("Counter", "name", unique=True)
index("Safelist", "role", unique=True)

PUBLISH = st.write(
    "shared.publish",
    "MERGE (c:Counter {name: $counter}) ON CREATE SET c.value = 0 SET c.value = c.value + 1 "
    "WITH c CREATE (q:SharedQuery) SET q = $props WITH q, c SET q.version = c.value RETURN properties(q)",
)
VERSIONS = st.read("shared.versions", "MATCH (q:SharedQuery {name: $name}) RETURN properties(q)")
EVERY = st.read("shared.every", "MATCH (q:SharedQuery) RETURN properties(q)")
WITHDRAW = st.write(
    "shared.withdraw",
    # the lock property takes Neo4j's write lock before `withdrawn_at` is read: the first
    # withdrawal stands however many come at once
    "MATCH (q:SharedQuery {name: $name}) WHERE q.version = $version SET q.lock = $at "
    "WITH q SET q.withdrawn_at = coalesce(q.withdrawn_at, $at) RETURN properties(q)",
)
SAFELISTED = st.read("shared.safelisted", "MATCH (s:Safelist) WHERE s.enabled RETURN s.role")
SET_SAFELIST = st.write("shared.set_safelist", "MERGE (s:Safelist {role: $role}) SET s = $props RETURN s.role")


def _record(props: dict[str, Any]) -> SharedQuery:
    published = values.from_micros(props["published_at"])
    assert published is not None
    return SharedQuery(
        name=props["name"],
        version=int(props["version"]),
        description=props["description"],
        document=props["document"],
        variables=variables_from_json(props["variables"]),
        owner=Owner(props["owner_name"], Role(props["owner_role"]), props["owner_scope"]),
        roles=frozenset(Role(item) for item in json.loads(props["roles"])),
        organisations=frozenset(json.loads(props["organisations"])),
        published_at=published,
        csv_path=props.get("csv_path"),
        withdrawn_at=values.from_micros(props.get("withdrawn_at")),
    )


class SharedRecords:
    """The shared-query part of the store port on Cypher."""

    transport: Transport

    async def publish_shared(self, draft: SharedDraft, at: dt.datetime) -> SharedQuery:
        props = values.present({
            "name": draft.name,
            "description": draft.description,
            "document": draft.document,
            "variables": variables_json(draft.variables),
            "csv_path": draft.csv_path,
            "owner_name": draft.owner.name,
            "owner_role": draft.owner.role.value,
            "owner_scope": draft.owner.scope,
            "roles": json.dumps(sorted(role.value for role in draft.roles)),
            "organisations": json.dumps(sorted(draft.organisations)),
            "published_at": values.micros(at),
        })
        [(stored,)] = await self.transport.run(PUBLISH, {"counter": f"shared:{draft.name}", "props": props})
        return _record(stored)

    async def shared_versions(self, name: str) -> list[SharedQuery]:
        rows = await self.transport.run(VERSIONS, {"name": name})
        return sorted((_record(row[0]) for row in rows), key=lambda query: query.version)

    async def shared_latest(self) -> list[SharedQuery]:
        rows = await self.transport.run(EVERY)
        return sorted((_record(row[0]) for row in rows), key=lambda query: (query.name, query.version))

    async def withdraw_shared(self, name: str, version: int, at: dt.datetime) -> SharedQuery | None:
        rows = await self.transport.run(WITHDRAW, {"name": name, "version": version, "at": values.micros(at)})
        return _record(rows[0][0]) if rows else None

    async def safelisted_roles(self) -> frozenset[Role]:
        return frozenset(Role(row[0]) for row in await self.transport.run(SAFELISTED))

    async def set_safelist(self, role: Role, enabled: bool, actor: str, at: dt.datetime) -> None:
        props = {"role": role.value, "enabled": enabled, "changed_by": actor, "changed_at": values.micros(at)}
        await self.transport.run(SET_SAFELIST, {"role": role.value, "props": props})
