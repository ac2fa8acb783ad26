"""The case an alarm opens (未诉先办), one way for every raiser: device ingestion's rules
(devices.pipeline) and the facilities' overdue sweep (graph.facilities.service).

A case per alarm: its source is DEVICE_ALARM and its external id the alarm's id, so an alarm
whose case was opened but not linked (a crash between the two) is linked to that case, never
given a second (`case_for_alarm`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.devices import Alarm, Device, Severity


class CaseOpener(Protocol):
    """What opens a case: the workflow (graph.workflow.Workflow), which also dispatches it."""

    async def open_case(self, case: Case, *, actor: str, dispatch: bool = True) -> Case: ...


class AlarmCaseStore(Protocol):
    async def link_alarm_case(self, alarm_id: str, case_id: str) -> None: ...

    async def cases_by_external(self, source: CaseSource, external_ids: Sequence[str]) -> list[Case | None]: ...


def alarm_case(device: Device, alarm: Alarm) -> Case:
    """The case to open for `alarm` of `device`: an emergency when the alarm is critical, else
    a repair, at the device's place and point."""
    return Case(
        id="",
        source=CaseSource.DEVICE_ALARM,
        category=CaseCategory.EMERGENCY if alarm.severity is Severity.CRITICAL else CaseCategory.REPAIR,
        status=CaseStatus.ACCEPTED,
        title=f"{alarm.message}：{device.name or device.type.label} {device.code}"[:200],
        reported_at=alarm.raised_at,
        updated_at=alarm.raised_at,
        description=f"设备 {device.code}（{device.type.label} {device.model}）告警 {alarm.rule}"
        + (f"，值 {alarm.value}" if alarm.value else ""),
        place_code=device.place_code,
        point=device.point,
        external_id=alarm.id,
        severity=alarm.severity.value,
    )


async def open_alarm_case(store: AlarmCaseStore, opener: CaseOpener, device: Device, alarm: Alarm) -> Case:
    """Open the alarm's case through `opener` (dispatched to the managing firm) and link it."""
    opened = await opener.open_case(alarm_case(device, alarm), actor=f"device:{device.code}")
    await store.link_alarm_case(alarm.id, opened.id)
    return opened


async def case_for_alarm(store: AlarmCaseStore, opener: CaseOpener, device: Device, alarm: Alarm) -> bool:
    """Give an alarm without a case its case: the one opened for it already (linked now: the
    raiser died between opening and linking), else a new one. True when this call opened one."""
    if alarm.case_id is not None:
        return False
    [found] = await store.cases_by_external(CaseSource.DEVICE_ALARM, [alarm.id])
    if found is not None:
        await store.link_alarm_case(alarm.id, found.id)
        return False
    await open_alarm_case(store, opener, device, alarm)
    return True
