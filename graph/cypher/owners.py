"""Reads of owners, firms and the spans that tie them to places (`graph.store.Store`:
ownerships … estates_of), and the owners' personal data, sealed as in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from graph.ciphers.sealing import PERSONAL_FIELDS, Sealer
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.model import firm_of, holding, management_of, ownership_of, provenance_of, scope_params, seen
from graph.cypher.transport import Transport
from graph.errors import InvalidInput
from graph.identity import OwnerIds
from graph.model import Management, Owner, OwnerKind, Ownership, PropertyFirm, span_order
from graph.scope import Scope
from graph.store import MAX_PAGE

OWNERSHIPS = st.read(
    "owners.ownerships",
    f"UNWIND $codes AS c MATCH (h:Place {{code: c}}) WHERE h.level = 8 AND {seen('h')} "
    f"MATCH (o:Owner)-[s:OWNS]->(h) WHERE {holding('s')} "
    "RETURN c, o.id, properties(s), CASE WHEN $with_owners THEN properties(o) ELSE null END",
)
HOUSES_OF = st.read(
    "owners.houses_of",
    f"UNWIND $ids AS i MATCH (o:Owner {{id: i}}) MATCH (o)-[s:OWNS]->(h:Place) WITH i, o, s, h "
    f"WHERE {seen('h')} AND {holding('s')} RETURN h.code, i, properties(s), properties(o)",
)
MANAGEMENTS = st.read(
    "owners.managements",
    f"UNWIND $codes AS c MATCH (e:Place {{code: c}}) WHERE {seen('e')} "
    f"MATCH (f:Firm)-[m:MANAGES]->(e) WHERE {holding('m')} RETURN f.code, c, properties(m)",
)
ESTATES_OF = st.read(
    "owners.estates_of",
    f"UNWIND $codes AS c MATCH (f:Firm {{code: c}}) MATCH (f)-[m:MANAGES]->(e:Place) WITH c, m, e "
    f"WHERE {seen('e')} AND {holding('m')} RETURN c, e.code, properties(m)",
)
OWNERS = st.read(
    "owners.by_id",
    "UNWIND $ids AS i MATCH (o:Owner {id: i}) OPTIONAL MATCH (o)-[:OWNS]->(h:Place) WHERE "
    f"{seen('h')} WITH o, count(h) AS held WHERE $all OR held > 0 RETURN properties(o)",
)
KNOWN = st.read("owners.known", "UNWIND $ids AS i MATCH (o:Owner {id: i}) RETURN o.id")
BY_INDEX = {
    field: st.read(
        f"owners.by_{field}",
        f"MATCH (o:Owner {{{field}_index: $index}}) OPTIONAL MATCH (o)-[:OWNS]->(h:Place) WHERE {seen('h')} "
        "WITH o, count(h) AS held WHERE $all OR held > 0 RETURN o.id ORDER BY o.id LIMIT $limit",
    )
    for field in PERSONAL_FIELDS
}
FIRMS = st.read(
    "owners.firms",
    "UNWIND $codes AS c MATCH (f:Firm {code: c}) OPTIONAL MATCH (f)-[:MANAGES]->(e:Place) WHERE "
    f"{seen('e')} WITH f, count(e) AS managed WHERE $all OR managed > 0 RETURN properties(f)",
)


def owner_props(owner: Owner, sealer: Sealer, *, sealed: bool = True) -> dict[str, Any]:
    """The owner node's whole map: blind indexes (what decides whether it changed) and, when
    `sealed`, the values sealed with SM4-GCM under the owner's id."""
    props: dict[str, Any] = {"id": owner.id, "kind": owner.kind.value, **personal_props(owner, owner.id, sealer, sealed=sealed)}
    from graph.cypher.model import provenance_props

    return {**props, **provenance_props(owner.provenance)}


def personal_props(record: Any, holder: str, sealer: Sealer, *, sealed: bool = True) -> dict[str, Any]:
    """The blind indexes and (when `sealed`) the sealed values of a record's personal fields,
    as node properties (absent where it has none): owners' and staff's alike."""
    props: dict[str, Any] = {name: value for name, value in sealer.index_fields(record).items() if value is not None}
    if sealed:
        props.update({name: values.blob(value) for name, value in sealer.seal_fields(record, holder).items() if value is not None})
    return props


def opened_props(props: dict[str, Any], holder: str, sealer: Sealer) -> dict[str, str | None]:
    """A node's personal fields opened (None where it has none)."""
    return sealer.open_fields(lambda field: values.from_blob(props.get(f"{field}_sealed")), holder)


