"""What the security suite knows about the city without asking the hub, and how it judges answers.

`World` is built from the very records written into the store (the `small` demo plus the second
district), so what each role may see is computed here from parent links, ownerships and
managements: the suite never asks the hub's own scope code what the hub should have answered.

`leaks(role, data)` walks a GraphQL `data` tree and lists every place, owner or firm in it that
the role may not see, however it is spelled (a code, a parcel code, a Relay id, a page cursor,
an owner id, a credit code, an ID number), and every person shown whole or masked wrongly. Cases,
utility accounts and outage notices are judged by the places they belong to: a case id (alone or
in a page cursor), an account number (户号) or a notice number (alone or in an outage cursor) is a
leak when the role may not see the case's place, the account's house or any place of the notice.
Devices and alarms (a device code, an alarm id, or a cursor made of either) are judged by the
place the device is installed at. Owners' votes (a vote id, alone or in a page cursor) are judged
by who may read them (`Role.may_read_vote`: the administrations and committee above the vote's
place, the owners of its area, never a property firm), worked out here from the votes' places,
record dates and the ownerships, not from the hub's access rules. Repair projects (a project id)
are judged by who may read the books of the part they repair (`Role.may_read_books`: the
administrations, committee and managing firm whose scope holds the part, the owners holding a
house of its estate). Staff of firms (a staff id, an ID number) are judged by the estates they
work in (`Role.may_see_staff`); the staff role sees no place, owner or firm at all, only the
cases assigned to it (`Role.cases`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from graph.levels import Level
from graph.model import Batch, Management, Owner, Ownership, Place, PropertyFirm
from graph.staff.records import StaffMember
from graph.utilities import Bill, Utility

RELAY_PLACE_TYPES = {
    Level.CITY: "City",
    Level.DISTRICT: "District",
    Level.STREET: "Street",
    Level.COMMUNITY: "Community",
    Level.ESTATE: "Estate",
    Level.BUILDING: "Building",
    Level.ENTRANCE: "Entrance",
    Level.HOUSE: "House",
}
RELAY_TYPES = frozenset(RELAY_PLACE_TYPES.values()) | {"Owner", "PropertyFirm"}
UTILITIES = frozenset(item.value for item in Utility)
"""The prefixes of an outage notice named as `utility:notice` (as `impact(code:)` spells it)."""


def relay_id(type_name: str, key: str) -> str:
    """A Relay global id as the hub spells it (base64 of `Type:key`), made here by hand."""
    return base64.b64encode(f"{type_name}:{key}".encode()).decode("ascii")


def place_id(place: Place) -> str:
    return relay_id(RELAY_PLACE_TYPES[place.level], place.code)


def cursor_of(code: str) -> str:
    """A page cursor as the hub spells it (urlsafe base64 of `code:<code>`, no padding)."""
    return base64.urlsafe_b64encode(f"code:{code}".encode()).decode().rstrip("=")


def _unbase64(text: str, *, urlsafe: bool) -> str | None:
    if len(text) > 300 or not text.isascii():
        return None
    try:
        padded = text + "=" * (-len(text) % 4)
        raw = base64.urlsafe_b64decode(padded) if urlsafe else base64.b64decode(padded, validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None


# -- masks, written out here rather than imported from graph.masking -------------------------


def masked_name(name: str) -> str:
    """张三 → 张*: the first character and one star, whatever the length."""
    return name[:1] + "*"


def masked_id_number(number: str) -> str:
    """370202199001011234 → 370202********1234."""
    assert len(number) == 18, number
    return number[:6] + "********" + number[-4:]


def masked_phone(phone: str) -> str:
    """13812345678 → 138****5678."""
    return phone[:3] + "****" + phone[-4:]


# -- the world ---------------------------------------------------------------------------


@dataclass
class WorldVote:
    """A vote the suite organised, as the suite knows it."""

    id: str
    place: str
    estate: str
    record_date: dt.date
    status: str
    """noticed, open or closed (VoteStatus values) when the world was built."""
    organiser: tuple[str, str]
    """The organising token's role and scope."""
    ballots: dict[str, tuple[str, dict[int, Any]]] = field(default_factory=dict)
    """House → (the owner who cast it, the choices cast), the last ballot for each house."""
    delegates: dict[str, str] = field(default_factory=dict)
    """House → the delegate registered for it (tests add theirs as they register them)."""


