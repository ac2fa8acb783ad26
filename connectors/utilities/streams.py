"""The three streams a utility gives (accounts, bills, outage notices) and how their records
become graph facts; shared by the HTTP kind and the CSV drop kind, which differ only in reading.

Records arrive as plain JSON values (the drop reader converts CSV text to the same types first):

- accounts  key `utility|account_no`: `account_no`, `utility`, the house's 不动产单元号 `bdcdyh`
  or its postal `address`, `updated` (ISO time).
- bills     key `utility|account_no|period`: `period` (YYYY-MM), `amount`, `paid` (yuan: a JSON
  number, read as the decimal written, or decimal text like "123.45"; taken in whole fen exactly,
  so more than two decimals or anything not a number is a schema mismatch naming the field),
  `due` (date).
- outages   key `utility|notice_id`: `place_codes` and/or `addresses` (estate or building
  addresses), `starts`, `ends`, `reason`, `planned`.

Linking never guesses: an address that does not lead to one house with confidence is rejected as
UNMATCHED_ADDRESS with the candidates the matcher found; a malformed code is MALFORMED_CODE; a
well-formed code the hub does not hold, or a bill of an account the hub does not know, is
UNKNOWN_PLACE.

Every stream's dead letters can be retried (connectors.base.Retryable): a record holds no personal
data, so its letter keeps it whole, and a retry (after the house, estate or account arrived)
links it as a read would.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from connectors.base import Facts, FieldSpec, RecordSchema, Rejected, SourceRecord, Verdict, json_record
from connectors.matching import Matcher
from graph.clock import CHINA_STANDARD_TIME, china_time
from graph.codes import place_code
from graph.errors import CodeError
from graph.ledger import Reason
from graph.levels import Level
from graph.model import Batch
from graph.scope import Scope
from graph.store import Store
from graph.utilities import Bill, Outage, Utility, UtilityAccount, fen_of

EVERYTHING = Scope.everything()
STREAMS = ("accounts", "bills", "outages")
"""A utility's streams, in the order a sync reads them (accounts before their bills)."""
CHINA = CHINA_STANDARD_TIME
"""Times without an offset are Beijing time, as Chinese utilities write them."""

_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
MONEY = (int, float, Decimal, str)
"""What a sum of money may arrive as: `graph.utilities.fen_of` decides whether it is one."""

ACCOUNTS = RecordSchema(
    (
        FieldSpec("utility", str),
        FieldSpec("account_no", str),
        FieldSpec("bdcdyh", str, required=False),
        FieldSpec("address", str, required=False),
        FieldSpec("updated", str),
    )
)
BILLS = RecordSchema(
    (
        FieldSpec("utility", str),
        FieldSpec("account_no", str),
        FieldSpec("period", str),
        FieldSpec("amount", MONEY),
        FieldSpec("paid", MONEY),
        FieldSpec("due", str),
        FieldSpec("updated", str),
    )
)
OUTAGES = RecordSchema(
    (
        FieldSpec("utility", str),
        FieldSpec("notice_id", str),
        FieldSpec("place_codes", list, required=False),
        FieldSpec("addresses", list, required=False),
        FieldSpec("starts", str),
        FieldSpec("ends", str, required=False),
        FieldSpec("reason", str),
        FieldSpec("planned", bool, required=False),
        FieldSpec("updated", str),
    )
)

SCHEMAS: dict[str, RecordSchema] = {"accounts": ACCOUNTS, "bills": BILLS, "outages": OUTAGES}
KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("utility", "account_no"),
    "bills": ("utility", "account_no", "period"),
    "outages": ("utility", "notice_id"),
}


def record_key(stream: str, data: Mapping[str, Any]) -> str:
    return "|".join(str(data.get(name, "")) for name in KEYS[stream])


def moment(text: str) -> dt.datetime:
    """An ISO time; without an offset it is Beijing time. ValueError when unreadable."""
    return china_time(text)


def _mismatch(stream: str, key: str, problem: str) -> Rejected:
    return Rejected(Reason.SCHEMA_MISMATCH, f"{stream} record {key}: {problem}")


