"""The electorate of a vote, from the ownership graph on the record date.

The rule owners already know from Beijing's 业主 app and the 业主大会和业主委员会指导规则:
- every house (专有部分) in the voting area held on the record date votes once, weighted by its
  exclusive area (the house's recorded area, in centi-m²);
- an owner with several houses there is one head (人数 counts it once) and votes once per house:
  its houses' areas are summed and its head is split in equal parts among them, so a ballot
  carries `1/k` of a head and an owner who casts all k houses alike counts exactly one head
  (who splits its houses splits its head, exactly: fractions, never floats);
- a house held jointly (共有) counts once, as one head of its co-owners together (its head key is
  their sorted ids joined by "+"), cast by the co-owner they designate (a proxy to a co-owner,
  graph.votes.records.Proxy) or else the first of them to cast; the others then see it cast;
- a house sold after the record date votes with the record-date owner; a house nobody held on
  the record date, or with no recorded area, is not in the electorate (`Frozen.left_out` counts
  them, and the vote shows how many).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from graph.levels import Level
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from graph.votes.records import Elector, Electorate


@dataclass(frozen=True, slots=True)
class Frozen:
    electors: list[Elector]
    totals: Electorate
    left_out: int


def head_of(holders: Sequence[str]) -> str:
    """The head a house counts as: its owner, or its co-owners together."""
    return "+".join(sorted(holders))


def shares(electors: Sequence[Elector]) -> dict[str, Fraction]:
    """Each house's part of its head: 1/k for a head with k houses in the electorate."""
    houses = Counter(elector.head for elector in electors)
    return {elector.house_code: Fraction(1, houses[elector.head]) for elector in electors}


async def freeze(store: Store, vote_id: str, place_code: str, record_date: dt.date) -> Frozen:
    """Every house at or under `place_code` held on `record_date`, with its holders and head."""
    everything = Scope.everything()
    electors: list[Elector] = []
    left_out = 0
    after: str | None = None
    while True:
        page = await store.subtree(Level.HOUSE, place_code, everything, MAX_PAGE, after)
        houses = list(page.items)
        spans = await store.ownerships([house.code for house in houses], record_date, everything, with_owners=False)
        for house, held in zip(houses, spans):
            holders = sorted({span.owner_id for span in held if span.holds_on(record_date)})
            if not holders or not house.area_centi_m2:
                left_out += 1
                continue
            electors.append(Elector(vote_id, house.code, house.area_centi_m2, tuple(holders), head_of(holders)))
        if not page.has_next:
            break
        after = page.end_cursor
    totals = Electorate(
        houses=len(electors),
        heads=len({elector.head for elector in electors}),
        area_centi_m2=sum(elector.area_centi_m2 for elector in electors),
    )
    return Frozen(electors, totals, left_out)