@dataclass
class WorldProject:
    """A repair project the suite raised through the fund service."""

    id: str
    estate: str
    part: str
    status: str
    """approved, completed or cancelled (ProjectStatus values)."""
    cost_fen: int | None = None
    authority: str | None = None
    """The vote authorising it, for a repair a vote authorised."""


@dataclass
class WorldRevenue:
    """An entry of an estate's public-revenue journal, as the suite entered or decided it."""

    index: int
    kind: str
    """RevenueKind values."""
    by: str
    amount_fen: int | None
    status: str | None
    """unconfirmed, confirmed, objected or reversed for the firm's entries; None for the committee's."""


@dataclass
class WorldCommittee:
    id: str
    estate: str
    members: tuple[str, ...]
    term_start: dt.date
    term_end: dt.date

    def in_office(self, day: dt.date) -> bool:
        return self.term_start <= day <= self.term_end


@dataclass
class World:
    """Every record written into the store, and the relations the suite derives from them."""

    places: dict[str, Place] = field(default_factory=dict)
    owners: dict[str, Owner] = field(default_factory=dict)
    ownerships: list[Ownership] = field(default_factory=list)
    firms: dict[str, PropertyFirm] = field(default_factory=dict)
    managements: list[Management] = field(default_factory=list)
    today: dt.date = field(default_factory=dt.date.today)
    children: dict[str, list[str]] = field(default_factory=dict)
    parcels: dict[str, str] = field(default_factory=dict)
    """Parcel code (宗地代码) → the estate standing on it."""
    id_numbers: dict[str, str] = field(default_factory=dict)
    """ID number → owner id."""
    by_house: dict[str, list[Ownership]] = field(default_factory=dict)
    by_owner: dict[str, list[Ownership]] = field(default_factory=dict)
    cases: dict[str, str | None] = field(default_factory=dict)
    """Case id → the place it is linked to (None: linked to no place)."""
    case_firms: dict[str, str | None] = field(default_factory=dict)
    """Case id → the firm it is dispatched to."""
    accounts: dict[str, str] = field(default_factory=dict)
    """Utility account number (户号) → its house."""
    bills: list[Bill] = field(default_factory=list)
    notices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Outage notice number → the places it affects."""
    devices: dict[str, str] = field(default_factory=dict)
    """Device code → the place it is installed at."""
    alarms: dict[str, str] = field(default_factory=dict)
    """Alarm id → the place of its device."""
    votes: dict[str, WorldVote] = field(default_factory=dict)
    """Vote id → what the suite organised (tests/security/conftest.py, `votes_and_committees`)."""
    committees: dict[str, list[WorldCommittee]] = field(default_factory=dict)
    """Estate → the owners' committees recorded for it."""
    meeting_steps: dict[str, list[str]] = field(default_factory=dict)
    """Estate → the kinds of first-meeting steps recorded for it (MeetingStepKind values)."""
    deposits: dict[str, int] = field(default_factory=dict)
    """House → its first deposit into the maintenance fund (fen), as the suite booked it."""
    balances: dict[str, int] = field(default_factory=dict)
    """House → its maintenance-fund balance (fen) after everything the suite booked and debited."""
    projects: dict[str, WorldProject] = field(default_factory=dict)
    """Repair project id → the project (tests/security/conftest.py, `funds_and_revenue`)."""
    revenue: dict[str, list[WorldRevenue]] = field(default_factory=dict)
    """Estate → its public-revenue journal, oldest first."""
    staff: dict[str, StaffMember] = field(default_factory=dict)
    """Staff id → the member of a firm's staff (tests/security/conftest.py, `security_staff`)."""
    staff_numbers: dict[str, str] = field(default_factory=dict)
    """A member of staff's ID number → its staff id."""
    case_assignees: dict[str, str] = field(default_factory=dict)
    """Case id → the member of staff it is assigned to."""
    _subtrees: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def add(self, batch: Batch) -> None:
        for place in batch.places:
            self.places[place.code] = place
            if place.parent_code is not None:
                self.children.setdefault(place.parent_code, []).append(place.code)
            for parcel in place.parcel_codes:
                self.parcels[parcel] = place.code
        for owner in batch.owners:
            self.owners[owner.id] = owner
            self.id_numbers[owner.id_number] = owner.id
        self.ownerships.extend(batch.ownerships)
        for ownership in batch.ownerships:
            self.by_house.setdefault(ownership.house_code, []).append(ownership)
            self.by_owner.setdefault(ownership.owner_id, []).append(ownership)
        self._subtrees.clear()
        for firm in batch.firms:
            self.firms[firm.code] = firm
        self.managements.extend(batch.managements)
        for case in batch.cases:
            self.cases[case.id] = case.place_code
            self.case_firms[case.id] = case.firm_code
            if case.assignee is not None:
                self.case_assignees[case.id] = case.assignee
        for account in batch.accounts:
            self.accounts[account.account_no] = account.house_code
        self.bills.extend(batch.bills)
        for outage in batch.outages:
            self.notices[outage.notice_id] = outage.place_codes

    # places

    def subtree(self, code: str) -> frozenset[str]:
        """The place and everything under it, by following parent links down."""
        cached = self._subtrees.get(code)
        if cached is None:
            found, stack = set(), [code]
            while stack:
                current = stack.pop()
                found.add(current)
                stack.extend(self.children.get(current, []))
            cached = self._subtrees[code] = frozenset(found)
        return cached

    def lineage(self, code: str) -> list[str]:
        """The places above `code`, from the city down (itself excluded)."""
        line: list[str] = []
        parent = self.places[code].parent_code
        while parent is not None:
            line.append(parent)
            parent = self.places[parent].parent_code
        return line[::-1]

    def at(self, level: Level, codes: Iterable[str] | None = None) -> list[str]:
        pool = self.places if codes is None else codes
        return sorted(code for code in pool if self.places[code].level == level)

    def houses_under(self, code: str) -> set[str]:
        return {item for item in self.subtree(code) if self.places[item].level == Level.HOUSE}

    def houses_in_arrears(self, day: dt.date | None = None) -> set[str]:
        """Houses with a bill overdue and not paid in full on `day` (today if omitted)."""
        day = day or self.today
        return {self.accounts[bill.account_no] for bill in self.bills if bill.owed_on(day) > 0}

    # owners and firms

    def holdings(self, owner_id: str, day: dt.date | None = None) -> set[str]:
        """Houses the owner holds on `day` (today if omitted)."""
        day = day or self.today
        return {item.house_code for item in self.by_owner.get(owner_id, []) if item.holds_on(day)}

    def holders(self, house: str, day: dt.date | None = None) -> list[Ownership]:
        day = day or self.today
        return [item for item in self.by_house.get(house, []) if item.holds_on(day)]

    def managed(self, firm: str, day: dt.date | None = None) -> set[str]:
        day = day or self.today
        return {
            item.estate_code
            for item in self.managements
            if item.firm_code == firm and item.since <= day and (item.until is None or day < item.until)
        }

    def managers(self, estate: str, day: dt.date | None = None) -> set[str]:
        day = day or self.today
        return {
            item.firm_code
            for item in self.managements
            if item.estate_code == estate and item.since <= day and (item.until is None or day < item.until)
        }

    # votes

    def vote_owners(self, vote_id: str) -> set[str]:
        """Owners who may read a vote: holding a house under its place today or on its record
        date, or a registered delegate for one of its houses."""
        vote = self.votes[vote_id]
        houses = self.houses_under(vote.place)
        owners = {item.owner_id for house in houses for item in self.holders(house)}
        owners |= {item.owner_id for house in houses for item in self.holders(house, vote.record_date)}
        return owners | set(vote.delegates.values())

    def electorate(self, vote_id: str) -> dict[str, set[str]]:
        """House → its holders on the record date, for every house of the vote's area held then
        and with an area (who votes)."""
        vote = self.votes[vote_id]
        found: dict[str, set[str]] = {}
        for house in self.houses_under(vote.place):
            holders = {item.owner_id for item in self.holders(house, vote.record_date)}
            if holders and self.places[house].area_centi_m2:
                found[house] = holders
        return found

    # the owners' money

    def estate_of(self, code: str) -> str:
        """The estate `code` is or lies under."""
        return next(item for item in [*self.lineage(code), code] if self.places[item].level == Level.ESTATE)

    def fund_estates(self) -> set[str]:
        """Estates with a maintenance-fund account."""
        return {self.estate_of(house) for house in self.balances}

    def owner_estates(self, owner_id: str) -> set[str]:
        """Estates where the owner holds a house today (whose books it reads)."""
        return {self.estate_of(house) for house in self.holdings(owner_id)}

    def owners_touching(self, places: frozenset[str]) -> frozenset[str]:
        """Owners who hold or ever held a house among `places` (the port's rule for owners)."""
        return frozenset(item.owner_id for item in self.ownerships if item.house_code in places)

    def firms_touching(self, places: frozenset[str]) -> frozenset[str]:
        """Firms that manage or ever managed an estate among `places` (the port's rule)."""
        return frozenset(item.firm_code for item in self.managements if item.estate_code in places)


