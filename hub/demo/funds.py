"""The demo city's owners' money, after the custodian's statements are synced (the accounts'
deposits, interest and top-ups come from them):

- the estate whose owners voted to use the fund for a lift (hub.demo.votes' finished vote, an
  item of class 5) replaces 1号楼's lift on that vote's authority: the cost, two fifths of what
  the building's accounts hold rounded down to the yuan (at most ¥380,000.00), apportioned over
  its houses by area and debited;
- the street's second estate repairs a burst water main as an emergency use (应急使用), flagged;
- the first estate's firm enters a half-year of public revenue (lift advertising, parking on
  common ground, the electricity the screens use, a part put into the fund) and the committee
  confirms the incomes, leaving the rest shown as unconfirmed;
- last month's heads are signed and published for every estate with a journal, as the hub does
  each month.

Nothing here is random: the same city gives the same books.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from graph.ciphers.keyring import Keyring
from graph.clock import utc_now
from graph.funds.records import Authority, Emergency
from graph.funds.revenue import Disposition, RevenueEntry, Source
from graph.funds.service import Funds
from graph.levels import Level
from graph.scope import Scope
from graph.store import Store
from graph.votes.law import ItemClass
from graph.votes.tally import parse_result

EVERYTHING = Scope.everything()
LIFT_CAP_FEN = 38_000_000


@dataclass(frozen=True, slots=True)
class DemoFunds:
    lift_project: str | None
    lift_estate: str
    lift_houses: int
    lift_cost_fen: int
    pump_project: str | None
    revenue_entries: int
    confirmed: int
    published: int
    period: str
    kept: bool = False  # built earlier: the books were left as they were


async def _first_building(store: Store, estate: str) -> str | None:
    page = await store.subtree(Level.BUILDING, estate, EVERYTHING, 1)
    return page.items[0].code if page.items else None


async def build_demo_funds(store: Store, keys: Keyring, *, estate: str, vote: str, other_estate: str) -> DemoFunds:
    funds = Funds(store, keys)
    now = utc_now()
    lift_project = pump_project = None
    lift_houses = lift_cost = 0
    building = await _first_building(store, estate)
    [closed] = await store.votes([vote], EVERYTHING)
    lift_id = f"WX-{estate[-7:]}-001"
    if await funds.project(lift_id, EVERYTHING) is not None:  # a demo built again keeps its books
        return DemoFunds(lift_id, estate, 0, 0, None, 0, 0, await funds.publish_due(), funds.last_month(), kept=True)
    if building is not None and closed is not None and closed.result is not None:
        passed = any(item.klass == ItemClass.USE_FUND and item.passed for item in parse_result(closed.result).items)
        areas = await funds.houses_of(building)
        accounts = await store.fund_accounts(sorted(areas), EVERYTHING)
        held = sum(account.balance_fen for account in accounts if account is not None)
        lift_cost = min(LIFT_CAP_FEN, held * 2 // 5 // 100 * 100)
        if lift_cost > 0:
            project = await funds.raise_project(
                project_id=lift_id, part=building, title="1号楼电梯更换", budget_fen=max(lift_cost, LIFT_CAP_FEN),
                authority=Authority.VOTE if passed else Authority.REFERENCE,
                authority_ref=vote if passed else f"{vote}（纸质表决结果）", raised_by=f"committee:{estate}", scope=EVERYTHING,
            )
            done, debit = await funds.complete_project(project.id, lift_cost, EVERYTHING)
            lift_project, lift_houses = done.id, len([share for share in debit.shares.values() if share])
    other_building = await _first_building(store, other_estate)
    pump_id = f"WX-{other_estate[-7:]}-001"
    if other_building is not None and await funds.project(pump_id, EVERYTHING) is None:
        areas = await funds.houses_of(other_building)
        accounts = await store.fund_accounts(sorted(areas), EVERYTHING)
        lowest = min((account.balance_fen for account in accounts if account is not None), default=0)
        cost = min(1_234_567, lowest * len(areas) // 4)
        if cost > 0:
            project = await funds.raise_project(
                project_id=pump_id, part=other_building, title="1号楼二次供水管道爆裂抢修", budget_fen=cost,
                authority=Authority.EMERGENCY, authority_ref="地下泵房供水主管爆裂，全楼停水", emergency=Emergency.WATER,
                raised_by=f"street:{other_estate[:9]}", scope=EVERYTHING,
            )
            await funds.complete_project(project.id, cost, EVERYTHING)
            pump_project = project.id
    entries = confirmed = 0
    spans = await store.managements([estate], now.date(), EVERYTHING)
    [committees] = await store.committees([estate], now.date(), EVERYTHING)
    if spans and spans[0] and committees and not await funds.revenue.log(estate).size():
        firm = spans[0][-1].firm_code
        year = now.year
        made = [
            RevenueEntry.income(estate, firm, now, Source.LIFT_AD, f"HT-{year}-电梯广告-001", dt.date(year, 1, 1), dt.date(year, 6, 30), 3_600_000),
            RevenueEntry.income(estate, firm, now, Source.PARKING, f"HT-{year}-地面停车-003", dt.date(year, 1, 1), dt.date(year, 6, 30), 1_850_000),
            RevenueEntry.cost(estate, firm, now, "广告屏电费", 240_000),
            RevenueEntry.distribution(estate, firm, now, Disposition.FUND, 2_000_000, "按业主大会决定转入专项维修资金"),
        ]
        appended = await funds.enter_revenue(made)
        entries = len(made)
        for index in (appended.first, appended.first + 1):  # the two incomes; the cost and the transfer await the committee
            await funds.decide_revenue(estate, index, committees[-1].id)
            confirmed += 1
    published = await funds.publish_due()
    return DemoFunds(lift_project, estate, lift_houses, lift_cost, pump_project, entries, confirmed, published, funds.last_month())
