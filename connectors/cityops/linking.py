"""Linking a work order (or an Open311 request) to a place of the tree: by code, by address, by
point — in that order, the first that is certain wins.

1. A code the record carries (a 28-char 不动产单元号 or any place code) that the store knows.
2. The address, through `connectors.matching.Matcher` (one per sync, so each estate list is
   read once): the house when certain, else the deepest place reached with confidence if it is
   an estate or below (a 12345 complaint about an estate's courtyard names no room).
3. The point (WGS-84), inside an estate's outline, else inside a community's (a broken street
   lamp on the road between estates belongs to the community): `graph.geo.PlaceLocator`,
   whose shapely STRtrees are built once per linker.

Nothing certain → `Unlinked` with the candidates the address matcher found, for the dead letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from connectors.matching import CONFIDENT, Matcher
from graph.cases import Point
from graph.geo import PlaceLocator
from graph.levels import Level
from graph.scope import Scope
from graph.store import Store

EVERYTHING = Scope.everything()


def source_case_id(connector: str, external_id: str) -> str:
    """The hub's id of a case read from a source: `connector:external id`, or the connector
    and a SHA-256 prefix of the external id when that would be longer than a case id may be
    (59 characters, what a page cursor holds). The same record always lands on the same id.

    >>> source_case_id("cityops", "QD1234520260302000042")
    'cityops:QD1234520260302000042'
    >>> len(source_case_id("open311", "x" * 80))
    40
    """
    plain = f"{connector}:{external_id}"
    if len(plain) <= 59 and plain.isprintable() and " " not in plain:
        return plain
    digest = hashlib.sha256(external_id.encode()).hexdigest()[:24]
    return f"{connector[:14]}:#{digest}"


@dataclass(frozen=True, slots=True)
class Linked:
    place_code: str
    how: str
    """code, address or point: how the place was found."""


@dataclass(frozen=True, slots=True)
class Unlinked:
    detail: str
    candidates: tuple[str, ...] = ()
    code_only: bool = False
    """Only a code was given, and the store does not know it."""


class PlaceLinker:
    """Links records to places for one sync (or one server): it caches what it reads."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.matcher = Matcher(store)
        self.locator = PlaceLocator(store)

    async def known(self, codes: Sequence[str]) -> set[str]:
        """Which of these codes the store holds."""
        wanted = sorted(set(codes))
        found = await self.store.places(wanted, EVERYTHING) if wanted else []
        return {place.code for place in found if place is not None}

    async def by_point(self, point: Point) -> str | None:
        """The estate (else the community) whose outline holds the point."""
        return await self.locator.place_at(point)

    async def by_address(self, text: str) -> Linked | Unlinked:
        match = await self.matcher.match(text)
        if match.matched and match.house_code:
            return Linked(match.house_code, "address")
        if (
            match.place_code is not None
            and match.level is not None
            and match.level >= Level.ESTATE
            and match.confidence >= CONFIDENT
        ):
            return Linked(match.place_code, "address")
        why = f": {match.why}" if match.why else ""
        return Unlinked(f"address {text!r} matched no estate or house with confidence{why}", match.candidates)

    async def link(
        self, *, codes: Sequence[str], known: set[str], address: str | None, point: Point | None
    ) -> Linked | Unlinked:
        """The place for a record carrying these codes (checked already), address and point;
        `known` is what `known()` said of the batch's codes."""
        for code in codes:
            if code in known:
                return Linked(code, "code")
        reasons: list[str] = []
        candidates: tuple[str, ...] = ()
        if codes:
            reasons.append(f"code {', '.join(codes)} is not in the hub")
        if address and address.strip():
            found = await self.by_address(address)
            if isinstance(found, Linked):
                return found
            reasons.append(found.detail)
            candidates = found.candidates
        if point is not None:
            estate = await self.by_point(point)
            if estate is not None:
                return Linked(estate, "point")
            reasons.append(f"point {point.lon:.6f},{point.lat:.6f} (WGS-84) lies in no estate or community")
        if not reasons:
            reasons.append("it carries no place code, address or point")
        only_code = bool(codes) and not (address and address.strip()) and point is None
        return Unlinked("; ".join(reasons), candidates, only_code)
