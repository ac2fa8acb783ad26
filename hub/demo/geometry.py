"""Synthetic shapes that nest inside Qingdao's real district outlines.

Streets partition their district and communities partition their street as Voronoi cells of
random points, Lloyd-relaxed so cells come out of similar size, clipped to the parent. Estates
are rotated rectangles, each inside its own plot of the community (plots are sliced in
proportion to the land each estate needs) so that no two overlap; buildings are rectangles laid
out in rows inside their estate's rectangle. Everything is built
with a margin inside its parent, so that rounding coordinates to 6 decimals (about 0.1 m), as the
GeoJSON we emit does, can never push a child outside its parent; `settle` checks that on the
rounded shape, the one consumers will see.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely import affinity
from shapely.geometry import MultiPoint, MultiPolygon, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from graph.model import GeoJSON

GRID = 1e-6
"""Coordinates are rounded to 6 decimals (about 0.1 m)."""
MARGIN = 2e-6
"""How far (degrees) a partition's cells stay inside their parent, so rounding stays inside."""
DECIMALS = 6

_METRES_PER_DEGREE_LAT = 110_574.0
_METRES_PER_DEGREE_LON_EQUATOR = 111_320.0

Point = tuple[float, float]


def polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Only the areas of a geometry: overlays can leave stray lines and points behind."""
    if geometry.is_empty:
        return Polygon()
    if isinstance(geometry, (Polygon, MultiPolygon)):
        return geometry
    parts: list[Polygon] = []
    for part in getattr(geometry, "geoms", ()):
        if isinstance(part, Polygon) and not part.is_empty:
            parts.append(part)
        elif isinstance(part, MultiPolygon):
            parts.extend(item for item in part.geoms if not item.is_empty)
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _ring(coords: Any) -> list[list[float]]:
    return [[round(x, DECIMALS), round(y, DECIMALS)] for x, y, *_ in coords]


def _polygon_rings(polygon: Polygon) -> list[list[list[float]]]:
    return [_ring(polygon.exterior.coords), *(_ring(hole.coords) for hole in polygon.interiors)]


def to_geojson(geometry: BaseGeometry) -> GeoJSON | None:
    """RFC 7946 Polygon or MultiPolygon with rounded [lon, lat] and counter-clockwise shells."""
    area = polygonal(geometry)
    if area.is_empty:
        return None
    area = shapely.orient_polygons(area)
    if isinstance(area, Polygon):
        return {"type": "Polygon", "coordinates": _polygon_rings(area)}
    return {
        "type": "MultiPolygon",
        "coordinates": [_polygon_rings(part) for part in area.geoms],
    }


@dataclass(frozen=True, slots=True)
class Shape:
    """A rounded shape: the GeoJSON we emit and the shapely geometry read back from it."""

    geojson: GeoJSON
    geometry: BaseGeometry


def settle(piece: BaseGeometry, parent: BaseGeometry | None) -> Shape | None:
    """Round `piece` onto the 1e-6 grid so that it is valid and still inside `parent`.

    Snapping to the grid can move a vertex by up to 0.7e-6 degrees; pieces that were built right
    against the parent's edge are shrunk by a few grid cells until the rounded shape fits.
    """
    for shrink in (0.0, 2 * GRID, 5 * GRID, 20 * GRID):
        candidate = piece
        if shrink and parent is not None:
            candidate = piece.intersection(parent.buffer(-shrink, join_style="mitre"))
        snapped = polygonal(shapely.set_precision(polygonal(candidate), GRID))
        if snapped.is_empty:
            continue
        geojson = to_geojson(snapped)
        if geojson is None:
            continue
        exact = shape(geojson)
        if exact.is_valid and not exact.is_empty and (parent is None or parent.covers(exact)):
            return Shape(geojson, exact)
    return None


def sample_points(region: BaseGeometry, count: int, rng: random.Random) -> list[Point]:
    """`count` points drawn uniformly inside `region` (rejection sampling in its bounds)."""
    shapely.prepare(region)
    minx, miny, maxx, maxy = region.bounds
    points: list[Point] = []
    attempts = 0
    while len(points) < count and attempts < 2000 * (count + 10):
        attempts += 1
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(region, x, y):
            points.append((x, y))
    while len(points) < count:  # a sliver too thin to hit: fall back to points on its surface
        inner = region.point_on_surface()
        points.append((inner.x + rng.uniform(-GRID, GRID), inner.y))
    return points


def _cells(points: Sequence[Point], region: BaseGeometry) -> list[BaseGeometry] | None:
    diagram = shapely.voronoi_polygons(MultiPoint(list(points)), extend_to=region, ordered=True)
    cells = list(diagram.geoms)
    if len(cells) != len(points):  # coincident points: the diagram lost a cell
        return None
    return [polygonal(piece) for piece in shapely.intersection(cells, region)]


def partition(
    region: BaseGeometry, count: int, rng: random.Random, rounds: int = 2
) -> list[BaseGeometry]:
    """`count` pieces that tile `region`: Voronoi cells of random points, Lloyd-relaxed.

    Relaxation moves each point to the centroid of its piece (or onto the piece when the centroid
    falls outside, as it can for a piece with an island), which evens out the sizes.
    """
    if count <= 1:
        return [region]
    shapely.prepare(region)
    points = sample_points(region, count, rng)
    pieces = _cells(points, region)
    for _ in range(rounds):
        if pieces is None:
            break
        moved: list[Point] = []
        for piece, point in zip(pieces, points):
            if piece.is_empty:
                moved.append(point)
                continue
            centre = piece.centroid
            if not shapely.contains_xy(region, centre.x, centre.y):
                centre = piece.point_on_surface()
            moved.append((centre.x, centre.y))
        relaxed = _cells(moved, region)
        if relaxed is None:
            break
        points, pieces = moved, relaxed
    if pieces is None:  # only if the very first points coincide; perturb and retry once
        return partition(region, count, random.Random(rng.getrandbits(64)), rounds)
    return pieces


def slice_by_weights(region: BaseGeometry, weights: Sequence[float]) -> list[BaseGeometry]:
    """Pieces of `region` with areas in proportion to `weights`, in order (a slice-and-dice
    treemap): the weights are split into two runs of about equal total, the region is cut
    straight across its long side where the areas match, and each side is cut again.

    Estates need land in proportion to their size, which equal Voronoi cells cannot give; the
    straight cuts also leave near-rectangular plots that a rectangular estate fills well.
    """
    if len(weights) <= 1:
        return [region]
    total = sum(weights)
    running, split, best = 0.0, 1, math.inf
    for index, weight in enumerate(weights[:-1], 1):
        running += weight
        if abs(running - total / 2) < best:
            split, best = index, abs(running - total / 2)
    fraction = sum(weights[:split]) / total
    first, second = _cut(region, fraction)
    return [*slice_by_weights(first, weights[:split]), *slice_by_weights(second, weights[split:])]


def _cut(region: BaseGeometry, fraction: float) -> tuple[BaseGeometry, BaseGeometry]:
    """`region` cut across its long side into two parts, the first `fraction` of its area."""
    envelope = shapely.oriented_envelope(region)
    angle = 0.0
    if isinstance(envelope, Polygon):
        (x0, y0), (x1, y1), (x2, y2) = list(envelope.exterior.coords)[:3]
        if math.hypot(x1 - x0, y1 - y0) >= math.hypot(x2 - x1, y2 - y1):
            angle = math.atan2(y1 - y0, x1 - x0)
        else:
            angle = math.atan2(y2 - y1, x2 - x1)
    centre = region.centroid
    turned = affinity.rotate(region, -angle, origin=centre, use_radians=True)
    minx, miny, maxx, maxy = turned.bounds
    target = turned.area * fraction
    low, high = minx, maxx
    for _ in range(16):
        middle = (low + high) / 2
        if polygonal(turned.intersection(box(minx - 1, miny - 1, middle, maxy + 1))).area < target:
            low = middle
        else:
            high = middle
    cut = (low + high) / 2
    left = polygonal(turned.intersection(box(minx - 1, miny - 1, cut, maxy + 1)))
    right = polygonal(turned.difference(box(minx - 1, miny - 1, cut, maxy + 1)))
    return (
        affinity.rotate(left, angle, origin=centre, use_radians=True),
        affinity.rotate(right, angle, origin=centre, use_radians=True),
    )


def inset(region: BaseGeometry, degrees: float) -> BaseGeometry:
    """The region shrunk by `degrees` on every side (mitred, so corners stay corners)."""
    return polygonal(region.buffer(-degrees, join_style="mitre"))


def largest_part(region: BaseGeometry) -> BaseGeometry:
    if isinstance(region, MultiPolygon):
        return max(region.geoms, key=lambda part: part.area)
    return region


def metres_to_degrees(latitude: float) -> tuple[float, float]:
    """Degrees per metre east and north at a latitude (equirectangular, fine at estate scale)."""
    kx = 1.0 / (_METRES_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(latitude)))
    return kx, 1.0 / _METRES_PER_DEGREE_LAT


@dataclass(frozen=True, slots=True)
class Rectangle:
    """A rectangle of `width` x `height` metres centred at (lon, lat), turned by `angle` radians.

    Built in metres and mapped to degrees, so it is a true rectangle on the ground.
    """

    lon: float
    lat: float
    angle: float
    width: float
    height: float

    @property
    def area(self) -> float:
        return self.width * self.height

    def point(self, u: float, v: float) -> Point:
        """The lon/lat of local point (u along the width, v along the height) in metres."""
        kx, ky = metres_to_degrees(self.lat)
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        return self.lon + (u * cos - v * sin) * kx, self.lat + (u * sin + v * cos) * ky

    def box(self, u0: float, v0: float, u1: float, v1: float) -> GeoJSON:
        """A rounded GeoJSON Polygon of the local box [u0, u1] x [v0, v1], counter-clockwise."""
        corners = [self.point(u0, v0), self.point(u1, v0), self.point(u1, v1), self.point(u0, v1)]
        ring = [[round(x, DECIMALS), round(y, DECIMALS)] for x, y in corners]
        return {"type": "Polygon", "coordinates": [[*ring, list(ring[0])]]}

    def geojson(self) -> GeoJSON:
        half_w, half_h = self.width / 2, self.height / 2
        return self.box(-half_w, -half_h, half_w, half_h)


def _long_side(region: BaseGeometry, lat: float) -> tuple[float, float]:
    """The angle of the region's longest side on the ground, and how elongated it is."""
    envelope = shapely.oriented_envelope(region)
    if not isinstance(envelope, Polygon):
        return 0.0, 1.0
    kx, ky = metres_to_degrees(lat)
    coords = list(envelope.exterior.coords)
    sides = []
    for (x0, y0), (x1, y1) in zip(coords, coords[1:]):
        dx, dy = (x1 - x0) / kx, (y1 - y0) / ky
        sides.append((math.hypot(dx, dy), math.atan2(dy, dx)))
    longest, angle = max(sides)
    shortest = min(length for length, _ in sides)
    return angle, longest / shortest if shortest > 0 else 1.0


