"""The domain's enums, exposed to GraphQL under their member names (`DISTRICT`, `RESIDENTIAL`).

`strawberry.enum` marks the domain classes themselves, so resolvers return `Level`, `Usage` and
`OwnerKind` members as the store gives them, with no mirror enums to keep in step. Import this
module before building the schema (every types module does).
"""

from __future__ import annotations

import strawberry

from graph.levels import Level
from graph.model import OwnerKind, Usage

strawberry.enum(Level, description="A level of the place tree, from the city down to the house.")
strawberry.enum(Usage, name="HouseUsage", description="What a house is used for (房屋用途).")
strawberry.enum(OwnerKind, description="A person (自然人) or an organisation (法人或其他组织).")

__all__ = ["Level", "OwnerKind", "Usage"]
