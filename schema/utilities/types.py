"""Utility accounts (户号), arrears (欠费) and outage notices (停水/停电/停气/停暖) in GraphQL.

The types wrap the records of `graph.utilities`; a notice's affected places are read through
the request's place loader, so a page of notices costs one `places` call however many places
they name. `Utility` is the domain's enum itself, exposed under its member names (`WATER`).
"""

from __future__ import annotations

import datetime as dt

import strawberry

from graph import utilities
from graph.clock import CHINA_STANDARD_TIME
from graph.utilities import Utility
from schema.context import Info
from schema.fields import field
from schema.places.types import Place, place_type

strawberry.enum(Utility, description="A utility: water (水), power (电), gas (燃气), heating (供热).")


@strawberry.type(description="A utility's account (户号) for a house.")
class UtilityAccount:
    utility: Utility
    account_no: str = strawberry.field(description="The utility's account number (户号).")

    @classmethod
    def of(cls, record: utilities.UtilityAccount) -> UtilityAccount:
        return cls(utility=record.utility, account_no=record.account_no)


@strawberry.type(
    name="UtilityArrears",
    description="What one account owes on a day: bills past their due date and not paid in full.",
)
class Arrears:
    utility: Utility
    account_no: str = strawberry.field(description="The utility's account number (户号).")
    amount_fen: int = strawberry.field(description="The overdue total in whole fen (分): 12345 is 123.45 元.")
    amount: str = strawberry.field(
        description="The overdue total in yuan (元) as exact decimal text with two decimals, like \"123.45\" "
        "(made from `amountFen`, never from a float)."
    )
    bills: int = strawberry.field(description="How many overdue bills make up the amount.")
    oldest_period: str = strawberry.field(description="The oldest overdue billing period, YYYY-MM.")

    @classmethod
    def of(cls, record: utilities.Arrears) -> Arrears:
        return cls(
            utility=record.utility,
            account_no=record.account_no,
            amount_fen=record.amount_fen,
            amount=utilities.yuan_text(record.amount_fen),
            bills=record.bills,
            oldest_period=record.oldest_period,
        )


@strawberry.type(description="A planned or unplanned outage notice (停水/停电/停气/停暖 通知).")
class Outage:
    record: strawberry.Private[utilities.Outage]

    @strawberry.field
    def utility(self) -> Utility:
        return self.record.utility

    @field(description="The utility's notice number; unique per utility.")
    def notice_id(self) -> str:
        return self.record.notice_id

    @field(description="When the supply stops (Beijing time, +08:00).")
    def starts_at(self) -> dt.datetime:
        return self.record.starts_at.astimezone(CHINA_STANDARD_TIME)

    @field(description="When the supply is back (Beijing time); null while the utility has not said.")
    def ends_at(self) -> dt.datetime | None:
        ends = self.record.ends_at
        return None if ends is None else ends.astimezone(CHINA_STANDARD_TIME)

    @field(description="Why (检修, 抢修, …), as the utility wrote it.")
    def reason(self) -> str:
        return self.record.reason

    @field(description="Announced ahead (计划停) rather than a fault (故障抢修).")
    def planned(self) -> bool:
        return self.record.planned

    @field(description="The codes of the affected places you may see (estates, buildings, …).")
    def place_codes(self) -> list[str]:
        return list(self.record.place_codes)

    @field(description="The affected places you may see.")
    async def places(self, info: Info) -> list[Place]:
        found = await info.context.places.by_code.load_many(list(self.record.place_codes))
        return [place_type(place) for place in found if place is not None]


__all__ = ["Arrears", "Outage", "Utility", "UtilityAccount"]
