"""The levels of the place tree, from the city down to the house."""

from __future__ import annotations

import enum


class Level(enum.IntEnum):
    """A level of the place tree; the value orders levels from the top (city) down."""

    CITY = 1
    DISTRICT = 2
    STREET = 3
    COMMUNITY = 4
    ESTATE = 5
    BUILDING = 6
    ENTRANCE = 7
    HOUSE = 8

    @property
    def label(self) -> str:
        """The Chinese name of the level, as street offices say it."""
        return _LABELS[self]

    @property
    def child(self) -> Level | None:
        """The level just below, or None for houses."""
        return Level(self + 1) if self < Level.HOUSE else None

    @property
    def parent(self) -> Level | None:
        """The level just above, or None for the city."""
        return Level(self - 1) if self > Level.CITY else None

    @property
    def above(self) -> tuple[Level, ...]:
        """Every level above this one, from the city down."""
        return tuple(Level(value) for value in range(Level.CITY, self))

    @classmethod
    def parse(cls, text: str) -> Level:
        """A level from its English name in any case (`district`, `DISTRICT`)."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            from graph.errors import InvalidInput

            names = ", ".join(level.name.lower() for level in cls)
            raise InvalidInput("level", text, f"is not a level; use one of {names}") from None


_LABELS = {
    Level.CITY: "市",
    Level.DISTRICT: "区(县级市)",
    Level.STREET: "街道(镇)",
    Level.COMMUNITY: "社区(村)",
    Level.ESTATE: "小区",
    Level.BUILDING: "楼栋",
    Level.ENTRANCE: "单元",
    Level.HOUSE: "房屋",
}