def _upright(angle: float) -> float:
    """The same orientation within ±45° of east-west (buildings in Qingdao mostly face south)."""
    while angle > math.pi / 4:
        angle -= math.pi / 2
    while angle < -math.pi / 4:
        angle += math.pi / 2
    return angle


def fit_rectangle(
    container: BaseGeometry, area: float, aspect: float, rng: random.Random
) -> Rectangle | None:
    """The largest rectangle of up to `area` m² inside `container`, shaped like the container.

    Candidates follow the container's long side, with its elongation (capped) or the wanted
    `aspect`, centred on the maximum inscribed circle (which guarantees a fit at some size) or
    on the centroid. For each, a bisection on the scale finds the largest that fits (shrinking
    about a fixed centre only ever keeps a rectangle inside); the biggest candidate wins.
    """
    part = largest_part(polygonal(container))
    if part.is_empty or part.area <= 0:
        return None
    radius_line = shapely.maximum_inscribed_circle(part)
    centre_x, centre_y = radius_line.coords[0]
    radius = radius_line.length
    if radius <= 0:
        return None
    kx, ky = metres_to_degrees(centre_y)
    long_angle, elongation = _long_side(part, centre_y)
    long_angle += rng.uniform(-0.04, 0.04)
    shapely.prepare(part)
    centres = [(centre_x, centre_y)]
    centroid = part.centroid
    if shapely.contains_xy(part, centroid.x, centroid.y):
        centres.append((centroid.x, centroid.y))
    best: Rectangle | None = None
    for ratio in dict.fromkeys((min(max(elongation, 1.0), 4.0), aspect)):
        length, width = math.sqrt(area * ratio), math.sqrt(area / ratio)
        angle = long_angle
        if _upright(long_angle) != long_angle:  # the long side runs north-south
            angle = _upright(long_angle)
            length, width = width, length
        for x, y in centres:
            clearance = radius / max(kx, ky) if (x, y) == centres[0] else 0.0
            found = _largest_fit(part, x, y, angle, length, width, clearance)
            if found is not None and (best is None or found.area > best.area):
                best = found
            if best is not None and best.width * best.height >= area * 0.999:
                return best
    return best


