"""A firm's score from its figures: each part's rate, exactly, its weight and its points.

Rates are `Fraction`s from 0 to 1 (never floats); points are kept as integer hundredths of a
point. The rule, for the parts of `graph.credit.weights.PARTS` with weights w_i and rates r_i:

- a part *has data* when its denominator is positive (cases for the case parts, houses for
  complaints, estates for dismissals, something due for the facility parts, certificates for
  certificates) and its reader answered; otherwise its rate is None, "no data";
- `no_data = "redistribute"` (the default): W = Σ w_i over the parts with data, and each such
  part's exact points are 100 · w_i · r_i / W; a part without data earns 0 and its weight goes
  to the others pro rata. `no_data = "full"`: W = Σ w_i over every part, and a part without
  data earns its whole share 100 · w_i / W;
- the total in hundredths is Σ exact points × 100 rounded half up; each part gets the floor of
  its exact hundredths and the residue (total − Σ floors, never more than the parts with a
  remainder) goes one hundredth each to the largest remainders, ties in part order. So the
  parts add up to the total exactly and none is a hundredth or more from its exact value.
- when no weighted part has data the firm is not scored (`score` returns None).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from math import floor

from graph.cases import CaseTally
from graph.credit.records import CreditPart, CreditScore, FirmCaseCounts
from graph.credit.weights import PARTS, Weights


@dataclass(frozen=True, slots=True)
class FacilityCompliance:
    """Facilities' maintenance and inspection compliance of a firm over a period (what the
    facilities reader answers): maintenance due and done on time, inspections due and passed
    on time."""

    maintenance_due: int = 0
    maintenance_on_time: int = 0
    inspections_due: int = 0
    inspections_passed: int = 0


@dataclass(frozen=True, slots=True)
class CertificateStanding:
    """Staff certificates of a firm on a day: held (valid) and lapsed (out of date)."""

    held: int = 0
    lapsed: int = 0


@dataclass(frozen=True, slots=True)
class FirmFigures:
    """Everything a firm's score is made from, for one period."""

    firm_code: str
    estates: int
    houses: int
    tally: CaseTally
    counts: FirmCaseCounts
    complaints: int
    dismissals: int
    months: int = 1
    facility: FacilityCompliance | None = None
    certificates: CertificateStanding | None = None


def _ratio(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole > 0 else None


def _less(part: int, whole: int) -> Fraction | None:
    return max(Fraction(0), 1 - Fraction(part, whole)) if whole > 0 else None


def measure(figures: FirmFigures, weights: Weights) -> list[tuple[str, tuple[tuple[str, int], ...], Fraction | None]]:
    """Each part's (name, raw figures, rate), in `PARTS` order."""
    t, c = figures.tally, figures.counts
    threshold = weights.complaints_per_thousand * figures.months
    complaints_rate = (
        max(Fraction(0), 1 - Fraction(figures.complaints * 1000, figures.houses * threshold)) if figures.houses > 0 else None
    )
    f, s = figures.facility, figures.certificates
    rows: dict[str, tuple[tuple[tuple[str, int], ...], Fraction | None]] = {
        "response": ((("due", t.due), ("signedInTime", t.signed_in_time)), _ratio(t.signed_in_time, t.due)),
        "resolution": ((("cases", t.cases), ("resolved", t.resolved)), _ratio(t.resolved, t.cases)),
        "satisfaction": ((("rated", t.rated), ("satisfied", t.satisfied)), _ratio(t.satisfied, t.rated)),
        "overdue": ((("cases", t.cases), ("overdue", t.overdue)), _less(t.overdue, t.cases)),
        "escalated": ((("cases", t.cases), ("escalated", c.escalated)), _less(c.escalated, t.cases)),
        "complaints": (
            (("complaints", figures.complaints), ("houses", figures.houses), ("months", figures.months),
             ("perThousandLimit", weights.complaints_per_thousand)),
            complaints_rate,
        ),
        "maintenance": (
            (("due", f.maintenance_due if f else 0), ("onTime", f.maintenance_on_time if f else 0)),
            _ratio(f.maintenance_on_time, f.maintenance_due) if f else None,
        ),
        "inspection": (
            (("due", f.inspections_due if f else 0), ("passedOnTime", f.inspections_passed if f else 0)),
            _ratio(f.inspections_passed, f.inspections_due) if f else None,
        ),
        "ratings": (
            (("rated", c.rated), ("ratingSum", c.rating_sum)),
            Fraction(c.rating_sum - c.rated, 4 * c.rated) if c.rated > 0 else None,
        ),
        "dismissals": ((("estates", figures.estates), ("dismissals", figures.dismissals)), _less(figures.dismissals, figures.estates)),
        "certificates": (
            (("held", s.held if s else 0), ("lapsed", s.lapsed if s else 0)),
            _ratio(s.held, s.held + s.lapsed) if s else None,
        ),
    }
    return [(name, *rows[name]) for name in PARTS]


def _half_up(value: Fraction) -> int:
    return floor(value + Fraction(1, 2))


def score(figures: FirmFigures, weights: Weights, computed_at: dt.datetime, period: str) -> CreditScore | None:
    """The firm's score (version 0: the store numbers it), or None when no weighted part has data."""
    measured = measure(figures, weights)
    redistribute = weights.no_data == "redistribute"
    total_weight = sum(weights.of(name) for name, _, rate in measured if rate is not None or not redistribute)
    if not any(weights.of(name) and rate is not None for name, _, rate in measured) or total_weight == 0:
        return None
    exact: list[Fraction] = []
    for name, _, rate in measured:
        earned = rate if rate is not None else (Fraction(0) if redistribute else Fraction(1))
        exact.append(Fraction(100 * 100 * weights.of(name)) * earned / total_weight)
    total = _half_up(sum(exact, Fraction(0)))
    floors = [floor(value) for value in exact]
    residue = total - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:residue]:
        floors[i] += 1
    parts = tuple(
        CreditPart(name=name, figures=raw, rate=rate, weight=weights.of(name), points_centi=points)
        for (name, raw, rate), points in zip(measured, floors)
    )
    return CreditScore(
        firm_code=figures.firm_code,
        period=period,
        total_centi=total,
        parts=parts,
        estates=figures.estates,
        houses=figures.houses,
        computed_at=computed_at,
        no_data=weights.no_data,
    )
