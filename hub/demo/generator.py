"""The demo city: Qingdao's real divisions and outlines, with synthetic estates, houses, owners
and property firms below the communities, streamed as store-ready batches.

Everything is drawn from private random streams derived from the seed and a place's code
(`hub.demo.seeds`), so the same seed and preset give byte-identical records, and each district
(and each street's communities) comes out the same whatever else the preset contains. The only
state that runs across a district is the issuers of unique ID numbers and credit codes and the
district's pool of property firms; nothing is kept across estates beyond that, so memory stays
flat however big the city.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from shapely.geometry import shape as to_shape

from graph.identity import DEMO_OWNER_IDS, OwnerIds
from graph.levels import Level
from graph.model import Batch, Management, Place, PropertyFirm, Provenance, Usage, centi_m2_of
from hub.demo import estates as plans
from hub.demo.boundaries import city_outline, district_outline
from hub.demo.divisions import City, Community, District, load_divisions
from hub.demo.estates import LAST_DAY, EstatePlan
from hub.demo.geometry import (
    MARGIN,
    Rectangle,
    Shape,
    fit_rectangle,
    inset,
    layout_buildings,
    partition,
    settle,
    slice_by_weights,
)
from hub.demo.names import estate_name, firm_name, phase_name
from hub.demo.ownership import DistrictPeople
from hub.demo.ownership import EstateOwners
from hub.demo.people import SHANDONG_ELSEWHERE, CreditCodes, ResidentIds, landline
from hub.demo.presets import Preset, resolve
from hub.demo.seeds import stream

SOURCE = "demo"
FETCHED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
"""When the demo data was 'fetched': fixed, so that runs are reproducible."""

ROAD = 7e-5
"""Degrees (about 7 m) kept free inside a community's edge: the roads between communities."""
LANE = 3e-5
"""Degrees (about 3 m) between neighbouring estates' plots."""
OLD_TOWN = frozenset({"370202", "370203", "370213"})
"""市南, 市北 and 李沧 were built up first: their estates are older on average."""
RURAL_WEIGHT = 0.08
"""How much less likely a village (村委会) is to hold an estate than an urban community."""
ESTATES_PER_FIRM = 14


@dataclass(frozen=True, slots=True)
class _Run:
    preset: Preset
    seed: int
    run_id: str
    owner_ids: OwnerIds = DEMO_OWNER_IDS

    def provenance(self, record_id: str) -> Provenance:
        return Provenance(SOURCE, record_id, FETCHED_AT, self.run_id)

    def stream(self, *parts: str) -> random.Random:
        return stream(self.seed, *parts)


@dataclass(slots=True)
class _Batches:
    """Gathers small ordered chunks into batches of about `size` records.

    Chunks are only ever appended whole (an estate's head, or one building with its entrances,
    houses, owners and ownerships), so every reference in a batch points to a record in the same
    batch or an earlier one.
    """

    size: int
    batch: Batch = field(default_factory=Batch)

    def add(self, chunk: Batch) -> Batch | None:
        batch = self.batch
        batch.places.extend(chunk.places)
        batch.owners.extend(chunk.owners)
        batch.ownerships.extend(chunk.ownerships)
        batch.firms.extend(chunk.firms)
        batch.managements.extend(chunk.managements)
        if len(batch) >= self.size:
            self.batch = Batch()
            return batch
        return None

    def rest(self) -> Batch | None:
        batch, self.batch = self.batch, Batch()
        return batch if len(batch) else None


def _place(run: _Run, code: str, level: Level, name: str, parent: str | None,
           shape: Shape | None) -> Place:
    return Place(
        code=code,
        level=level,
        name=name,
        parent_code=parent,
        geometry=shape.geojson if shape is not None else None,
        provenance=run.provenance(code),
    )


# --- the administrative tree ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DistrictLayout:
    district: Shape | None
    streets: dict[str, Shape | None]
    communities: dict[str, Shape | None]