@dataclass
class Role:
    """One principal of the suite: its token and what it may see, computed from the world."""

    name: str
    scope: str
    holder: str
    token: str
    token_id: str
    roots: frozenset[str]
    places: frozenset[str]
    owners: frozenset[str]
    firms: frozenset[str]
    whole: bool
    """Whether the role sees every visible owner whole (else masked, except `self_owner`)."""
    self_owner: str | None = None
    cases: frozenset[str] | None = None
    """For the staff role: the cases it may see (those assigned to it), whatever their place."""

    def __str__(self) -> str:
        return self.name

    def sees_whole(self, owner_id: str) -> bool:
        return self.whole or owner_id == self.self_owner

    def may_see(self, code: str) -> bool:
        return code in self.places

    def city_wide(self, world: World) -> bool:
        """Whether its scope is the whole city (it alone sees cases linked to no place)."""
        return any(world.places[root].level == Level.CITY for root in self.roots)

    def may_see_case(self, world: World, case_id: str) -> bool:
        if self.cases is not None:
            return case_id in self.cases
        place = world.cases[case_id]
        return self.city_wide(world) if place is None else place in self.places

    def may_see_staff(self, world: World, staff_id: str) -> bool:
        """A member of staff is seen by whoever sees one of the estates it works in."""
        if self.name == "staff":
            return staff_id == self.scope  # itself (its cases name it as their assignee)
        return self.name == "admin" or any(code in self.places for code in world.staff[staff_id].estates)

    def may_see_notice(self, world: World, notice: str) -> bool:
        return any(code in self.places for code in world.notices[notice])

    def may_read_vote(self, world: World, vote_id: str) -> bool:
        """The readers of a vote: the admin; the administrations and committee whose scope holds
        its place; the owners of its area (`World.vote_owners`); never a property firm."""
        vote = world.votes[vote_id]
        if self.name == "admin":
            return True
        if self.name == "property_firm":
            return False
        if self.name == "owner":
            return self.self_owner is not None and self.self_owner in world.vote_owners(vote_id)
        return vote.place in self.places

    def may_read_books(self, world: World, code: str) -> bool:
        """The readers of the books of a place of an estate (schema/funds/access.py's rule, worked
        out here from the world): the admin; the administrations, committee and managing firm
        whose scope holds it; an owner for the estates it holds a house in."""
        if self.name == "admin":
            return True
        if self.name == "owner":
            assert self.self_owner is not None
            return world.places[code].level >= Level.ESTATE and world.estate_of(code) in world.owner_estates(self.self_owner)
        return code in self.places

    def above_scope(self, world: World) -> set[str]:
        """Places above the role's roots: never shown to it, though lists under them are."""
        return {code for root in self.roots for code in world.lineage(root)} - self.places


