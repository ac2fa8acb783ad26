"""What the hub keeps of the owners' money besides the journals, and the port that keeps it.

The journals themselves are Merkle logs (`graph.logstore`): `fund:<estate>` for the maintenance
fund (`graph.funds.journal`) and `revenue:<estate>` for public revenue (`graph.funds.revenue`).
Nothing here can change what they say. This port keeps two other things:

- **Repair projects** (维修项目): what a repair is for (the part it serves: the estate, a building
  or an entrance), its budget and its authority — a passed vote of class 5 (使用建筑物及其附属设施
  的维修资金), a recorded authorisation reference, or an emergency use (应急使用) of a named kind —
  and, once completed, its cost and where its debits are in the journal. A project changes only by
  compare-and-set on its `version`: approved → completed or cancelled, never back.
- **The journals folded** (the read side): each house's account (balance, first deposit, how many
  entries), and each estate's figures per calendar year (credits, repairs; public revenue, its
  confirmed part, costs, distribution). They are worked out from the journals only
  (`graph.funds.books`), never entered, and written together with the journal size they were
  folded up to, compare-and-set on that size (`apply_fund`, `apply_revenue`): two folders at
  once write one result, and a folder that died half way leaves the rows at the last size
  applied, so the next one goes on from there. `hub ledger verify` folds the journal again
  and compares. Roll-ups (`fund_totals`) add these rows up for any place: a city dashboard
  reads sums, not journals.

Scope: a project is in a caller's scope when its part is, an account when its house is, an
estate's yearly rows when the estate is (a house scope, as an owner's token has, sees its own
accounts and nothing of the estate: what an owner sees beyond is the service's decision).
Out of scope behaves as absent. Money is integer fen, areas integer centi-m², times aware UTC.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from graph.model import Page
from graph.scope import Scope

LOW_BALANCE = (3, 10)
"""A house's balance is low when it is under 3/10 of its first deposit (余额不足首次缴存额30%:
the local rules call for a top-up, 续筹); compared as integers, balance·10 < first·3."""


class Authority(enum.StrEnum):
    """On what a repair spends the fund."""

    VOTE = "vote"  # a passed vote of class 5 (Civil Code Art. 278 (一)(五)): authority_ref is the vote id
    REFERENCE = "reference"  # a recorded authorisation (a paper meeting's resolution): its reference
    EMERGENCY = "emergency"  # 应急使用, allowed without a vote, flagged: authority_ref says what happened


class Emergency(enum.StrEnum):
    """The kinds of emergency use the rules allow without a vote (住建部《住宅专项维修资金管理办法》
    and the local 应急使用 rules)."""

    LIFT = "lift"  # 电梯故障危及人身安全
    FIRE = "fire"  # 消防设施损坏
    WATER = "water"  # 供水设施损坏、漏水
    GAS = "gas"  # 燃气管道泄漏
    ROOF = "roof"  # 屋面、外墙渗漏
    STRUCTURE = "structure"  # 外墙、楼体脱落等危及安全

    @property
    def label(self) -> str:
        return _EMERGENCY_LABELS[self]


_EMERGENCY_LABELS = {
    Emergency.LIFT: "电梯故障",
    Emergency.FIRE: "消防设施损坏",
    Emergency.WATER: "供水设施损坏或漏水",
    Emergency.GAS: "燃气泄漏",
    Emergency.ROOF: "屋面或外墙渗漏",
    Emergency.STRUCTURE: "外墙或楼体脱落危及安全",
}


class ProjectStatus(enum.StrEnum):
    APPROVED = "approved"  # raised with its authority; may be completed
    COMPLETED = "completed"  # cost apportioned and debited
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class RepairProject:
    """A repair spending the fund. `part` is the estate's code or a building or entrance under it;
    `debits` the journal indices [first_index, first_index + debit_entries) its debits took."""

    id: str
    estate: str
    part: str
    title: str
    budget_fen: int
    authority: Authority
    authority_ref: str
    raised_by: str
    raised_at: dt.datetime
    emergency: Emergency | None = None
    case_id: str | None = None
    status: ProjectStatus = ProjectStatus.APPROVED
    cost_fen: int | None = None
    completed_at: dt.datetime | None = None
    first_index: int | None = None
    debit_entries: int | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class FundAccount:
    """A house's maintenance-fund account folded from its journal entries."""

    house: str
    estate: str
    balance_fen: int
    first_deposit_fen: int  # the deposit(s) at first sale, net of their reversals
    entries: int
    last_index: int  # the journal index of its last entry
    last_at: dt.datetime

    @property
    def low(self) -> bool:
        """Under 30% of the first deposit (see LOW_BALANCE); a house with no deposit is not low."""
        numerator, denominator = LOW_BALANCE
        return self.first_deposit_fen > 0 and self.balance_fen * denominator < self.first_deposit_fen * numerator


@dataclass(frozen=True, slots=True)
class FundYear:
    """An estate's maintenance-fund movements in one calendar year (China Standard Time)."""

    estate: str
    year: int
    credits_fen: int  # deposits, top-ups and interest, net of their reversals
    interest_fen: int
    repairs_fen: int  # spent on repairs (positive), net of their reversals


@dataclass(frozen=True, slots=True)
class RevenueYear:
    """An estate's public revenue (公共收益) in one calendar year, by the dates entries were made."""

    estate: str
    year: int
    income_fen: int
    confirmed_income_fen: int  # income entries the committee confirmed
    cost_fen: int
    distributed_fen: int  # the owners' share put somewhere (the fund, fees, paid out)
    entries: int
    unconfirmed: int  # entries (income, cost, distribution) not yet confirmed


