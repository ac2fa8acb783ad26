"""The owners' money in GraphQL (维修资金 · 公共收益): accounts, proofs, repairs, statements.

| field                                   | roles (schema.funds.access)                                  |
|-----------------------------------------|--------------------------------------------------------------|
| fundAccount                             | owners (their houses); committee, firm, administrations in scope |
| fundStatement, repairProjects, fundTotals, fundHeads, fundConsistency | the same readers; owners for the estates they hold a house in |
| raiseRepairProject, completeRepairProject, cancelRepairProject | committee, firm, community, street (in scope); admin |
| publishFundPeriod                       | street, district, city (in scope); admin                      |
"""

from __future__ import annotations

import datetime as dt

import strawberry

from graph.errors import InvalidInput
from graph.funds.records import Authority, Emergency, ProjectStatus
from graph.funds.revenue import Disposition, EntryStatus, RevenueEntry, RevenueKind, Source
from graph.funds.service import period_bounds
from graph.levels import Level
from graph.scope import Scope
from graph.security import Role
from graph.store import MAX_PAGE
from schema.context import Info
from schema.errors import Forbidden, require_role
from schema.fields import field
from schema.funds.access import PUBLISHERS, actor_name, books_scope, funds_of, require_actor, require_reader
from schema.funds.types import (
    fund_year,
    FundAccount,
    FundStatement,
    FundTotals,
    RepairProject,
    RepairProjectPage,
    RevenueEntryItem,
    UnconfirmedRevenue,
)
from schema.votes.types import ConsistencyProof, TreeHead


@strawberry.input(description="A repair to pay from the maintenance fund, with its authority.")
class RepairProjectInput:
    id: str = strawberry.field(description="Your reference for it, e.g. WX-2026-007 (letters, digits, . _ -).")
    part: str = strawberry.field(description="The estate, or a building or entrance of it, whose houses share the cost.")
    title: str
    budget_fen: int
    authority: Authority
    authority_ref: str = strawberry.field(description="The vote's id (vote), the authorisation's reference (reference), or what happened (emergency).")
    emergency: Emergency | None = None
    case_id: str | None = None


def _public_key(info: Info) -> str:
    keys = funds_of(info).ledger.keys
    return keys.sm2_public if keys is not None else ""




@strawberry.input(description="A public-revenue entry of the firm: an income (source, contract, period), a cost (costItem) or a distribution (disposition).")
class RevenueInput:
    kind: RevenueKind = strawberry.field(description="income, cost or distribution (a reversal is reverseRevenue).")
    amount_fen: int
    source: Source | None = None
    contract: str | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    cost_item: str | None = None
    disposition: Disposition | None = None
    memo: str = ""

    def entry(self, estate: str, firm: str, at: dt.datetime, where: str) -> RevenueEntry:
        if self.kind is RevenueKind.INCOME:
            missing = [name for name, value in (("source", self.source), ("contract", self.contract), ("periodStart", self.period_start), ("periodEnd", self.period_end)) if value is None]
            if missing:
                raise InvalidInput(f"{where} {missing[0]}", None, "is needed for an income")
            assert self.source is not None and self.contract is not None and self.period_start is not None and self.period_end is not None
            return RevenueEntry.income(estate, firm, at, self.source, self.contract, self.period_start, self.period_end, self.amount_fen, self.memo)
        if self.kind is RevenueKind.COST:
            if self.cost_item is None:
                raise InvalidInput(f"{where} costItem", None, "is needed for a cost: what it was")
            return RevenueEntry.cost(estate, firm, at, self.cost_item, self.amount_fen, self.memo)
        if self.kind is RevenueKind.DISTRIBUTION:
            if self.disposition is None:
                raise InvalidInput(f"{where} disposition", None, "is needed for a distribution: where the owners' share went")
            return RevenueEntry.distribution(estate, firm, at, self.disposition, self.amount_fen, self.memo)
        raise InvalidInput(f"{where} kind", self.kind, "must be income, cost or distribution (reverseRevenue reverses, the committee confirms)")


