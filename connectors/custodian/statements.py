"""The custodian's statement files (对账单): their columns, and how a line's text becomes exact values.

A statement is one file per period from the fund's custodian — the bank holding the maintenance
fund (托管银行) or the city's fund centre (市维修资金中心) — as CSV or JSON.

**CSV**: UTF-8 with or without a BOM (GB18030/GBK is read too, as Windows exports write it), a
header row naming the columns in Chinese as a bank exports them, in any order:

=============  ========  ==================================================================
column         required  what it holds
=============  ========  ==================================================================
流水号          yes       the custodian's serial number of the line: 1–32 of ``0-9 A-Z a-z _ . -``
不动产单元号    yes       the house's 28-character unit number (GB/T 37346), any case
业务类型        yes       首次缴存 (deposit), 续筹 (top-up) or 利息 (interest); the English
                         ``deposit``, ``top_up``, ``interest`` are read too
金额(元)        yes       yuan, > 0, at most 2 decimals: ``4475``, ``4475.5``, ``4475.50``;
                         thousands separators only as grouped digits (``1,234.50``; not
                         ``12,34.5``); no sign, no currency symbol, no exponent
记账日期        yes       the booking date: ``2026-01-05``, ``2026/01/05`` or ``20260105``,
                         optionally followed by a time ``09:30[:00]`` (Beijing time)
小区代码        no        the estate's code as the custodian keeps the account; when given it
                         must be the estate the hub holds the house under
摘要            no        the custodian's note (at most 150 characters are kept)
=============  ========  ==================================================================

``金额（元）`` with full-width brackets and ``金额`` alone are the same column. Other columns (an
account number, the payer's name) are ignored and never kept.

**JSON**: an array of objects, or an object whose ``lines`` is that array, each object keyed by
the same Chinese names; values are strings (a number is read as the literal it is written as:
``4475.50`` stays exactly that, never a float).

A line that breaks these rules is set aside on its own (a dead letter naming the column and the
value); a file that cannot be read as a statement at all (no such columns, not JSON of that
shape, not decodable) is set aside as one dead letter and the next file is read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graph.clock import CHINA_STANDARD_TIME
from graph.funds.journal import MAX_FEN, EntryKind

COLUMNS: dict[str, str] = {
    "流水号": "line",
    "不动产单元号": "house",
    "业务类型": "kind",
    "金额(元)": "amount",
    "记账日期": "date",
    "小区代码": "estate",
    "摘要": "summary",
}
"""A statement's columns (Chinese header → the record's field)."""
ALIASES: dict[str, str] = {"金额（元）": "amount", "金额": "amount"}
REQUIRED = ("line", "house", "kind", "amount", "date")
SUMMARY_LIMIT = 150
"""The longest 摘要 kept in an entry's memo (the journal allows 200 characters, and the memo also
names the run that booked it)."""

KINDS: dict[str, EntryKind] = {
    "首次缴存": EntryKind.DEPOSIT,
    "续筹": EntryKind.TOP_UP,
    "利息": EntryKind.INTEREST,
    "deposit": EntryKind.DEPOSIT,
    "top_up": EntryKind.TOP_UP,
    "interest": EntryKind.INTEREST,
}
LINE_ID = re.compile(r"[0-9A-Za-z_.-]{1,32}")
_PLAIN = re.compile(r"(\d+)(?:\.(\d{1,2}))?")
_GROUPED = re.compile(r"(\d{1,3}(?:,\d{3})+)(?:\.(\d{1,2}))?")
_DATE = re.compile(r"(\d{4})[-/]?(\d{2})[-/]?(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?")


class StatementError(ValueError):
    """A file that is not a statement this connector reads (the message says why)."""


@dataclass(frozen=True, slots=True)
class Columns:
    """The columns of a kind of file (Chinese header → the record's field), their aliases, the
    fields every line needs, what the file is called in messages and the key of a JSON file's
    array. The statements' are `STATEMENT`; another file-dropping source (the maintenance
    contractors' records, connectors.maintenance) reads its own through the same code."""

    names: Mapping[str, str]
    aliases: Mapping[str, str]
    required: tuple[str, ...]
    what: str = "a statement"
    container: str = "lines"

    def field_of(self, header: str) -> str | None:
        name = header.strip().lstrip("\ufeff").strip()
        return self.names.get(name) or self.aliases.get(name)


STATEMENT = Columns(COLUMNS, ALIASES, REQUIRED)


def field_of(header: str) -> str | None:
    """The record field a header names (None: a column this connector ignores)."""
    return STATEMENT.field_of(header)


def decode(raw: bytes) -> str:
    """A file's text: UTF-8 (a BOM dropped), else GB18030 (a superset of GBK)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError as error:
        raise StatementError(f"is neither UTF-8 nor GBK text ({error})") from None


def rows(text: str, suffix: str, columns: Columns = STATEMENT) -> Iterator[dict[str, str]]:
    """The lines of a file's text as {field: text}, in file order; StatementError for a file
    without the required columns or not JSON of the documented shape. Values are stripped;
    empty values are left out."""
    if suffix == ".json":
        yield from _json_rows(text, columns)
    else:
        yield from _csv_rows(text, columns)


def _csv_rows(text: str, columns: Columns) -> Iterator[dict[str, str]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise StatementError("is empty (no header row)")
    fields = [columns.field_of(name) for name in header]
    _check_columns([name for name in fields if name is not None], header, columns)
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line (Excel leaves some at the end)
        row: dict[str, str] = {}
        for name, cell in zip(fields, cells):
            if name is not None and cell.strip():
                row[name] = cell.strip()
        yield row


def _json_rows(text: str, columns: Columns) -> Iterator[dict[str, str]]:
    try:
        body = json.loads(text, parse_float=str, parse_int=str)  # numbers as the literals written
    except json.JSONDecodeError as error:
        raise StatementError(f"is not JSON ({error})") from None
    items = body.get(columns.container) if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise StatementError(f"must be a JSON array of {columns.container}, or an object whose `{columns.container}` is that array")
    lines: list[dict[str, str]] = []
    seen: set[str] = set()
    for position, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise StatementError(f"line {position} is not a JSON object")
        row: dict[str, str] = {}
        for key, value in item.items():
            name = columns.field_of(str(key))
            if name is None or value is None:
                continue
            seen.add(name)
            text = value.strip() if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            if text:
                row[name] = text
        lines.append(row)
    if lines:
        _check_columns(sorted(seen), [], columns)
    yield from lines


def _check_columns(found: list[str], header: list[str], columns: Columns) -> None:
    missing = [chinese for chinese, name in columns.names.items() if name in columns.required and name not in found]
    if missing:
        shown = f" (its header: {','.join(header)[:120]})" if header else ""
        needed = ",".join(chinese for chinese, name in columns.names.items() if name in columns.required)
        raise StatementError(f"has no column {', '.join(missing)}: {columns.what} needs {needed}{shown}")


def fen_of_yuan(text: str) -> int:
    """Yuan as a statement writes them, in exact integer fen (see the module docstring); ValueError
    saying why for anything else.

    >>> fen_of_yuan("4475.5"), fen_of_yuan("1,234.50"), fen_of_yuan("0.07"), fen_of_yuan("12")
    (447550, 123450, 7, 1200)
    """
    shown = text[:40]
    plain = _PLAIN.fullmatch(text)
    grouped = None if plain else _GROUPED.fullmatch(text)
    match = plain or grouped
    if match is None:
        if text.startswith(("-", "－")):
            raise ValueError(f"{shown!r} is negative: a statement line of 首次缴存, 续筹 or 利息 is a credit")
        raise ValueError(
            f"{shown!r} is not an amount in yuan (digits, at most 2 decimals, thousands separators "
            "only as 1,234.50; no sign or currency symbol)"
        )
    whole = int(match.group(1).replace(",", ""))
    cents = int((match.group(2) or "0").ljust(2, "0"))
    fen = whole * 100 + cents
    if fen == 0:
        raise ValueError(f"{shown!r} is zero: a credit must be more than 0.00")
    if fen > MAX_FEN:
        raise ValueError(f"{shown!r} is more than the journal holds ({MAX_FEN} fen)")
    return fen


def booked_at(text: str) -> dt.datetime:
    """The booking date (and time) of a line, in Beijing time; ValueError when unreadable.

    >>> booked_at("20260105").isoformat(), booked_at("2026/01/05 09:30").isoformat()
    ('2026-01-05T00:00:00+08:00', '2026-01-05T09:30:00+08:00')
    """
    match = _DATE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text[:40]!r} is not a date (2026-01-05, 2026/01/05 or 20260105, a time 09:30 may follow)")
    year, month, day, hour, minute, second = (int(part) if part else 0 for part in match.groups())
    try:
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=CHINA_STANDARD_TIME)
    except ValueError as error:
        raise ValueError(f"{text[:40]!r} is not a date there is ({error})") from None


@dataclass(frozen=True, slots=True)
class Line:
    """A statement line read exactly: what the journal entry of it is made of."""

    line: str
    house: str
    kind: EntryKind
    amount_fen: int
    at: dt.datetime
    estate: str | None
    summary: str


def line_of(data: Mapping[str, Any]) -> Line:
    """A record's line, or ValueError naming the column and what is wrong with it (the house
    code's own checks are the stream's: they have reasons of their own)."""
    line = str(data.get("line", ""))
    if not LINE_ID.fullmatch(line):
        raise ValueError(f"流水号 {line[:40]!r} must be 1 to 32 letters, digits, '_', '.' or '-'")
    kind_text = str(data.get("kind", ""))
    kind = KINDS.get(kind_text)
    if kind is None:
        raise ValueError(f"业务类型 {kind_text[:40]!r} is not one of 首次缴存, 续筹, 利息 (reversals are booked in the hub, not read)")
    try:
        amount = fen_of_yuan(str(data.get("amount", "")))
    except ValueError as error:
        raise ValueError(f"金额(元) {error}") from None
    try:
        at = booked_at(str(data.get("date", "")))
    except ValueError as error:
        raise ValueError(f"记账日期 {error}") from None
    summary = " ".join(str(data.get("summary") or "").split())
    if not summary.isprintable():
        raise ValueError(f"摘要 {summary[:40]!r} holds characters that cannot be printed")
    estate = str(data["estate"]).strip() if data.get("estate") else None
    return Line(line, str(data.get("house", "")), kind, amount, at, estate, summary[:SUMMARY_LIMIT] or kind.label)
