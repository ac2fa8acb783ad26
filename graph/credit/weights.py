"""The weights of a credit score's parts, and the few thresholds that turn a count into a rate.

Configuration is a TOML table (`[credit]` in the file named by `HUB_CREDIT_WEIGHTS`, default
`credit.toml`; absent file: the defaults below):

    [credit.weights]          # points out of their sum (any positive integers; defaults sum to 100)
    response = 12
    complaints = 15
    [credit]
    complaints_per_thousand = 10   # 12345 complaints per 1,000 houses per month that score 0
    no_data = "redistribute"       # or "full" (a part without data earns its whole weight)

Every weight is a non-negative integer, at least one positive; unknown keys are refused.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from graph.errors import InvalidInput

PARTS = (
    "response",  # 响应率: signed for in time / due
    "resolution",  # 解决率: resolved / cases
    "satisfaction",  # 满意率: rated 4 or 5 / rated
    "overdue",  # 1 − overdue / cases
    "escalated",  # 1 − escalated / cases
    "complaints",  # 12345 complaints per 1,000 houses against the threshold
    "maintenance",  # facilities' maintenance on time / due
    "inspection",  # inspections passed on time / due
    "ratings",  # owners' mean rating: (mean − 1) / 4
    "dismissals",  # 1 − estates whose owners dismissed it / estates managed
    "certificates",  # staff certificates held / (held + out of date)
)
"""The parts of a score, in the order they are shown."""

LABELS = {
    "response": "响应率",
    "resolution": "解决率",
    "satisfaction": "满意率",
    "overdue": "超期工单",
    "escalated": "升级工单",
    "complaints": "12345投诉",
    "maintenance": "设施维保",
    "inspection": "设施巡检",
    "ratings": "业主评价",
    "dismissals": "业主大会解聘",
    "certificates": "从业人员证书",
}

DEFAULT_WEIGHTS: Mapping[str, int] = MappingProxyType(
    {
        "response": 12,
        "resolution": 12,
        "satisfaction": 12,
        "overdue": 8,
        "escalated": 6,
        "complaints": 12,
        "maintenance": 10,
        "inspection": 8,
        "ratings": 10,
        "dismissals": 6,
        "certificates": 4,
    }
)
DEFAULT_COMPLAINTS_PER_THOUSAND = 10
NO_DATA_RULES = ("redistribute", "full")


@dataclass(frozen=True, slots=True)
class Weights:
    weights: Mapping[str, int] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    complaints_per_thousand: int = DEFAULT_COMPLAINTS_PER_THOUSAND
    """12345 complaints per 1,000 houses managed per month at which the part scores 0."""
    no_data: str = "redistribute"
    """How a part without data is scored: `redistribute` its weight over the parts with data
    (pro rata), or `full`: it earns its whole weight (benefit of the doubt)."""

    def __post_init__(self) -> None:
        for name, weight in self.weights.items():
            if name not in PARTS:
                raise InvalidInput(f"credit.weights.{name}", name, f"is not a part; use {', '.join(PARTS)}")
            if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 1000:
                raise InvalidInput(f"credit.weights.{name}", weight, "must be an integer from 0 to 1000")
        if not any(self.weights.get(name, 0) for name in PARTS):
            raise InvalidInput("credit.weights", dict(self.weights), "must give at least one part a positive weight")
        count = self.complaints_per_thousand
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10000:
            raise InvalidInput("credit.complaints_per_thousand", count, "must be an integer from 1 to 10000")
        if self.no_data not in NO_DATA_RULES:
            raise InvalidInput("credit.no_data", self.no_data, f"must be one of {', '.join(NO_DATA_RULES)}")

    def of(self, name: str) -> int:
        return self.weights.get(name, 0)

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Weights:
        """From a `[credit]` table: `weights` (a sub-table over the defaults: a part not named
        keeps its default), `complaints_per_thousand`, `no_data`."""
        unknown = set(table) - {"weights", "complaints_per_thousand", "no_data"}
        if unknown:
            raise InvalidInput("credit", sorted(unknown)[0], "is not a credit setting; use weights, complaints_per_thousand, no_data")
        given = table.get("weights", {})
        if not isinstance(given, Mapping):
            raise InvalidInput("credit.weights", given, "must be a table of part = integer")
        return cls(
            weights=MappingProxyType({**DEFAULT_WEIGHTS, **given}),
            complaints_per_thousand=table.get("complaints_per_thousand", DEFAULT_COMPLAINTS_PER_THOUSAND),
            no_data=table.get("no_data", "redistribute"),
        )

    @classmethod
    def load(cls, path: str | Path | None) -> Weights:
        """From the `[credit]` table of a TOML file; the defaults when `path` is None or the file
        does not exist (or has no `[credit]` table)."""
        if path is None or not Path(path).is_file():
            return cls()
        try:
            document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise InvalidInput("credit weights file", str(path), f"is not TOML: {error}") from None
        return cls.from_table(document.get("credit", {}))
