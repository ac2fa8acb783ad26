"""An estate's public revenue (公共收益): its journal's entries, and the yearly rows and per-entry
statuses they fold to.

The journal is an append-only Merkle log per estate (`graph.logs.MerkleLog`, log `revenue:<estate
code>`, kept by `graph.funds.revenue_book.RevenueBook`). Two parties write it: the estate's
property services firm (物业服务企业) enters the money, and the owners' committee (业主委员会)
confirms or disputes what the firm entered. Money is integer fen, never floats.

Kinds (`RevenueKind`), by party:

- the firm's: income 收入 (`source`, `contract`, `period_start`, `period_end`, `amount_fen` > 0),
  cost 成本 (a cost set against the revenue: `item` says what it was, `amount_fen` > 0),
  distribution 分配 (the owners' share put somewhere: `disposition`, `amount_fen` > 0) and
  reversal 冲正 (`target`: the index of an earlier income, cost or distribution, `amount_fen`
  exactly its negation, so < 0);
- the committee's: confirmation 确认 (`target`: the index of an earlier firm entry) and objection
  异议 (`target` and a `reason`).

Entry format (version 1): the payload hashed into the leaf is the canonical JSON of a
`RevenueEntry`, keys sorted, no spaces, UTF-8 (not \\u-escaped), holding the common fields and
exactly the fields of its kind (no nulls, no field of another kind):

    {"amount_fen":1200000,"at":"2026-07-01T02:00:00.000000+00:00","by":"91370202MA3C5XKQ0D",
     "contract":"HT-2026-电梯广告-003","estate":"370202001001E001","kind":"income","memo":"",
     "period_end":"2026-06-30","period_start":"2026-01-01","source":"lift_ad","v":1}

- `estate`: the estate code, checked by `graph.codes` and in its canonical (upper-case) form;
- `by`: who made it — for the firm's kinds its 统一社会信用代码 (GB 32100, canonical), for the
  committee's the committee's id (as `graph.votes.checks.check_id` allows);
- `at`: when it was made, an aware time written in UTC to the microsecond; its year in China
  Standard Time (UTC+8) is the year the entry counts in;
- `source` (`Source`): lift_ad 电梯广告, gate_ad 道闸广告, parking 公共车位停车, rent 公共用房出租,
  venue 场地使用, other 其他; `contract`: the contract's reference, 1–120 printable characters,
  not blank; `period_start`, `period_end`: the dates the income is for, ISO (`2026-01-01`), both
  inclusive, start ≤ end;
- `item`: what a cost was (广告位电费, 代理佣金, …), 1–120 printable characters, not blank;
- `disposition` (`Disposition`): fund 转入维修资金, fees 抵扣物业费, paid_out 分配给业主, kept 留存;
- `target`: an entry index, an integer 0 ≤ target ≤ 2^53 − 1;
- `reason`: why the committee disputes an entry, 1–500 printable characters, not blank;
- `amount_fen`: integer fen, 1 ≤ |amount| ≤ 2^53 − 1 (so every JSON reader reads it exactly);
- `memo`: 0–200 printable characters, on every kind;
- `v`: the format version, 1.

Log keys (`RevenueEntry.key`): an income, cost or distribution is keyed by its kind (`income`,
`cost`, `distribution`); an entry about an earlier one — its reversal, its confirmation, its
objection — by `entry:<target>`. So `log_entries_by_key(log, ["entry:17"])` returns everything
ever said about entry 17: whether and by which entry it was confirmed, disputed or reversed,
without reading the journal. The key is not hashed into the leaf: a reader checks that the key
stored with an entry is the one its payload gives.

Rules (`fold` checks them, naming the first index that breaks one):

- Reversal: nothing is updated or deleted; a correction is a reversal of an EARLIER income, cost
  or distribution whose amount is exactly the negation of that entry's, made at most once. A
  reversal is never reversed, and neither is a committee's entry (to restore an amount, enter
  it afresh). A reversal counts in the year it is made, against its target's kind (the income of
  the year it is made in is net of the income reversals made that year): a year's amounts, once
  disclosed, never change because of later entries.
- Decision: the committee confirms or disputes an EARLIER firm entry (a reversal included: it
  moves the figures too), and each firm entry is decided at most once — a confirmation never
  follows an objection, nor the other way round. An objection is settled by the firm: it
  reverses the disputed entry and, where an amount was owed, enters the right one, which the
  committee then decides afresh; the disputed entry stays in the journal, shown as disputed and
  reversed. An entry may be decided after it was reversed (the decision and the reversal race
  freely; the status shows the reversal).

Status (`EntryStatus`) of a firm entry, as a disclosure shows it: reversed 已冲正 when a
reversal undoes it, else confirmed 已确认 or objected 有异议 by its decision, else unconfirmed
未确认. The committee's own entries have no status.

Why canonical bytes: the Merkle leaf is the hash of the payload, so one entry must have exactly
one spelling. `RevenueEntry.parse` re-serialises what it read and refuses the payload unless the
bytes are identical, as `graph.funds.journal.FundEntry.parse` does.

Refusals are `InvalidInput` naming where and the field (`entry 17 target`), so that a verifier
can name the first entry that does not fit.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graph.codes import CreditCode, EstateCode
from graph.errors import InvalidInput
from graph.funds.canonical import check_code, is_int, json_text
from graph.funds.journal import MAX_FEN, year_of
from graph.funds.records import RevenueYear
from graph.logstore import NewEntry
from graph.votes.checks import check_id

FORMAT = 1
MAX_INDEX = 2**53 - 1
"""The largest `target`: an entry index every JSON reader holds exactly."""
TEXT_LIMIT = 120
"""The longest `contract` or `item` (characters)."""
REASON_LIMIT = 500
MEMO_LIMIT = 200


class Party(enum.StrEnum):
    """Who writes an entry of a kind."""

    FIRM = "firm"  # 物业服务企业: `by` is its 统一社会信用代码
    COMMITTEE = "committee"  # 业主委员会: `by` is the committee's id

    @property
    def label(self) -> str:
        return {Party.FIRM: "物业服务企业", Party.COMMITTEE: "业主委员会"}[self]


class RevenueKind(enum.StrEnum):
    """What an entry of the revenue journal is."""

    INCOME = "income"  # 收入
    COST = "cost"  # 成本: set against the revenue
    DISTRIBUTION = "distribution"  # 分配: the owners' share put somewhere
    REVERSAL = "reversal"  # 冲正: undoes one earlier income, cost or distribution
    CONFIRMATION = "confirmation"  # 确认: the committee confirms one earlier firm entry
    OBJECTION = "objection"  # 异议: the committee disputes one earlier firm entry

    @property
    def label(self) -> str:
        """The Chinese name, as a disclosure (收支公示) says it."""
        return _KIND_LABELS[self]

    @property
    def party(self) -> Party:
        """Who makes entries of this kind."""
        return Party.COMMITTEE if self in _DECISIONS else Party.FIRM


class Source(enum.StrEnum):
    """Where an income comes from (the common parts earning it)."""

    LIFT_AD = "lift_ad"
    GATE_AD = "gate_ad"
    PARKING = "parking"
    RENT = "rent"
    VENUE = "venue"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _SOURCE_LABELS[self]


class Disposition(enum.StrEnum):
    """Where a distribution put the owners' share."""

    FUND = "fund"  # into the maintenance fund
    FEES = "fees"  # set against the owners' property fees
    PAID_OUT = "paid_out"  # paid to the owners
    KEPT = "kept"  # kept for the owners (to be decided by their meeting)

    @property
    def label(self) -> str:
        return _DISPOSITION_LABELS[self]


