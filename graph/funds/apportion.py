"""Splitting money by exclusive area, to the fen, in integers only (never floats).

Money is integer fen; areas are integer hundredths of a square metre (centi-m²).

`apportion` splits a repair's cost across the houses of the part it serves, in proportion to
each house's exclusive area, so that the shares sum EXACTLY to the cost. The rule, deterministic
and independent of the order of the input mapping:

1. each house first gets floor(cost × area / total area);
2. the residue r = cost − Σ floors (0 ≤ r < number of houses) goes one fen each to the r houses
   with the largest remainders (cost × area mod total area), ties by house code ascending.

So no share is a fen or more away from its exact proportion cost × area / total area.

`first_deposit_fen` is the first deposit at first sale: exclusive area × the city's rate per m²
for the house's usage, rounded half up to the fen (0.5 fen rounds up).

Both refuse bad input with `InvalidInput` naming the field (and the houses) at fault.
"""

from __future__ import annotations

from collections.abc import Mapping

from graph.errors import InvalidInput


def _is_int(value: object) -> bool:
    """An int that is not a bool (True is not an area or an amount)."""
    return isinstance(value, int) and not isinstance(value, bool)


def apportion(cost_fen: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Split `cost_fen` across houses (house code → exclusive area in centi-m²) by area.

    The shares sum to `cost_fen` exactly; the residue goes to the largest remainders, ties by
    house code (see the module docstring). The result's keys are the input's, in code order.

    >>> apportion(100, {"B": 100, "A": 100, "C": 100})
    {'A': 34, 'B': 33, 'C': 33}
    >>> apportion(1000, {"101": 8950, "102": 12075})
    {'101': 426, '102': 574}
    >>> apportion(0, {"101": 8950})
    {'101': 0}
    >>> apportion(5, {"101": 0, "102": -1, "103": 100})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    graph.errors.InvalidInput: weights: '101, 102' must each have a positive ... (101: 0, 102: -1)

    Refused (`InvalidInput`): a negative or non-int cost (field ``cost_fen``); no houses, a house
    code that is not a string, or any house whose area is not an int greater than 0 — all such
    houses named at once, sorted (field ``weights``). With every area positive the total area
    cannot be 0, so a mapping of zero areas is refused by naming each of its houses.
    """
    if not _is_int(cost_fen):
        raise InvalidInput("cost_fen", cost_fen, "must be an integer number of fen")
    if cost_fen < 0:
        raise InvalidInput("cost_fen", cost_fen, "must not be negative")
    if not weights:
        raise InvalidInput("weights", {}, "must name at least one house")
    codes = list(weights)
    not_str = sorted(repr(code) for code in codes if not isinstance(code, str))
    if not_str:
        raise InvalidInput("weights", ", ".join(not_str), "house codes must be strings")
    bad = sorted(code for code in codes if not _is_int(weights[code]) or weights[code] <= 0)
    if bad:
        detail = ", ".join(f"{code}: {weights[code]!r}" for code in bad)
        raise InvalidInput(
            "weights", ", ".join(bad),
            f"must each have a positive integer exclusive area in centi-m² ({detail})")

    codes.sort()
    total = sum(weights[code] for code in codes)
    shares: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    for code in codes:
        share, remainder = divmod(cost_fen * weights[code], total)
        shares[code] = share
        if remainder:
            remainders.append((-remainder, code))
    residue = cost_fen - sum(shares.values())
    # Σ remainders = residue × total and each remainder < total: fewer than len(remainders) fen
    remainders.sort()
    for _, code in remainders[:residue]:
        shares[code] += 1
    return shares


def first_deposit_fen(area_centi_m2: int, rate_fen_per_m2: int) -> int:
    """The first deposit at first sale: area × rate per m², rounded half up to the fen.

    >>> first_deposit_fen(8950, 5000)       # 89.50 m² at ¥50.00/m²
    447500
    >>> first_deposit_fen(1, 49), first_deposit_fen(1, 50), first_deposit_fen(1, 51)
    (0, 1, 1)

    Refused (`InvalidInput`): an area that is not an int greater than 0 (field
    ``area_centi_m2``); a rate that is not an int, or is negative (field ``rate_fen_per_m2``).
    """
    if not _is_int(area_centi_m2):
        raise InvalidInput("area_centi_m2", area_centi_m2, "must be an integer number of centi-m²")
    if area_centi_m2 <= 0:
        raise InvalidInput("area_centi_m2", area_centi_m2, "must be greater than 0")
    if not _is_int(rate_fen_per_m2):
        raise InvalidInput("rate_fen_per_m2", rate_fen_per_m2, "must be an integer number of fen")
    if rate_fen_per_m2 < 0:
        raise InvalidInput("rate_fen_per_m2", rate_fen_per_m2, "must not be negative")
    return (area_centi_m2 * rate_fen_per_m2 + 50) // 100