def owner_of(props: dict[str, Any], sealer: Sealer) -> Owner:
    opened = opened_props(props, props["id"], sealer)
    return Owner(
        id=props["id"],
        kind=OwnerKind(props["kind"]),
        name=opened["name"] or "",
        id_number=opened["id_number"] or "",
        phone=opened["phone"],
        provenance=provenance_of(props),
    )


def _personal(field: str) -> None:
    if field not in PERSONAL_FIELDS:
        raise InvalidInput("field", field, f"is not a personal field; use one of {', '.join(PERSONAL_FIELDS)}")


def _spans(rows: list[tuple[Any, ...]], keys: Sequence[str], at: int, build: Any) -> list[list[Any]]:
    groups: dict[str, list[tuple[Any, ...]]] = {key: [] for key in keys}
    for row in rows:
        groups.setdefault(row[at], []).append(row)
    return [sorted((build(row) for row in groups[key]), key=span_order) for key in keys]


class OwnerReads:
    transport: Transport
    sealer: Sealer
    _owner_ids: OwnerIds | None

    async def ownerships(
        self, house_codes: Sequence[str], as_of: dt.date | None, scope: Scope, *, with_owners: bool = True
    ) -> list[list[Ownership]]:
        rows = await self.transport.run(
            OWNERSHIPS,
            {"codes": list(dict.fromkeys(house_codes)), "as_of": values.day(as_of), "with_owners": with_owners, **scope_params(scope)},
        )
        return _spans(
            rows, house_codes, 0,
            lambda row: ownership_of(row[0], row[1], row[2], owner_of(row[3], self.sealer) if row[3] else None),
        )

    async def houses_of(self, owner_ids: Sequence[str], as_of: dt.date | None, scope: Scope) -> list[list[Ownership]]:
        rows = await self.transport.run(
            HOUSES_OF, {"ids": list(dict.fromkeys(owner_ids)), "as_of": values.day(as_of), **scope_params(scope)}
        )
        return _spans(rows, owner_ids, 1, lambda row: ownership_of(row[0], row[1], row[2], owner_of(row[3], self.sealer)))

    async def managements(self, estate_codes: Sequence[str], as_of: dt.date | None, scope: Scope) -> list[list[Management]]:
        rows = await self.transport.run(
            MANAGEMENTS, {"codes": list(dict.fromkeys(estate_codes)), "as_of": values.day(as_of), **scope_params(scope)}
        )
        return _spans(rows, estate_codes, 1, lambda row: management_of(row[0], row[1], row[2]))

    async def estates_of(self, firm_codes: Sequence[str], as_of: dt.date | None, scope: Scope) -> list[list[Management]]:
        rows = await self.transport.run(
            ESTATES_OF, {"codes": list(dict.fromkeys(firm_codes)), "as_of": values.day(as_of), **scope_params(scope)}
        )
        return _spans(rows, firm_codes, 0, lambda row: management_of(row[0], row[1], row[2]))

    async def owners(self, ids: Sequence[str], scope: Scope) -> list[Owner | None]:
        rows = await self.transport.run(OWNERS, {"ids": list(dict.fromkeys(ids)), **scope_params(scope)})
        found = {props["id"]: owner_of(props, self.sealer) for (props,) in rows}
        return [found.get(value) for value in ids]

    @property
    def owner_ids(self) -> OwnerIds:
        if self._owner_ids is None:
            self._owner_ids = self.sealer.owner_ids()
        return self._owner_ids

    async def owners_known(self, ids: Sequence[str]) -> list[bool]:
        found = {row[0] for row in await self.transport.run(KNOWN, {"ids": list(dict.fromkeys(ids))})}
        return [value in found for value in ids]

    def lookup_digest(self, field: str, value: str) -> str:
        _personal(field)
        return self.sealer.lookup_digest(field, value)

    async def owners_by(self, field: str, value: str, scope: Scope) -> list[Owner]:
        _personal(field)
        index = self.sealer.index(field, value)
        rows = await self.transport.run(BY_INDEX[field], {"index": index, "limit": MAX_PAGE, **scope_params(scope)})
        found = await self.owners([row[0] for row in rows], scope)
        return [item for item in found if item is not None]

    async def firms(self, codes: Sequence[str], scope: Scope) -> list[PropertyFirm | None]:
        rows = await self.transport.run(FIRMS, {"codes": list(dict.fromkeys(codes)), **scope_params(scope)})
        found = {props["code"]: firm_of(props) for (props,) in rows}
        return [found.get(code) for code in codes]
