"""The GraphQL types of the owners' money: accounts with their entries and proofs, repair
projects with their authority and apportionment, period statements and roll-ups per place.

Money is integer fen (`…Fen`, exact) with a yuan text beside it for reading (`…Yuan`); no float
stands for money anywhere. No type carries an owner's name: an account is the house's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graph.errors import InvalidInput
from graph.funds import records
from graph.funds.journal import EntryKind, FundEntry
from graph.funds.records import Authority, Emergency, ProjectStatus
from graph.funds.revenue import Disposition, EntryStatus, RevenueKind, Source
from graph.funds.revenue_book import RevenueItem
from graph.funds.service import EntryProof, RevenuePeriod, Statement
from graph.merkle import leaf_hash
from hub.funds.statement_text import authority_text, yuan
from schema.context import Info
from schema.fields import field
from schema.votes.types import ConsistencyProof, TreeHead

FIRST_YEAR, LAST_YEAR = 2000, 2100
"""The calendar years `funds(year:)` accepts, as `fundTotals(year:)` does."""

FundYear = Annotated[
    int | None,
    strawberry.argument(description="The calendar year (China Standard Time) of the yearly figures; this year when omitted."),
]


def fund_year(year: int | None, today: dt.date) -> int:
    """The year asked, or `today`'s (the request's date in China Standard Time); a year outside
    FIRST_YEAR..LAST_YEAR is InvalidInput naming `year`.

    >>> fund_year(None, dt.date(2026, 12, 31)), fund_year(2025, dt.date(2026, 1, 1))
    (2026, 2025)
    """
    if year is None:
        return today.year
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput("year", year, f"must be a calendar year between {FIRST_YEAR} and {LAST_YEAR}")
    return year


strawberry.enum(EntryKind, name="FundEntryKind", description="首次缴存 deposit, 续筹 top_up, 利息 interest, 维修支出 repair, 冲正 reversal.")
strawberry.enum(Authority, name="RepairAuthority", description="What authorises spending the fund: a passed vote of class 5, a recorded authorisation, or an emergency use (应急使用, flagged).")
strawberry.enum(Emergency, name="EmergencyUse", description="The kinds of emergency use allowed without a vote: lift, fire, water, gas, roof, structure.")
strawberry.enum(ProjectStatus, name="RepairStatus", description="approved (raised with its authority), completed (debited), cancelled.")


@strawberry.type(description="One movement on a house's maintenance-fund account, as its estate's journal holds it.")
class FundEntryItem:
    index: int = strawberry.field(description="The entry's position in the estate's journal (from 0).")
    kind: EntryKind
    label: str = strawberry.field(description="The kind in Chinese (首次缴存, 续筹, 利息, 维修支出, 冲正).")
    amount_fen: int = strawberry.field(description="Signed: credits positive, debits negative.")
    amount_yuan: str
    at: dt.datetime
    ref: str = strawberry.field(description="statement:<source>:<line>, project:<id> or reverses:<index>.")
    memo: str

    @classmethod
    def of(cls, index: int, entry: FundEntry) -> FundEntryItem:
        return cls(
            index=index, kind=entry.kind, label=entry.kind.label, amount_fen=entry.amount_fen,
            amount_yuan=yuan(entry.amount_fen), at=entry.at, ref=entry.ref, memo=entry.memo,
        )


@strawberry.type(description="An entry with the path proving it is in the journal a signed head covers (RFC 9162 with SM3).")
class FundEntryProof:
    log: str
    index: int
    entry: FundEntryItem
    payload: str = strawberry.field(description="The canonical bytes hashed into the leaf (UTF-8 JSON).")
    leaf_hash: str = strawberry.field(description="SM3(0x00 ‖ payload), 64 hex digits.")
    path: list[str] = strawberry.field(description="Sibling hashes from the leaf up, 64 hex digits each.")
    head: TreeHead

    @classmethod
    def of(cls, proof: EntryProof, public_key: str) -> FundEntryProof:
        return cls(
            log=proof.log, index=proof.index, entry=FundEntryItem.of(proof.index, proof.entry),
            payload=proof.payload.decode(), leaf_hash=leaf_hash(proof.payload).hex(),
            path=[node.hex() for node in proof.path], head=TreeHead.of(proof.head, public_key),
        )


@strawberry.type(description="A house's maintenance-fund account (专项维修资金分户账): it stays with the house when the house is sold.")
class FundAccount:
    house: str
    estate: str
    balance_fen: int
    balance_yuan: str
    first_deposit_fen: int = strawberry.field(description="The deposit at first sale (首次缴存), net of its reversals.")
    low: bool = strawberry.field(description="The balance is under 30% of the first deposit: the rules call for a top-up (续筹).")
    entries: int
    last_index: int
    last_at: dt.datetime

    @classmethod
    def of(cls, account: records.FundAccount) -> FundAccount:
        return cls(
            house=account.house, estate=account.estate, balance_fen=account.balance_fen,
            balance_yuan=yuan(account.balance_fen), first_deposit_fen=account.first_deposit_fen,
            low=account.low, entries=account.entries, last_index=account.last_index, last_at=account.last_at,
        )

    @field(description="The account's entries, oldest first.")
    async def history(self, info: Info) -> list[FundEntryItem]:
        from schema.funds.access import funds_of

        entries = await funds_of(info).history(self.house, info.context.scope)
        return [FundEntryItem.of(index, entry) for index, entry in entries]

    @field(description="The account's last entry (or the one at `index`) with its inclusion proof against the latest published period head covering it, else a head signed now.")
    async def proof(self, info: Info, index: int | None = None) -> FundEntryProof | None:
        from schema.funds.access import funds_of

        funds = funds_of(info)
        found = await funds.entry_proof(self.house, index, info.context.scope)
        if found is None:
            return None
        return FundEntryProof.of(found, funds.ledger.keys.sm2_public if funds.ledger.keys else "")


@strawberry.type(description="A house's share of a completed repair, by exclusive area, exact to the fen.")
class RepairShare:
    house: str
    area_centi_m2: int
    share_fen: int
    share_yuan: str


@strawberry.type(description="A repair paid from the maintenance fund, with its authority; an emergency use (应急使用) is flagged.")
class RepairProject:
    record: strawberry.Private[records.RepairProject]

    @strawberry.field
    def id(self) -> str:
        return self.record.id

    @strawberry.field
    def estate(self) -> str:
        return self.record.estate

    @field(description="The common part it serves: the estate, a building or an entrance.")
    def part(self) -> str:
        return self.record.part

    @strawberry.field
    def title(self) -> str:
        return self.record.title

    @strawberry.field
    def budget_fen(self) -> int:
        return self.record.budget_fen

    @strawberry.field
    def authority(self) -> Authority:
        return self.record.authority

    @field(description="The vote id, the authorisation's reference, or what the emergency was.")
    def authority_ref(self) -> str:
        return self.record.authority_ref

    @field(description="How it is authorised, in Chinese, as the statement shows it.")
    def authority_text(self) -> str:
        return authority_text(self.record)

    @field(description="True for an emergency use (应急使用), spent without a vote.")
    def emergency_use(self) -> bool:
        return self.record.authority is Authority.EMERGENCY

    @strawberry.field
    def emergency(self) -> Emergency | None:
        return self.record.emergency

    @strawberry.field
    def case_id(self) -> str | None:
        return self.record.case_id

    @strawberry.field
    def status(self) -> ProjectStatus:
        return self.record.status

    @strawberry.field
    def cost_fen(self) -> int | None:
        return self.record.cost_fen

    @strawberry.field
    def raised_at(self) -> dt.datetime:
        return self.record.raised_at

    @strawberry.field
    def completed_at(self) -> dt.datetime | None:
        return self.record.completed_at

    @field(description="The journal index of its first debit entry.")
    def first_index(self) -> int | None:
        return self.record.first_index

    @field(description="Each house's share as the journal holds it (completed projects), by house code.")
    async def shares(self, info: Info) -> list[RepairShare]:
        from schema.funds.access import funds_of

        found = await funds_of(info).shares(self.record)
        return [RepairShare(house=s.house, area_centi_m2=s.area_centi_m2, share_fen=s.share_fen, share_yuan=yuan(s.share_fen)) for s in sorted(found, key=lambda s: s.house)]


@strawberry.type(description="One page of repair projects, by id.")
class RepairProjectPage:
    items: list[RepairProject]
    has_next: bool
    end_cursor: str | None


@strawberry.type(description="An estate's maintenance fund over one disclosure period (收支公示): the journal's entries between the previous published head and this period's.")
class FundStatement:
    record: strawberry.Private[Statement]
    public_key: strawberry.Private[str]
    consistency: ConsistencyProof | None = strawberry.field(description="The proof that this period's head extends the previous one.")

    @strawberry.field
    def estate(self) -> str:
        return self.record.estate.code

    @strawberry.field
    def estate_name(self) -> str:
        return self.record.estate.name

    @strawberry.field
    def period(self) -> str:
        return self.record.period

    @strawberry.field
    def start(self) -> dt.datetime:
        return self.record.start

    @strawberry.field
    def end(self) -> dt.datetime:
        return self.record.end

    @field(description="Journal entries [fromSize, toSize) are this period's.")
    def from_size(self) -> int:
        return self.record.from_size

    @strawberry.field
    def to_size(self) -> int:
        return self.record.to_size

    @field(description="Whether the period's head is signed and published; an open period is provisional.")
    def published(self) -> bool:
        return self.record.published

    @strawberry.field
    def head(self) -> TreeHead | None:
        return TreeHead.of(self.record.head, self.public_key) if self.record.head else None

    @strawberry.field
    def previous_head(self) -> TreeHead | None:
        return TreeHead.of(self.record.previous, self.public_key) if self.record.previous else None

    @strawberry.field
    def opening_fen(self) -> int:
        return self.record.opening_fen

    @strawberry.field
    def deposits_fen(self) -> int:
        return self.record.credits_fen[str(EntryKind.DEPOSIT)]

    @strawberry.field
    def top_ups_fen(self) -> int:
        return self.record.credits_fen[str(EntryKind.TOP_UP)]

    @strawberry.field
    def interest_fen(self) -> int:
        return self.record.credits_fen[str(EntryKind.INTEREST)]

    @strawberry.field
    def repairs_fen(self) -> int:
        return self.record.repairs_fen

    @strawberry.field
    def closing_fen(self) -> int:
        return self.record.closing_fen

    @strawberry.field
    def reversals(self) -> int:
        return self.record.reversals

    @strawberry.field
    def entries(self) -> int:
        return self.record.entries

    @strawberry.field
    def accounts(self) -> int:
        return self.record.accounts

    @field(description="Public revenue (公共收益) entered in the period; null for an estate with none.")
    def revenue(self) -> RevenueStatement | None:
        return RevenueStatement(record=self.record.revenue) if self.record.revenue is not None else None

    @field(description="Projects debited in the period, and those approved and not yet debited.")
    def projects(self) -> list[RepairProject]:
        return [RepairProject(record=project) for project in self.record.projects]


@strawberry.type(description="The fund and public revenue of a place's subtree (维修资金余额 and 公共收益), for a year.")
class FundTotals:
    record: strawberry.Private[records.FundTotals]
    year: int
    name: str | None = strawberry.field(default=None, description="The place's name, where the list gives it (fundEstates).")

    @strawberry.field
    def place(self) -> str:
        return self.record.code

    @field(description="Houses with an account.")
    def accounts(self) -> int:
        return self.record.accounts

    @strawberry.field
    def balance_fen(self) -> int:
        return self.record.balance_fen

    @strawberry.field
    def balance_yuan(self) -> str:
        return yuan(self.record.balance_fen)

    @field(description="The balance per account, fen, rounded down.")
    def balance_per_account_fen(self) -> int:
        return self.record.balance_fen // self.record.accounts if self.record.accounts else 0

    @strawberry.field
    def first_deposit_fen(self) -> int:
        return self.record.first_deposit_fen

    @field(description="Accounts under 30% of their first deposit (a top-up, 续筹, is due).")
    def low_accounts(self) -> int:
        return self.record.low_accounts

    @field(description="Estates with a fund journal.")
    def estates(self) -> int:
        return self.record.estates

    @field(description="Deposits, top-ups and interest credited in the year.")
    def credits_fen(self) -> int:
        return self.record.credits_fen

    @field(description="Spent on repairs in the year.")
    def repairs_fen(self) -> int:
        return self.record.repairs_fen

    @field(description="Public revenue (公共收益) entered in the year.")
    def revenue_fen(self) -> int:
        return self.record.revenue_fen

    @field(description="The part of it the owners' committees confirmed.")
    def confirmed_revenue_fen(self) -> int:
        return self.record.confirmed_revenue_fen

    @field(description="Confirmed revenue per ten thousand of revenue (basis points, rounded down); null without revenue.")
    def confirmed_share_bp(self) -> int | None:
        total = self.record.revenue_fen
        return self.record.confirmed_revenue_fen * 10_000 // total if total else None

    @field(description="Revenue entries not yet confirmed by the committee.")
    def unconfirmed_entries(self) -> int:
        return self.record.unconfirmed_entries


strawberry.enum(RevenueKind, description="收入 income, 成本 cost, 分配 distribution, 冲正 reversal (the firm's); 确认 confirmation, 异议 objection (the committee's).")
strawberry.enum(Source, name="RevenueSource", description="电梯广告 lift_ad, 道闸广告 gate_ad, 公共车位停车 parking, 公共用房出租 rent, 场地使用 venue, 其他 other.")
strawberry.enum(Disposition, name="RevenueDisposition", description="Where the owners' share went: 转入维修资金 fund, 抵扣物业费 fees, 分配给业主 paid_out, 留存 kept.")
strawberry.enum(EntryStatus, name="RevenueStatus", description="未确认 unconfirmed, 已确认 confirmed, 有异议 objected, 已冲正 reversed.")


@strawberry.type(description="An entry of an estate's public-revenue journal (公共收益), with what became of it; the firm enters, the committee confirms.")
class RevenueEntryItem:
    item: strawberry.Private[RevenueItem]

    @field(description="The entry's position in the estate's revenue journal.")
    def index(self) -> int:
        return self.item.index

    @strawberry.field
    def kind(self) -> RevenueKind:
        return self.item.entry.kind

    @strawberry.field
    def kind_label(self) -> str:
        return self.item.entry.kind.label

    @field(description="Who made it: the firm's 统一社会信用代码, or the committee's id.")
    def by(self) -> str:
        return self.item.entry.by

    @strawberry.field
    def at(self) -> dt.datetime:
        return self.item.entry.at

    @strawberry.field
    def amount_fen(self) -> int | None:
        return self.item.entry.amount_fen

    @strawberry.field
    def amount_yuan(self) -> str | None:
        amount = self.item.entry.amount_fen
        return yuan(amount) if amount is not None else None

    @strawberry.field
    def source(self) -> Source | None:
        return self.item.entry.source

    @strawberry.field
    def source_label(self) -> str | None:
        source = self.item.entry.source
        return source.label if source is not None else None

    @strawberry.field
    def contract(self) -> str | None:
        return self.item.entry.contract

    @strawberry.field
    def period_start(self) -> dt.date | None:
        return self.item.entry.period_start

    @strawberry.field
    def period_end(self) -> dt.date | None:
        return self.item.entry.period_end

    @field(description="What a cost was.")
    def cost_item(self) -> str | None:
        return self.item.entry.item

    @strawberry.field
    def disposition(self) -> Disposition | None:
        return self.item.entry.disposition

    @field(description="Where the owners' share went, in Chinese (转入维修资金, 抵扣物业费, 分配给业主, 留存).")
    def disposition_label(self) -> str | None:
        disposition = self.item.entry.disposition
        return disposition.label if disposition is not None else None

    @field(description="The entry a reversal, confirmation or objection is about.")
    def target(self) -> int | None:
        return self.item.entry.target

    @strawberry.field
    def reason(self) -> str | None:
        return self.item.entry.reason

    @strawberry.field
    def memo(self) -> str:
        return self.item.entry.memo

    @field(description="For the firm's entries: unconfirmed, confirmed, objected or reversed; null for the committee's.")
    def status(self) -> EntryStatus | None:
        return self.item.status

    @strawberry.field
    def status_label(self) -> str | None:
        return self.item.status.label if self.item.status is not None else None

    @field(description="The index of the committee's decision about it.")
    def decision(self) -> int | None:
        return self.item.decision

    @field(description="The index of its reversal.")
    def reversal(self) -> int | None:
        return self.item.reversal


@strawberry.type(description="An estate's public revenue over a period: the firm's entries made in it, their sums and how many await the committee.")
class RevenueStatement:
    record: strawberry.Private[RevenuePeriod]

    @strawberry.field
    def income_fen(self) -> int:
        return self.record.income_fen

    @strawberry.field
    def cost_fen(self) -> int:
        return self.record.cost_fen

    @field(description="Income net of the costs set against it (Civil Code Art. 282: the owners').")
    def owners_share_fen(self) -> int:
        return self.record.owners_share_fen

    @field(description="Put into the fund, against fees, paid out or kept.")
    def distributed_fen(self) -> int:
        return sum(self.record.distributed_fen.values())

    @strawberry.field
    def to_fund_fen(self) -> int:
        return self.record.distributed_fen.get(str(Disposition.FUND), 0)

    @strawberry.field
    def against_fees_fen(self) -> int:
        return self.record.distributed_fen.get(str(Disposition.FEES), 0)

    @strawberry.field
    def paid_out_fen(self) -> int:
        return self.record.distributed_fen.get(str(Disposition.PAID_OUT), 0)

    @strawberry.field
    def kept_fen(self) -> int:
        return self.record.distributed_fen.get(str(Disposition.KEPT), 0)

    @field(description="The revenue journal's head published for the period (null while it is open).")
    def head(self, info: Info) -> TreeHead | None:
        head = self.record.head
        if head is None:
            return None
        keys = info.context.funds.ledger.keys if info.context.funds is not None else None
        return TreeHead.of(head, keys.sm2_public if keys is not None else "")

    @field(description="Entries made in the period still awaiting the committee.")
    def unconfirmed(self) -> int:
        return self.record.unconfirmed

    @strawberry.field
    def entries(self) -> list[RevenueEntryItem]:
        return [RevenueEntryItem(item=item) for item in self.record.items]


@strawberry.type(description="An unconfirmed revenue entry of an estate, for the revenue-unconfirmed shared query.")
class UnconfirmedRevenue:
    estate: str
    estate_name: str
    entry: RevenueEntryItem