@strawberry.type
class FundQueries:
    @field(description="A house's maintenance-fund account: its balance, entries and an inclusion proof; null if it has none or you may not see it.")
    async def fund_account(self, info: Info, house: str) -> FundAccount | None:
        principal = info.context.principal
        if principal.role is Role.OWNER:
            scope = info.context.scope  # an owner's own houses, nothing else
        else:
            scope = await books_scope(info, house)
        found = await funds_of(info).account(house, scope)
        return FundAccount.of(found) if found is not None else None

    @field(description="An estate's statement (收支公示) for a period: 2026-11 (month), 2026-Q4, 2026-H2 or 2026-Y.")
    async def fund_statement(self, info: Info, estate: str, period: str) -> FundStatement:
        scope = await books_scope(info, estate)
        funds = funds_of(info)
        statement = await funds.statement(estate, period, scope)
        proof = None
        if statement.head is not None and statement.previous is not None:
            path = await funds.consistency(estate, statement.previous.size, statement.head.size)
            proof = ConsistencyProof(
                from_size=statement.previous.size, to_size=statement.head.size, path=[node.hex() for node in path],
                from_root=statement.previous.root.hex(), to_root=statement.head.root.hex(),
            )
        return FundStatement(record=statement, public_key=_public_key(info), consistency=proof)

    @field(description="The published period heads of an estate's fund journal, oldest first.")
    async def fund_heads(self, info: Info, estate: str) -> list[TreeHead]:
        await funds_of(info).estate_of(estate, await books_scope(info, estate))
        key = _public_key(info)
        return [TreeHead.of(head, key) for head in await funds_of(info).published(estate)]

    @field(description="The proof that an estate's journal at toSize entries extends it at fromSize (between two published heads).")
    async def fund_consistency(self, info: Info, estate: str, from_size: int, to_size: int) -> ConsistencyProof:
        funds = funds_of(info)
        await funds.estate_of(estate, await books_scope(info, estate))
        path = await funds.consistency(estate, from_size, to_size)
        log = funds.log(estate)
        return ConsistencyProof(
            from_size=from_size, to_size=to_size, path=[node.hex() for node in path],
            from_root=(await log.root(from_size)).hex(), to_root=(await log.root(to_size)).hex(),
        )

    @field(description="Fund and public-revenue roll-ups of these places for a year (this year when not given); null for a place you may not see.")
    async def fund_totals(self, info: Info, places: list[str], year: int | None = None) -> list[FundTotals | None]:
        if len(places) > MAX_PAGE:
            raise InvalidInput("places", len(places), f"must name at most {MAX_PAGE} places")
        chosen = fund_year(year, info.context.today)
        results: list[FundTotals | None] = []
        if info.context.principal.role is Role.OWNER:
            for code in places:
                try:
                    scope = await books_scope(info, code)
                except InvalidInput:
                    results.append(None)
                    continue
                [found] = await funds_of(info).totals([code], chosen, scope)
                results.append(FundTotals(record=found, year=chosen, name=None) if found is not None else None)
            return results
        require_reader(info)
        found_all = await funds_of(info).totals(places, chosen, info.context.scope)
        return [FundTotals(record=found, year=chosen, name=None) if found is not None else None for found in found_all]

    @field(description="Each estate at or under a place (in your scope, by code) with its fund and public-revenue roll-up for a year (this year when not given).")
    async def fund_estates(
        self, info: Info, scope: str, year: int | None = None, first: int = 100, after: str | None = None
    ) -> list[FundTotals]:
        require_reader(info)
        if info.context.principal.role is Role.OWNER:
            raise Forbidden("forbidden: the owner role may not list estates' books (fundTotals reads your estate's)")
        chosen = fund_year(year, info.context.today)
        page = await info.context.store.subtree(Level.ESTATE, scope, info.context.scope, first, after)
        estates = list(page.items)
        totals = await funds_of(info).totals([estate.code for estate in estates], chosen, info.context.scope)
        return [
            FundTotals(record=found, year=chosen, name=estate.name)
            for estate, found in zip(estates, totals)
            if found is not None
        ]

    @field(description="An estate's public-revenue journal (公共收益), oldest first, each entry with its status; `status` keeps only the firm's entries of those statuses.")
    async def revenue_entries(self, info: Info, estate: str, status: list[EntryStatus] | None = None) -> list[RevenueEntryItem]:
        scope = await books_scope(info, estate)
        await funds_of(info).estate_of(estate, scope)
        items = await funds_of(info).revenue_items(estate, statuses=status)
        return [RevenueEntryItem(item=item) for item in items]

    @field(description="The firm's revenue entries still awaiting their committee, in the estates at or under a place in your scope.")
    async def revenue_unconfirmed(self, info: Info, scope: str, first: int = 100) -> list[UnconfirmedRevenue]:
        require_reader(info)
        if info.context.principal.role is Role.OWNER:
            raise Forbidden("forbidden: the owner role may not list estates' books")
        funds = funds_of(info)
        found: list[UnconfirmedRevenue] = []
        after: str | None = None
        while len(found) < first:
            page = await info.context.store.subtree(Level.ESTATE, scope, info.context.scope, MAX_PAGE, after)
            estates = list(page.items)
            sizes = await info.context.store.fund_applied([f"revenue:{estate.code}" for estate in estates]) if estates else []
            for estate, size in zip(estates, sizes):
                if not size:
                    continue
                for item in await funds.revenue_items(estate.code, statuses=[EntryStatus.UNCONFIRMED]):
                    found.append(UnconfirmedRevenue(estate=estate.code, estate_name=estate.name, entry=RevenueEntryItem(item=item)))
            if not page.has_next:
                break
            after = page.end_cursor
        return found[:first]

    @field(description="A repair project; null if you may not see it.")
    async def repair_project(self, info: Info, id: str) -> RepairProject | None:
        found = await funds_of(info).project(id, Scope.everything())
        if found is None:
            return None
        try:
            scope = await books_scope(info, found.estate if info.context.principal.role is Role.OWNER else found.part)
        except InvalidInput:
            return None
        visible = await funds_of(info).project(id, scope)
        return RepairProject(record=visible) if visible is not None else None

    @field(description="Repair projects at or under a place, by id: raised in `year` (CST) when given, of `status` when given.")
    async def repair_projects(
        self, info: Info, within: str, year: int | None = None, status: list[ProjectStatus] | None = None,
        first: int = 100, after: str | None = None, this_year: bool = False,
    ) -> RepairProjectPage:
        scope = await books_scope(info, within)
        start = end = None
        if this_year and year is None:
            year = fund_year(None, info.context.today)
        if year is not None:
            start, end = period_bounds(f"{fund_year(year, info.context.today)}-Y")
        page = await info.context.store.project_page(
            scope, first, after, within=within, raised_from=start, raised_until=end, statuses=status
        )
        return RepairProjectPage(items=[RepairProject(record=p) for p in page.items], has_next=page.has_next, end_cursor=page.end_cursor)


