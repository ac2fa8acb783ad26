"""The maintenance fund as users meet it: accounts with proofs, repairs with authority, periods
published, statements disclosed, journals verified.

- **Accounts.** A house's account is read from the rows folded from its estate's journal
  (graph.funds.books, brought up to date first); its history is the journal's entries under
  the house's key, and each entry comes with an inclusion proof against a signed head
  (`entry_proof`): the owner needs to trust nothing the hub says, only the hub's public key.
- **Repairs.** `raise_project` records a repair with its authority and refuses one without:
  a vote must be closed, of the estate, its place covering the part repaired, with an item of
  class 5 (使用维修资金) that passed; a recorded reference must be given; an emergency use
  (应急使用) must name its kind and is flagged as such wherever it is shown. `complete_project`
  apportions the actual cost over the houses of the part by exclusive area and debits them in
  one write (graph.funds.ledger.FundLedger.debit_repair): too little in any account refuses the
  whole, naming every house short, nothing debited and the project still open.
- **Periods.** `publish` signs the journal's head with SM2 at the end of a disclosure period
  (head kind `period:<label>`, one per label) and keeps it. A period's statement covers exactly
  the entries between the previous published head and this one, so the statement, the two heads
  and the consistency proof between them tell one story.
- **Verify.** `verify` re-reads the whole journal: every leaf and node against the entries
  (graph.logs), every head's signature and root, every entry against the journal's rules
  (graph.funds.journal.JournalFold names the first that does not fit), and every kept account
  and yearly row against the fold.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from graph.ciphers.keyring import Keyring
from graph.clock import utc_now
from graph.errors import InvalidInput, StoreError
from graph.funds.books import fold_revenue_up, fund_log, parse_entries
from graph.funds.journal import CST, EntryKind, FundEntry, JournalFold
from graph.funds.ledger import Debit, FundLedger
from graph.funds.records import Authority, Emergency, FundAccount, FundTotals, ProjectStatus, RepairProject, RevenueYear
from graph.funds.revenue import EntryStatus, RevenueEntry, RevenueKind
from graph.funds.revenue_book import RevenueBook, RevenueItem
from graph.levels import Level
from graph.logs import LogAppend, LogReport, MerkleLog
from graph.logstore import LogEntry, SignedHead
from graph.model import Place
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from graph.votes.law import ItemClass
from graph.votes.records import VoteStatus
from graph.votes.tally import parse_result

PERIOD = re.compile(r"(?P<year>20[0-9]{2})-(?P<part>0[1-9]|1[0-2]|Q[1-4]|H[12]|Y)")
"""A disclosure period's label: a month `2026-11`, a quarter `2026-Q4`, a half `2026-H2`, a year `2026-Y`."""
PERIOD_KIND = "period:"
PROOF_KIND = "proof"
"""The kind of a head signed on demand for a proof newer than the last published period."""
VERIFY_BATCH = 20_000
ESTATES_KEPT = 100_000
"""Buildings whose estate a process remembers (each lookup is one ancestors read)."""
BUILDING_CODE = 24
"""The length of a building's code, the start of its entrances' and houses' codes."""
TITLE_LIMIT = 200
REF_LIMIT = 120
PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PARTS = (Level.ESTATE, Level.BUILDING, Level.ENTRANCE)


def period_bounds(label: str) -> tuple[dt.datetime, dt.datetime]:
    """The period's start and end (end exclusive), in China Standard Time."""
    match = PERIOD.fullmatch(label)
    if match is None:
        raise InvalidInput("period", label, "must be a month 2026-11, a quarter 2026-Q4, a half 2026-H2 or a year 2026-Y")
    year, part = int(match["year"]), match["part"]
    if part == "Y":
        first, months = 1, 12
    elif part.startswith("H"):
        first, months = 1 + 6 * (int(part[1]) - 1), 6
    elif part.startswith("Q"):
        first, months = 1 + 3 * (int(part[1]) - 1), 3
    else:
        first, months = int(part), 1
    start = dt.datetime(year, first, 1, tzinfo=CST)
    end_month = first + months
    end = dt.datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=CST)
    return start, end