def _largest_fit(
    part: BaseGeometry,
    x: float,
    y: float,
    angle: float,
    width: float,
    height: float,
    clearance: float,
) -> Rectangle | None:
    """The rectangle centred at (x, y) scaled as large as fits in `part`, up to full size.

    `clearance` (metres) is a radius known to be free around the centre, or 0 if none is known.
    """

    def fits(scale: float) -> bool:
        candidate = Rectangle(x, y, angle, width * scale, height * scale)
        return bool(part.contains(shape(candidate.geojson())))

    if fits(1.0):
        return Rectangle(x, y, angle, width, height)
    # a half-diagonal within the free radius surely fits (rounding aside: check anyway)
    low, high = min(0.95 * clearance / math.hypot(width / 2, height / 2), 1.0), 1.0
    if low <= 0 or not fits(low):
        low = 0.05
        if not fits(low):
            return None
    for _ in range(9):
        middle = (low + high) / 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return Rectangle(x, y, angle, width * low, height * low)


def _scales(
    footprints: Sequence[tuple[float, float]], columns: int, inner_w: float, inner_h: float
) -> tuple[float, float, float, float, float, list[float]]:
    rows = math.ceil(len(footprints) / columns)
    slot_w, slot_h = inner_w / columns, inner_h / rows
    gap_w, gap_h = min(8.0, 0.2 * slot_w), min(10.0, 0.3 * slot_h)
    scales = [
        min(1.0, (slot_w - gap_w) / length, (slot_h - gap_h) / depth)
        for length, depth in footprints
    ]
    return slot_w, slot_h, gap_w, gap_h, min(scales), scales


