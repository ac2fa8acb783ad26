"""Staff in SQL (a base of SqlStore): the storage side of `graph.staff.records.StaffStore`.

Tables (graph.sql.tables): `staff` (a row per member: personal fields sealed and blind-indexed
through the store's sealer, as owners' are, under the holder `staff/<id>`; certificates and
shifts as JSON documents) and `staff_estate` (the estates each works in: its scope).
"""

from __future__ import annotations


from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, delete, exists, or_, select, update

from graph.ciphers.sealing import PERSONAL_FIELDS, Sealer
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.cases import Point
from graph.scope import Scope
from graph.sql import tables
from graph.sql.rows import maybe_utc, sealed_column, utc
from graph.sql.writes import select_in
from graph.sql.writers import WriteTurns
from graph.staff.documents import certificates_document, certificates_of, shifts_document, shifts_of
from graph.staff.records import Position, Post, StaffMember, check_member, check_position, holder
from graph.store import MAX_PAGE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_STAFF = tables.staff
_ESTATE = tables.staff_estate
_FIRM = tables.firm
_PLACE = tables.place
_WORK = tables.staff_estate.alias("staff_work")
_WORKS = tables.place.alias("staff_works")


_PLAIN = [column for column in _STAFF.c if not column.name.endswith(("_sealed", "_index"))]
"""The columns read without personal data (a dispatch reads hundreds of members at a time)."""


def _query(personal: bool = True) -> Select[Any]:
    columns = list(_STAFF.c) if personal else _PLAIN
    return select(*columns, _FIRM.c.code.label("employer")).join(_FIRM, _FIRM.c.id == _STAFF.c.employer_id)


