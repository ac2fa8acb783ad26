"""Owners (业主) and their ownerships of houses over time.

Personal data (name, ID number, phone) is masked (`张*`, `370202********1234`, `138****5678`)
unless the caller's role may see it whole; every whole read is noted in the request's context
and written to the audit log when the request ends (schema.audit).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graph import model
from graph.model import OwnerKind
from schema import enums as _enums  # noqa: F401  (registers the enums)
from schema.context import Info
from schema.fields import field
from schema.places.types import AsOf, House
from schema.relay import Node


@strawberry.type(description="An owner (业主): a person or an organisation.")
class Owner(Node):
    owner_id: strawberry.Private[str]
    kind: OwnerKind
    record: strawberry.Private[model.Owner]

    def node_key(self) -> str:
        return self.owner_id

    @classmethod
    def of(cls, record: model.Owner) -> Owner:
        return cls(owner_id=record.id, kind=record.kind, record=record)

    def _personal(self, info: Info, field: str, value: str | None) -> str | None:
        return info.context.personal(self.owner_id, field, value, whole=info.context.may_see(self.record))

    @field(description="Name; masked (张*) unless your role may see personal data.")
    def name(self, info: Info) -> str:
        return self._personal(info, "name", self.record.name) or ""

    @field(description="公民身份号码 or 统一社会信用代码; masked unless your role may see it.")
    def id_number(self, info: Info) -> str:
        return self._personal(info, "id_number", self.record.id_number) or ""

    @field(description="Phone; masked (138****5678) unless your role may see it.")
    def phone(self, info: Info) -> str | None:
        return self._personal(info, "phone", self.record.phone)

    @field(description="The houses it holds on the day (today if omitted).")
    async def houses(self, info: Info, as_of: AsOf = None) -> list[Ownership]:
        records = await info.context.owners.of_owner.load((self.owner_id, as_of or info.context.today))
        return [Ownership.of(record) for record in records]

    @field(description="Every house it ever held, past and present.")
    async def house_history(self, info: Info) -> list[Ownership]:
        records = await info.context.owners.of_owner.load((self.owner_id, None))
        return [Ownership.of(record) for record in records]


@strawberry.type(description="An owner's share of a house from `since` until `until`.")
class Ownership:
    house_code: strawberry.Private[str]
    owner_id: strawberry.Private[str]
    share: float = strawberry.field(description="The share held, 0 < share ≤ 1.")
    since: dt.date
    until: dt.date | None = strawberry.field(description="The day it ended; null while held.")
    source: str = strawberry.field(description="The system that recorded it (registration, …).")

    @classmethod
    def of(cls, record: model.Ownership) -> Ownership:
        return cls(
            house_code=record.house_code,
            owner_id=record.owner_id,
            share=record.share,
            since=record.since,
            until=record.until,
            source=record.source,
        )

    @strawberry.field
    async def owner(self, info: Info) -> Owner:
        record = await info.context.owners.by_id.load(self.owner_id)
        if record is None:
            raise LookupError(f"ownership of {self.house_code} names a missing owner")
        return Owner.of(record)

    @strawberry.field
    async def house(self, info: Info) -> Annotated[House, strawberry.lazy("schema.places.types")]:
        record = await info.context.places.by_code.load(self.house_code)
        if record is None:
            raise LookupError(f"ownership names a missing house {self.house_code}")
        return House(record=record)
