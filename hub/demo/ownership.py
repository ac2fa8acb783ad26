"""Who owns each house of an estate, and since when.

Most flats have had one owner since the estate was handed over; about a fifth are held jointly
by a couple (0.5 / 0.5); about a tenth changed hands, closing the old ownership on the day the
new one starts. Buyers of parking spaces and a few investors own a second house in the same
estate; developers keep unsold units; shops are often owned by small companies. Flats in
estates built before 1998 became private in the housing reform (房改, 1998-2003).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from graph.identity import OwnerIds
from graph.model import Owner, OwnerKind, Ownership, Provenance, Usage
from hub.demo.estates import LAST_DAY
from hub.demo.names import company_name, developer_name, person_name
from hub.demo.people import (
    FIRST_BIRTH_ORDINAL,
    LAST_BIRTH_ORDINAL,
    CreditCodes,
    ResidentIds,
    mobile_phone,
)

ProvenanceOf = Callable[[str], Provenance]

SHARE_COUPLE = 0.2
TRANSFERRED = 0.1
SECOND_FLAT = 0.03
PARKING_TO_RESIDENT = 0.7


@dataclass(slots=True)
class DistrictPeople:
    """What owners of one district share: the issuers of unique numbers and birthplaces."""

    code: str
    ids: ResidentIds
    credits: CreditCodes
    qingdao: tuple[str, ...]
    elsewhere: tuple[str, ...]
    owner_ids: OwnerIds


def _pick(rng: random.Random, items: tuple[str, ...]) -> str:
    return items[int(rng.random() * len(items))]


def _day_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    if last <= first:
        return first
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))


@dataclass(slots=True)
class EstateOwners:
    """Owners and ownerships for the houses of one estate, emitted as each house is made.

    `owners` and `ownerships` collect what the current building needs; the caller takes them
    with `take` after each building, so owners always travel with (or before) their ownerships.
    """

    district: DistrictPeople
    estate_name: str
    completed: dt.date
    rng: random.Random
    provenance: ProvenanceOf
    owners: list[Owner] = field(default_factory=list)
    ownerships: list[Ownership] = field(default_factory=list)
    _residents: list[tuple[str, dt.date]] = field(default_factory=list)
    _developer: str | None = None
    _companies: list[str] = field(default_factory=list)

    def take(self) -> tuple[list[Owner], list[Ownership]]:
        owners, ownerships = self.owners, self.ownerships
        self.owners, self.ownerships = [], []
        return owners, ownerships

    # --- owners -----------------------------------------------------------------------------

    def _person(
        self, since: dt.date, partner: tuple[int, bool] | None = None
    ) -> tuple[str, tuple[int, bool]]:
        """A new person old enough (22+) to buy on `since`; a partner is of about the same age.

        Birth days are proleptic ordinals, the cheapest form for a few million people.
        """
        rng = self.rng
        bought = since.toordinal()
        latest = min(LAST_BIRTH_ORDINAL, bought - 8_040)
        if partner is not None:
            partner_born, partner_male = partner
            male = not partner_male
            born = partner_born + int((rng.random() * 2 - 1) * 1_461)
        else:
            male = rng.random() < 0.52
            youngest = (bought - latest) / 365.25
            oldest = max(youngest, min(75.0, (bought - FIRST_BIRTH_ORDINAL) / 365.25))
            age = rng.triangular(youngest, oldest, min(max(36.0, youngest), oldest))
            born = bought - int(age * 365.25)
        born = min(max(born, FIRST_BIRTH_ORDINAL), latest)
        roll = rng.random()
        if roll < 0.55:
            birthplace = self.district.code
        elif roll < 0.8:
            birthplace = _pick(rng, self.district.qingdao)
        else:
            birthplace = _pick(rng, self.district.elsewhere)
        number = self.district.ids.issue(birthplace, born, male)
        identifier = self.district.owner_ids(number)
        phone = mobile_phone(rng) if rng.random() < 0.95 else None
        self.owners.append(
            Owner(
                id=identifier,
                kind=OwnerKind.PERSON,
                name=person_name(rng, male, int(number[6:10])),
                id_number=number,
                phone=phone,
                provenance=self.provenance(identifier),
            )
        )
        return identifier, (born, male)

    def _organisation(self, name: str) -> str:
        number = self.district.credits.issue()
        identifier = self.district.owner_ids(number)
        self.owners.append(
            Owner(
                id=identifier,
                kind=OwnerKind.ORGANISATION,
                name=name,
                id_number=number,
                phone=None,
                provenance=self.provenance(identifier),
            )
        )
        return identifier

    def _developer_id(self) -> str:
        if self._developer is None:
            self._developer = self._organisation(developer_name(self.estate_name, self.rng))
        return self._developer

    def _company_id(self) -> str:
        if len(self._companies) < 3 and (not self._companies or self.rng.random() < 0.4):
            self._companies.append(self._organisation(company_name(self.rng)))
        return self.rng.choice(self._companies)

    # --- ownerships ---------------------------------------------------------------------------

    def _own(
        self, house: str, owner: str, share: float, since: dt.date, until: dt.date | None
    ) -> None:
        self.ownerships.append(
            Ownership(
                house_code=house,
                owner_id=owner,
                share=share,
                since=since,
                until=until,
                source="registration",
                provenance=self.provenance(f"{house}/{owner}/{since.isoformat()}"),
            )
        )

    def _buyers(self, house: str, since: dt.date, until: dt.date | None, resale: bool) -> None:
        """One buyer or a couple, new people; sometimes an owner of another flat here."""
        rng = self.rng
        if resale is False and self._residents and rng.random() < SECOND_FLAT:
            owner, owned_since = rng.choice(self._residents)
            self._own(house, owner, 1.0, max(since, owned_since), until)
            return
        first, person = self._person(since)
        if rng.random() < SHARE_COUPLE:
            second, _ = self._person(since, partner=person)
            self._own(house, first, 0.5, since, until)
            self._own(house, second, 0.5, since, until)
            if until is None:
                self._residents.append((first, since))
        else:
            self._own(house, first, 1.0, since, until)
            if until is None:
                self._residents.append((first, since))

    def _handover(self) -> dt.date:
        rng = self.rng
        if self.completed.year < 1998:  # public housing sold to tenants in the reform
            return dt.date(rng.randint(1998, 2003), rng.randint(1, 12), rng.randint(1, 28))
        return min(LAST_DAY, self.completed + dt.timedelta(days=rng.randint(0, 540)))

    def house(self, house: str, usage: Usage) -> None:
        """Record who has owned `house` since the estate was handed over."""
        rng = self.rng
        if usage is Usage.PARKING:
            since = _day_between(rng, self.completed, LAST_DAY)
            if self._residents and rng.random() < PARKING_TO_RESIDENT:
                owner, owned_since = rng.choice(self._residents)
                self._own(house, owner, 1.0, max(since, owned_since), None)
            else:
                self._own(house, self._developer_id(), 1.0, self.completed, None)
            return
        if usage is Usage.COMMERCIAL and rng.random() < 0.4:
            self._own(house, self._company_id(), 1.0, self._handover(), None)
            return
        if self.completed.year >= 2015 and rng.random() < 0.01:  # unsold, still the developer's
            self._own(house, self._developer_id(), 1.0, self.completed, None)
            return
        since = self._handover()
        latest_sale = LAST_DAY - dt.timedelta(days=180)
        if rng.random() < TRANSFERRED and since + dt.timedelta(days=365) < latest_sale:
            sold = _day_between(rng, since + dt.timedelta(days=365), latest_sale)
            self._buyers(house, since, sold, resale=True)
            self._buyers(house, sold, None, resale=True)
        else:
            self._buyers(house, since, None, resale=False)