def _partitioned(
    run: _Run, parent: Shape | None, codes: Sequence[str], name: str
) -> dict[str, Shape | None]:
    """Shapes that tile `parent`, one per code, from the stream named after the parent."""
    if parent is None:
        return {code: None for code in codes}
    region = inset(parent.geometry, MARGIN)
    if region.is_empty:
        return {code: None for code in codes}
    pieces = partition(region, len(codes), run.stream("partition", name))
    return {code: settle(piece, parent.geometry) for code, piece in zip(codes, pieces)}


def _lay_out(run: _Run, district: District, city: Shape | None) -> _DistrictLayout:
    outline = district_outline(district.code)
    shape = settle(outline, city.geometry if city else None) or settle(outline, None)
    streets = _partitioned(run, shape, [street.code for street in district.streets], district.code)
    communities: dict[str, Shape | None] = {}
    for street in district.streets:
        codes = [community.code for community in street.communities]
        communities.update(_partitioned(run, streets[street.code], codes, street.code))
    return _DistrictLayout(shape, streets, communities)


def _tree(run: _Run, district: District, layout: _DistrictLayout, city: str) -> Batch:
    batch = Batch()
    batch.places.append(
        _place(run, district.code, Level.DISTRICT, district.name, city, layout.district)
    )
    for street in district.streets:
        batch.places.append(
            _place(run, street.code, Level.STREET, street.name, district.code,
                   layout.streets[street.code])
        )
        for community in street.communities:
            batch.places.append(
                _place(run, community.code, Level.COMMUNITY, community.name, street.code,
                       layout.communities[community.code])
            )
    return batch


# --- a district's estates -------------------------------------------------------------------


def _allocate(
    rng: random.Random,
    district: District,
    layout: _DistrictLayout,
    estates: int,
    houses: int,
) -> dict[str, list[int]]:
    """Target house counts of the estates in each community.

    Urban communities get most estates, and bigger communities more of them, so that estates
    find room: a community's chance is its share of the district's area, damped for villages.
    Estates are spread first: every community gets one before any gets a second (drawn by
    weight without replacement, so with fewer estates than communities the likelier ones get
    them, one each), then the rest go by weight. A street office looking at its communities
    never finds one holding every estate while the others hold none.
    """
    communities = district.communities
    areas = [
        shape.geometry.area if (shape := layout.communities[community.code]) else 0.0
        for community in communities
    ]
    typical = sum(areas) / len(areas) or 1.0
    weights = [
        (1.0 if community.urban else RURAL_WEIGHT)
        * (area or typical) / typical
        * rng.lognormvariate(0, 0.35)
        for community, area in zip(communities, areas)
    ]
    counts = [0] * len(communities)
    # weighted sampling without replacement (Efraimidis-Spirakis): the largest u^(1/w) first
    spread = sorted(range(len(communities)), key=lambda index: rng.random() ** (1.0 / weights[index]), reverse=True)
    for index in spread[:estates]:
        counts[index] += 1
    for index in rng.choices(range(len(communities)), weights=weights, k=max(0, estates - len(communities))):
        counts[index] += 1
    sizes = [rng.lognormvariate(0, 0.7) for _ in range(estates)]
    scale = houses / sum(sizes)
    targets = iter([max(24, round(size * scale)) for size in sizes])
    allocation: dict[str, list[int]] = {}
    for community, count in zip(communities, counts):
        if count:
            allocation[community.code] = [next(targets) for _ in range(min(count, 999))]
    return allocation


@dataclass(slots=True)
class _Firms:
    """A district's property firms; each is emitted just before its first management."""

    firms: list[PropertyFirm]
    weights: list[float]
    emitted: set[str] = field(default_factory=set)

    def pick(self, rng: random.Random, besides: PropertyFirm | None = None) -> PropertyFirm:
        while True:
            firm = rng.choices(self.firms, weights=self.weights)[0]
            if firm is not besides or len(self.firms) == 1:
                return firm

    def first_use(self, firm: PropertyFirm) -> bool:
        if firm.code in self.emitted:
            return False
        self.emitted.add(firm.code)
        return True