# -- judging an answer -------------------------------------------------------------------

_PERSONAL_KEYS = ("name", "idNumber", "phone")


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def referents(world: World, text: str) -> list[tuple[str, str]]:
    """What a string in an answer names: ("place" | "owner" | "firm" | "person", key) pairs."""
    found: list[tuple[str, str]] = []
    if text in world.places:
        found.append(("place", text))
    if text in world.parcels:
        found.append(("place", world.parcels[text]))
    if text in world.owners:
        found.append(("owner", text))
    if text in world.firms:
        found.append(("firm", text))
    if text in world.id_numbers:
        found.append(("person", world.id_numbers[text]))
    if text in world.cases:
        found.append(("case", text))
    if text in world.accounts:
        found.append(("account", text))
    if text in world.notices:
        found.append(("notice", text))
    utility, colon, notice = text.partition(":")
    if colon and utility.lower() in UTILITIES and notice in world.notices:
        found.append(("notice", notice))
    if text in world.devices:
        found.append(("device", text))
    if text in world.alarms:
        found.append(("alarm", text))
    if text in world.votes:
        found.append(("vote", text))
    if text in world.projects:
        found.append(("project", text))
    if text in world.staff:
        found.append(("staff", text))
    if text in world.staff_numbers:
        found.append(("staff_person", world.staff_numbers[text]))
    relay = _unbase64(text, urlsafe=False)
    if relay is not None:
        type_name, _, key = relay.partition(":")
        if type_name in RELAY_TYPES:
            found.append(("relay", relay))
            found.extend(referents(world, key))
    cursor = _unbase64(text, urlsafe=True)
    if cursor is not None and cursor.startswith("code:"):
        found.append(("cursor", cursor))
        found.extend(referents(world, cursor[len("code:"):]))
    if cursor is not None and cursor.startswith("outage:"):
        # outage:<microseconds>#<utility>#<notice number> (graph.utilities.outage_cursor)
        found.append(("cursor", cursor))
        found.extend(referents(world, cursor.split("#", 2)[-1]))
    return found


