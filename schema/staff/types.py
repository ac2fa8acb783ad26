"""A member of a firm's staff in GraphQL. Name, ID number and phone are masked unless the caller's
role sees personal data, exactly as owners' are (`Context.personal`), each whole read audited
(under `staff/<id>`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graph.staff import records
from graph.errors import InvalidInput
from graph.staff.certificates import WARN_WITHIN, Standing, standing_of
from graph.staff.shifts import on_shift
from schema.context import Info
from schema.fields import field


@strawberry.type(description="A certificate (证书) and its standing on a day: valid, expiring (within 30 days, or the days asked), expired or not yet valid.")
class StaffCertificate:
    record: strawberry.Private[records.Certificate]
    day: strawberry.Private[dt.date]
    warn: strawberry.Private[dt.timedelta] = WARN_WITHIN

    @field(description="Its kind.")
    def kind(self) -> str:
        return self.record.kind.value

    @field(description="Its kind in Chinese (特种设备作业人员证（电梯修理 T）, …).")
    def kind_label(self) -> str:
        return self.record.kind.label

    @field(description="证书编号.")
    def number(self) -> str:
        return self.record.number

    @field(description="发证日期.")
    def issued(self) -> dt.date:
        return self.record.issued

    @field(description="有效期至: its last valid day.")
    def expiry(self) -> dt.date:
        return self.record.expiry

    @field(description="valid, expiring (within 30 days), expired or not_yet_valid, today in China.")
    def standing(self) -> str:
        return standing_of(self.record, self.day, self.warn).value

    @field(description="True when expiring or expired (or not yet valid): someone should act.")
    def flagged(self) -> bool:
        return standing_of(self.record, self.day, self.warn) is not Standing.VALID


@strawberry.type(description="A shift: weekly (weekday 1–7 with start and end, China Standard Time) or dated (start and end).")
class StaffShift:
    weekday: int | None = None
    start_time: str | None = strawberry.field(default=None, description="HH:MM:SS, China Standard Time (weekly shifts).")
    end_time: str | None = strawberry.field(default=None, description="HH:MM:SS; at or before the start: past midnight.")
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None

    @classmethod
    def of(cls, shift: records.Shift) -> StaffShift:
        if isinstance(shift, records.WeeklyShift):
            return cls(weekday=shift.weekday, start_time=shift.start.isoformat(), end_time=shift.end.isoformat())
        return cls(starts_at=shift.start, ends_at=shift.end)


@strawberry.type(description="The last position a member of staff reported.")
class StaffPosition:
    lon: float
    lat: float
    at: dt.datetime


@strawberry.type(description="A member of a firm's staff (物业从业人员).")
class StaffMember:
    record: strawberry.Private[records.StaffMember]

    def _personal(self, info: Info, name: str, value: str | None) -> str | None:
        context = info.context
        return context.personal(records.holder(self.record.id), name, value, whole=context.principal.sees_personal_data)

    @field(description="Its staff id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @field(description="The employer's unified social credit code (a property firm or a maintenance contractor).")
    def employer(self) -> str:
        return self.record.employer

    @field(description="岗位.")
    def post(self) -> str:
        return self.record.post.value

    @field(description="岗位 in Chinese (电梯维修工, 电工, …).")
    def post_label(self) -> str:
        return self.record.post.label

    @field(description="Name; masked (张*) unless your role may see personal data.")
    def name(self, info: Info) -> str:
        return self._personal(info, "name", self.record.name) or ""

    @field(description="公民身份号码; masked unless your role may see it.")
    def id_number(self, info: Info) -> str:
        return self._personal(info, "id_number", self.record.id_number) or ""

    @field(description="Phone; masked (138****5678) unless your role may see it.")
    def phone(self, info: Info) -> str | None:
        return self._personal(info, "phone", self.record.phone)

    @field(description="The estates it works in (codes).")
    def estates(self) -> list[str]:
        return list(self.record.estates)

    @field(description="Its certificates with their standing today (China); expiring means within `warnDays` (30 by default).")
    def certificates(
        self, info: Info, warn_days: Annotated[int, strawberry.argument(description="Days before expiry a certificate is flagged (1–366).")] = 30
    ) -> list[StaffCertificate]:
        if not 1 <= warn_days <= 366:
            raise InvalidInput("warnDays", warn_days, "must be 1 to 366 days")
        warn = dt.timedelta(days=warn_days)
        return [StaffCertificate(record=item, day=info.context.today, warn=warn) for item in self.record.certificates]

    @field(description="Its shifts.")
    def shifts(self) -> list[StaffShift]:
        return [StaffShift.of(shift) for shift in self.record.shifts]

    @field(description="Whether it is on shift now.")
    def on_shift(self) -> bool:
        return on_shift(self.record.shifts, dt.datetime.now(dt.timezone.utc))

    @field(description="The last position it reported; null if none.")
    def position(self) -> StaffPosition | None:
        found = self.record.position
        return None if found is None else StaffPosition(lon=found.point.lon, lat=found.point.lat, at=found.at)
