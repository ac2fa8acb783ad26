"""The scope on writes: the one rule for every change that names a place, an address or a point.

Reads take the caller's scope in the store; a write that names where it lands must be held to the
same scope, or a street office could open a case in another district (and then not even see it).
Every write path that names a place — GraphQL's `openCase`, `registerDevice` and the places a
shared query is shared with, Open311's `POST requests.json`, and any mutation added later — asks
a `Reach` (the caller's scope over the store) where the write lands:

- a place named by its code must be one the caller may read (`place`);
- a place the hub found for a location the caller gave — an address matched, a point located in
  an estate's outline, else a community's (graph.geo) — must be one the caller may read
  (`found`, `point`);
- a location that lands at no place the caller may read lands at no place at all; only a scope
  holding a whole city (admin, city) may write there, as only it reads what has no place;
- a point given beside a named place must lie in the caller's scope, or in the estate (else the
  community) around the named place, or under it: a phone's position beside the house it is about.

Anything else is refused with `OutOfReach`, whose message is made of what the caller sent and
nothing else: a place outside the scope and one that does not exist, an address or a point that
lands outside it and one that lands nowhere, are refused word for word alike, so no refusal tells
whether a code, an address or a point names something.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.cases import Point
from graph.codes import place_code
from graph.errors import InvalidInput
from graph.geo import PlaceLocator
from graph.levels import Level
from graph.model import Place
from graph.scope import Scope
from graph.store import Store

EVERYTHING = Scope.everything()
NOT_A_PLACE = "is not a place you can see"
NOT_IN_A_PLACE = "is not in a place you can see"


class OutOfReach(InvalidInput):
    """A write names a place, an address or a point the caller may not write at; the message
    never says whether it lies outside the caller's scope or nowhere."""


def holds_a_city(scope: Scope) -> bool:
    """Whether the scope reads a whole city, and with it what has no place (as the store lists
    cases linked to no place under the city)."""
    return scope.roots is None or any(place_code(root)[1] == Level.CITY for root in scope.roots)


def point_text(point: Point) -> str:
    """A point as the refusal quotes it back: longitude, latitude."""
    return f"{point.lon:g},{point.lat:g}"


@dataclass
class Reach:
    """Where the writes of one caller (its scope) may land, over the store; cheap to build."""

    store: Store
    scope: Scope
    locator: PlaceLocator | None = None

    def _locator(self) -> PlaceLocator:
        if self.locator is None:
            self.locator = PlaceLocator(self.store)
        return self.locator

    async def place(self, code: str, *, field: str) -> Place:
        """The place a write names by its code, read in the caller's scope; OutOfReach when it
        is not there (outside the scope, or nowhere)."""
        [found] = await self.store.places([code], self.scope)
        if found is None:
            raise OutOfReach(field, code, NOT_A_PLACE)
        return found

    async def found(self, code: str | None, *, field: str, given: object) -> str | None:
        """The place the hub found (`code`, None for none) for a location the caller gave
        (`given`, quoted back in a refusal): kept when the caller may read it; otherwise the
        write lands at no place, which only a scope holding a whole city may make."""
        if code is not None:
            [seen] = await self.store.places([code], self.scope)
            if seen is not None:
                return seen.code
        if holds_a_city(self.scope):
            return None
        raise OutOfReach(field, given, NOT_IN_A_PLACE)

    async def point(self, point: Point, *, field: str, beside: Place | None = None) -> str | None:
        """The place a point lands at by the rule (None: no place); `beside` is the place the
        write names too, around or under which the point may also lie."""
        located = await self._locator().place_at(point)
        if beside is not None and located is not None and await self._around(located, beside):
            return located
        return await self.found(located, field=field, given=point_text(point))

    async def _around(self, located: str, named: Place) -> bool:
        """Whether `located` is the named place, lies under it, or is the estate or community
        around it (read whole: this is the hub deciding, and only yes or no comes of it)."""
        if located == named.code:
            return True
        lineages = await self.store.ancestors([located, named.code], EVERYTHING)
        under = any(place.code == named.code for place in lineages[0])
        around = any(place.code == located and place.level >= Level.COMMUNITY for place in lineages[1])
        return under or around

    async def landing(
        self, *, code: str | None = None, point: Point | None = None, code_field: str = "place", point_field: str = "point"
    ) -> str | None:
        """Where a write naming a place `code`, a `point`, or both lands (None: at no place)."""
        if code is not None:
            named = await self.place(code, field=code_field)
            if point is not None:
                await self.point(point, field=point_field, beside=named)
            return named.code
        if point is not None:
            return await self.point(point, field=point_field)
        if holds_a_city(self.scope):
            return None
        raise InvalidInput(code_field, "", "is required: give a place code or a point in a place you can see")
