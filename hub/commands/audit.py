"""`hub audit verify|tail`: check the hash chain of the audit log, and show its newest entries.

`verify` walks the whole log a page at a time and names the first entry where the chain breaks.
Cutting off the newest entries, or rewriting the log and recomputing every hash after the point
changed, leaves a chain that is intact in itself; only a head recorded elsewhere shows it. So
both commands print the head as `--head SEQ:HASH`: keep it (a ticket, a signed report, a notebook)
and pass it to a later `verify`.
"""

from __future__ import annotations

import argparse
import asyncio
import unicodedata

from graph.audit import GENESIS, Verifier, canonical_json, parse_head
from graph.clock import CHINA_STANDARD_TIME
from graph.security import AuditEntry
from hub.commands.common import add_db, open_store

PAGE = 1000
"""Entries read per query while verifying."""


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="verify the hash-chained audit log, show its newest entries")
    actions = audit.add_subparsers(dest="audit_action", required=True)
    verify = actions.add_parser("verify", help="check the whole chain; exit 1 at the first break")
    add_db(verify)
    verify.add_argument(
        "--head",
        metavar="SEQ:HASH",
        help="a head recorded earlier (printed by `hub audit tail`): also detects removed newest "
        "entries and a rewritten chain",
    )
    verify.set_defaults(handler=run)
    tail = actions.add_parser("tail", help="the newest entries, and the head to record")
    add_db(tail)
    tail.add_argument("-n", "--lines", type=int, default=20, help="how many entries (default 20)")
    tail.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    if arguments.audit_action == "verify":
        return asyncio.run(_verify(arguments))
    return asyncio.run(_tail(arguments))


def _head(seq: int, digest: str) -> str:
    return f"record this head to detect later truncation or rewriting: hub audit verify --head {seq}:{digest}"


async def _verify(arguments: argparse.Namespace) -> int:
    expected = parse_head(arguments.head) if arguments.head else None
    verifier = Verifier(expected)
    store = await open_store(arguments, upgrade=False)
    try:
        after = 0
        while verifier.finding is None:
            page = await store.audit_entries(after=after, limit=PAGE)
            if not page:
                break
            verifier.feed(page)
            after = page[-1].seq
    finally:
        await store.close()
    finding = verifier.finish()
    if finding is not None:
        print(f"audit chain broken ({finding.kind}): {finding.message}")
        return 1
    seq, digest = (verifier.last.seq, verifier.last.hash) if verifier.last else (0, GENESIS)
    print(f"audit chain intact: {verifier.count} entries, head {seq} {digest}")
    if expected is not None:
        print(f"it still holds the recorded head {expected[0]}")
    print(_head(seq, digest))
    return 0


async def _tail(arguments: argparse.Namespace) -> int:
    store = await open_store(arguments, upgrade=False)
    try:
        entries = await store.audit_tail(max(1, arguments.lines))
    finally:
        await store.close()
    if not entries:
        print("the audit log is empty")
        print(_head(0, GENESIS))
        return 0
    print(_table(entries))
    print(_head(entries[-1].seq, entries[-1].hash))
    print("(the tail is not verified: run `hub audit verify`)")
    return 0


_HEADINGS = ("seq", "time (Beijing)", "actor/role", "action", "target", "reason", "detail")
_WIDEST = (10, 19, 30, 24, 36, 30, 48)


def _table(entries: list[AuditEntry]) -> str:
    """Entries as aligned columns; CJK characters count two columns, as terminals show them."""
    rows = [_HEADINGS] + [
        (
            str(entry.seq),
            entry.at.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M:%S"),
            f"{entry.actor}/{entry.role}",
            entry.action,
            entry.target,
            entry.reason or "",
            canonical_json(entry.detail) if entry.detail else "",
        )
        for entry in entries
    ]
    cells = [[_shorten(_printable(cell), widest) for cell, widest in zip(row, _WIDEST)] for row in rows]
    widths = [max(_width(row[column]) for row in cells) for column in range(len(_HEADINGS))]
    return "\n".join(
        "  ".join(_pad(cell, width) for cell, width in zip(row, widths)).rstrip() for row in cells
    )


def _printable(text: str) -> str:
    """Logged text is shown escaped where it is not printable: an entry must not be able to
    move the cursor, clear the screen or fake other lines on the auditor's terminal."""
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _shorten(text: str, widest: int) -> str:
    if _width(text) <= widest:
        return text
    kept, used = [], 0
    for char in text:
        used += _width(char)
        if used > widest - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