async def _managing_firm(info: Info, estate: str) -> str:
    """The caller's credit code, when it is the firm managing `estate` (its scope holds it)."""
    principal = info.context.principal
    require_role(principal, frozenset({Role.PROPERTY_FIRM}), "enter public revenue (the managing firm does)")
    [place] = await info.context.store.places([estate], info.context.scope)
    if place is None or place.level is not Level.ESTATE:
        raise InvalidInput("estate", estate, "is not an estate you manage")
    return principal.scope


async def _committee(info: Info, estate: str) -> str:
    """The id of `estate`'s committee in office, when the caller is that committee."""
    principal = info.context.principal
    require_role(principal, frozenset({Role.COMMITTEE}), "confirm or dispute public revenue (the owners' committee does)")
    [place] = await info.context.store.places([estate], info.context.scope)
    if place is None or place.level is not Level.ESTATE:
        raise InvalidInput("estate", estate, "is not your committee's estate")
    [committees] = await info.context.store.committees([estate], info.context.today, Scope.everything())
    if not committees:
        raise InvalidInput("estate", estate, "has no owners' committee in office today to decide")
    return committees[-1].id


async def _in_reach(info: Info, code: str) -> None:
    """Refuse a place the actor's scope does not hold (an owner never acts here)."""
    [place] = await info.context.store.places([code], info.context.scope)
    if place is None:
        raise InvalidInput("part", code, "is not a place you can see")


