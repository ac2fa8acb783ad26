"""`hub bench --only credit`: a month's credit scores for every firm of the `city` preset, in one
pass, on SQLite, in this process, beside a baseline taken in the same run.

Sizes come from the preset (hub.demo.presets, hub.demo.generator): the city's estates shared
over its districts as the demo shares them, and per district max(2, round(estates / 14)) firms
(ESTATES_PER_FIRM), each estate managed by one of its district's firms (one estate in seven
handed over from another firm during the month, so both are scored). The presets name no case
count: the bench takes CASES_PER_1000_HOUSES cases a month for every 1,000 of the preset's
houses (20 → 48,600 cases for 2.43 million houses), a quarter of them 12345 complaints, all
dispatched to the estate's firm, with the workflow's times, ratings and escalations, plus a
tenth as many in the month before (outside the period: the reads must leave them out). The
estates are written with HOUSES_PER_ESTATE houses each, not the preset's 2.43 million: the
houses are read once, as the estates' roll-up rows, whose cost does not grow with the houses
under them. Everything is written through the store's `write`, not the whole city.

Measured: `Credit.compute(period)` (every input read once for all firms, every firm scored, the
scores stored as a new version), median of 3; beside it, in the same run, the one grouped read
every computation needs anyway (`case_tallies` of every firm over the period), the same read
one firm at a time (what batching avoids), and each input's read on its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from graph import open_store
from graph.cases import Case, CaseCategory, CaseSource, CaseStatus, Escalation
from graph.ciphers.keyring import Keyring
from graph.codes import credit_check_character
from graph.credit.inputs import StoreInputs
from graph.credit.periods import Period
from graph.credit.service import Credit
from graph.levels import Level
from graph.model import Batch, Management, Place, PropertyFirm, Provenance
from graph.scope import Scope
from graph.store import Store
from hub.demo.generator import ESTATES_PER_FIRM
from hub.demo.presets import PRESETS

TARGET_SECONDS = 60.0
CASES_PER_1000_HOUSES = 20
HOUSES_PER_ESTATE = 4
HANDOVER_EVERY = 7
PERIOD = Period(2026, 11)
BATCH = 5_000
RUNS = 3


@dataclass
class CreditFigures:
    preset: str
    firms: int
    estates: int
    houses_preset: int
    houses_written: int
    cases: int
    cases_outside: int
    build_seconds: float
    compute_runs: list[float] = field(default_factory=list)
    scored: int = 0
    tallies_seconds: float = 0.0
    per_firm_seconds: float = 0.0
    inputs: dict[str, float] = field(default_factory=dict)

    @property
    def compute_seconds(self) -> float:
        return statistics.median(self.compute_runs)


def _firm_code(district: int, index: int) -> str:
    body = f"913702{district:02d}MA{index:06d}P"
    return body + credit_check_character(body)


def plan(scale: float = 1.0, seed: int = 15) -> tuple[Batch, list[Case], int, int]:
    """The places, firms and managements (one batch, parents first), the cases, and the preset's
    house and case counts."""
    preset = PRESETS["city"]
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc)
    prov = Provenance("hub-bench", "credit", now, "bench-credit")
    places = [Place("370200", Level.CITY, "青岛市", None, provenance=prov)]
    firms: list[PropertyFirm] = []
    managements: list[Management] = []
    estates: list[tuple[str, str]] = []  # (estate, its firm this month)
    houses_preset = 0
    month = PERIOD.first_day
    for slot, (district, (count, homes)) in enumerate(sorted(preset.targets().items())):
        count = max(1, round(count * scale))
        houses_preset += round(homes * scale)
        street = district + "001"
        places += [
            Place(district, Level.DISTRICT, f"区{district}", "370200", provenance=prov),
            Place(street, Level.STREET, f"街道{street}", district, provenance=prov),
        ]
        pool = [_firm_code(slot, index) for index in range(max(2, round(count / ESTATES_PER_FIRM)))]
        firms += [PropertyFirm(code, f"物业{code[-6:]}", provenance=prov) for code in pool]
        for number in range(count):
            community = f"{street}{number // 400 + 1:03d}"
            if number % 400 == 0:
                places.append(Place(community, Level.COMMUNITY, f"社区{community}", street, provenance=prov))
            estate = f"{community}E{number % 400 + 1:03d}"
            parcel = f"{community}GB{number % 400 + 1:05d}"
            building = f"{parcel}F0001"
            entrance = f"{building}01"
            places += [
                Place(estate, Level.ESTATE, f"小区{estate[-8:]}", community, parcel_codes=(parcel,), provenance=prov),
                Place(building, Level.BUILDING, "1号楼", estate, floors=HOUSES_PER_ESTATE, provenance=prov),
                Place(entrance, Level.ENTRANCE, "1单元", building, provenance=prov),
                *(
                    Place(f"{building}{floor:02d}01", Level.HOUSE, f"{floor}01室", entrance, area_centi_m2=9_000, floor=floor, provenance=prov)
                    for floor in range(1, HOUSES_PER_ESTATE + 1)
                ),
            ]
            firm = rng.choice(pool)
            if number % HANDOVER_EVERY == 0 and len(pool) > 1:
                earlier = rng.choice([code for code in pool if code != firm])
                change = month + dt.timedelta(days=rng.randint(1, 27))
                managements += [
                    Management(earlier, estate, dt.date(2015, 1, 1), change, provenance=prov),
                    Management(firm, estate, change, provenance=prov),
                ]
            else:
                managements.append(Management(firm, estate, dt.date(2015, 1, 1), provenance=prov))
            estates.append((estate, firm))
    cases_month = houses_preset * CASES_PER_1000_HOUSES // 1000
    cases = [_case(rng, n, estates, PERIOD.start, PERIOD.end) for n in range(cases_month)]
    before = PERIOD.previous()
    cases += [_case(rng, cases_month + n, estates, before.start, before.end) for n in range(cases_month // 10)]
    return Batch(places=places, firms=firms, managements=managements), cases, houses_preset, cases_month


def _case(rng: random.Random, number: int, estates: list[tuple[str, str]], since: dt.datetime, until: dt.datetime) -> Case:
    estate, firm = rng.choice(estates)
    reported = since + dt.timedelta(seconds=rng.randrange(int((until - since).total_seconds())))
    hotline = rng.random() < 0.25
    sign_by = reported + dt.timedelta(hours=2)
    roll = rng.random()
    status = CaseStatus.ARCHIVED if roll < 0.6 else CaseStatus.RESOLVED if roll < 0.8 else CaseStatus.IN_PROGRESS if roll < 0.95 else CaseStatus.DISPATCHED
    signed = None if status is CaseStatus.DISPATCHED else reported + dt.timedelta(minutes=rng.randint(5, 240))
    resolved = reported + dt.timedelta(hours=rng.randint(3, 96)) if status.closed else None
    late = rng.random() < 0.1
    return Case(
        id=f"BC{number:08d}",
        source=CaseSource.HOTLINE if hotline else CaseSource.OWNER,
        category=CaseCategory.COMPLAINT if hotline else CaseCategory.REPAIR,
        status=status,
        title=f"工单 {number}",
        reported_at=reported,
        updated_at=reported,
        place_code=estate,
        firm_code=firm,
        dispatched_at=reported,
        sign_by=sign_by,
        signed_at=signed,
        deadline=reported + dt.timedelta(days=3),
        resolved_at=resolved,
        rating=rng.randint(1, 5) if status is CaseStatus.ARCHIVED else None,
        escalation=Escalation.STEWARD if late else None,
        escalated_at=reported + dt.timedelta(days=4) if late else None,
    )


async def _measure(folder: Path, scale: float) -> CreditFigures:
    batch, cases, houses_preset, cases_month = plan(scale)
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'credit.sqlite'}", sealer=keys.sealer())
    try:
        started = time.perf_counter()
        await _write(store, batch, cases)
        estates = sum(1 for place in batch.places if place.level is Level.ESTATE)
        figures = CreditFigures(
            preset="city", firms=len(batch.firms), estates=estates, houses_preset=houses_preset,
            houses_written=sum(1 for place in batch.places if place.level is Level.HOUSE),
            cases=cases_month, cases_outside=len(cases) - cases_month, build_seconds=time.perf_counter() - started,
        )
        credit = Credit(store)
        now = PERIOD.end + dt.timedelta(days=2)
        for _ in range(RUNS):
            started = time.perf_counter()
            scores = await credit.compute(PERIOD, now=now)
            figures.compute_runs.append(time.perf_counter() - started)
            figures.scored = len(scores)
        codes = sorted(firm.code for firm in batch.firms)
        estate_codes = sorted(place.code for place in batch.places if place.level is Level.ESTATE)
        inputs = StoreInputs(store)
        started = time.perf_counter()
        await store.case_tallies(codes, Scope.everything(), firms=True, now=now, since=PERIOD.start, until=PERIOD.end)
        figures.tallies_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for code in codes:  # what the batching avoids: the same read one firm at a time
            await store.case_tallies([code], Scope.everything(), firms=True, now=now, since=PERIOD.start, until=PERIOD.end)
        figures.per_firm_seconds = time.perf_counter() - started
        spans = await store.management_spans(PERIOD.first_day, PERIOD.last_day)
        for name, read in (
            ("management spans", store.management_spans(PERIOD.first_day, PERIOD.last_day)),
            ("escalations and ratings per firm", inputs.case_counts(codes, PERIOD)),
            ("12345 complaints per estate", inputs.complaints(estate_codes, PERIOD)),
            ("houses per estate (roll-up rows)", inputs.houses(estate_codes)),
            ("dismissals (votes closed)", inputs.dismissals(spans, PERIOD)),
        ):
            started = time.perf_counter()
            await read
            figures.inputs[name] = time.perf_counter() - started
        return figures
    finally:
        await store.close()


async def _write(store: Store, batch: Batch, cases: list[Case]) -> None:
    places = batch.places
    for start in range(0, len(places), BATCH):
        await store.write(Batch(places=places[start : start + BATCH]))
    await store.write(Batch(firms=batch.firms))
    for start in range(0, len(batch.managements), BATCH):
        await store.write(Batch(managements=batch.managements[start : start + BATCH]))
    for start in range(0, len(cases), BATCH):
        await store.write(Batch(cases=cases[start : start + BATCH]))


def measure_credit(scale: float = 1.0) -> CreditFigures:
    with tempfile.TemporaryDirectory(prefix="hub-bench-credit-") as folder:
        return asyncio.run(_measure(Path(folder), scale))


def render_credit(figures: CreditFigures) -> list[str]:
    f = figures
    runs = ", ".join(f"{run:.2f}" for run in f.compute_runs)
    met = "met" if f.compute_seconds < TARGET_SECONDS else "**missed**"
    lines = [
        f"### Firms' credit: a month's scores for every firm of the `{f.preset}` preset, SQLite, in process",
        "",
        f"{f.firms:,} firms, {f.estates:,} estates ({f.houses_written:,} houses written; the preset's {f.houses_preset:,} set the case count), "
        f"{f.cases:,} cases reported in {PERIOD.key} ({CASES_PER_1000_HOUSES} per 1,000 houses, a quarter 12345 complaints) and "
        f"{f.cases_outside:,} in the month before; written through the store in {f.build_seconds:.0f} s (not counted).",
        "",
        "| figure | measured | baseline, same run | target |",
        "|---|---:|---:|---|",
        f"| `Credit.compute({PERIOD.key})`: every input read once, {f.scored:,} firms scored and stored, median of {RUNS}, s | "
        f"{f.compute_seconds:.2f} ({runs}) | `case_tallies` of every firm alone: {f.tallies_seconds:.2f} | < {TARGET_SECONDS:g} s: {met} |",
    ]
    lines.append(
        f"| the same `case_tallies` one firm at a time ({f.firms:,} reads: what the grouped reads avoid), s | "
        f"{f.per_firm_seconds:.2f} | the grouped read: {f.tallies_seconds:.2f} | |"
    )
    lines += [f"| {name}, alone, s | {seconds:.2f} | | |" for name, seconds in f.inputs.items()]
    return lines
