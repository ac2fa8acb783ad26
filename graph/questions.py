"""Graph questions, answered over the store port and scoped like every read.

- `impact(code)`: from a place (any level), a device (the place it is installed at) or an
  outage notice (the places it affects) to the houses, their owners today and the open cases it
  touches (`Store.reach`).
- `path(from, to)`: the way through the place tree between two places, up from `from` to the
  lowest place above both and down to `to` (`Store.ancestors`).
- `footprint(firm)`: where a property firm works, per district: its estates, their houses,
  floor area, owners and open cases (`Store.estates_of`, `Store.place_stats`, `Store.reach`).

Each question sees only what the caller's scope holds: a place, device, notice or firm outside it
is absent (None), exactly as one that does not exist, and a path leaves out the places of the tree
the caller may not read.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from graph.codes import place_code
from graph.cursors import decode_cursor
from graph.devices import device_code
from graph.errors import CodeError, InvalidInput
from graph.levels import Level
from graph.model import Place, Reached
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from graph.utilities import Outage, Utility

CODE_FORMS = (
    "must be a place code (any level), a device code, or an outage notice as utility:notice "
    "(water:SW-TZ-1; utilities: " + ", ".join(item.value for item in Utility) + ")"
)


class Struck(enum.Enum):
    """What an impact starts from."""

    PLACE = "place"
    DEVICE = "device"
    OUTAGE = "outage"


@dataclass(frozen=True, slots=True)
class Impact:
    """What a place, a device or an outage touches, in the caller's scope."""

    kind: Struck
    code: str
    """The code asked about, as the hub spells it (a place code upper-cased)."""
    reached: Reached


def outage_key(text: str, *, field: str = "code") -> tuple[Utility, str] | None:
    """(utility, notice id) of an outage named `utility:notice`; None when `text` has no colon.

    >>> outage_key("water:SW-TZ-1")
    (<Utility.WATER: 'water'>, 'SW-TZ-1')
    >>> outage_key("370202")
    """
    if ":" not in text:
        return None
    name, _, notice = text.partition(":")
    try:
        utility = Utility(name.strip().lower())
    except ValueError:
        raise InvalidInput(field, text, CODE_FORMS) from None
    notice = notice.strip()
    if not notice or len(notice) > 64:
        raise InvalidInput(field, text, "names an outage notice of 1 to 64 characters after the colon")
    return utility, notice


async def find_outage(store: Store, utility: Utility, notice: str, scope: Scope) -> Outage | None:
    """The notice of `utility` numbered `notice`, as the caller sees it (its affected places in
    scope); None when it is absent or touches nothing in scope. Notices are few (tens per
    street), so this pages through the utility's notices in scope."""
    after: str | None = None
    while True:
        page = await store.outages(scope, MAX_PAGE, after, utility=utility)
        for outage in page.items:
            if outage.notice_id == notice:
                return outage
        if not page.has_next:
            return None
        after = page.end_cursor


async def impact(
    store: Store, code: str, scope: Scope, first: int, after: str | None = None, *, as_of: dt.date
) -> Impact | None:
    """What `code` touches: a place code (any level) reaches its own subtree, a device code the
    place it is installed at, `utility:notice` an outage's affected places. None when the caller
    sees no such thing (absent and out of scope alike). InvalidInput for text of no such form or
    a cursor the hub did not make."""
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput("code", code, CODE_FORMS)
    text = code.strip()
    decode_cursor(after)
    outage = outage_key(text)
    if outage is not None:
        found = await find_outage(store, *outage, scope)
        if found is None:
            return None
        reached = await store.reach(found.place_codes, scope, first, after, as_of=as_of)
        return Impact(Struck.OUTAGE, f"{found.utility.value}:{found.notice_id}", reached)
    as_place: str | None
    try:
        as_place, _ = place_code(text)
    except CodeError:
        as_place = None
    if as_place is not None:
        [place] = await store.places([as_place], scope)
        if place is not None:
            return Impact(Struck.PLACE, place.code, await store.reach([place.code], scope, first, after, as_of=as_of))
    try:
        as_device = device_code(text)
    except InvalidInput:
        if as_place is None:
            raise InvalidInput("code", code, CODE_FORMS) from None
        return None
    [device] = await store.devices([as_device], scope)
    if device is None:
        return None
    return Impact(Struck.DEVICE, device.code, await store.reach([device.place_code], scope, first, after, as_of=as_of))


