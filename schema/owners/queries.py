"""Finding owners by exact personal data, through blind indexes: nothing is decrypted to search."""

from __future__ import annotations

import strawberry

from graph.codes import CreditCode, ResidentId
from graph.errors import InvalidInput
from schema.context import Info
from schema.fields import field
from schema.owners.types import Owner


@strawberry.type
class OwnerQueries:
    @field(
        description="Owners whose ID number (公民身份号码 or 统一社会信用代码), phone or name is "
        "exactly the value given (one of the three), inside your scope."
    )
    async def owners(
        self,
        info: Info,
        id_number: str | None = None,
        phone: str | None = None,
        name: str | None = None,
    ) -> list[Owner]:
        given = {key: value for key, value in (("idNumber", id_number), ("phone", phone), ("name", name)) if value is not None}
        if len(given) != 1:
            raise InvalidInput("owners", ", ".join(given) or "nothing", "takes exactly one of idNumber, phone, name")
        [(argument, value)] = given.items()
        if argument == "idNumber":
            if not (ResidentId.is_valid(value) or CreditCode.is_valid(value)):
                ResidentId.parse(value, field="idNumber")  # raises, naming the rule broken
            field_name = "id_number"
        elif argument == "phone":
            digits = "".join(char for char in value if char.isdigit())
            if not 7 <= len(digits) <= 15:
                raise InvalidInput("phone", value, "must have 7 to 15 digits")
            field_name = "phone"
        else:
            if not 1 <= len(value.strip()) <= 50:
                raise InvalidInput("name", value, "must be 1 to 50 characters")
            field_name = "name"
        found = await info.context.store.owners_by(field_name, value, info.context.scope)
        for record in found:
            info.context.owners.by_id.prime(record.id, record)
        return [Owner.of(record) for record in found]
