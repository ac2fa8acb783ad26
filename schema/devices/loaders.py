"""DataLoaders for devices and the cases alarms opened, one set per request (or per event of a
subscription): a page of 100 alarms asking for `device` and `case` costs one store call each."""

from __future__ import annotations

from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graph.cases import Case
from graph.devices import Alarm, Device, DeviceSummary, device_summaries
from graph.scope import Scope
from graph.store import MAX_PAGE, Store


@dataclass(frozen=True, slots=True)
class DeviceLoaders:
    by_code: DataLoader[str, Device | None]
    """Device code → the device; None when missing or out of scope."""
    cases: DataLoader[str, Case | None]
    """Case id → the case; None when missing or out of scope."""
    active_alarms: DataLoader[str, list[Alarm]]
    """Device code → its active alarms, newest first (one alarm page for all the codes asked)."""
    summaries: DataLoader[str, DeviceSummary | None]
    """Place code → its devices by status and active alarms; None when missing or out of scope."""

    @classmethod
    def create(cls, store: Store, scope: Scope) -> DeviceLoaders:
        async def load_devices(codes: list[str]) -> list[Device | None]:
            return await store.devices(codes, scope)

        async def load_cases(ids: list[str]) -> list[Case | None]:
            return await store.cases(ids, scope)

        async def load_active(codes: list[str]) -> list[list[Alarm]]:
            found: dict[str, list[Alarm]] = {code: [] for code in codes}
            after: str | None = None
            while True:
                page = await store.alarm_page(scope, MAX_PAGE, after, active=True, device_codes=codes)
                for alarm in page.items:
                    found[alarm.device_code].append(alarm)
                if not page.has_next:
                    return [found[code] for code in codes]
                after = page.end_cursor

        async def load_summaries(codes: list[str]) -> list[DeviceSummary | None]:
            return await device_summaries(store, codes, scope)

        return cls(
            by_code=DataLoader(load_fn=load_devices),
            cases=DataLoader(load_fn=load_cases),
            active_alarms=DataLoader(load_fn=load_active),
            summaries=DataLoader(load_fn=load_summaries),
        )
