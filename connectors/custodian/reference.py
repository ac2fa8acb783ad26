"""A reference custodian built from a city in the store: a year of its statement files.

`fund_houses` reads every house of every estate with what its first deposit depends on (its
exclusive area, its usage, whether its building has a lift); `write_statements` writes what the
custodian would send for them, one file per month, as `connectors.custodian.statements`
documents:

- each estate's accounts open in one month of the year (its handover; the estates spread
  evenly over the months): each house's 首次缴存 then, exclusive area × the rate per m² of its
  kind (`FundRates`, rounded half up to the fen by `graph.funds.apportion.first_deposit_fen`),
  all on one day of that month;
- every later month (or every `FundRates.interest_months`): a 利息 line per house, the previous
  month's closing balance × the annual rate × the months / 12, rounded half up to the fen (none
  when it rounds to 0), on the 21st (banks settle interest on the 20th);
- a few 续筹 (top-ups, ~2% of the houses in a year), 10% of the house's first deposit rounded
  to the yuan, on a day of a month after the deposit.

Spreading the handovers over the year halves the lines a year of monthly interest would
otherwise take (the demo city's 10,000 houses: about 70,000 lines rather than 120,000;
quarterly interest, about 25,000).

Files are named by month (`2026-01.csv`), CSV in UTF-8 with a BOM as Excel writes it, except
the quarters' last months, which are JSON (the same fields), each modified at the close of its
month (so they sort by period and are settled). Everything is integer fen and deterministic for
a seed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from connectors.custodian.statements import COLUMNS
from graph.clock import CHINA_STANDARD_TIME
from graph.errors import InvalidInput
from graph.funds.apportion import first_deposit_fen
from graph.levels import Level
from graph.model import Usage
from graph.scope import Scope
from graph.store import MAX_PAGE, Store

EVERYTHING = Scope.everything()
LIFT_FLOORS = 7
"""A residential building of this many floors or more has a lift (the national code requires one
from the seventh floor; the demo's elevators follow the same rule)."""
HEADER = ("流水号", "不动产单元号", "业务类型", "金额(元)", "记账日期", "小区代码", "摘要")
assert set(HEADER) == set(COLUMNS)


INTEREST_MONTHS = {"月": 1, "季": 3, "年": 12}
"""How often the custodian credits interest (结息), in months, by its Chinese word."""


@dataclass(frozen=True, slots=True)
class FundRates:
    """The city's first-deposit rates (首次缴存标准), fen per m² of exclusive area, by kind of
    house, the annual interest rate the custodian credits, in basis points, and how often it
    credits it (every `interest_months` months).

    The defaults are the demo's, of the order Chinese cities set (¥50–120 per m²), not a city's
    published figures: a deployment sets its own (`parse`)."""

    residential_no_lift: int = 6_000  # 住宅（无电梯）: ¥60.00 per m²
    residential_lift: int = 9_000  # 住宅（有电梯）: ¥90.00 per m²
    non_residential: int = 10_000  # 非住宅 (shops, offices, parking): ¥100.00 per m²
    interest_bp: int = 135  # 1.35% a year
    interest_months: int = 1  # credited every month (3: each quarter, 12: once a year)

    NAMES = {
        "住宅无电梯": "residential_no_lift",
        "住宅有电梯": "residential_lift",
        "非住宅": "non_residential",
    }

    def rate(self, usage: Usage | None, lift: bool) -> int:
        """The rate (fen per m²) of a house of `usage` in a building with or without a lift."""
        if usage is None or usage is Usage.RESIDENTIAL:
            return self.residential_lift if lift else self.residential_no_lift
        return self.non_residential

    @classmethod
    def parse(cls, text: str, *, field_name: str = "fund_rates") -> FundRates:
        """Rates from `住宅无电梯=60,住宅有电梯=90,非住宅=100,利率=1.35,结息=月`: yuan per m² (at most 2
        decimals), the annual interest in percent (at most 2 decimals) and when it is credited
        (月 monthly, 季 quarterly, 年 yearly); names left out keep their defaults. InvalidInput
        naming the part at fault."""
        from connectors.custodian.statements import fen_of_yuan

        values: dict[str, int] = {}
        for part in (piece.strip() for piece in text.split(",")):
            if not part:
                continue
            name, equals, value = part.partition("=")
            name, value = name.strip(), value.strip()
            if not equals:
                raise InvalidInput(field_name, part, "must be NAME=VALUE (住宅无电梯, 住宅有电梯, 非住宅 in yuan per m², 利率 in percent, 结息 月/季/年)")
            if name == "结息":
                if value not in INTEREST_MONTHS:
                    raise InvalidInput(f"{field_name} {name}", value, "must be 月, 季 or 年 (credited monthly, quarterly or yearly)")
                values["interest_months"] = INTEREST_MONTHS[value]
                continue
            try:
                number = fen_of_yuan(value)
            except ValueError as error:
                raise InvalidInput(f"{field_name} {name}", value, str(error)) from None
            if name == "利率":
                values["interest_bp"] = number
            elif name in cls.NAMES:
                values[cls.NAMES[name]] = number
            else:
                raise InvalidInput(field_name, name, f"is not a rate; use {', '.join(cls.NAMES)}, 利率 or 结息")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class FundHouse:
    """A house as its first deposit sees it."""

    code: str
    estate: str
    area_centi_m2: int
    usage: Usage | None
    lift: bool


async def _pages(store: Store, level: Level, within: str | None) -> list[object]:
    found: list[object] = []
    after: str | None = None
    while True:
        page = await store.subtree(level, within, EVERYTHING, MAX_PAGE, after)
        found.extend(page.items)
        if not page.has_next:
            return found
        after = page.end_cursor


async def fund_houses(store: Store) -> list[FundHouse]:
    """Every house under an estate with an exclusive area, by estate and code."""
    houses: list[FundHouse] = []
    for estate in await _pages(store, Level.ESTATE, None):
        estate_code = getattr(estate, "code")
        floors = {getattr(b, "code"): getattr(b, "floors") or 0 for b in await _pages(store, Level.BUILDING, estate_code)}
        building_of = {getattr(e, "code"): getattr(e, "parent_code") for e in await _pages(store, Level.ENTRANCE, estate_code)}
        for house in await _pages(store, Level.HOUSE, estate_code):
            area = getattr(house, "area_centi_m2")
            if not area:
                continue
            parent = getattr(house, "parent_code")
            building = building_of.get(parent, parent)
            houses.append(FundHouse(getattr(house, "code"), estate_code, area, getattr(house, "usage"), floors.get(building, 0) >= LIFT_FLOORS))
    return houses


@dataclass(slots=True)
class Statements:
    """What `write_statements` wrote: the files, and each house's balance after them (fen)."""

    files: list[Path] = field(default_factory=list)
    lines: int = 0
    balances: dict[str, int] = field(default_factory=dict)
    first_deposits: dict[str, int] = field(default_factory=dict)


def months_before(day: dt.date, count: int = 12) -> list[tuple[int, int]]:
    """The `count` whole months before `day`'s month, oldest first.

    >>> months_before(dt.date(2026, 3, 9), 3)
    [(2025, 12), (2026, 1), (2026, 2)]
    """
    year, month = day.year, day.month
    found: list[tuple[int, int]] = []
    for _ in range(count):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        found.append((year, month))
    return found[::-1]


def write_statements(
    houses: Sequence[FundHouse],
    folder: Path,
    months: Sequence[tuple[int, int]],
    *,
    rates: FundRates = FundRates(),
    seed: int = 2020,
    top_up_share: float = 0.02,
    json_every: int = 3,
) -> Statements:
    """Write one statement file per month of `months` into `folder` (see the module docstring);
    every `json_every`-th month is JSON (0: none)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made = Statements()
    balance = made.balances
    first = made.first_deposits
    estates = sorted({house.estate for house in houses})
    rng.shuffle(estates)
    # each estate's accounts open in one month of the year (its handover), spread evenly over it
    opens = {estate: (position * len(months) // len(estates), rng.randint(1, 28)) for position, estate in enumerate(estates)}
    top_ups: dict[int, list[FundHouse]] = {}
    for house in houses:
        opened = opens[house.estate][0]
        if opened + 1 < len(months) and rng.random() < top_up_share:
            top_ups.setdefault(rng.randrange(opened + 1, len(months)), []).append(house)
    for number, (year, month) in enumerate(months):
        lines: list[tuple[dt.date, str, str, int, str, str]] = []  # date, house, kind, fen, estate, summary
        for house in houses:
            opened, day = opens[house.estate]
            if number == opened:
                fen = first_deposit_fen(house.area_centi_m2, rates.rate(house.usage, house.lift))
                if fen:
                    first[house.code] = fen
                    lines.append((dt.date(year, month, day), house.code, "首次缴存", fen, house.estate, "首次缴存"))
            elif number > opened and (number - opened) % rates.interest_months == 0:
                held = balance.get(house.code, 0)
                # held × bp / 10,000 × months / 12, rounded half up
                interest = (held * rates.interest_bp * rates.interest_months + 60_000) // 120_000
                if interest > 0:
                    lines.append((dt.date(year, month, 21), house.code, "利息", interest, house.estate, f"{year}年{month:02d}月结息"))
        for house in top_ups.get(number, []):
            fen = (first.get(house.code, 0) // 10 + 50) // 100 * 100  # a tenth, to the yuan
            if fen:
                lines.append((dt.date(year, month, rng.randint(1, 28)), house.code, "续筹", fen, house.estate, "续筹（业主大会决定）"))
        lines.sort(key=lambda line: (line[0], line[4], line[1]))
        rows = []
        for serial, (on, house_code, kind, fen, estate, summary) in enumerate(lines, 1):
            balance[house_code] = balance.get(house_code, 0) + fen
            rows.append((f"{year}{month:02d}{serial:06d}", house_code, kind, yuan(fen), on.isoformat(), estate, summary))
        stem = f"{year}-{month:02d}"
        if json_every and (number + 1) % json_every == 0:
            path = folder / f"{stem}.json"
            body = {"statement": stem, "lines": [dict(zip(HEADER, row)) for row in rows]}
            path.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            path = folder / f"{stem}.csv"
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(HEADER)
            writer.writerows(rows)
            path.write_text("\ufeff" + text.getvalue(), encoding="utf-8")
        closed = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CHINA_STANDARD_TIME).timestamp()
        os.utime(path, (closed, closed))  # sent when the month closed: files sort by period, settled
        made.files.append(path)
        made.lines += len(rows)
    return made


def yuan(fen: int) -> str:
    """Fen as the yuan a statement writes (`4475.50`)."""
    return f"{fen // 100}.{fen % 100:02d}"