def leaks(world: World, role: Role, data: Any) -> list[str]:
    """Everything in `data` the role should not have been shown, with where it sits."""
    problems: list[str] = []
    for path, value in _walk(data, "data"):
        if isinstance(value, str):
            for kind, key in referents(world, value):
                if kind == "place" and key not in role.places:
                    problems.append(f"{path}: place {key} is outside the scope of {role}")
                elif kind in ("owner", "person") and key not in role.owners:
                    problems.append(f"{path}: owner {key} is outside the scope of {role}")
                elif kind == "firm" and key not in role.firms:
                    problems.append(f"{path}: firm {key} is outside the scope of {role}")
                elif kind == "case" and not role.may_see_case(world, key):
                    problems.append(f"{path}: case {key} is outside the scope of {role}")
                elif kind == "account" and world.accounts[key] not in role.places:
                    problems.append(f"{path}: account {key} of house {world.accounts[key]} is outside the scope of {role}")
                elif kind == "notice" and not role.may_see_notice(world, key):
                    problems.append(f"{path}: outage notice {key} is outside the scope of {role}")
                elif kind == "device" and world.devices[key] not in role.places:
                    problems.append(f"{path}: device {key} at {world.devices[key]} is outside the scope of {role}")
                elif kind == "alarm" and world.alarms[key] not in role.places:
                    problems.append(f"{path}: alarm {key} at {world.alarms[key]} is outside the scope of {role}")
                elif kind == "vote" and not role.may_read_vote(world, key):
                    problems.append(f"{path}: vote {key} at {world.votes[key].place} is not one {role} may read")
                elif kind == "project" and not role.may_read_books(world, world.projects[key].part):
                    problems.append(f"{path}: repair project {key} at {world.projects[key].part} is not one {role} may read")
                elif kind in ("staff", "staff_person") and not role.may_see_staff(world, key):
                    problems.append(f"{path}: member of staff {key} is outside the scope of {role}")
                if kind == "staff_person" and not role.whole:
                    problems.append(f"{path}: the ID number of member of staff {key} is shown whole to {role}")
                if kind == "person" and not role.sees_whole(key):
                    problems.append(f"{path}: the ID number of {key} is shown whole to {role}")
        elif isinstance(value, dict) and str(value.get("id")) in world.staff and any(key in value for key in _PERSONAL_KEYS):
            member = world.staff[str(value["id"])]
            staffed = {
                "name": member.name if role.whole else masked_name(member.name),
                "idNumber": member.id_number if role.whole else masked_id_number(member.id_number),
                "phone": None if member.phone is None else member.phone if role.whole else masked_phone(member.phone),
            }
            for key in _PERSONAL_KEYS:
                if key in value and value[key] != staffed[key]:
                    problems.append(f"{path}.{key}: {value[key]!r} of member of staff {member.id} shown to {role}, expected {staffed[key]!r}")
        elif isinstance(value, dict) and "id" in value and any(key in value for key in _PERSONAL_KEYS):
            relay = _unbase64(str(value["id"]), urlsafe=False) or ""
            type_name, _, owner_id = relay.partition(":")
            if type_name != "Owner":
                continue
            owner = world.owners[owner_id]
            whole = role.sees_whole(owner_id)
            expected = {
                "name": owner.name if whole else masked_name(owner.name),
                "idNumber": owner.id_number if whole else masked_id_number(owner.id_number),
                "phone": None if owner.phone is None else owner.phone if whole else masked_phone(owner.phone),
            }
            for key in _PERSONAL_KEYS:
                if key in value and value[key] != expected[key]:
                    problems.append(
                        f"{path}.{key}: {value[key]!r} shown to {role}, expected {expected[key]!r}"
                    )
    return problems
