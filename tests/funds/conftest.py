"""A served hub for the fund page's tests: the voting page's estate (tests/vote/conftest.py: 海信花园,
six houses in one entrance, 张伟 holding houses 1 and 6 alone and house 2 with 李娜) with two
periods of its maintenance-fund journal, written through graph.funds before the hub serves.

2026-10: the first deposits (首次缴存) of houses 1–5, area × ¥100/m²; its head published.
2026-11: house 6's first deposit; a top-up (续筹) of house 3; a top-up of house 4 booked by
mistake and reversed (冲正); interest on every house; an emergency lift repair (应急使用) on the
building, completed and apportioned; a roof repair authorised by a recorded resolution, approved
and not yet done; public revenue (公共收益) entered by the firm — lift advertising and parking
income, a cost, a distribution into the fund — of which the committee confirmed two entries; its
heads published on 1 December. The period since is open (provisional).

The figures each test expects are computed here from these movements (never read back from the
hub); the hub's own figures must agree with them.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph import open_store
from graph.ciphers.keyring import Keyring
from graph.funds.apportion import apportion, first_deposit_fen
from graph.funds.journal import EntryKind, FundEntry
from graph.funds.records import Authority, Emergency
from graph.funds.revenue import Disposition, RevenueEntry, RevenueKind, Source
from graph.funds.service import Funds
from graph.scope import Scope
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.map.conftest import browser, chromium_path
from tests.serving import serve_app, served
from tests.vote.conftest import AREAS, BUILDING, ESTATE, FIRMS, HOUSES, OTHER_STREET, OWNERS, STREET, VoteHub, world

__all__ = ["browser", "chromium_path"]  # the map suite's Chromium fixtures, used here too

CST = dt.timezone(dt.timedelta(hours=8))
RATE_FEN_PER_M2 = 10_000
"""¥100.00 per m² of exclusive area: a house's first deposit is area (centi-m²) × 100 fen."""


def _at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=CST)


def _entry(house: str, kind: EntryKind, fen: int, at: dt.datetime, ref: str, memo: str = "") -> FundEntry:
    return FundEntry(ESTATE, house, kind, fen, at, ref, memo)


def first_deposit(house: str) -> int:
    return first_deposit_fen(AREAS[house], RATE_FEN_PER_M2)


