"""Finding owners by exact personal data, through blind indexes: nothing is decrypted to search.

An exact lookup answers whether someone with this ID number, phone or name holds a house in the
caller's scope, so it is a read of personal data even when nothing is shown, and it is treated
as one:

- only roles that see owners' personal data whole may look owners up (admin, street, community,
  property_firm, committee); masked roles — the city and district dashboards, and an owner, who
  sees others masked — are refused with a clear error, so they cannot test whether a person
  owns property by the answer being empty or not;
- the caller says why in `X-Hub-Reason` (URL-encoded), or the lookup is refused;
- each lookup is audited (`pii.lookup`): who, which field, a keyed digest of the value (never the
  value: `Store.lookup_digest`), how many owners it found, and the reason.
"""

from __future__ import annotations

import strawberry

from graph.codes import CreditCode, ResidentId
from graph.errors import InvalidInput
from graph.security import AuditDraft, Role
from schema.context import Info
from schema.errors import Forbidden
from schema.fields import field
from schema.owners.types import Owner

LOOKERS = frozenset({Role.ADMIN, Role.STREET, Role.COMMUNITY, Role.PROPERTY_FIRM, Role.COMMITTEE})
"""Roles that may look owners up by exact personal data: those that see it whole."""
REASON_HEADER = "X-Hub-Reason"


@strawberry.type
class OwnerQueries:
    @field(
        description="Owners whose ID number (公民身份号码 or 统一社会信用代码), phone or name is "
        "exactly the value given (one of the three), inside your scope. For roles that see personal "
        "data whole only; say why in the X-Hub-Reason header. Every lookup is audited."
    )
    async def owners(
        self,
        info: Info,
        id_number: str | None = None,
        phone: str | None = None,
        name: str | None = None,
    ) -> list[Owner]:
        principal = info.context.principal
        if principal.role not in LOOKERS:
            raise Forbidden(
                f"forbidden: the {principal.role.value} role sees owners' personal data masked, so it may not look owners up "
                f"by ID number, phone or name; roles that may: {', '.join(sorted(role.value for role in LOOKERS))}"
            )
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
        reason = (info.context.reason or "").strip()
        if not reason:
            raise InvalidInput(
                REASON_HEADER, "", f"must say why you look owners up by {argument} (the header, URL-encoded, e.g. 报修联系)"
            )
        store = info.context.store
        found = await store.owners_by(field_name, value, info.context.scope)
        await store.append_audit(
            [
                AuditDraft(
                    actor=principal.name,
                    role=principal.role.value,
                    action="pii.lookup",
                    target=field_name,
                    detail={
                        "token": principal.token_id,
                        "field": field_name,
                        "digest": store.lookup_digest(field_name, value),
                        "found": len(found),
                        "owners": [record.id for record in found[:20]],
                    },
                    reason=reason,
                )
            ]
        )
        for record in found:
            info.context.owners.by_id.prime(record.id, record)
        return [Owner.of(record) for record in found]
