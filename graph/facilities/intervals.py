"""How often each kind of facility is maintained (维护保养周期), in days.

Defaults: elevators at least every 15 days (TSG T5002-2017《电梯维护保养规则》: 半月维护保养);
smoke detectors, as fire systems, monthly (GB 25201-2010《建筑消防设施的维护管理》: 月度检查),
taken as 30 days; gas detectors monthly too; secondary-supply water pumps monthly; dry-type
transformers and manhole covers quarterly (90 days) — local practice, configurable. A hub
overrides any of them (`Intervals.of({DeviceType.WATER_PUMP: 14})`); what the table said when a
maintenance was booked is kept with the record (`Facility.maintenance_days`).

Periodic inspection (定期检验) is due on the date the inspection body gives (`next_due`); when
an inspection is recorded without one, the default is a year later (elevators are inspected
yearly, TSG T7001).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from graph.devices import DeviceType
from graph.errors import InvalidInput

DEFAULT_DAYS: Mapping[DeviceType, int] = {
    DeviceType.ELEVATOR: 15,
    DeviceType.SMOKE_DETECTOR: 30,
    DeviceType.GAS_DETECTOR: 30,
    DeviceType.WATER_PUMP: 30,
    DeviceType.TRANSFORMER: 90,
    DeviceType.MANHOLE_COVER: 90,
}
INSPECTION_DAYS = 365
MAX_DAYS = 3660


@dataclass(frozen=True, slots=True)
class Intervals:
    """The maintenance interval of each device type, in days."""

    days: Mapping[DeviceType, int] = field(default_factory=lambda: dict(DEFAULT_DAYS))

    @classmethod
    def of(cls, overrides: Mapping[DeviceType, int] | None = None) -> Intervals:
        """The defaults with `overrides` (each 1 to MAX_DAYS days; InvalidInput naming the type)."""
        table = dict(DEFAULT_DAYS)
        for kind, value in (overrides or {}).items():
            if not isinstance(kind, DeviceType):
                raise InvalidInput("intervals", kind, f"must be a device type ({', '.join(t.value for t in DeviceType)})")
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
                raise InvalidInput(f"intervals.{kind.value}", value, f"must be 1 to {MAX_DAYS} days")
            table[kind] = value
        return cls(table)

    @classmethod
    def parse(cls, text: str) -> Intervals:
        """From configuration text `elevator=15,water_pump=14` (HUB_MAINTENANCE_DAYS)."""
        overrides: dict[DeviceType, int] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = item.partition("=")
            try:
                kind = DeviceType(name.strip())
            except ValueError:
                raise InvalidInput("intervals", name, f"must be a device type ({', '.join(t.value for t in DeviceType)})") from None
            if not value.strip().isdigit():
                raise InvalidInput(f"intervals.{kind.value}", value, f"must be 1 to {MAX_DAYS} days")
            overrides[kind] = int(value)
        return cls.of(overrides)

    def for_type(self, kind: DeviceType) -> int:
        return self.days[kind]
