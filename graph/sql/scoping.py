"""A `Scope` as a SQL predicate on the `place` table, and places as (id, level, ancestors)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, FromClause, false, or_, true

from graph.levels import Level
from graph.sql.tables import ANCESTOR_LEVELS, ancestor_column


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where a place sits: its row id, level and the ids of its ancestors by level."""

    id: int
    level: Level
    ancestors: tuple[int | None, ...]  # one per ANCESTOR_LEVELS entry

    def ancestor(self, level: Level) -> int | None:
        return self.ancestors[level - 1]

    def lineage(self) -> tuple[int | None, ...]:
        """The ancestor ids a child of this place carries: ours plus ourselves at our level."""
        ids = list(self.ancestors)
        ids[self.level - 1] = self.id
        return tuple(ids)


def anchor_columns(table: FromClause) -> list[ColumnElement[int]]:
    return [table.c[ancestor_column(level)] for level in ANCESTOR_LEVELS]


def under(table: FromClause, anchor: Anchor, *, inclusive: bool = True) -> ColumnElement[bool]:
    """Places in the subtree of `anchor` (the anchor itself too unless `inclusive` is false)."""
    if anchor.level == Level.HOUSE:
        return table.c.id == anchor.id if inclusive else false()
    below = table.c[ancestor_column(anchor.level)] == anchor.id
    return or_(table.c.id == anchor.id, below) if inclusive else below


def within_any(
    table: FromClause, roots: Sequence[Anchor] | None, *, drive: bool = False
) -> ColumnElement[bool]:
    """Places under any of the roots; None means no limit, no roots means nothing.

    By default the predicate only filters: its columns are written `column + 0`, which no index
    serves, so a lookup by code or id keeps its own index. Left indexable, a city-wide scope
    (`city_id IN (…)`) made SQLite scan the whole city for one house: 254 ms instead of 4. Pass
    `drive=True` where the scope is the best way into the table (a listing with no other bound).
    """
    if roots is None:
        return true()
    if not roots:
        return false()

    def column(name: str) -> ColumnElement[int]:
        return table.c[name] if drive else table.c[name] + 0

    clauses: list[ColumnElement[bool]] = [column("id").in_([root.id for root in roots])]
    by_level: dict[Level, list[int]] = {}
    for root in roots:
        if root.level < Level.HOUSE:
            by_level.setdefault(root.level, []).append(root.id)
    for level, ids in sorted(by_level.items()):
        clauses.append(column(ancestor_column(level)).in_(ids))
    return or_(*clauses)


def anchor_in(anchor: Anchor, roots: Iterable[Anchor] | None) -> bool:
    """The same test as `within_any`, in Python, for a place already read."""
    if roots is None:
        return True
    lineage = anchor.ancestors
    return any(
        root.id == anchor.id or (root.level < anchor.level and lineage[root.level - 1] == root.id)
        for root in roots
    )
