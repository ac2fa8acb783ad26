"""An estate's maintenance-fund journal (专项维修资金分户账): its entries, and the balances they fold to.

The journal is an append-only Merkle log per estate (`graph.logs.MerkleLog`, log `fund:<estate
code>`). Each entry is one movement on one house's account; its log key is the house code, so a
house's history is the entries under its key. Money is integer fen, never floats.

Entry format (version 1): the payload hashed into the leaf is the canonical JSON of a
`FundEntry`, keys sorted, no spaces, UTF-8 (not \\u-escaped):

    {"amount_fen":-12345,"at":"2026-05-01T02:00:00.000000+00:00","estate":"370202001001E001",
     "house":"370202001001GB00001F00010001","kind":"repair","memo":"1号楼电梯更换",
     "ref":"project:P-2026-007","v":1}

- `estate`, `house`: the estate code and the 28-character 不动产单元号 whose account it is, both
  checked by `graph.codes` and written in their canonical (upper-case) form;
- `kind`: `EntryKind` — deposit 首次缴存, top_up 续筹, interest 利息, repair 维修支出, reversal 冲正;
- `amount_fen`: signed integer fen, |amount| ≤ 2^53 − 1 (so every JSON reader reads it exactly);
- `at`: when it happened, an aware time written in UTC to the microsecond;
- `ref`: what it rests on, 1–120 printable characters, its shape fixed by the kind:
  `statement:<source>:<line>` (a line of the custodian's statement) for deposit, top_up and
  interest, `project:<id>` for a repair, `reverses:<index>` (a decimal entry index, no leading
  zeros) for a reversal;
- `memo`: 0–200 printable characters;
- `v`: the format version, 1.

Sign rule: credits are positive (deposit, top_up, interest > 0), a repair is a debit (< 0), and
a reversal has the sign opposite to the entry it undoes (≠ 0; `balances` checks it negates it).

Reversal rule: nothing in the journal is updated or deleted; a correction is a reversal entry
whose `ref` names an EARLIER index of the SAME house and whose amount is exactly the negation of
that entry's. An entry is reversed at most once, and a reversal itself is never reversed (to
restore an amount, append a fresh entry). The corrected amount, if any, is then a new entry.

Why canonical bytes: the Merkle leaf is the hash of the payload, so one entry must have exactly
one spelling. `FundEntry.parse` re-serialises what it read and refuses the payload unless the bytes
are identical: an extra space, reordered keys, `1e2` for 100, a lower-case code or a time not in
UTC would otherwise let two byte strings (two leaf hashes) stand for the same entry, and a
verifier could not tell a re-encoded entry from a tampered one.

Refusals are `InvalidInput` naming where and the field (`entry 17 amount_fen`), so that
`hub ledger verify` can name the first entry that does not fit.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from graph.codes import EstateCode, HouseCode
from graph.clock import CHINA_STANDARD_TIME
from graph.errors import InvalidInput
from graph.funds.canonical import check_code, is_int, json_text
from graph.logstore import NewEntry

FORMAT = 1
MAX_FEN = 2**53 - 1
"""The largest |amount_fen|: every JSON reader (JavaScript's too) holds it exactly."""
REF_LIMIT = 120
MEMO_LIMIT = 200
FIELDS = frozenset({"v", "estate", "house", "kind", "amount_fen", "at", "ref", "memo"})


class EntryKind(enum.StrEnum):
    """What an entry does to a house's account."""

    DEPOSIT = "deposit"  # 首次缴存, at first sale
    TOP_UP = "top_up"  # 续筹
    INTEREST = "interest"  # 利息
    REPAIR = "repair"  # 维修支出: the house's apportioned share of a repair project
    REVERSAL = "reversal"  # 冲正: undoes one earlier entry

    @property
    def label(self) -> str:
        """The Chinese name, as the fund centres' statements say it."""
        return _LABELS[self]


_LABELS = {
    EntryKind.DEPOSIT: "首次缴存",
    EntryKind.TOP_UP: "续筹",
    EntryKind.INTEREST: "利息",
    EntryKind.REPAIR: "维修支出",
    EntryKind.REVERSAL: "冲正",
}
_CREDITS = frozenset({EntryKind.DEPOSIT, EntryKind.TOP_UP, EntryKind.INTEREST})
_REF_SHAPES = {
    EntryKind.DEPOSIT: re.compile(r"statement:(.+):([^:]+)"),
    EntryKind.TOP_UP: re.compile(r"statement:(.+):([^:]+)"),
    EntryKind.INTEREST: re.compile(r"statement:(.+):([^:]+)"),
    EntryKind.REPAIR: re.compile(r"project:(.+)"),
    EntryKind.REVERSAL: re.compile(r"reverses:(0|[1-9][0-9]*)"),
}
_REF_TEXT = {
    EntryKind.DEPOSIT: "statement:<source>:<line>",
    EntryKind.TOP_UP: "statement:<source>:<line>",
    EntryKind.INTEREST: "statement:<source>:<line>",
    EntryKind.REPAIR: "project:<id>",
    EntryKind.REVERSAL: "reverses:<index> (an entry index, no leading zeros)",
}


@dataclass(frozen=True, slots=True)
class FundEntry:
    """One movement on one house's account (see the module docstring for the rules)."""

    estate: str
    house: str
    kind: EntryKind
    amount_fen: int
    at: dt.datetime
    ref: str
    memo: str = ""

    @property
    def key(self) -> str:
        """The log's entry key: the house code (a house's history is the entries under it)."""
        return self.house

    @property
    def reverses(self) -> int | None:
        """The index a reversal undoes (from its `ref`); None for any other kind."""
        if self.kind is not EntryKind.REVERSAL or not self.ref.startswith("reverses:"):
            return None
        return int(self.ref.removeprefix("reverses:"))

    def payload(self) -> bytes:
        """The canonical bytes hashed into the entry's leaf: sorted keys, no spaces, UTF-8.

        A naive `at` is refused (InvalidInput, field ``at``): its UTC time would depend on the
        machine's time zone."""
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidInput("at", self.at, "must be an aware time (with a time zone)")
        at = self.at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
        # the canonical JSON written out by hand, keys in sorted order (amount_fen, at, estate,
        # house, kind, memo, ref, v): json.dumps with sort_keys cost half of every read
        # (FundEntry.parse re-encodes what it read); the texts that may need escaping go
        # through json's own encoder, so the bytes are exactly json.dumps(body, sort_keys=True,
        # separators=(",", ":"), ensure_ascii=False)
        return (
            f'{{"amount_fen":{self.amount_fen if type(self.amount_fen) is int else json.dumps(self.amount_fen)},"at":"{at}","estate":{_string(self.estate)},'
            f'"house":{_string(self.house)},"kind":"{self.kind}","memo":{_string(self.memo)},'
            f'"ref":{_string(self.ref)},"v":{FORMAT}}}'
        ).encode()

    def to_new_entry(self) -> NewEntry:
        """The entry to append to the estate's log, checked first (`check_entry`)."""
        check_entry(self)
        return NewEntry(self.key, self.payload(), self.at.astimezone(dt.timezone.utc))

    def reversing(self, index: int, at: dt.datetime, memo: str = "") -> FundEntry:
        """The reversal (冲正) of this entry, which stands at `index` of the journal."""
        return FundEntry(
            self.estate, self.house, EntryKind.REVERSAL, -self.amount_fen, at, f"reverses:{index}", memo
        )

    @classmethod
    def parse(cls, payload: bytes, *, where: str = "entry") -> FundEntry:
        """The entry a payload holds; InvalidInput naming `where` and the field for anything that
        is not a fund entry of this format in its one canonical spelling."""
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
            raise InvalidInput(f"{where} {unknown[0]}", body[unknown[0]], "is not a field of a fund entry")
        missing = sorted(FIELDS - set(body))
        if missing:
            raise InvalidInput(f"{where} {missing[0]}", None, "is missing")
        kind_text = json_text(body, "kind", where)
        try:
            kind = EntryKind(kind_text)
        except ValueError:
            raise InvalidInput(f"{where} kind", kind_text, f"must be one of {', '.join(EntryKind)}") from None
        amount = body["amount_fen"]
        if not is_int(amount):
            raise InvalidInput(f"{where} amount_fen", amount, "must be an integer number of fen (not a float, not a bool)")
        at_text = json_text(body, "at", where)
        try:
            at = dt.datetime.fromisoformat(at_text)
        except ValueError:
            raise InvalidInput(f"{where} at", at_text, "is not an ISO 8601 time") from None
        entry = cls(
            estate=json_text(body, "estate", where),
            house=json_text(body, "house", where),
            kind=kind,
            amount_fen=amount,
            at=at,
            ref=json_text(body, "ref", where),
            memo=json_text(body, "memo", where),
        )
        check_entry(entry, where=where)
        if entry.payload() != payload:
            raise InvalidInput(
                f"{where} payload", payload[:60].decode(errors="replace"),
                "is not in canonical form (its bytes are not the ones its content encodes to)",
            )
        return entry


def check_entry(entry: FundEntry, *, where: str = "entry") -> None:
    """Refuse (InvalidInput naming `where` and the field) an entry no writer may append: codes not
    valid or not in canonical form, an unknown kind, money that is not an int (float or bool) or
    over 2^53 − 1 fen, a sign the kind does not allow, a naive time, a `ref` or `memo` out of
    shape. Whether a reversal fits the journal is `balances`' to say (it needs the journal)."""
    check_code(EstateCode, entry.estate, f"{where} estate")
    check_code(HouseCode, entry.house, f"{where} house")
    kind = entry.kind
    if not isinstance(kind, EntryKind):
        raise InvalidInput(f"{where} kind", kind, f"must be an EntryKind ({', '.join(EntryKind)})")
    amount = entry.amount_fen
    if not is_int(amount):
        raise InvalidInput(f"{where} amount_fen", amount, "must be an integer number of fen (not a float, not a bool)")
    if abs(amount) > MAX_FEN:
        raise InvalidInput(f"{where} amount_fen", amount, f"must be at most {MAX_FEN} fen either way")
    if kind in _CREDITS and amount <= 0:
        raise InvalidInput(f"{where} amount_fen", amount, f"must be positive: a {kind} ({kind.label}) is a credit")
    if kind is EntryKind.REPAIR and amount >= 0:
        raise InvalidInput(f"{where} amount_fen", amount, f"must be negative: a {kind} ({kind.label}) is a debit")
    if kind is EntryKind.REVERSAL and amount == 0:
        raise InvalidInput(f"{where} amount_fen", amount, f"cannot be 0: a {kind} ({kind.label}) negates a non-zero entry")
    at = entry.at
    if not isinstance(at, dt.datetime):
        raise InvalidInput(f"{where} at", at, "must be a datetime")
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{where} at", at, "must be an aware time (with a time zone)")
    try:
        at.astimezone(dt.timezone.utc)
    except OverflowError:
        raise InvalidInput(f"{where} at", at, "is out of range in UTC") from None
    ref = entry.ref
    if not isinstance(ref, str) or not 1 <= len(ref) <= REF_LIMIT or not ref.isprintable():
        raise InvalidInput(f"{where} ref", ref, f"must be 1 to {REF_LIMIT} printable characters")
    if not _REF_SHAPES[kind].fullmatch(ref):
        raise InvalidInput(f"{where} ref", ref, f"must be {_REF_TEXT[kind]} for a {kind} ({kind.label})")
    memo = entry.memo
    if not isinstance(memo, str) or len(memo) > MEMO_LIMIT or not memo.isprintable():
        raise InvalidInput(f"{where} memo", str(memo)[:40], f"must be 0 to {MEMO_LIMIT} printable characters")


def balances(entries: Iterable[tuple[int, FundEntry]]) -> dict[str, int]:
    """Each house's balance in fen (house code → fen, in code order), folding `entries` — (index,
    entry) pairs of ONE estate's journal — in index order (`JournalFold`, whose checks apply).

    A balance may be negative (a credit reversed after a repair spent it); refusing an
    underfunded repair is the writer's job, not the fold's."""
    fold = JournalFold()
    for index, entry in entries:
        fold.add(index, entry)
    return fold.balances()


CST = CHINA_STANDARD_TIME
"""China Standard Time: the calendar years and disclosure periods of the books are Beijing's."""


def year_of(at: dt.datetime) -> int:
    """The calendar year (China Standard Time) a movement falls in."""
    return at.astimezone(CST).year


@dataclass(slots=True)
class Account:
    """A house's account as folded so far."""

    balance_fen: int = 0
    first_deposit_fen: int = 0  # deposits at first sale, net of their reversals
    entries: int = 0
    last_index: int = -1
    last_at: dt.datetime | None = None


@dataclass(slots=True)
class Year:
    """An estate's movements in one calendar year (CST): credits (deposits, top-ups, interest),
    interest alone, and repairs (positive), each net of the reversals made that year."""

    credits_fen: int = 0
    interest_fen: int = 0
    repairs_fen: int = 0


class JournalFold:
    """One estate's journal folded entry by entry: accounts per house and figures per year.

    Every entry is checked (`check_entry`, where ``entry <index>``) and must fit the journal, else
    InvalidInput naming the first index that does not: indices strictly increasing (field
    ``entry <i> index``), the estate the first entry's (``entry <i> estate``), and a reversal's
    ``reverses:<j>`` (field ``entry <i> ref``) naming an earlier entry j folded or made `known`,
    of the same house, not itself a reversal, not reversed before, whose amount the reversal
    exactly negates.

    To go on from rows kept earlier (`graph.funds.books`), seed `accounts` and `years` with them
    and make `known` the earlier entries the new ones reverse; `touched_houses` and
    `touched_years` then say which rows changed."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.years: dict[int, Year] = {}
        self.estate: str | None = None
        self.last = -1
        self.touched_houses: set[str] = set()
        self.touched_years: set[int] = set()
        self._seen: dict[int, tuple[str, int, EntryKind | None]] = {}  # index → (house, amount, kind undone or None)
        self._reversed: set[int] = set()
        self._names: dict[str, str] = {}  # one string per house, however many entries name it

    def known(self, index: int, entry: FundEntry, *, reversed_: bool = False) -> None:
        """An entry before the folded range that a later one may reverse: remembered, not counted."""
        self._seen[index] = (self._names.setdefault(entry.house, entry.house), entry.amount_fen, entry.kind)
        if reversed_:
            self._reversed.add(index)

    def add(self, index: int, entry: FundEntry, *, checked: bool = False) -> None:
        """Fold one entry; `checked`: it comes from `FundEntry.parse`, which checked it already."""
        where = f"entry {index}"
        if not is_int(index) or index <= self.last:
            raise InvalidInput(f"{where} index", index, f"must be an integer index after {self.last} (the journal in index order)")
        self.last = index
        if not checked:
            check_entry(entry, where=where)
        if self.estate is None:
            self.estate = entry.estate
        elif entry.estate != self.estate:
            raise InvalidInput(f"{where} estate", entry.estate, f"is not the journal's estate {self.estate}")
        amount = entry.amount_fen
        kind: EntryKind = entry.kind
        target = entry.reverses
        if target is not None:
            if target >= index:
                raise InvalidInput(f"{where} ref", entry.ref, "must name an earlier entry")
            undone = self._seen.get(target)
            if undone is None:
                raise InvalidInput(f"{where} ref", entry.ref, "names no entry of the journal")
            undone_house, undone_amount, undone_kind = undone
            if undone_house != entry.house:
                raise InvalidInput(f"{where} ref", entry.ref, f"names an entry of house {undone_house}, not {entry.house}")
            if undone_kind is EntryKind.REVERSAL:
                raise InvalidInput(f"{where} ref", entry.ref, "names a reversal: a reversal is never reversed")
            if target in self._reversed:
                raise InvalidInput(f"{where} ref", entry.ref, f"names entry {target}, which is already reversed")
            if amount != -undone_amount:
                raise InvalidInput(
                    f"{where} ref", entry.ref,
                    f"must negate entry {target} exactly: {amount} fen does not undo {undone_amount} fen",
                )
            self._reversed.add(target)
            assert undone_kind is not None
            kind = undone_kind  # a reversal counts where the entry it undoes counted, negated
        self._seen[index] = (self._names.setdefault(entry.house, entry.house), amount, entry.kind)
        account = self.accounts.get(entry.house)
        if account is None:
            account = self.accounts[entry.house] = Account()
        account.balance_fen += amount
        account.entries += 1
        account.last_index = index
        account.last_at = entry.at
        if kind is EntryKind.DEPOSIT:
            account.first_deposit_fen += amount
        self.touched_houses.add(entry.house)
        year_number = year_of(entry.at)
        year = self.years.get(year_number)
        if year is None:
            year = self.years[year_number] = Year()
        if kind in _CREDITS:
            year.credits_fen += amount
            if kind is EntryKind.INTEREST:
                year.interest_fen += amount
        else:
            year.repairs_fen -= amount
        self.touched_years.add(year_number)

    def balances(self) -> dict[str, int]:
        """Each house's balance in fen, in house code order."""
        return {house: self.accounts[house].balance_fen for house in sorted(self.accounts)}


_string = json.JSONEncoder(ensure_ascii=False).encode
"""A JSON string literal exactly as json.dumps(ensure_ascii=False) writes it."""
