"""Which place holds a point: the estate whose outline contains it, else the community.

One locator serves both who need it: the city-operations linker (a 12345 case about a street
lamp between estates belongs to the community) and the case workflow (a case reported with only
a position is dispatched to the firm managing the estate around it). The outlines are read once
per locator through the store port (`Store.shapes`, WGS-84 GeoJSON) and put in shapely STRtrees,
so each lookup is a tree query, not a scan of every estate.

Outlines are read unscoped: the locator says where a point lies, which is not a read of the
place on a caller's behalf; whoever uses the answer reads the place with the caller's scope.
"""

from __future__ import annotations

import asyncio

from shapely import STRtree
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import shape as to_shape
from shapely.geometry.base import BaseGeometry

from graph.cases import Point
from graph.levels import Level
from graph.scope import Scope
from graph.store import MAX_PAGE, Store

EVERYTHING = Scope.everything()


class Shapes:
    """The outlines of one level in an STRtree; a point on a shared border goes to the lowest
    code, so the answer does not depend on the order the shapes were read in."""

    def __init__(self, codes: list[str], geometries: list[BaseGeometry]) -> None:
        self.codes = codes
        self.tree = STRtree(geometries) if geometries else None

    def find(self, point: ShapelyPoint) -> str | None:
        if self.tree is None:
            return None
        hits = sorted(self.codes[int(index)] for index in self.tree.query(point, predicate="intersects"))
        return hits[0] if hits else None

    def __len__(self) -> int:
        return len(self.codes)


class PlaceLocator:
    """Point-in-polygon over the store's estate and community outlines, read on first use."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._shapes: dict[Level, Shapes] = {}
        self._lock = asyncio.Lock()

    async def shapes(self, level: Level) -> Shapes:
        """The outlines of `level` in every city of the store (read once, then cached)."""
        cached = self._shapes.get(level)
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._shapes.get(level)
            if cached is None:
                codes: list[str] = []
                geometries: list[BaseGeometry] = []
                cities = await self.store.subtree(Level.CITY, None, EVERYTHING, MAX_PAGE)
                for city in cities.items:
                    for place in await self.store.shapes(level, city.code, EVERYTHING):
                        if place.geometry:
                            codes.append(place.code)
                            geometries.append(to_shape(place.geometry))
                cached = self._shapes[level] = Shapes(codes, geometries)
        return cached

    async def at(self, point: Point, level: Level) -> str | None:
        """The place of `level` whose outline holds the point, if any."""
        return (await self.shapes(level)).find(ShapelyPoint(point.lon, point.lat))

    async def estate_at(self, point: Point) -> str | None:
        """The estate whose outline holds the point."""
        return await self.at(point, Level.ESTATE)

    async def place_at(self, point: Point) -> str | None:
        """The estate holding the point, else the community (a point on the road between
        estates still belongs to a community)."""
        return await self.estate_at(point) or await self.at(point, Level.COMMUNITY)
