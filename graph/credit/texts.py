"""A score's parts as canonical JSON text, the same text in every adapter, and the checks every
adapter runs before storing scores (no store in them)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from graph.credit.periods import Period
from graph.credit.records import CreditPart, CreditScore
from graph.credit.weights import NO_DATA_RULES, PARTS
from graph.errors import InvalidInput


def rate_text(rate: Fraction | None) -> str | None:
    """An exact rate as "p/q" (lowest terms; "1/1" for one, "0/1" for zero)."""
    return None if rate is None else f"{rate.numerator}/{rate.denominator}"


def parts_json(parts: Sequence[CreditPart]) -> str:
    body = [
        {
            "name": part.name,
            "figures": [[name, value] for name, value in part.figures],
            "rate": rate_text(part.rate),
            "weight": part.weight,
            "points": part.points_centi,
        }
        for part in parts
    ]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def parts_of(text: str) -> tuple[CreditPart, ...]:
    return tuple(
        CreditPart(
            name=raw["name"],
            figures=tuple((str(name), int(value)) for name, value in raw["figures"]),
            rate=None if raw["rate"] is None else Fraction(raw["rate"]),
            weight=int(raw["weight"]),
            points_centi=int(raw["points"]),
        )
        for raw in json.loads(text)
    )


def check_scores(scores: Sequence[CreditScore]) -> None:
    """InvalidInput naming the score and field when a score cannot be stored as it is."""
    seen: set[tuple[str, str]] = set()
    for found in scores:
        where = f"score of {found.firm_code} for {found.period}"
        Period.parse(found.period, field=f"{where} period")
        if (found.firm_code, found.period) in seen:
            raise InvalidInput(f"{where}", found.period, "is given twice in one save")
        seen.add((found.firm_code, found.period))
        if not isinstance(found.total_centi, int) or not 0 <= found.total_centi <= 10000:
            raise InvalidInput(f"{where} total", found.total_centi, "must be an integer 0..10000 (hundredths of a point)")
        if sum(part.points_centi for part in found.parts) != found.total_centi:
            raise InvalidInput(f"{where} parts", found.total_centi, "must add up to the total")
        for part in found.parts:
            if part.name not in PARTS:
                raise InvalidInput(f"{where} part", part.name, "is not a part of a score")
            if part.rate is not None and not 0 <= part.rate <= 1:
                raise InvalidInput(f"{where} {part.name} rate", str(part.rate), "must be from 0 to 1")
        if found.no_data not in NO_DATA_RULES:
            raise InvalidInput(f"{where} no_data", found.no_data, f"must be one of {', '.join(NO_DATA_RULES)}")
        if found.computed_at.tzinfo is None:
            raise InvalidInput(f"{where} computed_at", found.computed_at.isoformat(), "must be an aware time")
        for name, value in (("estates", found.estates), ("houses", found.houses)):
            if not isinstance(value, int) or value < 0:
                raise InvalidInput(f"{where} {name}", value, "must be a non-negative integer")


def utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc)


def period_order(key: str) -> tuple[int, int]:
    """Months and years as their keys sort: "2026" before "2026-01"."""
    year, _, month = key.partition("-")
    return (int(year), int(month) if month else 0)


def as_dict(found: CreditScore) -> dict[str, Any]:
    """The fields of a score for a store row or node (parts as their JSON text)."""
    return {
        "period": found.period,
        "version": found.version,
        "total_centi": found.total_centi,
        "estates": found.estates,
        "houses": found.houses,
        "parts": parts_json(found.parts),
        "no_data": found.no_data,
    }
