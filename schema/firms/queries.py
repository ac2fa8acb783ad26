"""Looking up a property firm by its unified social credit code."""

from __future__ import annotations

import strawberry

from graph.codes import CreditCode
from schema.context import Info
from schema.fields import field
from schema.firms.types import PropertyFirm


@strawberry.type
class FirmQueries:
    @field(description="The firm with this 统一社会信用代码; null if none is seen.")
    async def firm(self, info: Info, code: str) -> PropertyFirm | None:
        checked = CreditCode.parse(code, field="code")
        record = await info.context.firms.by_code.load(str(checked))
        return None if record is None else PropertyFirm.of(record)