def _firm_pool(run: _Run, rng: random.Random, slot: int, credits: CreditCodes,
               estates: int) -> _Firms:
    count = max(2, round(estates / ESTATES_PER_FIRM))
    firms = []
    for index in range(count):
        code = credits.issue()
        firms.append(
            PropertyFirm(
                code=code,
                name=firm_name(slot, index, rng),
                phone=landline(rng),
                provenance=run.provenance(code),
            )
        )
    weights = [rng.uniform(0.5, 1.5) for _ in firms]
    return _Firms(firms, weights)


def _managements(run: _Run, plan: EstatePlan, firms: _Firms, rng: random.Random) -> Batch:
    """The estate's current firm, and in about one case in seven the firm it replaced."""
    batch = Batch()
    # property management reached most older estates only in the 2000s
    start = max(plan.completed, dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(0, 2_000)))
    current = firms.pick(rng)
    terms: list[tuple[PropertyFirm, dt.date, dt.date | None]] = []
    latest_change = LAST_DAY - dt.timedelta(days=90)
    earliest_change = start + dt.timedelta(days=730)
    if rng.random() < 0.15 and earliest_change < latest_change:
        earlier = firms.pick(rng, besides=current)
        change = earliest_change + dt.timedelta(
            days=rng.randint(0, (latest_change - earliest_change).days)
        )
        terms += [(earlier, start, change), (current, change, None)]
    else:
        terms.append((current, start, None))
    for firm, since, until in terms:
        if firms.first_use(firm):
            batch.firms.append(firm)
        batch.managements.append(
            Management(
                firm_code=firm.code,
                estate_code=plan.code,
                since=since,
                until=until,
                provenance=run.provenance(f"{firm.code}/{plan.code}/{since.isoformat()}"),
            )
        )
    return batch


def _plan_community(
    run: _Run, community: Community, targets: Sequence[int], old_town: bool
) -> list[tuple[EstatePlan, random.Random]]:
    rng = run.stream("community", community.code)
    parcel = rng.randint(1, 30)
    names: dict[str, int] = {}
    planned = []
    for number, target in enumerate(targets, 1):
        code = f"{community.code}E{number:03d}"
        estate_rng = run.stream("estate", code)
        year = plans.completion_year(estate_rng, old_town)
        completed = dt.date(year, estate_rng.randint(1, 12), estate_rng.randint(1, 28))
        buildings = plans.plan_buildings(estate_rng, year, target)
        parcels = []
        for _ in range(plans.parcel_count(estate_rng, len(buildings))):
            parcels.append(f"{community.code}GB{parcel:05d}")
            parcel += rng.randint(1, 4)
        name = estate_name(estate_rng, community.stem, year, community.urban)
        names[name] = names.get(name, 0) + 1
        if names[name] > 1:
            name = phase_name(name, names[name])
        plan = EstatePlan(
            code=code,
            name=name,
            completed=completed,
            buildings=buildings,
            parcels=tuple(parcels),
            aspect=estate_rng.uniform(1.0, 1.8),
        )
        planned.append((plan, estate_rng))
    return planned


def _estate_plots(
    run: _Run, community: Community, shape: Shape | None, estates: Sequence[EstatePlan]
) -> list[Rectangle | None]:
    """A rectangle per estate, each in its own plot of the community, so none overlap.

    The community is sliced into plots in proportion to the land each estate needs, plus open
    ground (parks, schools, lanes) of a quarter as much somewhere among them; in a crowded
    community every estate gives up land in the same proportion.
    """
    if shape is None:
        return [None] * len(estates)
    region = inset(shape.geometry, ROAD)
    if region.is_empty:
        return [None] * len(estates)
    rng = run.stream("plots", community.code)
    needs = [estate.land for estate in estates]
    open_ground = rng.randint(0, len(needs))
    needs.insert(open_ground, 0.25 * sum(needs))
    cells = slice_by_weights(region, needs)
    del cells[open_ground]
    plots: list[Rectangle | None] = []
    for estate, cell in zip(estates, cells):
        plot = fit_rectangle(inset(cell, LANE), estate.land, estate.aspect, rng)
        if plot is not None and not shape.geometry.covers(to_shape(plot.geojson())):
            plot = None
        plots.append(plot)
    return plots


