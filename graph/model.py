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
    for buildings, `area` (m², 建筑面积), `floor` and `usage` for houses.
    """

    code: str
    level: Level
    name: str
    parent_code: str | None
    geometry: GeoJSON | None = None
    parcel_codes: tuple[str, ...] = ()
    floors: int | None = None
    area: float | None = None
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


@dataclass(frozen=True, slots=True)
class Stats:
    """The roll-up of a place's subtree: houses, floor area, current owners, estates, buildings."""

    place: Place
    houses: int
    floor_area: float
    owners: int
    estates: int
    buildings: int


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
