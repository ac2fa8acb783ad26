"""Shared queries and the safelist switch in the graph (graph.shared.SharedQueryStore).

Each version of a shared query is a `(:SharedQuery {name, version, …})` node; a
`(:SharedName {name, last})` node numbers a name's versions, so two publishers of one name at
once each take a number of their own in one statement (the counter's increment and the new
version's creation are one write). The safelist is a `(:Safelist {role, enabled, …})` node per
role. Variables, roles and organisations are kept as JSON text, as SQL keeps them; times as
microseconds. A hub holds few shared queries, so visibility is decided in Python over what is
read (`SharedQuery.visible_to`), the same on every backend.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.security import Role
from graph.shared import Owner, SharedDraft, SharedQuery, VariableSpec

index("SharedName", "name", unique=True)
index("SharedQuery", "name")
index("Safelist", "role", unique=True)

PUBLISH = st.write(
    "shared.publish",
    "MERGE (n:SharedName {name: $name}) ON CREATE SET n.last = 0 SET n.last = n.last + 1 "
    "WITH n CREATE (q:SharedQuery) SET q = $props SET q.version = n.last RETURN properties(q)",
)
VERSIONS = st.read("shared.versions", "MATCH (q:SharedQuery {name: $name}) RETURN properties(q)")
EVERY = st.read("shared.every", "MATCH (q:SharedQuery) RETURN properties(q)")
WITHDRAW = st.write(
    "shared.withdraw",
    "MATCH (q:SharedQuery {name: $name}) WHERE q.version = $version "
    "SET q.withdrawn_at = coalesce(q.withdrawn_at, $at) RETURN properties(q)",
)
SAFELISTED = st.read("shared.safelisted", "MATCH (s:Safelist) WHERE s.enabled = true RETURN s.role")
SWITCH = st.write("shared.switch", "MERGE (s:Safelist {role: $role}) SET s = $props RETURN s.role")


def _record(props: dict[str, Any]) -> SharedQuery:
    published = values.from_micros(props["published_at"])
    assert published is not None
    return SharedQuery(
        name=props["name"],
        version=int(props["version"]),
        description=props["description"],
        document=props["document"],
        variables=tuple(
            VariableSpec(item["name"], item["type"], item["required"], item.get("default"), item.get("description", ""))
            for item in values.from_document(props["variables"])
        ),
        owner=Owner(props["owner_name"], Role(props["owner_role"]), props["owner_scope"]),
        roles=frozenset(Role(item) for item in values.from_document(props["roles"])),
        organisations=frozenset(values.from_document(props["organisations"])),
        published_at=published,
        csv_path=props.get("csv_path"),
        withdrawn_at=values.from_micros(props.get("withdrawn_at")),
    )


class SharedRecords:
    """The shared-query part of the store port (a base of CypherStore)."""

    transport: Transport

    async def publish_shared(self, draft: SharedDraft, at: dt.datetime) -> SharedQuery:
        variables = [
            {"name": item.name, "type": item.type, "required": item.required, "default": item.default, "description": item.description}
            for item in draft.variables
        ]
        props = values.present(
            {
                "name": draft.name,
                "description": draft.description,
                "document": draft.document,
                "variables": values.document(variables),
                "csv_path": draft.csv_path,
                "owner_name": draft.owner.name,
                "owner_role": draft.owner.role.value,
                "owner_scope": draft.owner.scope,
                "roles": values.document(sorted(role.value for role in draft.roles)),
                "organisations": values.document(sorted(draft.organisations)),
                "published_at": values.micros(at),
            }
        )
        [(stored,)] = await self.transport.run(PUBLISH, {"name": draft.name, "props": props})
        return _record(stored)

    async def shared_versions(self, name: str) -> list[SharedQuery]:
        rows = await self.transport.run(VERSIONS, {"name": name})
        return sorted((_record(props) for (props,) in rows), key=lambda q: q.version)

    async def shared_latest(self) -> list[SharedQuery]:
        rows = await self.transport.run(EVERY)
        return sorted((_record(props) for (props,) in rows), key=lambda q: (q.name, q.version))

    async def withdraw_shared(self, name: str, version: int, at: dt.datetime) -> SharedQuery | None:
        rows = await self.transport.run(WITHDRAW, {"name": name, "version": version, "at": values.micros(at)})
        return _record(rows[0][0]) if rows else None

    async def safelisted_roles(self) -> frozenset[Role]:
        return frozenset(Role(role) for (role,) in await self.transport.run(SAFELISTED))

    async def set_safelist(self, role: Role, enabled: bool, actor: str, at: dt.datetime) -> None:
        props = {"role": role.value, "enabled": bool(enabled), "changed_by": actor, "changed_at": values.micros(at)}
        await self.transport.run(SWITCH, {"role": role.value, "props": props})


__all__ = ["SharedRecords"]