def _estate(
    run: _Run,
    district: DistrictPeople,
    community: Community,
    plan: EstatePlan,
    plot: Rectangle | None,
    rng: random.Random,
    firms: _Firms,
) -> Iterator[Batch]:
    head = Batch()
    head.places.append(
        Place(
            code=plan.code,
            level=Level.ESTATE,
            name=plan.name,
            parent_code=community.code,
            geometry=plot.geojson() if plot is not None else None,
            parcel_codes=plan.parcels,
            provenance=run.provenance(plan.code),
        )
    )
    management = _managements(run, plan, firms, rng)
    head.firms, head.managements = management.firms, management.managements
    yield head

    owners = EstateOwners(district, plan.name, plan.completed, rng, run.provenance)
    footprints = [building.footprint for building in plan.buildings]
    shapes = layout_buildings(plot, footprints, rng) if plot is not None else []
    per_parcel = -(-len(plan.buildings) // len(plan.parcels))
    for index, building in enumerate(plan.buildings):
        number = index + 1
        code = f"{plan.parcels[index // per_parcel]}F{number:04d}"
        chunk = Batch()
        places = chunk.places
        places.append(
            Place(
                code=code,
                level=Level.BUILDING,
                name=f"{number}号楼",
                parent_code=plan.code,
                geometry=shapes[index] if shapes else None,
                floors=building.floors,
                provenance=run.provenance(code),
            )
        )
        entrances = [f"{code}{entrance:02d}" for entrance in range(1, building.entrances + 1)]
        for entrance, entrance_code in enumerate(entrances, 1):
            places.append(
                Place(
                    code=entrance_code,
                    level=Level.ENTRANCE,
                    name=f"{entrance}单元",
                    parent_code=code,
                    provenance=run.provenance(entrance_code),
                )
            )
        house = 0
        uniform = rng.uniform
        for entrance, entrance_code in enumerate(entrances, 1):
            for floor in range(1, building.floors + 1):
                shop = building.shops and floor == 1
                usage = Usage.COMMERCIAL if shop else Usage.RESIDENTIAL
                for unit in range(1, building.units + 1):
                    house += 1
                    house_code = f"{code}{house:04d}"
                    # drawn in m², kept as the whole hundredths of a m² its two decimals say
                    if shop:
                        area = centi_m2_of(round(uniform(40.0, 220.0), 2))
                    else:
                        area = centi_m2_of(round(building.areas[unit - 1] + uniform(-0.6, 0.6), 2))
                    places.append(
                        Place(
                            code=house_code,
                            level=Level.HOUSE,
                            name=plans.house_name(entrance, floor, unit, shop),
                            parent_code=entrance_code,
                            area_centi_m2=area,
                            floor=floor,
                            usage=usage,
                            provenance=run.provenance(house_code),
                        )
                    )
                    owners.house(house_code, usage)
        for space in range(1, building.parking + 1):
            house += 1
            house_code = f"{code}{house:04d}"
            places.append(
                Place(
                    code=house_code,
                    level=Level.HOUSE,
                    name=plans.parking_name(space),
                    parent_code=entrances[0],
                    area_centi_m2=centi_m2_of(round(uniform(13.0, 35.0), 2)),
                    floor=-1,
                    usage=Usage.PARKING,
                    provenance=run.provenance(house_code),
                )
            )
            owners.house(house_code, Usage.PARKING)
        chunk.owners, chunk.ownerships = owners.take()
        yield chunk


def _district_estates(
    run: _Run,
    city: City,
    district: District,
    layout: _DistrictLayout,
    estates: int,
    houses: int,
) -> Iterator[Batch]:
    rng = run.stream("district", district.code)
    slot = [item.code for item in city.districts].index(district.code)
    allocation = _allocate(rng, district, layout, estates, houses)
    credits = CreditCodes(slot, district.code, run.stream("credit-codes", district.code))
    firms = _firm_pool(run, rng, slot, credits, estates)
    qingdao = tuple(item.code for item in city.districts)
    owner_district = DistrictPeople(
        code=district.code,
        ids=ResidentIds(slot, tuple(dict.fromkeys((*qingdao, *SHANDONG_ELSEWHERE)))),
        credits=credits,
        qingdao=qingdao,
        elsewhere=SHANDONG_ELSEWHERE,
        owner_ids=run.owner_ids,
    )
    old_town = district.code in OLD_TOWN
    for community in district.communities:
        targets = allocation.get(community.code)
        if not targets:
            continue
        planned = _plan_community(run, community, targets, old_town)
        shape = layout.communities[community.code]
        plots = _estate_plots(run, community, shape, [plan for plan, _ in planned])
        for (plan, estate_rng), plot in zip(planned, plots):
            yield from _estate(run, owner_district, community, plan, plot, estate_rng, firms)


# --- the public face ------------------------------------------------------------------------


def generate(
    preset: str | Preset, seed: int = 2020, *, batch_size: int = 5000, owner_ids: OwnerIds = DEMO_OWNER_IDS
) -> Iterator[Batch]:
    """Yields Batches in an order that the store can write: the city, districts, streets,
    communities first (with geometry), then per community/estate: firms before managements,
    places top-down (estate, buildings, entrances, houses) before owners and ownerships that
    reference them. Owners come before their ownerships.
    Streaming: memory stays bounded for the city preset (never all 2.43M houses at once).

    A bad preset or batch size is refused here, before the first batch is asked for. Owner ids
    come from `owner_ids`: pass the store's (`Sealer.owner_ids()`) when a source that knows
    owners by their numbers (the registry) will sync into the same store.
    """
    chosen = resolve(preset)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return _generate(_Run(chosen, seed, f"demo-{chosen.name}-{seed}", owner_ids), batch_size)


def _generate(run: _Run, batch_size: int) -> Iterator[Batch]:
    city = load_divisions()
    batches = _Batches(batch_size)
    city_shape = settle(city_outline(city.code), None)
    head = Batch(places=[_place(run, city.code, Level.CITY, city.name, None, city_shape)])
    layouts = {}
    for code in run.preset.districts:
        district = city.district(code)
        layouts[code] = _lay_out(run, district, city_shape)
        head.places.extend(_tree(run, district, layouts[code], city.code).places)
    full = batches.add(head)
    if full is not None:
        yield full
    for code, (estates, houses) in run.preset.targets().items():
        district = city.district(code)
        for chunk in _district_estates(run, city, district, layouts[code], estates, houses):
            full = batches.add(chunk)
            if full is not None:
                yield full
    rest = batches.rest()
    if rest is not None:
        yield rest


# Records per house, measured on the city preset (the tests hold `estimate` to within 10%): the
# house, its share of buildings and entrances, owners (couples, resales, companies) and
# ownerships.
_RECORDS_PER_HOUSE = 1.0 + 0.063 + 1.23 + 1.30
_MANAGEMENTS_PER_ESTATE = 1.14


def estimate(preset: str | Preset) -> int:
    """About how many records `generate` yields for the preset, for a progress bar's total."""
    chosen = resolve(preset)
    city = load_divisions()
    tree = 1 + sum(
        1 + len(district.streets) + len(district.communities)
        for district in (city.district(code) for code in chosen.districts)
    )
    estates = chosen.estates
    firms = sum(max(2, round(count / ESTATES_PER_FIRM)) for count, _ in chosen.targets().values())
    managements = round(estates * _MANAGEMENTS_PER_ESTATE)
    return tree + estates + firms + managements + round(chosen.houses * _RECORDS_PER_HOUSE)
