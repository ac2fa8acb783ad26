"""Owners (业主) and their ownerships of houses over time.

Personal data (name, ID number, phone) is returned as stored for now; masking by role and the
audit of each read belong to the access-control layer and will wrap these fields.
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
    name: str
    id_number: str = strawberry.field(description="公民身份号码 or 统一社会信用代码.")
    phone: str | None

    def node_key(self) -> str:
        return self.owner_id

    @classmethod
    def of(cls, record: model.Owner) -> Owner:
        return cls(
            owner_id=record.id,
            kind=record.kind,
            name=record.name,
            id_number=record.id_number,
            phone=record.phone,
        )

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