@dataclass(frozen=True, slots=True)
class EntryProof:
    """An entry of a journal, with the path that proves it is in the tree `head` signs."""

    log: str
    index: int
    entry: FundEntry
    payload: bytes
    head: SignedHead
    path: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ProjectShare:
    house: str
    area_centi_m2: int
    share_fen: int


@dataclass(frozen=True, slots=True)
class RevenuePeriod:
    """An estate's public revenue over a period (公共收益公示): the firm's entries made in it, each
    with its status now, and their sums (a reversal counts against the kind it undoes)."""

    income_fen: int
    cost_fen: int
    distributed_fen: dict[str, int]  # by disposition
    unconfirmed: int
    items: list[RevenueItem]
    head: SignedHead | None

    @property
    def owners_share_fen(self) -> int:
        """Income net of the costs set against it (Civil Code Art. 282)."""
        return self.income_fen - self.cost_fen


@dataclass(frozen=True, slots=True)
class Statement:
    """An estate's fund over one period (收支公示): the entries [from_size, to_size) of its journal."""

    estate: Place
    period: str
    start: dt.datetime
    end: dt.datetime
    from_size: int
    to_size: int
    head: SignedHead | None  # the published head at to_size; None while the period is open
    previous: SignedHead | None
    opening_fen: int
    closing_fen: int
    credits_fen: dict[str, int]  # by kind: deposit, top_up, interest (net of reversals)
    repairs_fen: int
    reversals: int
    entries: int
    accounts: int
    projects: list[RepairProject] = field(default_factory=list)
    revenue: RevenuePeriod | None = None

    @property
    def published(self) -> bool:
        return self.head is not None


@dataclass(frozen=True, slots=True)
class FundReport:
    """What `verify` found of an estate's journal."""

    estate: str
    log: LogReport
    entries: int
    first_unfit: int | None  # the first entry that does not fit the journal's rules
    unfit: str | None
    rows_wrong: tuple[str, ...]  # kept rows that differ from the fold (what and how)
    revenue: LogReport | None = None  # the revenue journal's check (None: it has no entry)
    revenue_unfit: str | None = None  # its first entry that does not fit the revenue rules

    @property
    def intact(self) -> bool:
        revenue_ok = self.revenue is None or (self.revenue.intact and self.revenue_unfit is None)
        return self.log.intact and self.first_unfit is None and not self.rows_wrong and revenue_ok

    @property
    def first_bad(self) -> int | None:
        found = [x for x in (self.log.first_bad_entry, self.first_unfit) if x is not None]
        return min(found) if found else None


