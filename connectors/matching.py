"""Matching a postal address to the place tree: district → street → community → estate →
building → entrance → house, by names, through the store port only.

An address is matched only when every step is certain. Where a step finds nothing (no estate of
that name, no building 9 in it) or more than one place (two estates called 海韵花园 in the
district, a room 501 in both entrances of a building and no entrance given), the match stops
there and says so: `house_code` stays None, `candidates` lists the places it might be, and the
stream dead-letters the record as UNMATCHED_ADDRESS for someone at the source to fix. Nothing is
guessed.

A `Matcher` remembers the lists it read (the estates of a district, the buildings of an estate,
the houses of an entrance) in an LRU, so a sync matching 10,000 addresses of a few hundred
estates reads each list once, not once per address.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from graph.addresses import Address, name_key, normalise, parse_address
from graph.levels import Level
from graph.model import Place
from graph.scope import Scope
from graph.store import MAX_PAGE, Store

EVERYTHING = Scope.everything()
CONFIDENT = 0.8
"""The confidence at or above which a house is taken as the address's house."""

_STREET_ENDINGS = ("街道办事处", "街道", "办事处")
_COMMUNITY_ENDINGS = (
    "社区居民委员会", "社区村民委员会", "村村民委员会", "社区居委会", "村民委员会", "居民委员会",
    "社区村委会", "村委会", "居委会", "社区",
)
_NUMBERED = re.compile(r"^(\d+)(?:号楼|单元)$")


def _stem(name: str, endings: Sequence[str]) -> str:
    key = name_key(name)
    for ending in endings:
        if key.endswith(ending) and len(key) > len(ending):
            return key[: -len(ending)]
    return key


def _number(place: Place) -> int | None:
    found = _NUMBERED.match(place.name)
    return int(found.group(1)) if found else None


@dataclass(frozen=True, slots=True)
class AddressMatch:
    """Where an address led: the house when certain, else the deepest place reached and why."""

    text: str
    house_code: str | None
    place_code: str | None
    """The deepest place matched with certainty (the house itself when found)."""
    level: Level | None
    confidence: float
    """1.0 when every part given agreed with the tree; lower when parts were missing."""
    candidates: tuple[str, ...] = ()
    """Places the address might be when a step was ambiguous or found nothing exact."""
    why: str = ""
    complete: bool = False
    """Every part the address gave was found, one place each: a house, or an estate or building
    when the address named nothing below it (what an outage notice names)."""

    @property
    def matched(self) -> bool:
        return self.house_code is not None and self.confidence >= CONFIDENT


@dataclass(frozen=True, slots=True)
class _Names:
    children: list[Place]
    by_stem: dict[str, list[Place]]
    written: list[str]


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple[str, str], object] = OrderedDict()
        self.hits = self.misses = 0

    async def get(self, key: tuple[str, str], load: Callable[[], Awaitable[object]]) -> object:
        if key in self.items:
            self.items.move_to_end(key)
            self.hits += 1
            return self.items[key]
        self.misses += 1
        value = await load()
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