OCTOBER = [
    _entry(house, EntryKind.DEPOSIT, first_deposit(house), _at(10, 10), f"statement:custodian-2026-10:{n}", "首次缴存")
    for n, house in enumerate(HOUSES[:5], start=1)
]
NOVEMBER_CREDITS = [
    _entry(HOUSES[5], EntryKind.DEPOSIT, first_deposit(HOUSES[5]), _at(11, 3), "statement:custodian-2026-11:1", "首次缴存"),
    _entry(HOUSES[2], EntryKind.TOP_UP, 50_000, _at(11, 5), "statement:custodian-2026-11:2", "续筹"),
    _entry(HOUSES[3], EntryKind.TOP_UP, 12_300, _at(11, 6), "statement:custodian-2026-11:3", "续筹（误记）"),
]
MISTAKE = len(OCTOBER) + 2
"""The journal index of house 4's mistaken top-up, reversed on 7 November."""
INTEREST = [
    _entry(house, EntryKind.INTEREST, AREAS[house] // 7 + 1, _at(11, 21), f"statement:custodian-2026-11:{n}", "季度利息")
    for n, house in enumerate(HOUSES, start=10)
]
LIFT, LIFT_TITLE, LIFT_BUDGET, LIFT_COST = "WX-2026-011", "1号楼电梯曳引机更换", 1_500_000, 1_234_567
LIFT_WHY = "2026-11-18 电梯困人，曳引机损坏"
ROOF, ROOF_TITLE, ROOF_BUDGET, ROOF_REF = "WX-2026-012", "1号楼屋面防水", 2_000_000, "业主大会决议 2026-3 号"


FIRM = next(iter(FIRMS))
COMMITTEE = f"YWH-{ESTATE}"
REVENUE = [
    RevenueEntry.income(ESTATE, FIRM, _at(11, 8), Source.LIFT_AD, "HT-2026-电梯广告-003", dt.date(2026, 7, 1), dt.date(2026, 12, 31), 1_200_000),
    RevenueEntry.income(ESTATE, FIRM, _at(11, 10), Source.PARKING, "HT-2026-停车-001", dt.date(2026, 11, 1), dt.date(2026, 11, 30), 360_000),
    RevenueEntry.cost(ESTATE, FIRM, _at(11, 12), "广告位电费", 45_600),
    RevenueEntry.distribution(ESTATE, FIRM, _at(11, 28), Disposition.FUND, 1_000_000, "按业主大会决议"),
]
CONFIRMED = (0, 2)
"""The committee confirms the lift advertising and the cost; the parking income and the
distribution stay unconfirmed."""


def november_revenue() -> dict[str, int]:
    """The 2026-11 statement's public-revenue figures, fen, from the entries above."""
    income = sum(e.amount_fen or 0 for e in REVENUE if e.kind is RevenueKind.INCOME)
    cost = sum(e.amount_fen or 0 for e in REVENUE if e.kind is RevenueKind.COST)
    to_fund = sum(e.amount_fen or 0 for e in REVENUE if e.disposition is Disposition.FUND)
    return {"income": income, "cost": cost, "share": income - cost, "toFund": to_fund, "againstFees": 0, "paidOut": 0, "kept": 0}


def shares_of_lift() -> dict[str, int]:
    """Each house's share of the lift's cost (graph.funds.apportion, tested on its own)."""
    return apportion(LIFT_COST, AREAS)


def november_figures() -> dict[str, int]:
    """The 2026-11 statement's figures, fen, from the movements above."""
    opening = sum(entry.amount_fen for entry in OCTOBER)
    deposits = sum(e.amount_fen for e in NOVEMBER_CREDITS if e.kind is EntryKind.DEPOSIT)
    top_ups = sum(e.amount_fen for e in NOVEMBER_CREDITS if e.kind is EntryKind.TOP_UP) - NOVEMBER_CREDITS[2].amount_fen
    interest = sum(e.amount_fen for e in INTEREST)
    repairs = LIFT_COST
    return {
        "opening": opening, "deposits": deposits, "topUps": top_ups, "interest": interest, "repairs": repairs,
        "closing": opening + deposits + top_ups + interest - repairs,
    }


def balance_of(house: str) -> int:
    """The house's balance after November, fen."""
    entries = OCTOBER + NOVEMBER_CREDITS + INTEREST
    booked = sum(e.amount_fen for e in entries if e.house == house)
    if house == HOUSES[3]:
        booked -= NOVEMBER_CREDITS[2].amount_fen
    return booked - shares_of_lift()[house]


async def _books(funds: Funds, now: list[dt.datetime]) -> dict[str, Any]:
    """The two periods above, through graph.funds, with the service's clock moved along."""
    ledger = funds.ledger
    await ledger.book(OCTOBER)
    now[0] = _at(11, 1, 1)
    october = await funds.publish(ESTATE, "2026-10")
    await ledger.book(NOVEMBER_CREDITS)
    await ledger.book([NOVEMBER_CREDITS[2].reversing(MISTAKE, _at(11, 7), "冲正：误记续筹")])
    await ledger.book(INTEREST)
    now[0] = _at(11, 18, 9)
    by, everything = f"committee:{ESTATE}", Scope.everything()
    await funds.raise_project(
        project_id=LIFT, part=BUILDING, title=LIFT_TITLE, budget_fen=LIFT_BUDGET, authority=Authority.EMERGENCY,
        authority_ref=LIFT_WHY, emergency=Emergency.LIFT, raised_by=by, scope=everything,
    )
    await funds.raise_project(
        project_id=ROOF, part=BUILDING, title=ROOF_TITLE, budget_fen=ROOF_BUDGET, authority=Authority.REFERENCE,
        authority_ref=ROOF_REF, raised_by=by, scope=everything,
    )
    now[0] = _at(11, 25, 15)
    await funds.complete_project(LIFT, LIFT_COST, everything)
    now[0] = _at(11, 29, 10)
    await funds.enter_revenue(REVENUE)
    for index in CONFIRMED:
        await funds.decide_revenue(ESTATE, index, COMMITTEE)
    now[0] = _at(12, 1, 1)
    november = await funds.publish(ESTATE, "2026-11")
    return {"heads": {"2026-10": october.root.hex(), "2026-11": november.root.hex()}, "november_size": november.size}


async def _main(folder: Path, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        await store.write(world())
        now = [_at(10, 31, 12)]
        books = await _books(Funds(store, keys, clock=lambda: now[0]), now)
        ttl = dt.timedelta(hours=2)
        tokens = {who: await issue_token(store, keys, "owner", owner_id, name, ttl) for who, (owner_id, name) in OWNERS.items()}
        tokens["street"] = await issue_token(store, keys, "street", STREET, "香港中路街道办事处", ttl)
        tokens["other_street"] = await issue_token(store, keys, "street", OTHER_STREET, "八大峡街道办事处", ttl)
    except BaseException:
        await store.close()
        raise
    app = create_app(store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000))
    await serve_app(app, sock, started, store=store, tokens=tokens, books=books, public_key=keys.sm2_public)


@dataclass
class FundHub(VoteHub):
    """The voting page's served hub (url, tokens, client; ask and graphql as a token holder),
    with what the books wrote (the published heads' roots by period) and the hub's public key."""

    books: dict[str, Any] = field(default_factory=dict)
    public_key: str = ""


@pytest.fixture(scope="module")
def fund_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FundHub]:
    folder = tmp_path_factory.mktemp("funds")

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        await _main(folder, sock, started)

    with served(main, startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            yield FundHub(base, started["tokens"], client, started["books"], started["public_key"])