class StaffRecords:
    """The staff part of the store port (a base of SqlStore)."""

    engine: AsyncEngine
    turns: WriteTurns
    sealer: Sealer

    if TYPE_CHECKING:

        async def _visible(
            self, connection: AsyncConnection, scope: Scope, table: Any = tables.place, *, drive: bool = False
        ) -> Any: ...

    async def _staff_visible(self, connection: AsyncConnection, scope: Scope) -> Any:
        if scope.unlimited:
            return _STAFF.c.id.is_not(None)
        visible = await self._visible(connection, scope)
        return exists(
            select(_ESTATE.c.staff_id)
            .select_from(_ESTATE.join(_PLACE, _PLACE.c.id == _ESTATE.c.place_id))
            .where(_ESTATE.c.staff_id == _STAFF.c.id, visible)
        )

    async def _staff_estates(self, connection: AsyncConnection, rows: Sequence[Any]) -> dict[int, tuple[str, ...]]:
        ids = [row.id for row in rows]
        found: dict[int, list[str]] = {key: [] for key in ids}
        if ids:
            query = select(_ESTATE.c.staff_id, _PLACE.c.code).join(_PLACE, _PLACE.c.id == _ESTATE.c.place_id)
            for row in await select_in(connection, query, _ESTATE.c.staff_id, ids):
                found[row.staff_id].append(row.code)
        return {key: tuple(sorted(codes)) for key, codes in found.items()}

    def _staff_member(self, row: Any, estates: tuple[str, ...], *, personal: bool) -> StaffMember:
        mapping = row._mapping
        opened: dict[str, str | None] = {"name": "", "id_number": "", "phone": None}
        if personal:
            opened = self.sealer.open_fields(sealed_column(mapping), holder(mapping["key"]))
        position = None
        if mapping["position_at"] is not None:
            position = Position(Point(mapping["lon"], mapping["lat"]), utc(mapping["position_at"]))
        return StaffMember(
            id=mapping["key"],
            employer=mapping["employer"],
            post=Post(mapping["post"]),
            name=opened["name"] or "",
            id_number=opened["id_number"] or "",
            phone=opened["phone"],
            estates=estates,
            certificates=certificates_of(mapping["certificates"]),
            shifts=shifts_of(mapping["shifts"]),
            position=position,
        )

    async def _read_staff(self, connection: AsyncConnection, query: Select[Any], *, personal: bool = True) -> list[StaffMember]:
        found = list(await connection.execute(query))
        estates = await self._staff_estates(connection, found)
        return [self._staff_member(row, estates[row.id], personal=personal) for row in found]

    async def save_staff(self, members: Sequence[StaffMember]) -> None:
        for member in members:
            check_member(member)
        if not members:
            return
        async with self.turns.writing() as connection:
            employers = {row.code: row.id for row in await select_in(connection, select(_FIRM.c.code, _FIRM.c.id), _FIRM.c.code, {m.employer for m in members})}
            codes = {code for member in members for code in member.estates}
            places = {
                row.code: (row.id, row.level)
                for row in await select_in(connection, select(_PLACE.c.code, _PLACE.c.id, _PLACE.c.level), _PLACE.c.code, codes)
            }
            for member in members:
                if member.employer not in employers:
                    raise StoreError(f"staff {member.id}: employer {member.employer} is not a firm in the store")
                for code in member.estates:
                    if code not in places or places[code][1] != int(Level.ESTATE):
                        raise StoreError(f"staff {member.id}: {code} is not an estate in the store")
            stored = {
                row.key: row.id
                for row in await select_in(connection, select(_STAFF.c.key, _STAFF.c.id), _STAFF.c.key, [m.id for m in members])
            }
            for member in members:
                values = {
                    "key": member.id,
                    "employer_id": employers[member.employer],
                    "post": member.post.value,
                    **self.sealer.seal_fields(member, holder(member.id)),
                    **self.sealer.index_fields(member),
                    "certificates": certificates_document(member.certificates),
                    "shifts": shifts_document(member.shifts),
                    "lon": member.position.point.lon if member.position else None,
                    "lat": member.position.point.lat if member.position else None,
                    "position_at": maybe_utc(member.position.at) if member.position else None,
                }
                key = stored.get(member.id)
                if key is None:
                    key = (await connection.execute(_STAFF.insert().values(**values).returning(_STAFF.c.id))).scalar_one()
                else:
                    await connection.execute(update(_STAFF).where(_STAFF.c.id == key).values(**values))
                    await connection.execute(delete(_ESTATE).where(_ESTATE.c.staff_id == key))
                if member.estates:
                    await connection.execute(
                        _ESTATE.insert(), [{"staff_id": key, "place_id": places[code][0]} for code in sorted(set(member.estates))]
                    )

    async def staff(self, ids: Sequence[str], scope: Scope) -> list[StaffMember | None]:
        if not ids:
            return []
        async with self.engine.connect() as connection:
            query = _query().where(_STAFF.c.key.in_(sorted(set(ids))), await self._staff_visible(connection, scope))
            found = {member.id: member for member in await self._read_staff(connection, query)}
        return [found.get(key) for key in ids]

    async def staff_of(self, employers: Sequence[str], scope: Scope, *, personal: bool = True) -> list[list[StaffMember]]:
        if not employers:
            return []
        async with self.engine.connect() as connection:
            # one statement, the estates joined (a member per run of rows): a dispatch reads a
            # firm's hundreds of members on every case
            query = (
                _query(personal)
                .add_columns(_WORKS.c.code.label("estate_code"))
                .outerjoin(_WORK, _WORK.c.staff_id == _STAFF.c.id)
                .outerjoin(_WORKS, _WORKS.c.id == _WORK.c.place_id)
                .where(_FIRM.c.code.in_(sorted(set(employers))), await self._staff_visible(connection, scope))
                .order_by(_STAFF.c.key, _WORKS.c.code)
            )
            runs: dict[str, tuple[Any, list[str]]] = {}
            for row in await connection.execute(query):
                codes = runs.setdefault(row.key, (row, []))[1]
                if row.estate_code is not None:
                    codes.append(row.estate_code)
            grouped: dict[str, list[StaffMember]] = {code: [] for code in employers}
            for row, codes in runs.values():
                grouped[row.employer].append(self._staff_member(row, tuple(codes), personal=personal))
        return [grouped[code] for code in employers]

    async def staff_by(self, field: str, value: str, scope: Scope) -> list[StaffMember]:
        if field not in PERSONAL_FIELDS:
            raise InvalidInput("field", field, f"is not a personal field; use one of {', '.join(PERSONAL_FIELDS)}")
        index = self.sealer.index(field, value)
        async with self.engine.connect() as connection:
            query = (
                _query()
                .where(_STAFF.c[f"{field}_index"] == index, await self._staff_visible(connection, scope))
                .order_by(_STAFF.c.key)
                .limit(MAX_PAGE)
            )
            return await self._read_staff(connection, query)

    async def report_position(self, staff_id: str, position: Position) -> bool:
        check_position(position)
        point = position.point
        at = utc(position.at)
        async with self.turns.writing() as connection:
            known = (await connection.execute(select(_STAFF.c.id).where(_STAFF.c.key == staff_id))).first()
            if known is None:
                return False
            await connection.execute(
                update(_STAFF)
                .where(_STAFF.c.key == staff_id, or_(_STAFF.c.position_at.is_(None), _STAFF.c.position_at <= at))
                .values(lon=point.lon, lat=point.lat, position_at=at)
            )
        return True