@dataclass(frozen=True, slots=True)
class PlacePath:
    """The way between two places through the tree, in the caller's scope."""

    source: Place
    target: Place
    common: Place | None
    """The lowest place above (or at) both; None when the caller may not read it."""
    places: tuple[Place, ...]
    """From `source` up to `common`, then down to `target`, each once; places the caller may
    not read are left out (with `common` None, the climb stops at the highest place it may read
    above `source` and resumes at the highest above `target`)."""

    @property
    def up(self) -> int | None:
        """Steps up from `source` to `common` (None without a common place)."""
        return None if self.common is None else self.source.level - self.common.level

    @property
    def down(self) -> int | None:
        """Steps down from `common` to `target` (None without a common place)."""
        return None if self.common is None else self.target.level - self.common.level


async def path(store: Store, source: str, target: str, scope: Scope) -> PlacePath | None:
    """The path between two place codes (checked: CodeError names `from` or `to`); None when
    the caller sees either end nowhere."""
    start, _ = place_code(source, field="from")
    end, _ = place_code(target, field="to")
    first, last = await store.places([start, end], scope)
    if first is None or last is None:
        return None
    above_first, above_last = await store.ancestors([start, end], scope)
    climb = [*above_first, first]  # top down
    descent = [*above_last, last]
    ours = {place.code: index for index, place in enumerate(descent)}
    common_at = max((index for index, place in enumerate(climb) if place.code in ours), default=None)
    if common_at is None:
        return PlacePath(first, last, None, (*reversed(climb), *descent))
    common = climb[common_at]
    places = (*reversed(climb[common_at:]), *descent[ours[common.code] + 1 :])
    return PlacePath(first, last, common, places)


@dataclass(frozen=True, slots=True)
class DistrictFootprint:
    """A firm's work in one district, on a day, in the caller's scope."""

    key: str
    """The district's code as its estates' codes carry it (their first six characters)."""
    district: Place | None
    """The district, when the caller may read it."""
    estates: tuple[str, ...]
    """The estates it manages there on the day, by code."""
    houses: int
    floor_area_centi_m2: int
    """Hundredths of a m², the estates' roll-ups summed (exact)."""
    owners: int
    """Owners (each once) holding a house of those estates on the day."""
    open_cases: int
    """Open cases at or under those estates."""


async def footprint(store: Store, firm: str, scope: Scope, *, as_of: dt.date) -> list[DistrictFootprint] | None:
    """Where the firm with credit code `firm` manages estates on `as_of`, per district (by
    code); None when the caller sees no such firm. Only estates in scope count."""
    [found] = await store.firms([firm], scope)
    if found is None:
        return None
    [managed] = await store.estates_of([firm], as_of, scope)
    estates = sorted({item.estate_code for item in managed})
    if not estates:
        return []
    lineages = await store.ancestors(estates, scope)
    stats = await store.place_stats(estates, scope)
    groups: dict[str, list[int]] = {}
    for index, estate in enumerate(estates):
        groups.setdefault(estate[:6], []).append(index)
    rows: list[DistrictFootprint] = []
    for key in sorted(groups):
        members = groups[key]
        codes = [estates[index] for index in members]
        district = next(
            (place for index in members for place in lineages[index] if place.level == Level.DISTRICT), None
        )
        reached = await store.reach(codes, scope, 1, as_of=as_of)
        area = sum(row.floor_area_centi_m2 for index in members if (row := stats[index]) is not None)
        rows.append(
            DistrictFootprint(
                key=key,
                district=district,
                estates=tuple(codes),
                houses=reached.house_count,
                floor_area_centi_m2=area,
                owners=reached.owner_count,
                open_cases=reached.open_case_count,
            )
        )
    return rows