class EntryStatus(enum.StrEnum):
    """What became of a firm entry (see the module docstring)."""

    UNCONFIRMED = "unconfirmed"
    CONFIRMED = "confirmed"
    OBJECTED = "objected"
    REVERSED = "reversed"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_KIND_LABELS = {
    RevenueKind.INCOME: "收入",
    RevenueKind.COST: "成本",
    RevenueKind.DISTRIBUTION: "分配",
    RevenueKind.REVERSAL: "冲正",
    RevenueKind.CONFIRMATION: "确认",
    RevenueKind.OBJECTION: "异议",
}
_SOURCE_LABELS = {
    Source.LIFT_AD: "电梯广告",
    Source.GATE_AD: "道闸广告",
    Source.PARKING: "公共车位停车",
    Source.RENT: "公共用房出租",
    Source.VENUE: "场地使用",
    Source.OTHER: "其他",
}
_DISPOSITION_LABELS = {
    Disposition.FUND: "转入维修资金",
    Disposition.FEES: "抵扣物业费",
    Disposition.PAID_OUT: "分配给业主",
    Disposition.KEPT: "留存",
}
_STATUS_LABELS = {
    EntryStatus.UNCONFIRMED: "未确认",
    EntryStatus.CONFIRMED: "已确认",
    EntryStatus.OBJECTED: "有异议",
    EntryStatus.REVERSED: "已冲正",
}
ORIGINALS = frozenset({RevenueKind.INCOME, RevenueKind.COST, RevenueKind.DISTRIBUTION})
"""The kinds a reversal may undo."""
_DECISIONS = frozenset({RevenueKind.CONFIRMATION, RevenueKind.OBJECTION})
_TARGETED = frozenset({RevenueKind.REVERSAL, RevenueKind.CONFIRMATION, RevenueKind.OBJECTION})
COMMON_FIELDS = frozenset({"v", "estate", "kind", "by", "at", "memo"})
KIND_FIELDS: Mapping[RevenueKind, frozenset[str]] = {
    RevenueKind.INCOME: frozenset({"amount_fen", "source", "contract", "period_start", "period_end"}),
    RevenueKind.COST: frozenset({"amount_fen", "item"}),
    RevenueKind.DISTRIBUTION: frozenset({"amount_fen", "disposition"}),
    RevenueKind.REVERSAL: frozenset({"amount_fen", "target"}),
    RevenueKind.CONFIRMATION: frozenset({"target"}),
    RevenueKind.OBJECTION: frozenset({"target", "reason"}),
}
"""Besides COMMON_FIELDS, the fields an entry of each kind holds, and no others."""
FIELDS = COMMON_FIELDS.union(*KIND_FIELDS.values())
_OPTIONAL = ("amount_fen", "source", "contract", "period_start", "period_end", "item", "disposition", "target", "reason")


