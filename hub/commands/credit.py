"""`hub credit compute|show`: firms' credit (物业服务企业信用评价).

`compute --period 2026-11` scores every firm managing an estate in the period (a month YYYY-MM
or a year YYYY, China Standard Time) with the weights of `--weights` (a TOML file with a
`[credit]` table; default `HUB_CREDIT_WEIGHTS` or credit.toml, the defaults when absent) and
stores the scores as a new version; it prints one line per firm. `show FIRM` prints a firm's
history, or with `--period` that period's score part by part.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from graph.credit.periods import Period
from graph.credit.records import CreditScore
from graph.credit.weights import LABELS
from hub.commands.common import add_db, load_keys, open_store
from hub.credit import credit_service
from hub.settings import DEFAULT_CREDIT_WEIGHTS


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    credit = commands.add_parser("credit", help="firms' credit (物业服务企业信用评价): compute a period, show a firm")
    actions = credit.add_subparsers(dest="credit_action", required=True)
    compute = actions.add_parser("compute", help="score every firm for a period and store the scores as a new version")
    add_db(compute)
    compute.add_argument("--period", required=True, help="a month YYYY-MM or a year YYYY (China Standard Time)")
    compute.add_argument("--weights", help="TOML file with a [credit] table (default: HUB_CREDIT_WEIGHTS or credit.toml)")
    compute.set_defaults(handler=run)
    show = actions.add_parser("show", help="a firm's credit history, or one period part by part")
    add_db(show)
    show.add_argument("firm", help="the firm's 统一社会信用代码")
    show.add_argument("--period", help="one period: YYYY-MM or YYYY")
    show.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    action = {"compute": _compute, "show": _show}[arguments.credit_action]
    return asyncio.run(action(arguments))


def centi(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


def score_line(score: CreditScore) -> str:
    return f"{score.firm_code} {score.period} v{score.version}: {centi(score.total_centi)} ({score.estates} estates, {score.houses} houses)"


async def _compute(arguments: argparse.Namespace) -> int:
    period = Period.parse(arguments.period)
    weights = arguments.weights or os.environ.get("HUB_CREDIT_WEIGHTS") or DEFAULT_CREDIT_WEIGHTS
    keys = load_keys(arguments)
    store = await open_store(arguments, keys, upgrade=False)
    try:
        scores = await credit_service(store, weights).compute(period)
    finally:
        await store.close()
    for score in scores:
        print(score_line(score))
    print(f"credit {period.key}: {len(scores)} firms scored")
    return 0


async def _show(arguments: argparse.Namespace) -> int:
    keys = load_keys(arguments)
    store = await open_store(arguments, keys, upgrade=False)
    try:
        if arguments.period is None:
            [history] = await store.credit_history([arguments.firm])
            for each in history:
                print(score_line(each))
            return 0
        [score] = await store.credit_scores([arguments.firm], Period.parse(arguments.period).key)
    finally:
        await store.close()
    if score is None:
        print(f"no credit score of {arguments.firm} for {arguments.period}")
        return 1
    print(score_line(score))
    for part in score.parts:
        rate = "no data" if part.rate is None else f"{part.rate.numerator}/{part.rate.denominator}"
        figures = ", ".join(f"{name} {value}" for name, value in part.figures)
        print(f"  {LABELS[part.name]} ({part.name}): {figures}; rate {rate}; weight {part.weight}; points {centi(part.points_centi)}")
    return 0