class Matcher:
    """Matches addresses against one store, remembering what it read (one per sync).

    `within` bounds the search (a district code when the source serves one district); without
    it the search starts at the city.
    """

    def __init__(self, store: Store, *, within: str | None = None, cache_size: int = 2048) -> None:
        self.store = store
        self.within = within
        self._cache = _Lru(cache_size)
        self._names: dict[tuple[str, Level], _Names] = {}

    @property
    def reads(self) -> int:
        """How many lists were read from the store (cache misses)."""
        return self._cache.misses

    async def _children(self, code: str) -> list[Place]:
        async def load() -> list[Place]:
            found: list[Place] = []
            after: str | None = None
            while True:
                [page] = await self.store.children([code], EVERYTHING, MAX_PAGE, after)
                found.extend(page.items)
                if not page.has_next:
                    return found
                after = page.end_cursor

        return await self._cache.get(("children", code), load)  # type: ignore[return-value]

    async def _estates(self, code: str) -> dict[str, list[Place]]:
        async def load() -> dict[str, list[Place]]:
            by_name: dict[str, list[Place]] = {}
            after: str | None = None
            while True:
                page = await self.store.subtree(Level.ESTATE, code, EVERYTHING, MAX_PAGE, after)
                for place in page.items:
                    by_name.setdefault(name_key(place.name), []).append(place)
                if not page.has_next:
                    return by_name
                after = page.end_cursor

        return await self._cache.get(("estates", code), load)  # type: ignore[return-value]

    async def _root(self) -> Place | None:
        if self.within is not None:
            [place] = await self.store.places([self.within], EVERYTHING)
            return place
        page = await self.store.subtree(Level.CITY, None, EVERYTHING, 2)
        return page.items[0] if len(page.items) == 1 else None

    async def _root_cached(self) -> Place | None:
        return await self._cache.get(("root", self.within or ""), self._root)  # type: ignore[return-value]

    async def match(self, text: str) -> AddressMatch:
        """Where `text` leads (see the module docstring); never raises for a bad address."""
        address = parse_address(text)
        root = await self._root_cached()
        if root is None:
            return AddressMatch(address.text, None, None, None, 0.0, why="the store holds no city to match against")
        return await self._walk(address, root)

    async def locate(self, text: str) -> AddressMatch:
        """Where the administrative part of `text` leads (district → street → community), the
        estate not looked for: the place an address naming only a street or a community is
        about. `place_code` is the deepest division reached, each one the address gave found once."""
        address = parse_address(text)
        root = await self._root_cached()
        if root is None:
            return AddressMatch(address.text, None, None, None, 0.0, why="the store holds no city to match against")
        admin = await self._admin(address, root)
        if isinstance(admin, AddressMatch):
            return admin
        place, confidence, address = admin
        return AddressMatch(address.text, None, place.code, place.level, round(confidence, 2), why=f"in {place.name} ({place.code})")

    async def _admin(self, address: Address, root: Place) -> tuple[Place, float, Address] | AddressMatch:
        """Down from `root` through the district, street and community the address names; with
        the address as finally read.

        Where the grammar's district or street is not one of the place's children, the address
        is read again knowing the children's names (`parse_address(districts=..., streets=...)`):
        a town called 永兴, a street office written 建外办事处, a district called 新市区 are found
        as the tree spells them. A city without districts (东莞, 中山, 儋州) holds its towns
        itself, and the street is looked for among them."""
        place, confidence = root, 1.0
        for level, endings in ((Level.DISTRICT, ()), (Level.STREET, _STREET_ENDINGS), (Level.COMMUNITY, _COMMUNITY_ENDINGS)):
            if place.level >= level:
                continue  # `within` is already below this level
            given = self._given(address, level, root)
            hinted = level in (Level.DISTRICT, Level.STREET)
            if not given and not hinted:
                confidence -= 0.02
                continue
            children = await self._children(place.code)
            if not any(child.level == level for child in children):
                # nothing of this level here: a step skipped above (no street given, so the estate
                # search narrows instead), or a city without districts (what was read as one is not)
                confidence -= 0.0 if given else 0.02
                continue
            index = self._index(place.code, level, children, endings)
            found = self._named(index, given, endings)
            if hinted and (len(found) != 1 or self._longer(index, given)):
                names = [child.name for child in children if child.level == level]
                again = parse_address(address.text, districts=names) if level == Level.DISTRICT else parse_address(address.text, streets=names)
                again_given = self._given(again, level, root)
                again_found = self._named(index, again_given, endings)
                if len(again_found) == 1 or (not again_found and again_given and not given):
                    address, given, found = again, again_given, again_found
            if not given:
                confidence -= 0.02
                continue
            if len(found) != 1:
                return AddressMatch(
                    address.text, None, place.code, place.level, 0.0, tuple(c.code for c in found),
                    f"{level.name.lower()} {given!r} is {'not' if not found else 'more than once'} under {place.name} ({place.code})",
                )
            place = found[0]
        return place, confidence, address

    @staticmethod
    def _given(address: Address, level: Level, root: Place) -> str | None:
        """What the address says of `level`: a city not the root's stands for a district (a
        county-level city written where a prefecture would be: 山东省胶州市...)."""
        if level == Level.DISTRICT:
            city = address.city if address.city and root.level == Level.CITY and name_key(address.city) != name_key(root.name) else None
            return address.district or city
        return address.street if level == Level.STREET else address.community

    def _index(self, code: str, level: Level, children: list[Place], endings: Sequence[str]) -> _Names:
        """The children of `level` by their stems, and their names as written: normalised once
        per list, not once per address."""
        key = (code, level)
        index = self._names.get(key)
        if index is None or index.children is not children:
            by_stem: dict[str, list[Place]] = {}
            written: list[str] = []
            for child in children:
                if child.level == level:
                    by_stem.setdefault(_stem(child.name, endings), []).append(child)
                    written.append(normalise(child.name))
            index = self._names[key] = _Names(children, by_stem, written)
            if len(self._names) > self._cache.size:
                self._names.pop(next(iter(self._names)))
        return index

    def _longer(self, index: _Names, given: str | None) -> bool:
        """Whether a child's name runs on past what the grammar read (讷河市's 龙河镇 and
        龙河镇保安林场): the longer name, if the address holds it, is the one meant."""
        if not given:
            return False
        key = normalise(given)
        return any(len(name) > len(key) and name.startswith(key) for name in index.written)

    @staticmethod
    def _named(index: _Names, given: str | None, endings: Sequence[str]) -> list[Place]:
        return list(index.by_stem.get(_stem(given, endings), ())) if given else []

    async def _walk(self, address: Address, root: Place) -> AddressMatch:
        admin = await self._admin(address, root)
        if isinstance(admin, AddressMatch):
            return admin
        area, confidence, address = admin
        text = address.text
        estate_name = address.estate
        if not estate_name:
            location = address.estate_location
            why = f"no estate name (only the road {location!r})" if location else "no estate name"
            return AddressMatch(text, None, area.code, area.level, 0.0, why=why + f" under {area.name} ({area.code})")
        estates = (await self._estates(area.code)).get(name_key(estate_name), [])
        if address.community and area.level < Level.COMMUNITY:
            stem = _stem(address.community, _COMMUNITY_ENDINGS)
            communities = {c.code: c for e in estates if e.parent_code for c in await self._communities_of(e)}
            estates = [e for e in estates if e.parent_code in communities and _stem(communities[e.parent_code].name, _COMMUNITY_ENDINGS) == stem]
        if address.street and area.level < Level.STREET:
            estates = [e for e in estates if await self._street_named(e, address.street)]
        if not estates:
            near = await self._similar(area.code, estate_name)
            return AddressMatch(text, None, area.code, area.level, 0.0, near, f"no estate named {estate_name!r} under {area.name} ({area.code})")
        if len(estates) > 1:
            return AddressMatch(
                text, None, area.code, area.level, 0.0, tuple(e.code for e in estates),
                f"{len(estates)} estates named {estate_name!r} under {area.name} ({area.code}); give the street or community",
            )
        estate = estates[0]
        if address.building is None:
            what = f"building {address.building_label}" if address.building_label else "no building number"
            ends_here = not address.building_label and address.room is None and address.parking is None
            return AddressMatch(
                text, None, estate.code, Level.ESTATE, 0.0, why=f"{what} in {estate.name} ({estate.code})", complete=ends_here
            )
        buildings = [b for b in await self._children(estate.code) if _number(b) == address.building]
        if len(buildings) != 1:
            return AddressMatch(
                text, None, estate.code, Level.ESTATE, 0.0, tuple(b.code for b in buildings),
                f"building {address.building} is {'not' if not buildings else 'more than once'} in {estate.name} ({estate.code})",
            )
        building = buildings[0]
        entrances = [e for e in await self._children(building.code) if e.level == Level.ENTRANCE]
        if address.parking:
            houses = [h for e in entrances[:1] for h in await self._children(e.code) if name_key(h.name) == name_key(address.parking)]
            return await self._house(text, building, houses, confidence, f"parking {address.parking}")
        if address.room is None:
            return AddressMatch(
                text, None, building.code, Level.BUILDING, 0.0,
                why=f"no room number in {estate.name} {building.name} ({building.code})", complete=address.entrance is None,
            )
        if address.entrance is not None:
            chosen = [e for e in entrances if _number(e) == address.entrance]
            if not chosen:
                return AddressMatch(
                    text, None, building.code, Level.BUILDING, 0.0, tuple(e.code for e in entrances),
                    f"entrance {address.entrance} is not in {estate.name} {building.name} ({building.code})",
                )
        else:
            chosen = entrances
            confidence -= 0.05
        suffix = "网点" if address.shop else "室"
        houses = []
        for entrance in chosen:
            number = _number(entrance)
            wanted = {f"{number}单元{address.room}{suffix}", f"{number}单元{address.room}网点", f"{number}单元{address.room}室"}
            houses.extend(h for h in await self._children(entrance.code) if h.name in wanted)
        return await self._house(text, building, houses, confidence, f"room {address.room}")

    async def _house(self, text: str, building: Place, houses: list[Place], confidence: float, what: str) -> AddressMatch:
        if len(houses) == 1:
            house = houses[0]
            return AddressMatch(text, house.code, house.code, Level.HOUSE, round(confidence, 2), why="matched", complete=True)
        why = f"{what} is {'not' if not houses else 'in more than one entrance'} of {building.name} ({building.code})"
        return AddressMatch(text, None, building.code, Level.BUILDING, 0.0, tuple(h.code for h in houses), why)

    async def _communities_of(self, estate: Place) -> list[Place]:
        if estate.parent_code is None:
            return []
        [parent] = await self._places(estate.parent_code)
        return [parent] if parent is not None else []

    async def _places(self, code: str) -> list[Place | None]:
        async def load() -> list[Place | None]:
            return await self.store.places([code], EVERYTHING)

        return await self._cache.get(("place", code), load)  # type: ignore[return-value]

    async def _street_named(self, estate: Place, street: str) -> bool:
        """Whether the estate's street is called `street` (statistical codes nest: a community's
        first nine digits are its street's code)."""
        if estate.parent_code is None or len(estate.parent_code) < 9:
            return False
        [found] = await self._places(estate.parent_code[:9])
        return found is not None and _stem(found.name, _STREET_ENDINGS) == _stem(street, _STREET_ENDINGS)

    async def _similar(self, code: str, name: str) -> tuple[str, ...]:
        """Estates whose name is close to the given one (a typo, a phase left out), closest
        first, at most five: for the person fixing the record."""
        key = name_key(name)
        if len(key) < 2:
            return ()
        scored: list[tuple[float, str]] = []
        for stored, places in (await self._estates(code)).items():
            ratio = 1.0 if key in stored or stored in key else SequenceMatcher(None, key, stored).ratio()
            if ratio >= 0.6:
                scored.extend((-ratio, place.code) for place in places)
        return tuple(code for _, code in sorted(scored)[:5])


async def match_address(store: Store, text: str, *, within: str | None = None) -> AddressMatch:
    """Match one address (a fresh `Matcher`; use one Matcher per sync for many addresses)."""
    return await Matcher(store, within=within).match(text)