class Funds:
    """The fund service over `store` (see the module docstring); `keys` sign the heads."""

    def __init__(self, store: Store, keys: Keyring | None = None, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.store = store
        self.keys = keys
        self.clock = clock
        self.ledger = FundLedger(store, keys, clock=clock)
        self.revenue = RevenueBook(store, keys, clock=clock)
        self._published_through: str | None = None
        self._estates: dict[str, Place] = {}  # a place's estate: a house does not move between estates

    def log(self, estate: str) -> MerkleLog:
        return self.ledger.log(estate)

    # -- places --------------------------------------------------------------------------------

    async def estate_of(self, code: str, scope: Scope) -> Place:
        """The estate holding `code` (an estate, building, entrance or house) as `scope` sees it."""
        [place] = await self.store.places([code], scope)
        if place is None:
            raise InvalidInput("code", code, "is not a place you can see")
        return await self.estate_above(place)

    async def estate_above(self, place: Place) -> Place:
        """The estate `place` is or lies under. Remembered per building (a building's code is
        the first 24 characters of its entrances' and houses'; it never moves to another estate)."""
        if place.level is Level.ESTATE:
            return place
        if place.level < Level.ESTATE:
            raise InvalidInput("code", place.code, f"is a {place.level.name.lower()}, above any estate")
        key = place.code[:BUILDING_CODE]
        known = self._estates.get(key)
        if known is not None:
            return known
        [line] = await self.store.ancestors([place.code], Scope.everything())
        for ancestor in line:
            if ancestor.level is Level.ESTATE:
                if len(self._estates) >= ESTATES_KEPT:
                    self._estates.clear()
                self._estates[key] = ancestor
                return ancestor
        raise InvalidInput("code", place.code, "is under no estate")

    async def houses_of(self, part: str) -> dict[str, int]:
        """Every house at or under `part` with its exclusive area (centi-m²), by code."""
        areas: dict[str, int] = {}
        after: str | None = None
        while True:
            page = await self.store.subtree(Level.HOUSE, part, Scope.everything(), MAX_PAGE, after)
            for house in page.items:
                areas[house.code] = house.area_centi_m2 or 0
            if not page.has_next:
                return areas
            after = page.end_cursor

    # -- accounts ------------------------------------------------------------------------------

    async def account(self, house: str, scope: Scope) -> FundAccount | None:
        """The house's account as of its journal now; None when it has none or is out of scope."""
        [seen] = await self.store.places([house], scope)
        if seen is None or seen.level is not Level.HOUSE:
            return None
        estate = await self.estate_above(seen)
        await self.ledger.fold(estate.code)
        [found] = await self.store.fund_accounts([house], Scope.everything())
        return found

    async def history(self, house: str, scope: Scope) -> list[tuple[int, FundEntry]]:
        """The house's journal entries, oldest first; empty when out of scope."""
        [seen] = await self.store.places([house], scope)
        if seen is None or seen.level is not Level.HOUSE:
            return []
        estate = await self.estate_above(seen)
        log = fund_log(estate.code)
        return parse_entries(log, await self.store.log_entries_by_key(log, [house]))

    async def entry_proof(self, house: str, index: int | None, scope: Scope) -> EntryProof | None:
        """An entry of the house (its last when `index` is None) with its inclusion proof against
        the latest published period head covering it, else a head signed now; None when the
        house has no entry (or is out of scope). An index that is not the house's: InvalidInput."""
        [seen] = await self.store.places([house], scope)
        if seen is None or seen.level is not Level.HOUSE:
            return None
        estate = await self.estate_above(seen)
        log = self.log(estate.code)
        if index is None:
            mine = await self.store.log_entries_by_key(log.log, [house])
            if not mine:
                return None
            stored = mine[-1:]
            index = stored[0].index
        else:
            stored = await self.store.log_entries(log.log, index, index + 1) if index >= 0 else []
        if not stored or stored[0].key != house:
            raise InvalidInput("index", index, f"is not an entry of house {house}'s account")
        entry = FundEntry.parse(stored[0].payload, where=f"{log.log} entry {index}")
        published = [head for head in await self.store.log_heads(log.log) if head.kind.startswith(PERIOD_KIND) and head.size > index]
        head = min(published, key=lambda h: h.size) if published else await log.head_covering(index + 1, PROOF_KIND)
        path = await log.inclusion_proof(index, head.size)
        return EntryProof(log.log, index, entry, stored[0].payload, head, tuple(path))

    async def totals(self, codes: Sequence[str], year: int, scope: Scope) -> list[FundTotals | None]:
        """The roll-ups of these places (graph.funds.records.FundStore.fund_totals)."""
        return await self.store.fund_totals(codes, year, scope)

    # -- repair projects -----------------------------------------------------------------------

    async def raise_project(
        self,
        *,
        project_id: str,
        part: str,
        title: str,
        budget_fen: int,
        authority: Authority,
        authority_ref: str,
        raised_by: str,
        scope: Scope,
        emergency: Emergency | None = None,
        case_id: str | None = None,
    ) -> RepairProject:
        """Record a repair with its authority (see the module docstring); InvalidInput naming
        what is missing or wrong, nothing recorded."""
        if not isinstance(project_id, str) or not PROJECT_ID.fullmatch(project_id):
            raise InvalidInput("id", project_id, "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        if not isinstance(title, str) or not title.strip() or len(title) > TITLE_LIMIT or not title.isprintable():
            raise InvalidInput("title", title, f"must be 1 to {TITLE_LIMIT} printable characters")
        if isinstance(budget_fen, bool) or not isinstance(budget_fen, int) or not 0 < budget_fen <= 2**53 - 1:
            raise InvalidInput("budgetFen", budget_fen, "must be a positive integer number of fen")
        if not isinstance(authority_ref, str) or not authority_ref.strip() or len(authority_ref) > REF_LIMIT:
            raise InvalidInput("authorityRef", authority_ref, f"must say what authorises the repair (1 to {REF_LIMIT} characters)")
        [place] = await self.store.places([part], scope)
        if place is None:
            raise InvalidInput("part", part, "is not a place you can see")
        if place.level not in PARTS:
            raise InvalidInput("part", part, "must be an estate, a building or an entrance: the common part the repair serves")
        estate = await self.estate_of(part, Scope.everything())
        if authority is Authority.EMERGENCY:
            if emergency is None:
                raise InvalidInput("emergency", None, f"must name the kind of emergency use ({', '.join(Emergency)})")
        elif emergency is not None:
            raise InvalidInput("emergency", emergency, "is given only for an emergency use (authority emergency)")
        if authority is Authority.VOTE:
            await self._check_vote(authority_ref, estate.code, part)
        if case_id is not None:
            [case] = await self.store.cases([case_id], scope)
            if case is None:
                raise InvalidInput("caseId", case_id, "is not a case you can see")
        project = RepairProject(
            id=project_id,
            estate=estate.code,
            part=part,
            title=title.strip(),
            budget_fen=budget_fen,
            authority=authority,
            authority_ref=authority_ref.strip(),
            raised_by=raised_by,
            raised_at=self.clock(),
            emergency=emergency,
            case_id=case_id,
        )
        await self.store.save_project(project)
        return project

    async def _check_vote(self, vote_id: str, estate: str, part: str) -> None:
        """A vote authorises using the fund for `part` when it is closed, of this estate, held
        over the part or a place holding it, and an item of class 5 passed."""
        [vote] = await self.store.votes([vote_id], Scope.everything())
        if vote is None or vote.estate_code != estate:  # another estate's vote answers as no vote: it tells nothing of it
            raise InvalidInput("authorityRef", vote_id, f"names no vote of estate {estate}")
        if vote.status is not VoteStatus.CLOSED or vote.result is None:
            raise InvalidInput("authorityRef", vote_id, f"is {vote.status.name.lower()}, not closed with a result")
        if vote.place_code != part:
            [line] = await self.store.ancestors([part], Scope.everything())
            if vote.place_code not in {ancestor.code for ancestor in line}:
                raise InvalidInput("authorityRef", vote_id, f"was held over {vote.place_code}, which does not hold {part}")
        result = parse_result(vote.result)
        if not any(item.klass == ItemClass.USE_FUND and item.passed for item in result.items):
            raise InvalidInput(
                "authorityRef", vote_id, "passed no item of class 5 (使用建筑物及其附属设施的维修资金, Civil Code Art. 278)"
            )

    async def project(self, project_id: str, scope: Scope) -> RepairProject | None:
        [found] = await self.store.projects([project_id], scope)
        return found

    async def complete_project(self, project_id: str, cost_fen: int, scope: Scope) -> tuple[RepairProject, Debit]:
        """Apportion and debit the project's cost (see the module docstring); the project
        completed. A cost over the budget is refused: the owners authorised the budget."""
        project = await self.project(project_id, scope)
        if project is None:
            raise InvalidInput("project", project_id, "is not a project you can see")
        if project.status is not ProjectStatus.APPROVED:
            raise InvalidInput("project", project_id, f"is {project.status}, not open for completion")
        if isinstance(cost_fen, bool) or not isinstance(cost_fen, int) or cost_fen <= 0:
            raise InvalidInput("costFen", cost_fen, "must be a positive integer number of fen")
        if cost_fen > project.budget_fen:
            raise InvalidInput("costFen", cost_fen, f"exceeds the authorised budget of {project.budget_fen} fen")
        areas = await self.houses_of(project.part)
        if not areas:
            raise InvalidInput("part", project.part, "has no houses to apportion the cost over")
        memo = f"{project.title}"[:200]
        debit = await self.ledger.debit_repair(project.estate, project.id, cost_fen, areas, memo=memo)
        entries = sum(1 for share in debit.shares.values() if share)
        done = await self.store.finish_project(
            project.id, project.version, ProjectStatus.COMPLETED, self.clock(),
            cost_fen=cost_fen, first_index=debit.appended.first, debit_entries=entries,
        )
        if not done:  # pragma: no cover - the journal's claim on the project lets one completer through
            raise InvalidInput("project", project_id, "was finished by another request meanwhile")
        finished = await self.project(project_id, Scope.everything())
        assert finished is not None
        return finished, debit

    async def cancel_project(self, project_id: str, scope: Scope) -> RepairProject:
        project = await self.project(project_id, scope)
        if project is None:
            raise InvalidInput("project", project_id, "is not a project you can see")
        if not await self.store.finish_project(project.id, project.version, ProjectStatus.CANCELLED, self.clock()):
            raise InvalidInput("project", project_id, "is not open: completed or cancelled already")
        finished = await self.project(project_id, Scope.everything())
        assert finished is not None
        return finished

    async def shares(self, project: RepairProject) -> list[ProjectShare]:
        """A completed project's apportionment as the journal holds it: each house's share."""
        if project.first_index is None or project.debit_entries is None:
            return []
        log = fund_log(project.estate)
        stored = await self.store.log_entries(log, project.first_index, project.first_index + project.debit_entries)
        areas = await self.houses_of(project.part)
        return [
            ProjectShare(entry.house, areas.get(entry.house, 0), -entry.amount_fen)
            for _, entry in parse_entries(log, stored)
            if entry.ref == f"project:{project.id}"
        ]

    # -- public revenue ------------------------------------------------------------------------

    async def enter_revenue(self, entries: Sequence[RevenueEntry]) -> LogAppend:
        """The firm's entries appended in one write (graph.funds.revenue_book), then the yearly
        rows folded again."""
        appended = await self.revenue.enter(entries)
        await fold_revenue_up(self.store, entries[0].estate, self.revenue)
        return appended

    async def decide_revenue(self, estate: str, index: int, by: str, *, objection: str | None = None) -> LogAppend:
        """The committee `by` confirms entry `index` (or disputes it, giving `objection`): once."""
        if objection is None:
            appended = await self.revenue.confirm(estate, index, by)
        else:
            appended = await self.revenue.object(estate, index, by, objection)
        await fold_revenue_up(self.store, estate, self.revenue)
        return appended

    async def revenue_items(self, estate: str, *, statuses: Sequence[EntryStatus] | None = None) -> list[RevenueItem]:
        """The estate's revenue entries with their statuses (only the firm's of `statuses` when given)."""
        items = await self.revenue.entries(estate)
        if statuses is None:
            return items
        return [item for item in items if item.status in statuses]

    async def _revenue_period(self, estate: str, start: dt.datetime, end: dt.datetime, period: str) -> RevenuePeriod | None:
        items = await self.revenue.entries(estate)
        if not items:
            return None
        kinds = {item.index: item.entry.kind for item in items}
        income = cost = unconfirmed = 0
        distributed: dict[str, int] = {}
        within = [item for item in items if start <= item.entry.at < end and item.status is not None]
        for item in within:
            entry = item.entry
            kind = kinds[entry.target] if entry.kind is RevenueKind.REVERSAL and entry.target is not None else entry.kind
            amount = entry.amount_fen or 0
            if kind is RevenueKind.INCOME:
                income += amount
            elif kind is RevenueKind.COST:
                cost += amount
            elif kind is RevenueKind.DISTRIBUTION:
                target = next((i.entry for i in items if i.index == entry.target), entry) if entry.kind is RevenueKind.REVERSAL else entry
                key = str(target.disposition)
                distributed[key] = distributed.get(key, 0) + amount
            if item.status is EntryStatus.UNCONFIRMED:
                unconfirmed += 1
        heads = await self.store.log_heads(self.revenue.log(estate).log)
        head = next((h for h in heads if h.kind == PERIOD_KIND + period), None)
        return RevenuePeriod(income, cost, distributed, unconfirmed, within, head)

    # -- periods and statements ----------------------------------------------------------------

    async def published(self, estate: str) -> list[SignedHead]:
        """The estate's published period heads, oldest first."""
        heads = await self.store.log_heads(fund_log(estate))
        return sorted((head for head in heads if head.kind.startswith(PERIOD_KIND)), key=lambda head: (head.size, head.at))

    async def publish(self, estate: str, period: str) -> SignedHead:
        """Sign and keep the journal's head closing `period` (once per period: a second call
        returns the head published first). A period not yet over is refused."""
        _, end = period_bounds(period)
        if self.clock() < end:
            raise InvalidInput("period", period, f"is not over until {end.isoformat()}")
        kind = PERIOD_KIND + period
        for head in await self.published(estate):
            if head.kind == kind:
                return head
        await self.ledger.fold(estate)
        revenue = self.revenue.log(estate)
        if await revenue.size() and not any(h.kind == kind for h in await self.store.log_heads(revenue.log)):
            await revenue.sign(kind)
        return await self.log(estate).sign(kind)

    def last_month(self) -> str:
        """The label of the month before this one (China Standard Time): the period due now."""
        now = self.clock().astimezone(CST)
        year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
        return f"{year}-{month:02d}"

    async def publish_due(self) -> int:
        """Publish last month's head of every estate's journal that has entries and no head for
        it yet (the hub does this itself, once a month; `hub ledger publish` does it by hand).
        How many heads this call signed. Done once per month per process: later calls return 0
        until the month changes."""
        period = self.last_month()
        if self._published_through == period:
            return 0
        kind = PERIOD_KIND + period
        signed = 0
        after: str | None = None
        while True:
            page = await self.store.subtree(Level.ESTATE, None, Scope.everything(), MAX_PAGE, after)
            codes = [place.code for place in page.items]
            sizes = await self.store.fund_applied([fund_log(code) for code in codes]) if codes else []
            for code, size in zip(codes, sizes):
                if size and not any(head.kind == kind for head in await self.published(code)):
                    await self.publish(code, period)
                    signed += 1
            if not page.has_next:
                break
            after = page.end_cursor
        self._published_through = period
        return signed

    async def consistency(self, estate: str, old: int, new: int) -> list[bytes]:
        """The proof that the journal at `new` entries extends it at `old` (RFC 9162)."""
        size = await self.log(estate).size()
        if not 0 <= old <= new <= size:
            raise InvalidInput("sizes", f"{old}..{new}", f"must satisfy 0 <= old <= new <= {size}")
        return await self.log(estate).consistency_proof(old, new)

    async def statement(self, estate_code: str, period: str, scope: Scope) -> Statement:
        """The estate's statement for `period` (see the module docstring); the period still open
        (no head published for it) runs to the journal's present size, marked unpublished."""
        start, end = period_bounds(period)
        estate = await self.estate_of(estate_code, scope)
        if estate.code != estate_code:
            raise InvalidInput("estate", estate_code, "is not an estate")
        log = fund_log(estate_code)
        applied = await self.ledger.fold(estate_code)
        heads = await self.published(estate_code)
        kind = PERIOD_KIND + period
        head = next((h for h in heads if h.kind == kind), None)
        earlier = [h for h in heads if h.kind != kind and period_bounds(h.kind.removeprefix(PERIOD_KIND))[1] <= start]
        previous = earlier[-1] if earlier else None
        from_size = previous.size if previous is not None else 0
        to_size = head.size if head is not None else applied
        # balances now (kept rows), less what came after each bound
        [totals] = await self.store.fund_totals([estate_code], start.year, Scope.everything())
        now_total = totals.balance_fen if totals is not None else 0
        within = [glance(entry.index, entry.payload) for entry in await self.store.log_entries(log, from_size, to_size)]
        after_to = 0
        for batch in range(to_size, applied, VERIFY_BATCH):
            after_to += sum(amount_of(entry.payload) for entry in await self.store.log_entries(log, batch, min(applied, batch + VERIFY_BATCH)))
        closing = now_total - after_to
        opening = closing - sum(amount for _, amount, _, _ in within)
        credits = {str(kind_): 0 for kind_ in (EntryKind.DEPOSIT, EntryKind.TOP_UP, EntryKind.INTEREST)}
        repairs = 0
        reversals = 0
        kinds = {index: kind_ for index, _, kind_, _ in within}
        for target in sorted({t for _, _, _, t in within if t is not None and t not in kinds}):
            [stored] = await self.store.log_entries(log, target, target + 1)
            kinds[target] = FundEntry.parse(stored.payload, where=f"{log} entry {target}").kind
        for _, amount, kind_, undone in within:
            if undone is not None:
                reversals += 1
                kind_ = kinds[undone]
            if kind_ is EntryKind.REPAIR:
                repairs -= amount
            else:
                credits[str(kind_)] += amount
        projects = await self._projects_between(estate_code, from_size, to_size)
        return Statement(
            estate=estate, period=period, start=start, end=end, from_size=from_size, to_size=to_size,
            head=head, previous=previous, opening_fen=opening, closing_fen=closing, credits_fen=credits,
            repairs_fen=repairs, reversals=reversals, entries=len(within),
            accounts=totals.accounts if totals is not None else 0, projects=projects,
            revenue=await self._revenue_period(estate_code, start, end, period),
        )

    async def _projects_between(self, estate: str, from_size: int, to_size: int) -> list[RepairProject]:
        """The estate's projects debited in journal entries [from_size, to_size), and those still
        open (approved, not yet debited), by id."""
        found: list[RepairProject] = []
        after: str | None = None
        while True:
            page = await self.store.project_page(Scope.everything(), MAX_PAGE, after, within=estate)
            for project in page.items:
                if project.status is ProjectStatus.APPROVED or (
                    project.first_index is not None and from_size <= project.first_index < to_size
                ):
                    found.append(project)
            if not page.has_next:
                return found
            after = page.end_cursor

    # -- verification --------------------------------------------------------------------------

    async def verify(self, estate: str, public_key: str | None = None) -> FundReport:
        """Check the estate's journal whole (see the module docstring)."""
        log = self.log(estate)
        fold = JournalFold()
        unfit: list[tuple[int, str]] = []  # the first entry that does not fit, once found
        reached = [0]

        def each(stored: Sequence[LogEntry]) -> None:  # the fold rides along the log's own read
            if unfit:
                return
            index = stored[0].index if stored else reached[0]
            try:
                for entry in stored:
                    index = entry.index
                    fold.add(index, FundEntry.parse(entry.payload, where=f"{log.log} entry {index}"), checked=True)
                    reached[0] = index + 1
            except InvalidInput as refused:
                unfit.append((_index_named(refused.field, index), str(refused)))

        report = await log.verify(public_key, each=each)
        first_unfit, why = unfit[0] if unfit else (None, None)
        done = reached[0]
        rows_wrong: list[str] = []
        if first_unfit is None:
            rows_wrong = await self._rows_against(estate, fold, report.size)
        revenue_log = self.revenue.log(estate)
        revenue_report: LogReport | None = None
        revenue_unfit: str | None = None
        if await revenue_log.size():
            revenue_report = await revenue_log.verify(public_key)
            try:
                revenue_size, revenue_fold = await self.revenue.folded(estate)
            except (InvalidInput, StoreError) as refused:
                revenue_unfit = str(refused)
            else:
                rows_wrong += await self._revenue_rows_against(estate, revenue_fold.years, revenue_size)
        return FundReport(estate, report, done, first_unfit, why, tuple(rows_wrong), revenue_report, revenue_unfit)

    async def _revenue_rows_against(self, estate: str, years: Sequence[RevenueYear], size: int) -> list[str]:
        [applied] = await self.store.fund_applied([self.revenue.log(estate).log])
        if applied != size:
            return [f"the revenue rows are folded up to entry {applied}, the journal holds {size}"] if applied > size else []
        wrong = []
        for year in years:
            [(_, kept)] = await self.store.fund_years([estate], year.year, Scope.everything())
            if kept != year:
                wrong.append(f"revenue year {year.year}: kept {kept}, the journal gives {year}")
        return wrong

    async def _rows_against(self, estate: str, fold: JournalFold, size: int) -> list[str]:
        """Where the kept rows differ from the fold of the journal (when folded up to its size)."""
        [applied] = await self.store.fund_applied([fund_log(estate)])
        if applied != size:
            return [f"the rows are folded up to entry {applied}, the journal holds {size}"] if applied > size else []
        wrong: list[str] = []
        houses = sorted(fold.accounts)
        kept = await self.store.fund_accounts(houses, Scope.everything()) if houses else []
        for house, row in zip(houses, kept):
            folded = fold.accounts[house]
            if row is None or (row.balance_fen, row.first_deposit_fen, row.entries, row.last_index) != (
                folded.balance_fen, folded.first_deposit_fen, folded.entries, folded.last_index
            ):
                shown = "none" if row is None else f"{row.balance_fen} fen over {row.entries} entries"
                wrong.append(f"account {house}: kept {shown}, the journal gives {folded.balance_fen} fen over {folded.entries} entries")
        for year, folded_year in sorted(fold.years.items()):
            [(row_year, _)] = await self.store.fund_years([estate], year, Scope.everything())
            figures = (folded_year.credits_fen, folded_year.interest_fen, folded_year.repairs_fen)
            if row_year is None or (row_year.credits_fen, row_year.interest_fen, row_year.repairs_fen) != figures:
                wrong.append(f"year {year}: kept {row_year}, the journal gives credits/interest/repairs {figures}")
        return wrong


_AMOUNT = re.compile(rb'^\{"amount_fen":(-?[0-9]+),')
_KIND = re.compile(rb',"kind":"([a-z_]+)",')
_REVERSES = re.compile(rb',"ref":"reverses:([0-9]+)",')


def glance(index: int, payload: bytes) -> tuple[int, int, EntryKind, int | None]:
    """(index, amount, kind, index reversed) read straight from an entry's canonical bytes —
    quotes inside JSON strings are escaped, so these keys cannot be forged by a memo — falling
    back to the strict parse for anything else. For sums a statement shows; `verify` checks
    every entry whole."""
    amount, kind, reverses = _AMOUNT.match(payload), _KIND.search(payload), _REVERSES.search(payload)
    if amount is None or kind is None:
        entry = FundEntry.parse(payload, where=f"entry {index}")
        return index, entry.amount_fen, entry.kind, entry.reverses
    try:
        kind_ = EntryKind(kind.group(1).decode())
    except ValueError:
        entry = FundEntry.parse(payload, where=f"entry {index}")
        return index, entry.amount_fen, entry.kind, entry.reverses
    return index, int(amount.group(1)), kind_, int(reverses.group(1)) if reverses is not None and kind_ is EntryKind.REVERSAL else None


def amount_of(payload: bytes) -> int:
    """An entry's amount read straight from its canonical bytes (the first key, `amount_fen`),
    for sums over entries the statement does not show; `verify` checks every entry whole."""
    match = _AMOUNT.match(payload)
    if match is None:
        return FundEntry.parse(payload).amount_fen
    return int(match.group(1))


def _index_named(field_name: str, fallback: int) -> int:
    """The entry index an InvalidInput from the fold or the parser names (`... entry 17 ...`)."""
    match = re.search(r"entry (\d+)", field_name)
    return int(match.group(1)) if match else fallback
