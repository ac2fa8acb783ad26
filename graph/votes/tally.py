"""Ballots as bulletin-board entries, and the count anyone can redo from them.

Each accepted ballot is one entry of the vote's Merkle log (`graph.logs`, log `vote:<id>`), its
payload the canonical JSON of a `BallotEntry`: the item, a house tag and a voter tag (keyed SM3
under the vote's own key: graph.votes.tags; no name, no ID number), the house's weight (its
exclusive area and its share of a head), the choice, the time, and whether a proxy cast it. A
house may cast again until the close: for each item the house's last entry counts, the earlier
ones stay on the board.

`tally` recomputes every item's result from the entries alone and the electorate's totals,
which the vote publishes when it opens: whoever holds the published entries can redo the count.

Choices: a motion takes "for", "against" or "abstain"; an election the ids of at most `seats`
candidates (none: abstain); a firm choice one candidate id or "abstain".

Elections fill their seats in order of the area in favour, then of the heads in favour, among
the candidates that carried the item's threshold (graph.votes.law.carried); candidates level on
both at the last seat are reported as a tie and none of them takes it (the seats stay open for
a further vote), never broken silently. A firm choice is won by the one candidate that carried.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from graph.errors import InvalidInput
from graph.votes.law import ItemClass, carried, quorum, rule_text
from graph.votes.records import Electorate, Item, ItemForm, Vote

FORMAT = 1
MOTION_CHOICES = ("for", "against", "abstain")
ABSTAIN = "abstain"

Choice = str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BallotEntry:
    """One ballot on the bulletin board (see the module docstring)."""

    vote_id: str
    item: int
    house: str  # house tag, 64 hex digits
    voter: str  # voter tag, 64 hex digits
    area_centi_m2: int
    share: Fraction  # of a head
    choice: Choice
    at: dt.datetime
    proxy: bool = False

    def payload(self) -> bytes:
        """The canonical bytes hashed into the entry's leaf: sorted keys, no spaces, UTF-8."""
        body = {
            "v": FORMAT,
            "vote": self.vote_id,
            "item": self.item,
            "house": self.house,
            "voter": self.voter,
            "area": self.area_centi_m2,
            "share": f"{self.share.numerator}/{self.share.denominator}",
            "choice": list(self.choice) if isinstance(self.choice, tuple) else self.choice,
            "at": self.at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
            "proxy": self.proxy,
        }
        return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, payload: bytes, *, where: str = "entry") -> BallotEntry:
        """The entry a payload holds; InvalidInput naming `where` and the field for anything
        that is not a ballot of this format (the verifier names a tampered entry so)."""
        try:
            body = json.loads(payload.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InvalidInput(where, payload[:60].decode(errors="replace"), f"is not JSON: {error}") from None
        if not isinstance(body, dict) or body.get("v") != FORMAT:
            raise InvalidInput(where, str(body)[:60], f"is not a ballot entry of format {FORMAT}")
        try:
            share_text = str(body["share"])
            numerator, denominator = share_text.split("/")
            choice = body["choice"]
            entry = cls(
                vote_id=_text(body["vote"]),
                item=_integer(body["item"]),
                house=_text(body["house"]),
                voter=_text(body["voter"]),
                area_centi_m2=_integer(body["area"]),
                share=Fraction(int(numerator), int(denominator)),
                choice=tuple(_text(c) for c in choice) if isinstance(choice, list) else _text(choice),
                at=dt.datetime.fromisoformat(_text(body["at"])),
                proxy=bool(body["proxy"]),
            )
        except (KeyError, ValueError, TypeError, ZeroDivisionError) as error:
            raise InvalidInput(where, str(body)[:60], f"is not a well-formed ballot entry ({error!r})") from None
        if entry.payload() != payload:
            raise InvalidInput(where, str(body)[:60], "is not in canonical form (its bytes are not the ones its content encodes to)")
        return entry


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not an integer")
    return value


def check_choice(item: Item, choice: Choice) -> Choice:
    """The choice in canonical form (an election's ids sorted), or InvalidInput naming the item."""
    where = f"item {item.number} choice"
    if item.form is ItemForm.MOTION:
        if choice not in MOTION_CHOICES:
            raise InvalidInput(where, str(choice), "must be for, against or abstain")
        return choice
    ids = {candidate.id for candidate in item.candidates}
    if item.form is ItemForm.FIRM_CHOICE:
        if choice != ABSTAIN and choice not in ids:
            raise InvalidInput(where, str(choice), f"must be one candidate of {sorted(ids)} or abstain")
        return choice
    named = (choice,) if isinstance(choice, str) else tuple(choice)
    if named == (ABSTAIN,):
        named = ()
    unknown = [name for name in named if name not in ids]
    if unknown:
        raise InvalidInput(where, ",".join(unknown), f"are not candidates of item {item.number}")
    if len(set(named)) != len(named):
        raise InvalidInput(where, ",".join(named), "names a candidate twice")
    if len(named) > item.seats:
        raise InvalidInput(where, ",".join(named), f"names {len(named)} candidates for {item.seats} seats")
    return tuple(sorted(named))


@dataclass(frozen=True, slots=True)
class Count:
    """Area (centi-m²), heads (exact) and houses behind one choice."""

    area: int = 0
    heads: Fraction = Fraction(0)
    houses: int = 0

    def plus(self, entry: BallotEntry) -> Count:
        return Count(self.area + entry.area_centi_m2, self.heads + entry.share, self.houses + 1)


@dataclass(frozen=True, slots=True)
class CandidateCount:
    id: str
    name: str
    count: Count
    carried: bool
    elected: bool


@dataclass(frozen=True, slots=True)
class ItemResult:
    number: int
    klass: ItemClass
    form: ItemForm
    title: str
    rule: str
    participation: Count
    quorum: bool
    passed: bool
    choices: Mapping[str, Count] = field(default_factory=dict)  # motions: for, against, abstain
    candidates: Sequence[CandidateCount] = ()
    elected: tuple[str, ...] = ()
    tied: tuple[str, ...] = ()
    open_seats: int = 0


@dataclass(frozen=True, slots=True)
class Result:
    vote_id: str
    electorate: Electorate
    ballots: int  # entries on the board, changed ones included
    items: tuple[ItemResult, ...]

    def to_json(self) -> str:
        return json.dumps(_result_json(self), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def latest(entries: Iterable[BallotEntry]) -> dict[tuple[int, str], BallotEntry]:
    """For each (item, house tag), the entry that counts: the last one on the board."""
    counted: dict[tuple[int, str], BallotEntry] = {}
    for entry in entries:
        counted[(entry.item, entry.house)] = entry
    return counted


def tally(vote: Vote, electorate: Electorate, entries: Sequence[BallotEntry]) -> Result:
    """The result of every item of `vote` from its board's entries, in board order."""
    counted = latest(entries)
    results = []
    for item in vote.items:
        ballots = [entry for (number, _), entry in counted.items() if number == item.number]
        results.append(_item_result(item, electorate, ballots))
    return Result(vote.id, electorate, len(entries), tuple(results))


def _item_result(item: Item, electorate: Electorate, ballots: Sequence[BallotEntry]) -> ItemResult:
    klass = ItemClass.of(item.klass)
    participation = Count()
    for ballot in ballots:
        participation = participation.plus(ballot)
    met = quorum(participation.area, participation.heads, electorate.area_centi_m2, Fraction(electorate.heads))
    base = dict(
        number=item.number,
        klass=klass,
        form=item.form,
        title=item.title,
        rule=rule_text(klass),
        participation=participation,
        quorum=met,
    )
    if item.form is ItemForm.MOTION:
        choices = {choice: Count() for choice in MOTION_CHOICES}
        for ballot in ballots:
            key = str(ballot.choice)
            choices[key] = choices[key].plus(ballot)
        yes = choices["for"]
        passed = met and carried(klass, yes.area, yes.heads, participation.area, participation.heads)
        return ItemResult(passed=passed, choices=choices, **base)  # type: ignore[arg-type]
    counts = {candidate.id: Count() for candidate in item.candidates}
    for ballot in ballots:
        named = ballot.choice if isinstance(ballot.choice, tuple) else (ballot.choice,)
        for name in named:
            if name in counts:
                counts[name] = counts[name].plus(ballot)
    qualifying = [
        candidate
        for candidate in item.candidates
        if met and carried(klass, counts[candidate.id].area, counts[candidate.id].heads, participation.area, participation.heads)
    ]
    seats = item.seats if item.form is ItemForm.ELECTION else 1
    elected, tied = _fill(seats, qualifying, counts)
    candidates = tuple(
        CandidateCount(c.id, c.name, counts[c.id], c in qualifying, c.id in elected) for c in item.candidates
    )
    return ItemResult(
        passed=bool(elected),
        candidates=candidates,
        elected=elected,
        tied=tied,
        open_seats=seats - len(elected),
        **base,  # type: ignore[arg-type]
    )


def _fill(seats: int, qualifying: Sequence[Any], counts: Mapping[str, Count]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Seats in order of area, then heads; candidates level at the last seat tie (none elected)."""

    def weight(candidate: Any) -> tuple[int, Fraction]:
        return counts[candidate.id].area, counts[candidate.id].heads

    ranked = sorted(qualifying, key=lambda c: (weight(c)[0], weight(c)[1]), reverse=True)
    if len(ranked) <= seats:
        return tuple(c.id for c in ranked), ()
    boundary = weight(ranked[seats - 1])
    if weight(ranked[seats]) != boundary:
        return tuple(c.id for c in ranked[:seats]), ()
    level = [c for c in ranked if weight(c) == boundary]
    above = [c for c in ranked if weight(c) > boundary]
    return tuple(c.id for c in above), tuple(sorted(c.id for c in level))


def _count_json(count: Count) -> dict[str, Any]:
    return {"area": count.area, "heads": _fraction(count.heads), "houses": count.houses}


def _fraction(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _result_json(result: Result) -> dict[str, Any]:
    return {
        "vote": result.vote_id,
        "electorate": {
            "houses": result.electorate.houses,
            "heads": result.electorate.heads,
            "area": result.electorate.area_centi_m2,
        },
        "ballots": result.ballots,
        "items": [
            {
                "number": item.number,
                "class": int(item.klass),
                "form": item.form.value,
                "title": item.title,
                "rule": item.rule,
                "participation": _count_json(item.participation),
                "quorum": item.quorum,
                "passed": item.passed,
                "choices": {name: _count_json(count) for name, count in item.choices.items()},
                "candidates": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "count": _count_json(c.count),
                        "carried": c.carried,
                        "elected": c.elected,
                    }
                    for c in item.candidates
                ],
                "elected": list(item.elected),
                "tied": list(item.tied),
                "openSeats": item.open_seats,
            }
            for item in result.items
        ],
    }


def parse_result(text: str) -> Result:
    """A published result read back (the inverse of `Result.to_json`)."""
    body = json.loads(text)

    def count(raw: Mapping[str, Any]) -> Count:
        return Count(int(raw["area"]), Fraction(raw["heads"]), int(raw["houses"]))

    items = []
    for raw in body["items"]:
        items.append(
            ItemResult(
                number=raw["number"],
                klass=ItemClass(raw["class"]),
                form=ItemForm(raw["form"]),
                title=raw["title"],
                rule=raw["rule"],
                participation=count(raw["participation"]),
                quorum=raw["quorum"],
                passed=raw["passed"],
                choices={name: count(value) for name, value in raw["choices"].items()},
                candidates=tuple(
                    CandidateCount(c["id"], c["name"], count(c["count"]), c["carried"], c["elected"])
                    for c in raw["candidates"]
                ),
                elected=tuple(raw["elected"]),
                tied=tuple(raw["tied"]),
                open_seats=raw["openSeats"],
            )
        )
    electorate = body["electorate"]
    return Result(
        body["vote"],
        Electorate(electorate["houses"], electorate["heads"], electorate["area"]),
        body["ballots"],
        tuple(items),
    )
