"""Staff on Cypher (a base of CypherStore): the storage side of `graph.staff.records.StaffStore`.

A member is a `Staff` node set whole: its employer's credit code, post, personal fields sealed
and blind-indexed as owners' are (`graph.cypher.owners.personal_props`, holder `staff/<id>`),
certificates and shifts as JSON documents, its estates' codes (`estates`) and the union of their
lines (`line`), so the scope test is the places' own (`seen`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph.cases import Point
from graph.ciphers.sealing import PERSONAL_FIELDS, Sealer
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.model import scope_params, seen
from graph.cypher.owners import opened_props, personal_props
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.scope import Scope
from graph.staff.documents import certificates_document, certificates_of, shifts_document, shifts_of
from graph.staff.records import Position, Post, StaffMember, check_member, check_position, holder
from graph.store import MAX_PAGE

for _prop, _unique in (("id", True), ("employer", False), *((f"{field}_index", False) for field in PERSONAL_FIELDS)):
    index("Staff", _prop, unique=_unique)

_SEEN = seen("s")
FIRMS = st.read("staff.firms", "UNWIND $codes AS c MATCH (f:Firm {code: c}) RETURN f.code AS code")
ESTATES = st.read("staff.estates", "UNWIND $codes AS c MATCH (p:Place {code: c}) RETURN p.code AS code, p.level AS level, p.line AS line")
SAVE = st.write("staff.save", "UNWIND $rows AS r MERGE (s:Staff {id: r.id}) SET s = r.props RETURN count(s) AS saved")
BY_ID = st.read("staff.by_id", f"UNWIND $ids AS i MATCH (s:Staff {{id: i}}) WHERE {_SEEN} RETURN properties(s) AS props")
OF = st.read(
    "staff.of", f"UNWIND $codes AS c MATCH (s:Staff {{employer: c}}) WHERE {_SEEN} RETURN properties(s) AS props ORDER BY s.id"
)
BY_INDEX = {
    field: st.read(
        f"staff.by_{field}",
        f"MATCH (s:Staff {{{field}_index: $index}}) WHERE {_SEEN} RETURN properties(s) AS props ORDER BY s.id LIMIT $limit",
    )
    for field in PERSONAL_FIELDS
}
MOVE = st.write(
    "staff.move",
    "MATCH (s:Staff {id: $id}) WITH s, (s.position_at IS NULL OR s.position_at <= $at) AS newer "
    "SET s.lon = CASE WHEN newer THEN $lon ELSE s.lon END, s.lat = CASE WHEN newer THEN $lat ELSE s.lat END, "
    "s.position_at = CASE WHEN newer THEN $at ELSE s.position_at END RETURN s.id AS id",
)


class StaffRecords:
    """The staff part of the store port on Cypher (a base of CypherStore)."""

    transport: Transport
    sealer: Sealer

    def _staff_member(self, props: dict[str, Any], *, personal: bool = True) -> StaffMember:
        opened: dict[str, str | None] = {"name": "", "id_number": "", "phone": None}
        if personal:
            opened = opened_props(props, holder(props["id"]), self.sealer)
        at = values.from_micros(props.get("position_at"))
        return StaffMember(
            id=props["id"],
            employer=props["employer"],
            post=Post(props["post"]),
            name=opened["name"] or "",
            id_number=opened["id_number"] or "",
            phone=opened["phone"],
            estates=tuple(props.get("estates") or ()),
            certificates=certificates_of(props["certificates"]),
            shifts=shifts_of(props["shifts"]),
            position=Position(Point(props["lon"], props["lat"]), at) if at is not None else None,
        )

    async def save_staff(self, members: Sequence[StaffMember]) -> None:
        for member in members:
            check_member(member)
        if not members:
            return
        firms = {code for (code,) in await self.transport.run(FIRMS, {"codes": sorted({m.employer for m in members})})}
        codes = sorted({code for member in members for code in member.estates})
        places = {code: (int(level), list(line)) for code, level, line in await self.transport.run(ESTATES, {"codes": codes})}
        rows: dict[str, dict[str, Any]] = {}
        for member in members:
            if member.employer not in firms:
                raise StoreError(f"staff {member.id}: employer {member.employer} is not a firm in the store")
            line: set[str] = set()
            for code in member.estates:
                if code not in places or places[code][0] != int(Level.ESTATE):
                    raise StoreError(f"staff {member.id}: {code} is not an estate in the store")
                line.update(places[code][1])
            props = values.present(
                {
                    "id": member.id,
                    "employer": member.employer,
                    "post": member.post.value,
                    **personal_props(member, holder(member.id), self.sealer),
                    "certificates": certificates_document(member.certificates),
                    "shifts": shifts_document(member.shifts),
                    "estates": sorted(set(member.estates)),
                    "line": sorted(line),
                    "lon": float(member.position.point.lon) if member.position else None,
                    "lat": float(member.position.point.lat) if member.position else None,
                    "position_at": values.micros(member.position.at) if member.position else None,
                }
            )
            rows[member.id] = {"id": member.id, "props": props}
        await self.transport.run(SAVE, {"rows": list(rows.values())})

    async def staff(self, ids: Sequence[str], scope: Scope) -> list[StaffMember | None]:
        if not ids:
            return []
        rows = await self.transport.run(BY_ID, {"ids": sorted(set(ids)), **scope_params(scope)})
        found = {props["id"]: self._staff_member(props) for (props,) in rows}
        return [found.get(key) for key in ids]

    async def staff_of(self, employers: Sequence[str], scope: Scope, *, personal: bool = True) -> list[list[StaffMember]]:
        if not employers:
            return []
        grouped: dict[str, list[StaffMember]] = {code: [] for code in employers}
        for (props,) in await self.transport.run(OF, {"codes": sorted(set(employers)), **scope_params(scope)}):
            grouped[props["employer"]].append(self._staff_member(props, personal=personal))
        for members in grouped.values():
            members.sort(key=lambda member: member.id)
        return [grouped[code] for code in employers]

    async def staff_by(self, field: str, value: str, scope: Scope) -> list[StaffMember]:
        if field not in PERSONAL_FIELDS:
            raise InvalidInput("field", field, f"is not a personal field; use one of {', '.join(PERSONAL_FIELDS)}")
        params = {"index": self.sealer.index(field, value), "limit": MAX_PAGE, **scope_params(scope)}
        return [self._staff_member(props) for (props,) in await self.transport.run(BY_INDEX[field], params)]

    async def report_position(self, staff_id: str, position: Position) -> bool:
        check_position(position)
        point = position.point
        params = {"id": staff_id, "lon": float(point.lon), "lat": float(point.lat), "at": values.micros(position.at)}
        return bool(await self.transport.run(MOVE, params))