def _best_grid(
    footprints: Sequence[tuple[float, float]], inner_w: float, inner_h: float
) -> tuple[float, int]:
    best_columns, best_score = 1, -1.0
    for columns in range(1, min(len(footprints), 60) + 1):
        *_, smallest, scales = _scales(footprints, columns, inner_w, inner_h)
        score = smallest + sum(scales) / len(scales)
        if score > best_score:
            best_columns, best_score = columns, score
    return best_score, best_columns


def layout_buildings(
    estate: Rectangle, footprints: Sequence[tuple[float, float]], rng: random.Random
) -> list[GeoJSON]:
    """One rectangle per footprint (length, depth in metres), in rows inside the estate.

    Each building gets its own slot of a grid inset from the estate's edge, and is scaled down
    if its slot is too small, so buildings never touch each other or the estate's boundary. The
    grid is the one (of every column count, with rows along either side of the estate) that
    has to shrink its buildings the least.
    """
    count = len(footprints)
    if count == 0:
        return []
    width, height = estate.width, estate.height
    edge = min(4.0, 0.06 * min(width, height))
    inner_w, inner_h = width - 2 * edge, height - 2 * edge
    along, columns = _best_grid(footprints, inner_w, inner_h)
    across, columns_across = _best_grid(footprints, inner_h, inner_w)
    turned = across > along + 0.05  # rows run north-south only when clearly better
    if turned:
        inner_w, inner_h, columns = inner_h, inner_w, columns_across
    slot_w, slot_h, gap_w, gap_h, _, scales = _scales(footprints, columns, inner_w, inner_h)
    shapes: list[GeoJSON] = []
    for index, ((length, depth), scale) in enumerate(zip(footprints, scales)):
        row, column = divmod(index, columns)
        size_u, size_v = length * scale, depth * scale
        slack_u = slot_w - gap_w - size_u
        slack_v = slot_h - gap_h - size_v
        u0 = -inner_w / 2 + column * slot_w + gap_w / 2 + rng.uniform(0, slack_u)
        v0 = -inner_h / 2 + row * slot_h + gap_h / 2 + rng.uniform(0, slack_v)
        if turned:
            shapes.append(estate.box(-(v0 + size_v), u0, -v0, u0 + size_u))
        else:
            shapes.append(estate.box(u0, v0, u0 + size_u, v0 + size_v))
    return shapes