@strawberry.type
class FundMutations:
    @field(description="Record a repair paid from the fund, with its authority (a passed class-5 vote, a recorded authorisation, or a flagged emergency use).")
    async def raise_repair_project(self, info: Info, project: RepairProjectInput) -> RepairProject:
        require_actor(info, "raise repair projects")
        await _in_reach(info, project.part)
        raised = await funds_of(info).raise_project(
            project_id=project.id, part=project.part, title=project.title, budget_fen=project.budget_fen,
            authority=project.authority, authority_ref=project.authority_ref, raised_by=actor_name(info),
            scope=info.context.scope, emergency=project.emergency, case_id=project.case_id,
        )
        return RepairProject(record=raised)

    @field(description="Complete a repair: its cost apportioned by exclusive area over the houses of its part and debited in one write; refused naming every house short, nothing debited.")
    async def complete_repair_project(self, info: Info, id: str, cost_fen: int) -> RepairProject:
        require_actor(info, "complete repair projects")
        completed, _ = await funds_of(info).complete_project(id, cost_fen, info.context.scope)
        return RepairProject(record=completed)

    @field(description="Cancel a repair not yet completed.")
    async def cancel_repair_project(self, info: Info, id: str) -> RepairProject:
        require_actor(info, "cancel repair projects")
        return RepairProject(record=await funds_of(info).cancel_project(id, info.context.scope))

    @field(description="Firms: enter public revenue (incomes, costs, distributions) of an estate you manage, in one write; each entry awaits the committee's confirmation.")
    async def enter_revenue(self, info: Info, estate: str, entries: list[RevenueInput]) -> list[RevenueEntryItem]:
        firm = await _managing_firm(info, estate)
        if not entries:
            raise InvalidInput("entries", "[]", "must hold at least one entry")
        funds = funds_of(info)
        at = funds.clock()
        made = [entry.entry(estate, firm, at, f"entries[{n}]") for n, entry in enumerate(entries)]
        appended = await funds.enter_revenue(made)
        items = await funds.revenue_items(estate)
        return [RevenueEntryItem(item=item) for item in items[appended.first : appended.size]]

    @field(description="Firms: reverse (冲正) an earlier income, cost or distribution of an estate you manage: its amount negated, once.")
    async def reverse_revenue(self, info: Info, estate: str, index: int, memo: str = "") -> RevenueEntryItem:
        firm = await _managing_firm(info, estate)
        funds = funds_of(info)
        target = await funds.revenue.item(estate, index)
        if target is None:
            raise InvalidInput("index", index, f"is not an entry of {estate}'s revenue journal")
        appended = await funds.enter_revenue([target.entry.reversing(index, firm, funds.clock(), memo)])
        return RevenueEntryItem(item=(await funds.revenue_items(estate))[appended.first])

    @field(description="The owners' committee: confirm (确认) a firm's revenue entry of your estate; each entry is decided once.")
    async def confirm_revenue(self, info: Info, estate: str, index: int) -> RevenueEntryItem:
        committee = await _committee(info, estate)
        funds = funds_of(info)
        await funds.decide_revenue(estate, index, committee)
        return RevenueEntryItem(item=(await funds.revenue_items(estate))[index])

    @field(description="The owners' committee: dispute (异议) a firm's revenue entry of your estate, saying why; the firm settles it by reversing the entry.")
    async def object_revenue(self, info: Info, estate: str, index: int, reason: str) -> RevenueEntryItem:
        committee = await _committee(info, estate)
        funds = funds_of(info)
        await funds.decide_revenue(estate, index, committee, objection=reason)
        return RevenueEntryItem(item=(await funds.revenue_items(estate))[index])

    @field(description="Sign and publish the head of an estate's fund journal closing a period that is over (once per period).")
    async def publish_fund_period(self, info: Info, estate: str, period: str) -> TreeHead:
        principal = info.context.principal
        require_role(principal, PUBLISHERS, "publish fund periods")
        [place] = await info.context.store.places([estate], info.context.scope)
        if place is None or place.level is not Level.ESTATE:
            raise InvalidInput("estate", estate, "is not an estate you can see")
        head = await funds_of(info).publish(estate, period)
        return TreeHead.of(head, _public_key(info))