@dataclass(frozen=True, slots=True)
class FundTotals:
    """The fund and revenue figures of a place's subtree (`year` for the yearly ones)."""

    code: str
    accounts: int  # houses with an account
    balance_fen: int
    first_deposit_fen: int
    low_accounts: int  # accounts under 30% of their first deposit
    estates: int  # estates with a fund journal
    credits_fen: int
    repairs_fen: int
    revenue_fen: int
    confirmed_revenue_fen: int
    unconfirmed_entries: int


class FundStore(Protocol):
    """The fund part of the store port: storage primitives only (graph.funds.service decides
    what is allowed). Every write is atomic: a refused write leaves nothing of itself."""

    async def save_project(self, project: RepairProject) -> None:
        """Store a new project (status APPROVED, version 1). An id already stored is StoreError
        naming it, the first kept; an estate not stored, or a part that is not that estate or a
        building or entrance under it, InvalidInput naming the project (`project <id> estate`,
        `… part`). So is a project that is not new (another status or version, or any of
        cost_fen, completed_at, first_index, debit_entries given), a naive raised_at, a budget
        under 0, or an id that is not 1–64 printable characters without spaces."""

    async def projects(self, ids: Sequence[str], scope: Scope) -> list[RepairProject | None]:
        """The projects with these ids, in order; None where missing or out of scope (a project
        is in scope when its part is)."""

    async def project_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        raised_from: dt.datetime | None = None,
        raised_until: dt.datetime | None = None,
        statuses: Sequence[ProjectStatus] | None = None,
    ) -> Page[RepairProject]:
        """Projects in scope whose part is `within` or under it (None: anywhere; a place not
        stored: none), raised in [raised_from, raised_until) (None: unbounded; a naive bound is
        InvalidInput), of `statuses` (None: any), ordered by id, keyset-paged like every list
        (first clamped to 1..MAX_PAGE, opaque cursors; a cursor the store did not make, or one
        naming no stored project, is InvalidInput)."""

    async def finish_project(
        self,
        project_id: str,
        version: int,
        status: ProjectStatus,
        at: dt.datetime,
        *,
        cost_fen: int | None = None,
        first_index: int | None = None,
        debit_entries: int | None = None,
    ) -> bool:
        """If the project is APPROVED at `version`: set `status` (COMPLETED with cost_fen,
        first_index and debit_entries, or CANCELLED with none of them), completed_at `at`,
        version + 1, and return True. Otherwise (unknown, another version, finished) change
        nothing and return False. APPROVED as the new status, COMPLETED without its three
        figures (each 0 or more), CANCELLED with any of them, or a naive `at` is InvalidInput
        naming the project, whatever is stored."""

    async def fund_applied(self, logs: Sequence[str]) -> list[int]:
        """How many entries of each journal (`fund:<estate>` or `revenue:<estate>`) the kept
        rows are folded up to (0 for a journal never applied, and for any other name), in order."""

    async def apply_fund(
        self,
        estate: str,
        from_size: int,
        to_size: int,
        accounts: Sequence[FundAccount],
        years: Sequence[FundYear],
    ) -> bool:
        """If the estate's fund journal is applied up to `from_size`: replace the rows of these
        accounts and years with the given ones (each row is the whole new state, not a change)
        and record `to_size`, all at once; True. Otherwise change nothing; False. Rows not
        given are kept as they are. A row of another estate, a house not stored or not under
        the estate, a house or a year given twice, a naive last_at, a year outside 1–9999, an
        estate not stored, from_size < 0 or to_size < from_size: InvalidInput (field
        `apply_fund <estate> accounts[i].house`, `… years[i].year`, `… to_size`, …), nothing
        written, whether or not from_size matched."""

    async def apply_revenue(self, estate: str, from_size: int, to_size: int, years: Sequence[RevenueYear]) -> bool:
        """The same for the estate's revenue journal and its yearly rows (fields named
        `apply_revenue <estate> …`); the two journals' sizes are kept apart."""

    async def fund_accounts(self, houses: Sequence[str], scope: Scope) -> list[FundAccount | None]:
        """The accounts of these houses, in order; None where none is kept or out of scope."""

    async def fund_account_page(self, estate: str, scope: Scope, first: int, after: str | None = None) -> Page[FundAccount]:
        """The estate's accounts in scope (an account is in scope when its house is: empty when
        the estate is out of scope, its own accounts for a house scope) by house code,
        keyset-paged like every list (a cursor naming no account of the estate is InvalidInput)."""

    async def fund_years(self, estates: Sequence[str], year: int, scope: Scope) -> list[tuple[FundYear | None, RevenueYear | None]]:
        """Each estate's rows for `year`, in order; None where none is kept or out of scope
        (the estate is: a building's or a house's scope sees none)."""

    async def fund_totals(self, codes: Sequence[str], year: int, scope: Scope) -> list[FundTotals | None]:
        """For each place (any level, a house too), the sums over the accounts and the estates'
        rows of `year` at or under it (zeros where there are none); None where the place is
        missing or out of scope (everything under a place in scope is in scope). Accounts count
        at every ancestor of their house; an estate's yearly rows and its journal at the estate
        and its ancestors only, so a building's, entrance's or house's yearly figures and
        `estates` are 0. `estates` counts the estates whose fund journal was applied (an
        apply_fund returned True for it, even one to size 0; a revenue journal does not count);
        `low_accounts` uses `FundAccount.low`."""
