"""`hub ledger verify|publish|statement`: the owners' money books (维修资金 · 公共收益).

`verify ESTATE` recomputes everything the estate's fund journal rests on (graph.funds.service.
Funds.verify): every entry's leaf and every stored node against the entries, every published
head's SM2 signature and root, every entry against the journal's rules (a reversal that names
no entry, a code not canonical, …), and every kept balance against the journal folded again.
It names the first entry that does not fit and exits 1; 0 when everything fits.

`publish --period P [ESTATE …]` signs and keeps the head closing period P (2026-11, 2026-Q4,
2026-H2, 2026-Y) of each estate's journal (every estate with a journal when none is named).

`statement ESTATE --period P` prints the period's 收支公示 as text.
"""

from __future__ import annotations

import argparse
import asyncio

from graph.funds.books import fund_log
from graph.funds.service import Funds
from graph.levels import Level
from graph.scope import Scope
from graph.store import MAX_PAGE
from hub.commands.common import add_db, load_keys, open_store


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ledger = commands.add_parser("ledger", help="owners' money (维修资金 · 公共收益): verify, publish periods, print statements")
    actions = ledger.add_subparsers(dest="ledger_action", required=True)
    verify = actions.add_parser("verify", help="recompute an estate's journal, heads and balances; exit 1 at the first problem")
    add_db(verify)
    verify.add_argument("estate", help="the estate's code")
    verify.set_defaults(handler=run)
    publish = actions.add_parser("publish", help="sign and keep the head closing a disclosure period")
    add_db(publish)
    publish.add_argument("--period", required=True, help="2026-11, 2026-Q4, 2026-H2 or 2026-Y")
    publish.add_argument("estates", nargs="*", help="estate codes (none: every estate with a journal)")
    publish.set_defaults(handler=run)
    statement = actions.add_parser("statement", help="print an estate's statement (收支公示) for a period")
    add_db(statement)
    statement.add_argument("estate", help="the estate's code")
    statement.add_argument("--period", required=True, help="2026-11, 2026-Q4, 2026-H2 or 2026-Y")
    statement.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    action = {"verify": _verify, "publish": _publish, "statement": _statement}[arguments.ledger_action]
    return asyncio.run(action(arguments))


async def _verify(arguments: argparse.Namespace) -> int:
    keys = load_keys(arguments)
    store = await open_store(arguments, keys, upgrade=False)
    try:
        report = await Funds(store, keys).verify(arguments.estate)
    finally:
        await store.close()
    log = report.log
    problems: list[str] = []
    if log.first_bad_entry is not None:
        what = f"node {log.bad_node}" if log.bad_node is not None else "missing"
        problems.append(f"entry {log.first_bad_entry} does not fit its stored hashes ({what}): it was altered or removed")
    if report.first_unfit is not None:
        problems.append(f"entry {report.first_unfit} breaks the journal's rules: {report.unfit}")
    problems.extend(f"head of {head.head.size} entries ({head.head.kind}): {head.problem}" for head in log.head_problems)
    problems.extend(f"kept row: {row}" for row in report.rows_wrong)
    revenue = report.revenue
    if revenue is not None:
        if revenue.first_bad_entry is not None:
            problems.append(f"revenue entry {revenue.first_bad_entry} does not fit its stored hashes: it was altered or removed")
        problems.extend(f"revenue head of {head.head.size} entries ({head.head.kind}): {head.problem}" for head in revenue.head_problems)
    if report.revenue_unfit is not None:
        problems.append(f"the revenue journal breaks its rules: {report.revenue_unfit}")
    for problem in problems:
        print(f"problem: {problem}")
    if problems:
        first = report.first_bad
        named = f"; the first entry that does not fit is {first}" if first is not None else ""
        print(f"ledger {fund_log(arguments.estate)}: {len(problems)} problems found{named}")
        return 1
    print(
        f"ledger {fund_log(arguments.estate)} verified: {log.size} entries, {log.heads_checked} signed heads, "
        f"every balance folded again and equal to the kept one"
        + (f"; revenue:{arguments.estate} verified: {revenue.size} entries, {revenue.heads_checked} signed heads" if revenue else "")
    )
    return 0


async def _publish(arguments: argparse.Namespace) -> int:
    keys = load_keys(arguments)
    store = await open_store(arguments, keys, upgrade=False)
    try:
        funds = Funds(store, keys)
        estates = list(arguments.estates)
        if not estates:
            after: str | None = None
            while True:
                page = await store.subtree(Level.ESTATE, None, Scope.everything(), MAX_PAGE, after)
                for place in page.items:
                    if await store.log_size(fund_log(place.code)):
                        estates.append(place.code)
                if not page.has_next:
                    break
                after = page.end_cursor
        for estate in estates:
            head = await funds.publish(estate, arguments.period)
            print(f"{fund_log(estate)} {arguments.period}: {head.size} entries, root {head.root.hex()}")
    finally:
        await store.close()
    return 0


async def _statement(arguments: argparse.Namespace) -> int:
    from hub.funds.statement_text import statement_text

    keys = load_keys(arguments)
    store = await open_store(arguments, keys, upgrade=False)
    try:
        funds = Funds(store, keys)
        statement = await funds.statement(arguments.estate, arguments.period, Scope.everything())
        print(statement_text(statement))
    finally:
        await store.close()
    return 0