class UtilityStream:
    """One stream of a utility source: its declaration and its linking; `reader` reads it."""

    cursor_field = "updated"

    def __init__(
        self,
        name: str,
        utility: Utility,
        reader: Callable[[str | None], AsyncIterator[SourceRecord]],
        *,
        matcher: Callable[[Store], Matcher],
    ) -> None:
        self.name = name
        self.utility = utility
        self.primary_key = KEYS[name]
        self.schema = SCHEMAS[name]
        self._reader = reader
        self._matcher_of = matcher
        self._matcher: Matcher | None = None
        self._matched_store: Store | None = None

    def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        return self._reader(after)

    def kept(self, record: SourceRecord, store: Store) -> dict[str, Any]:
        return json_record(record.data)

    def revive(self, payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The record as read: the readers give plain JSON values, which the letter kept."""
        return dict(payload)

    def matcher(self, store: Store) -> Matcher:
        """One matcher per stream object (streams are made afresh for each sync), so its cache
        never outlives the places it read."""
        if self._matcher is None or self._matched_store is not store:
            self._matcher, self._matched_store = self._matcher_of(store), store
        return self._matcher

    def _utility(self, key: str, data: Mapping[str, Any]) -> Utility | Rejected:
        given = str(data.get("utility", "")).strip().lower()
        if given != self.utility.value:
            return _mismatch(self.name, key, f"utility {given!r} is not {self.utility.value!r}, the utility this connector reads")
        return self.utility

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        if self.name == "accounts":
            return await self._accounts(records, store)
        if self.name == "bills":
            return await self._bills(records, store)
        return await self._outages(records, store)

    # -- accounts -------------------------------------------------------------------------

    async def _accounts(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        codes: dict[int, str] = {}
        verdicts: dict[int, Verdict] = {}
        for index, record in enumerate(records):
            data, key = record.data, record.key
            utility = self._utility(key, data)
            if isinstance(utility, Rejected):
                verdicts[index] = utility
                continue
            given = str(data.get("bdcdyh") or "").strip()
            if given:
                try:
                    code, level = place_code(given, field=f"accounts record {key} bdcdyh")
                except CodeError as error:
                    verdicts[index] = Rejected(Reason.MALFORMED_CODE, str(error))
                    continue
                if level != Level.HOUSE:
                    verdicts[index] = Rejected(Reason.MALFORMED_CODE, f"accounts record {key}: bdcdyh {given!r} is a {level.name.lower()} code, not a house's 不动产单元号")
                    continue
                codes[index] = code
            elif not str(data.get("address") or "").strip():
                verdicts[index] = _mismatch(self.name, key, "needs the house's bdcdyh or its address")
        if codes:
            found = await store.places(list(codes.values()), EVERYTHING)
            known = {place.code for place in found if place is not None}
            for index, code in codes.items():
                if code not in known:
                    verdicts[index] = Rejected(Reason.UNKNOWN_PLACE, f"accounts record {records[index].key}: house {code} is not in the hub")
        matcher = self.matcher(store)
        answers: list[Verdict] = []
        for index, record in enumerate(records):
            if index in verdicts:
                answers.append(verdicts[index])
                continue
            house = codes.get(index)
            if house is None:
                text = str(record.data["address"])
                match = await matcher.match(text)
                if not match.matched:
                    answers.append(
                        Rejected(
                            Reason.UNMATCHED_ADDRESS,
                            f"accounts record {record.key}: address {text!r} did not match one house with confidence: {match.why}",
                            match.candidates,
                        )
                    )
                    continue
                house = match.house_code
            assert house is not None
            account = UtilityAccount(self.utility, str(record.data["account_no"]).strip(), house)
            answers.append(Facts(Batch(accounts=[account])))
        return answers

    # -- bills ----------------------------------------------------------------------------

    def _bill(self, record: SourceRecord) -> Bill | Rejected:
        data, key = record.data, record.key
        utility = self._utility(key, data)
        if isinstance(utility, Rejected):
            return utility
        period = str(data["period"]).strip()
        if not _PERIOD.fullmatch(period):
            return _mismatch(self.name, key, f"period {period!r} is not YYYY-MM")
        money: dict[str, int] = {}
        for name in ("amount", "paid"):
            try:
                money[name] = fen_of(data[name])
            except ValueError as error:
                return _mismatch(self.name, key, f"field {name!r}: {error}")
        amount, paid = money["amount"], money["paid"]
        if amount < 0 or paid < 0:
            return _mismatch(
                self.name, key, f"amount {data['amount']} and paid {data['paid']} must not be negative"
            )
        try:
            due = dt.date.fromisoformat(str(data["due"]).strip()[:10])
        except ValueError:
            return _mismatch(self.name, key, f"due {data['due']!r} is not a date (YYYY-MM-DD)")
        return Bill(utility, str(data["account_no"]).strip(), period, amount, paid, due)

    async def _bills(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        bills = [self._bill(record) for record in records]
        keys = list({(b.utility, b.account_no) for b in bills if isinstance(b, Bill)})
        found = await store.accounts(keys, EVERYTHING) if keys else []
        known = {key for key, account in zip(keys, found) if account is not None}
        answers: list[Verdict] = []
        for record, bill in zip(records, bills):
            if isinstance(bill, Rejected):
                answers.append(bill)
            elif (bill.utility, bill.account_no) not in known:
                answers.append(
                    Rejected(
                        Reason.UNKNOWN_PLACE,
                        f"bills record {record.key}: account {bill.account_no} is not linked to a house in the hub "
                        "(its account record was set aside or has not been sent)",
                    )
                )
            else:
                answers.append(Facts(Batch(bills=[bill])))
        return answers

    # -- outages --------------------------------------------------------------------------

    async def _outages(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        matcher = self.matcher(store)
        answers: list[Verdict] = []
        for record in records:
            answers.append(await self._outage(record, store, matcher))
        return answers

    async def _outage(self, record: SourceRecord, store: Store, matcher: Matcher) -> Verdict:
        data, key = record.data, record.key
        utility = self._utility(key, data)
        if isinstance(utility, Rejected):
            return utility
        given_codes = [str(code).strip() for code in data.get("place_codes") or []]
        texts = [str(text).strip() for text in data.get("addresses") or [] if str(text).strip()]
        if not given_codes and not texts:
            return _mismatch(self.name, key, "names no place (place_codes or addresses)")
        try:
            starts = moment(str(data["starts"]))
            ends = moment(str(data["ends"])) if data.get("ends") else None
        except ValueError as error:
            return _mismatch(self.name, key, f"starts/ends is not an ISO time ({error})")
        if ends is not None and ends < starts:
            return _mismatch(self.name, key, f"ends {ends.isoformat()} before it starts {starts.isoformat()}")
        codes: list[str] = []
        for given in given_codes:
            try:
                codes.append(place_code(given, field=f"outages record {key} place_codes")[0])
            except CodeError as error:
                return Rejected(Reason.MALFORMED_CODE, str(error))
        if codes:
            found = await store.places(codes, EVERYTHING)
            missing = [code for code, place in zip(codes, found) if place is None]
            if missing:
                return Rejected(Reason.UNKNOWN_PLACE, f"outages record {key}: place {', '.join(missing)} is not in the hub")
        for text in texts:
            match = await matcher.match(text)
            if not match.complete or match.place_code is None or (match.level or 0) < Level.ESTATE:
                return Rejected(
                    Reason.UNMATCHED_ADDRESS,
                    f"outages record {key}: address {text!r} did not match one estate, building or house: {match.why}",
                    match.candidates,
                )
            codes.append(match.place_code)
        outage = Outage(
            utility=utility,
            notice_id=str(data["notice_id"]).strip(),
            place_codes=tuple(sorted(set(codes))),
            starts_at=starts,
            ends_at=ends,
            reason=str(data["reason"]).strip()[:400],
            planned=bool(data.get("planned", True)),
        )
        return Facts(Batch(outages=[outage]))


def utility_streams(
    utility: Utility, reader: Callable[[str], Callable[[str | None], AsyncIterator[SourceRecord]]], *, within: str | None
) -> list[UtilityStream]:
    """A utility source's streams (accounts, bills, outages, in that order), each read by
    `reader(stream)` and linked by a matcher bounded by `within`, made fresh per sync."""

    def matcher(store: Store) -> Matcher:
        return Matcher(store, within=within)

    return [UtilityStream(name, utility, reader(name), matcher=matcher) for name in STREAMS]