@dataclass(frozen=True, slots=True)
class RevenueEntry:
    """One entry of an estate's revenue journal (see the module docstring for the rules). The
    fields its kind does not hold are None; the constructors below fill the right ones."""

    estate: str
    kind: RevenueKind
    by: str
    at: dt.datetime
    amount_fen: int | None = None
    source: Source | None = None
    contract: str | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    item: str | None = None
    disposition: Disposition | None = None
    target: int | None = None
    reason: str | None = None
    memo: str = ""

    # --- the kinds --------------------------------------------------------------------------

    @classmethod
    def income(
        cls, estate: str, by: str, at: dt.datetime, source: Source, contract: str,
        period_start: dt.date, period_end: dt.date, amount_fen: int, memo: str = "",
    ) -> RevenueEntry:
        """An income (收入) of the common parts, entered by the firm `by`."""
        return cls(
            estate, RevenueKind.INCOME, by, at, amount_fen=amount_fen, source=source, contract=contract,
            period_start=period_start, period_end=period_end, memo=memo,
        )

    @classmethod
    def cost(cls, estate: str, by: str, at: dt.datetime, item: str, amount_fen: int, memo: str = "") -> RevenueEntry:
        """A cost (成本) set against the revenue: `item` says what it was."""
        return cls(estate, RevenueKind.COST, by, at, amount_fen=amount_fen, item=item, memo=memo)

    @classmethod
    def distribution(
        cls, estate: str, by: str, at: dt.datetime, disposition: Disposition, amount_fen: int, memo: str = ""
    ) -> RevenueEntry:
        """The owners' share (or part of it) put where `disposition` says."""
        return cls(estate, RevenueKind.DISTRIBUTION, by, at, amount_fen=amount_fen, disposition=disposition, memo=memo)

    @classmethod
    def confirmation(cls, estate: str, by: str, at: dt.datetime, target: int, memo: str = "") -> RevenueEntry:
        """The committee `by` confirms firm entry `target` (确认)."""
        return cls(estate, RevenueKind.CONFIRMATION, by, at, target=target, memo=memo)

    @classmethod
    def objection(cls, estate: str, by: str, at: dt.datetime, target: int, reason: str, memo: str = "") -> RevenueEntry:
        """The committee `by` disputes firm entry `target` (异议) for `reason`."""
        return cls(estate, RevenueKind.OBJECTION, by, at, target=target, reason=reason, memo=memo)

    def reversing(self, index: int, by: str, at: dt.datetime, memo: str = "") -> RevenueEntry:
        """The reversal (冲正) of this entry, which stands at `index` of the journal, made by the
        firm `by` (the estate's firm then, not necessarily the one that entered it)."""
        amount = self.amount_fen if self.amount_fen is not None else 0
        return RevenueEntry(self.estate, RevenueKind.REVERSAL, by, at, amount_fen=-amount, target=index, memo=memo)

    # --- the log ----------------------------------------------------------------------------

    @property
    def key(self) -> str:
        """The log's entry key: `entry:<target>` for an entry about an earlier one (its reversal,
        confirmation or objection), else the kind (see the module docstring)."""
        if self.kind in _TARGETED:
            return about_key(self.target if self.target is not None else -1)
        return str(self.kind)

    def payload(self) -> bytes:
        """The canonical bytes hashed into the entry's leaf: the common fields and those of the
        kind, sorted keys, no spaces, UTF-8. A naive `at` is refused (InvalidInput, field ``at``)."""
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidInput("at", self.at, "must be an aware time (with a time zone)")
        body: dict[str, Any] = {
            "v": FORMAT,
            "estate": self.estate,
            "kind": str(self.kind),
            "by": self.by,
            "at": self.at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
            "memo": self.memo,
        }
        for name in KIND_FIELDS[self.kind]:
            value = getattr(self, name)
            body[name] = value.isoformat() if isinstance(value, dt.date) else str(value) if isinstance(value, enum.Enum) else value
        return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def to_new_entry(self) -> NewEntry:
        """The entry to append to the estate's log, checked first (`check_entry`)."""
        check_entry(self)
        return NewEntry(self.key, self.payload(), self.at.astimezone(dt.timezone.utc))

    @classmethod
    def parse(cls, payload: bytes, *, where: str = "entry") -> RevenueEntry:
        """The entry a payload holds; InvalidInput naming `where` and the field for anything that
        is not a revenue entry of this format in its one canonical spelling."""
        try:
            body = json.loads(payload.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InvalidInput(f"{where} payload", payload[:60].decode(errors="replace"), f"is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise InvalidInput(f"{where} payload", str(body)[:60], "must be a JSON object")
        if "v" not in body:
            raise InvalidInput(f"{where} v", None, f"is missing (the format version, {FORMAT})")
        version = body["v"]
        if not is_int(version) or version != FORMAT:
            raise InvalidInput(f"{where} v", version, f"is not a known format version (this reader knows {FORMAT})")
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise InvalidInput(f"{where} {unknown[0]}", body[unknown[0]], "is not a field of a revenue entry")
        if "kind" not in body:
            raise InvalidInput(f"{where} kind", None, "is missing")
        kind_text = json_text(body, "kind", where)
        try:
            kind = RevenueKind(kind_text)
        except ValueError:
            raise InvalidInput(f"{where} kind", kind_text, f"must be one of {', '.join(RevenueKind)}") from None
        fields = COMMON_FIELDS | KIND_FIELDS[kind]
        foreign = sorted(set(body) - fields)
        if foreign:
            raise InvalidInput(f"{where} {foreign[0]}", body[foreign[0]], f"is not a field of a {kind} ({kind.label}) entry")
        missing = sorted(fields - set(body))
        if missing:
            raise InvalidInput(f"{where} {missing[0]}", None, f"is missing (a {kind} ({kind.label}) entry holds it)")
        at_text = json_text(body, "at", where)
        try:
            at = dt.datetime.fromisoformat(at_text)
        except ValueError:
            raise InvalidInput(f"{where} at", at_text, "is not an ISO 8601 time") from None
        values: dict[str, Any] = {}
        for name in KIND_FIELDS[kind]:
            value = body[name]
            if name in ("amount_fen", "target"):
                if not is_int(value):
                    raise InvalidInput(f"{where} {name}", value, "must be a JSON integer (not a float, not a bool)")
            elif name in ("period_start", "period_end"):
                text = json_text(body, name, where)
                try:
                    value = dt.date.fromisoformat(text)
                except ValueError:
                    raise InvalidInput(f"{where} {name}", text, "is not an ISO 8601 date (YYYY-MM-DD)") from None
            elif name in ("source", "disposition"):
                text = json_text(body, name, where)
                choices: type[Source] | type[Disposition] = Source if name == "source" else Disposition
                try:
                    value = choices(text)
                except ValueError:
                    raise InvalidInput(f"{where} {name}", text, f"must be one of {', '.join(choices)}") from None
            else:
                value = json_text(body, name, where)
            values[name] = value
        entry = cls(
            estate=json_text(body, "estate", where),
            kind=kind,
            by=json_text(body, "by", where),
            at=at,
            memo=json_text(body, "memo", where),
            **values,
        )
        check_entry(entry, where=where)
        if entry.payload() != payload:
            raise InvalidInput(
                f"{where} payload", payload[:60].decode(errors="replace"),
                "is not in canonical form (its bytes are not the ones its content encodes to)",
            )
        return entry


def about_key(index: int) -> str:
    """The log key of the entries about entry `index`: its reversal, its confirmation or objection."""
    return f"entry:{index}"


def check_entry(entry: RevenueEntry, *, where: str = "entry") -> None:
    """Refuse (InvalidInput naming `where` and the field; `where` empty: the bare field) an entry
    no writer may append: an estate code not valid or not canonical, an unknown kind, a `by` that
    is not the party's (a canonical credit code for the firm, a committee id for the committee),
    a naive time, a field the kind does not hold that is not None, or one it holds out of shape:
    money that is not an int (float or bool) or out of 1..2^53 − 1 fen with the kind's sign, an
    unknown source or disposition, a period ending before it starts or given as datetimes, a
    target that is not an index, text out of its limits. Whether a target fits the journal is
    `fold`'s to say (it needs the journal)."""

    def field(name: str) -> str:
        return f"{where} {name}" if where else name

    check_code(EstateCode, entry.estate, field("estate"))
    kind = entry.kind
    if not isinstance(kind, RevenueKind):
        raise InvalidInput(field("kind"), kind, f"must be a RevenueKind ({', '.join(RevenueKind)})")
    if kind.party is Party.FIRM:
        check_code(CreditCode, entry.by, field("by"))
    else:
        check_id(entry.by, field("by"))
    at = entry.at
    if not isinstance(at, dt.datetime):
        raise InvalidInput(field("at"), at, "must be a datetime")
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(field("at"), at, "must be an aware time (with a time zone)")
    try:
        at.astimezone(dt.timezone.utc)
    except OverflowError:
        raise InvalidInput(field("at"), at, "is out of range in UTC") from None
    held = KIND_FIELDS[kind]
    for name in _OPTIONAL:
        if name not in held and getattr(entry, name) is not None:
            raise InvalidInput(field(name), getattr(entry, name), f"is not a field of a {kind} ({kind.label}) entry: must be None")
    if "amount_fen" in held:
        amount = entry.amount_fen
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise InvalidInput(field("amount_fen"), amount, "must be an integer number of fen (not a float, not a bool)")
        if kind is RevenueKind.REVERSAL and not -MAX_FEN <= amount < 0:
            raise InvalidInput(
                field("amount_fen"), amount, f"must be -1 to -{MAX_FEN} fen: a {kind} ({kind.label}) negates an amount entered"
            )
        if kind is not RevenueKind.REVERSAL and not 0 < amount <= MAX_FEN:
            raise InvalidInput(field("amount_fen"), amount, f"must be 1 to {MAX_FEN} fen for a {kind} ({kind.label})")
    if "target" in held:
        target = entry.target
        if not isinstance(target, int) or isinstance(target, bool) or not 0 <= target <= MAX_INDEX:
            raise InvalidInput(field("target"), target, f"must be an entry index, an integer 0 to {MAX_INDEX}")
    if "source" in held and not isinstance(entry.source, Source):
        raise InvalidInput(field("source"), entry.source, f"must be a Source ({', '.join(Source)})")
    if "disposition" in held and not isinstance(entry.disposition, Disposition):
        raise InvalidInput(field("disposition"), entry.disposition, f"must be a Disposition ({', '.join(Disposition)})")
    if "period_start" in held:
        start, end = entry.period_start, entry.period_end
        for name, day in (("period_start", start), ("period_end", end)):
            if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
                raise InvalidInput(field(name), day, "must be a date (not a datetime)")
        assert start is not None and end is not None
        if end < start:
            raise InvalidInput(field("period_end"), end.isoformat(), f"must not be before period_start {start.isoformat()}")
    for name, limit in (("contract", TEXT_LIMIT), ("item", TEXT_LIMIT), ("reason", REASON_LIMIT)):
        if name in held:
            value = getattr(entry, name)
            if not isinstance(value, str) or not 1 <= len(value) <= limit or not value.isprintable() or not value.strip():
                raise InvalidInput(field(name), str(value)[:40], f"must be 1 to {limit} printable characters, not blank")
    memo = entry.memo
    if not isinstance(memo, str) or len(memo) > MEMO_LIMIT or not memo.isprintable():
        raise InvalidInput(field("memo"), str(memo)[:40], f"must be 0 to {MEMO_LIMIT} printable characters")


# --- the fold ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RevenueFold:
    """What a journal folds to: its estate (None for an empty journal), a row per year in which
    the firm made entries (in year order), and each firm entry's status with the index of its
    decision (confirmation or objection) and how it was decided (CONFIRMED or OBJECTED, which a
    reversal since hides from the status), and the index of its reversal."""

    estate: str | None
    years: tuple[RevenueYear, ...]
    statuses: Mapping[int, EntryStatus]
    decisions: Mapping[int, int]
    decided: Mapping[int, EntryStatus]
    reversals: Mapping[int, int]

    def status(self, index: int) -> EntryStatus | None:
        """The status of entry `index`: None for a committee's entry or one not folded."""
        return self.statuses.get(index)


def owners_share(row: RevenueYear) -> int:
    """The owners' share of a year in fen: its income net of the costs set against it (Civil
    Code Art. 282: income from the common parts, after reasonable costs, belongs to the owners).
    What of it is not distributed is `owners_share(row) - row.distributed_fen`."""
    return row.income_fen - row.cost_fen


def fold(entries: Iterable[tuple[int, RevenueEntry]]) -> RevenueFold:
    """Fold `entries` — (index, entry) pairs of ONE estate's revenue journal — in index order.

    Every entry is checked (`check_entry`, where ``entry <index>``) and must fit the journal, else
    InvalidInput naming the first index that does not: indices strictly increasing (field
    ``entry <i> index``), the estate the first entry's (``entry <i> estate``); a reversal's or a
    decision's ``target`` (field ``entry <i> target``) an earlier entry given here — for a
    reversal an income, cost or distribution not reversed before, whose amount it exactly negates
    (else ``entry <i> amount_fen``), for a decision a firm entry not decided before.

    Each year's row (`RevenueYear`, the year of `at` in China Standard Time): `income_fen`,
    `cost_fen` and `distributed_fen` the amounts of that kind entered in the year, net of the
    reversals of that kind made in the year (whatever year they undo); `confirmed_income_fen`
    the income entries of the year that stand confirmed (a reversed income is no longer counted:
    its status is reversed); `entries` the firm's entries of the year (reversals included, the
    committee's entries not); `unconfirmed` those of them whose status is unconfirmed (a reversal
    too waits for the committee). A disputed entry still counts in the amounts until reversed."""
    # index → (year, kind, the kind it counts as, amount) of every firm entry
    firm: dict[int, tuple[int, RevenueKind, RevenueKind, int]] = {}
    committee: dict[int, RevenueKind] = {}
    decisions: dict[int, int] = {}
    reversals: dict[int, int] = {}
    estate: str | None = None
    last = -1
    for index, entry in entries:
        where = f"entry {index}"
        if not is_int(index) or index <= last:
            raise InvalidInput(f"{where} index", index, f"must be an integer index after {last} (the journal in index order)")
        last = index
        check_entry(entry, where=where)
        if estate is None:
            estate = entry.estate
        elif entry.estate != estate:
            raise InvalidInput(f"{where} estate", entry.estate, f"is not the journal's estate {estate}")
        kind = entry.kind
        target = entry.target
        undone: tuple[int, RevenueKind, RevenueKind, int] | None = None
        if target is not None:
            field = f"{where} target"
            if target >= index:
                raise InvalidInput(field, target, "must name an earlier entry")
            if target in committee:
                named = committee[target]
                raise InvalidInput(
                    field, target, f"names the committee's {named} ({named.label}): only the firm's entries are reversed, confirmed or disputed"
                )
            undone = firm.get(target)
            if undone is None:
                raise InvalidInput(field, target, "names no entry of the journal")
        if kind is RevenueKind.REVERSAL:
            assert target is not None and undone is not None
            _, undone_kind, _, undone_amount = undone
            if undone_kind is RevenueKind.REVERSAL:
                raise InvalidInput(f"{where} target", target, "names a reversal: a reversal is never reversed")
            if target in reversals:
                raise InvalidInput(
                    f"{where} target", target, f"names entry {target}, which entry {reversals[target]} already reversed"
                )
            if entry.amount_fen != -undone_amount:
                raise InvalidInput(
                    f"{where} amount_fen", entry.amount_fen,
                    f"must negate entry {target} exactly: {entry.amount_fen} fen does not undo {undone_amount} fen",
                )
            reversals[target] = index
            firm[index] = (year_of(entry.at), kind, undone_kind, -undone_amount)
        elif kind in _DECISIONS:
            assert target is not None
            if target in decisions:
                earlier = committee[decisions[target]]
                raise InvalidInput(
                    f"{where} target", target,
                    f"names entry {target}, which entry {decisions[target]} already decided ({earlier.label}): "
                    "an entry is confirmed or disputed once",
                )
            decisions[target] = index
            committee[index] = kind
        else:
            assert entry.amount_fen is not None
            firm[index] = (year_of(entry.at), kind, kind, entry.amount_fen)
    statuses: dict[int, EntryStatus] = {}
    decided = {
        target: EntryStatus.CONFIRMED if committee[index] is RevenueKind.CONFIRMATION else EntryStatus.OBJECTED
        for target, index in decisions.items()
    }
    rows: dict[int, list[int]] = {}  # year → income, confirmed income, cost, distributed, entries, unconfirmed
    for index, (year, kind, counts_as, amount) in firm.items():
        if index in reversals:
            status = EntryStatus.REVERSED
        elif index in decided:
            status = decided[index]
        else:
            status = EntryStatus.UNCONFIRMED
        statuses[index] = status
        row = rows.setdefault(year, [0, 0, 0, 0, 0, 0])
        column = {RevenueKind.INCOME: 0, RevenueKind.COST: 2, RevenueKind.DISTRIBUTION: 3}[counts_as]
        row[column] += amount
        if kind is RevenueKind.INCOME and status is EntryStatus.CONFIRMED:
            row[1] += amount
        row[4] += 1
        if status is EntryStatus.UNCONFIRMED:
            row[5] += 1
    years = tuple(
        RevenueYear(
            estate=estate or "", year=year, income_fen=income, confirmed_income_fen=confirmed, cost_fen=cost,
            distributed_fen=distributed, entries=count, unconfirmed=unconfirmed,
        )
        for year, (income, confirmed, cost, distributed, count, unconfirmed) in sorted(rows.items())
    )
    return RevenueFold(estate, years, statuses, decisions, decided, reversals)
