"""The records of the graph: places, owners, ownerships, property firms and managements.

Records are plain frozen dataclasses keyed by their national codes (places, firms) or by the
hub's owner id; every fact carries its `Provenance`. Integer ids are a store's business and never
appear here, so every store adapter (SQL, Cypher) speaks the same records.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from graph.levels import Level

if TYPE_CHECKING:
    from graph.cases import Case
    from graph.utilities import Bill, Outage, UtilityAccount

GeoJSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a fact came from: the source system, its record id, when it was fetched, which run."""

    source: str
    record_id: str
    fetched_at: dt.datetime
    run_id: str


class Usage(enum.Enum):
    """What a house is used for (房屋用途), as the registry records it."""

    RESIDENTIAL = "住宅"
    COMMERCIAL = "商业"
    OFFICE = "办公"
    PARKING = "车位"
    OTHER = "其他"


@dataclass(frozen=True, slots=True)
class Place:
    """A node of the place tree, from the city (市) down to the house (户).

    Level-specific facts sit in optional fields: `parcel_codes` for estates (宗地代码), `floors`
    for buildings, `area_centi_m2` (建筑面积 in whole hundredths of a m², so 8050 is 80.50 m²:
    sums stay exact), `floor` and `usage` for houses.
    """

    code: str
    level: Level
    name: str
    parent_code: str | None
    geometry: GeoJSON | None = None
    parcel_codes: tuple[str, ...] = ()
    floors: int | None = None
    area_centi_m2: int | None = None
    floor: int | None = None
    usage: Usage | None = None
    provenance: Provenance | None = None


class OwnerKind(enum.Enum):
    PERSON = "person"
    ORGANISATION = "organisation"


@dataclass(frozen=True, slots=True)
class Owner:
    """An owner (业主): a person with a resident ID number or an organisation with a credit code."""

    id: str
    kind: OwnerKind
    name: str
    id_number: str
    phone: str | None = None
    provenance: Provenance | None = None


@dataclass(frozen=True, slots=True)
class Ownership:
    """An owner's share of a house from `since` until `until` (None: still owned)."""

    house_code: str
    owner_id: str
    share: float
    since: dt.date
    until: dt.date | None = None
    source: str = "registration"
    provenance: Provenance | None = None
    owner: Owner | None = field(default=None, compare=False, repr=False)
    """The owner's record when the store read it alongside (it may leave it None); a reader
    shows it without asking for the owner again."""

    def holds_on(self, day: dt.date) -> bool:
        return self.since <= day and (self.until is None or day < self.until)


@dataclass(frozen=True, slots=True)
class PropertyFirm:
    """A property services firm (物业服务企业), keyed by its unified social credit code."""

    code: str
    name: str
    phone: str | None = None
    provenance: Provenance | None = None


@dataclass(frozen=True, slots=True)
class Management:
    """A firm managing an estate from `since` until `until` (None: still managing)."""

    firm_code: str
    estate_code: str
    since: dt.date
    until: dt.date | None = None
    provenance: Provenance | None = None


def span_order(span: Ownership | Management) -> tuple[dt.date, str, str]:
    """The order every store lists spans in: by start, then by the codes of both ends (house
    and owner, estate and firm), so backends answer alike whatever order they stored them in."""
    if isinstance(span, Ownership):
        return (span.since, span.house_code, span.owner_id)
    return (span.since, span.estate_code, span.firm_code)


@dataclass(frozen=True, slots=True)
class Stats:
    """The roll-up of a place's subtree: houses, floor area, current owners, estates, buildings."""

    place: Place
    houses: int
    floor_area_centi_m2: int
    """Total 建筑面积 of the houses, in whole hundredths of a m² (`m2_text` shows it)."""
    owners: int
    estates: int
    buildings: int


def centi_m2_of(value: object) -> int:
    """An area in m² as a source writes it (decimal text like '80.25', an int, a Decimal, or a
    float taken as the shortest decimal that reads back as it) in whole hundredths of a m²,
    exactly: nothing is rounded. ValueError saying why for anything else (not a number, more
    than two decimals, a boolean, NaN or infinity).

    >>> centi_m2_of("80.25"), centi_m2_of(90), centi_m2_of(88.8), centi_m2_of(Decimal("12.50"))
    (8025, 9000, 8880, 1250)
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an area")
    if isinstance(value, int):
        return value * 100
    if isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value[:40]!r} is not a decimal number of m² (like 80.25)") from None
    else:
        raise ValueError(f"{type(value).__name__} {str(value)[:40]!r} is not an area")
    if not number.is_finite() or abs(number) > 10**12:
        raise ValueError(f"{str(value)[:40]!r} is not a plausible area in m²")
    whole = number.scaleb(2)
    if whole != whole.to_integral_value():
        raise ValueError(f"{str(value)[:40]!r} is not a whole number of hundredths of a m² (at most 2 decimals)")
    return int(whole)


def m2_text(centi_m2: int) -> str:
    """Hundredths of a m² as m² text with two decimals, from the integer (no float on the way).

    >>> m2_text(8025), m2_text(5), m2_text(0)
    ('80.25', '0.05', '0.00')
    """
    sign = "-" if centi_m2 < 0 else ""
    whole, cents = divmod(abs(centi_m2), 100)
    return f"{sign}{whole}.{cents:02d}"


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list ordered by code; `end_cursor` continues it when `has_next` is true."""

    items: Sequence[T]
    has_next: bool
    end_cursor: str | None
    start_cursor: str | None = None


@dataclass(slots=True)
class Batch:
    """Records to write together through the store's bulk path; parents come before children."""

    places: list[Place] = field(default_factory=list)
    owners: list[Owner] = field(default_factory=list)
    ownerships: list[Ownership] = field(default_factory=list)
    firms: list[PropertyFirm] = field(default_factory=list)
    managements: list[Management] = field(default_factory=list)
    accounts: list[UtilityAccount] = field(default_factory=list)
    bills: list[Bill] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.places)
            + len(self.owners)
            + len(self.ownerships)
            + len(self.firms)
            + len(self.managements)
            + len(self.accounts)
            + len(self.bills)
            + len(self.outages)
            + len(self.cases)
        )


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """What a bulk write did: rows inserted, rows updated, rows already so."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


@dataclass(frozen=True, slots=True)
class Reached:
    """What some places reach (`Store.reach`), all inside the caller's scope: the houses at or
    under them, who holds those houses on a day, and the open cases at or under them."""

    places: tuple[str, ...]
    """The places asked for that the caller may see, in the order asked, each once."""
    houses: Page[Place]
    """A page of the houses at or under those places, by code."""
    holders: Mapping[str, tuple[str, ...]]
    """For each house of the page, the ids of its owners on the day, sorted (empty: none)."""
    open_cases: tuple[str, ...]
    """The ids of the newest open cases at or under the places, newest report first (then id,
    descending), at most the page size; the same on every page of houses."""
    house_count: int
    """How many houses lie at or under the places."""
    owner_count: int
    """How many owners (each once) hold one of those houses on the day."""
    open_case_count: int
    """How many open cases lie at or under the places."""
