"""graph.funds.apportion: a repair's cost split by exclusive area to the fen, and first deposits.

Shares are checked against a reference written here from the rule's words with exact fractions
(floor of the exact share, then one fen each to the largest fractional parts, ties by code), not
against the module's own integer arithmetic. `hypothesis` is not installed in this venv, so the
property checks run over seeded random inputs."""

from __future__ import annotations

import doctest
import math
import random
from fractions import Fraction

import pytest

import graph.funds.apportion as module
from graph.errors import InvalidInput
from graph.funds.apportion import apportion, first_deposit_fen


def reference(cost: int, weights: dict[str, int]) -> dict[str, int]:
    """The documented rule, with exact fractions."""
    total = sum(weights.values())
    exact = {code: Fraction(cost * area, total) for code, area in weights.items()}
    shares = {code: math.floor(value) for code, value in exact.items()}
    residue = cost - sum(shares.values())
    order = sorted(exact, key=lambda code: (-(exact[code] - shares[code]), code))
    for code in order[:residue]:
        shares[code] += 1
    return dict(sorted(shares.items()))


def random_houses(rng: random.Random, count: int, max_area: int = 30_000) -> dict[str, int]:
    codes = rng.sample(range(10**6), count)
    return {f"H{code:06d}": rng.randint(1, max_area) for code in codes}


def assert_fair(cost: int, weights: dict[str, int], shares: dict[str, int]) -> None:
    """Exact sum, keys in code order, every share under a fen from its exact proportion."""
    assert sum(shares.values()) == cost
    assert list(shares) == sorted(weights)
    total = sum(weights.values())
    for code, area in weights.items():
        assert abs(shares[code] - Fraction(cost * area, total)) < 1, code


# --- boundaries -----------------------------------------------------------------------------


def test_one_house_gets_everything() -> None:
    assert apportion(12_345, {"0101": 8_950}) == {"0101": 12_345}
    assert apportion(1, {"0101": 1}) == {"0101": 1}


def test_equal_areas_with_a_residue_go_to_the_lowest_codes() -> None:
    shares = apportion(10, {"D": 9_000, "B": 9_000, "C": 9_000, "A": 9_000})
    assert shares == {"A": 3, "B": 3, "C": 2, "D": 2}
    assert list(shares) == ["A", "B", "C", "D"]
    assert apportion(100, {"103": 100, "101": 100, "102": 100}) == {"101": 34, "102": 33, "103": 33}


def test_residue_exactly_zero() -> None:
    assert apportion(1_000, {"A": 2_500, "B": 7_500}) == {"A": 250, "B": 750}
    assert apportion(900, {"A": 100, "B": 100, "C": 100}) == {"A": 300, "B": 300, "C": 300}


def test_cost_smaller_than_the_number_of_houses() -> None:
    equal = {f"{n:02d}": 100 for n in range(5)}
    assert apportion(3, equal) == {"00": 1, "01": 1, "02": 1, "03": 0, "04": 0}
    # The largest remainder wins over a lower code: 2 × 100/103 = 1.94 gives the big house both.
    assert apportion(2, {"A": 1, "B": 1, "C": 1, "Z": 100}) == {"A": 0, "B": 0, "C": 0, "Z": 2}
    shares = apportion(7, {f"{n:03d}": n + 1 for n in range(50)})
    assert sum(shares.values()) == 7 and set(shares.values()) <= {0, 1}


def test_residue_by_remainder_then_code() -> None:
    # Exact shares 2 1/5, 4 2/5, 4 2/5 (floors 10, residue 1): B and C tie above A, B's code wins.
    weights = {"C": 2, "B": 2, "A": 1}
    assert apportion(11, weights) == {"A": 2, "B": 5, "C": 4}
    # Exact shares 428 4/7, 285 5/7, 285 5/7 (floors 998, residue 2): B and C, not the lower A.
    weights = {"C": 2, "B": 2, "A": 3}
    assert apportion(1_000, weights) == {"A": 428, "B": 286, "C": 286}
    assert apportion(1_000, weights) == reference(1_000, weights)


def test_zero_cost_gives_every_house_zero() -> None:
    assert apportion(0, {"B": 5, "A": 7}) == {"A": 0, "B": 0}


def test_a_million_yuan_over_five_thousand_houses_is_exact() -> None:
    rng = random.Random(14)
    weights = random_houses(rng, 5_000)
    cost = 100_000_000  # ¥1,000,000.00
    shares = apportion(cost, weights)
    assert_fair(cost, weights, shares)
    assert shares == reference(cost, weights)


def test_huge_areas_and_costs_stay_exact() -> None:
    weights = {"A": 10**12 + 1, "B": 10**12 + 3, "C": 7}
    cost = 10**15 + 11
    shares = apportion(cost, weights)
    assert_fair(cost, weights, shares)
    assert shares == reference(cost, weights)


# --- determinism and properties (seeded; hypothesis is not installed) ------------------------


def test_the_order_of_the_mapping_does_not_matter() -> None:
    rng = random.Random(1401)
    for _ in range(200):
        weights = random_houses(rng, rng.randint(1, 40), max_area=rng.choice([3, 100, 30_000]))
        cost = rng.randint(0, 10**7)
        expected = apportion(cost, weights)
        items = list(weights.items())
        for _ in range(3):
            rng.shuffle(items)
            shuffled = dict(items)
            assert apportion(cost, shuffled) == expected
            assert list(apportion(cost, shuffled)) == list(expected)


def test_random_inputs_agree_with_the_reference() -> None:
    rng = random.Random(1402)
    for _ in range(500):
        count = rng.randint(1, 60)
        weights = random_houses(rng, count, max_area=rng.choice([2, 50, 30_000, 10**9]))
        cost = rng.choice([rng.randint(0, count * 2), rng.randint(0, 10**9)])
        shares = apportion(cost, weights)
        assert_fair(cost, weights, shares)
        assert shares == reference(cost, weights)


def test_the_input_is_not_changed() -> None:
    weights = {"B": 3, "A": 1}
    apportion(10, weights)
    assert weights == {"B": 3, "A": 1} and list(weights) == ["B", "A"]


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("cost", [-1, -100_000_000])
def test_a_negative_cost_is_refused(cost: int) -> None:
    with pytest.raises(InvalidInput, match="must not be negative") as caught:
        apportion(cost, {"A": 100})
    assert caught.value.field == "cost_fen" and caught.value.value == cost


@pytest.mark.parametrize("cost", [True, 1.0, "100", None])
def test_a_cost_that_is_not_an_int_is_refused(cost: object) -> None:
    with pytest.raises(InvalidInput, match="integer number of fen") as caught:
        apportion(cost, {"A": 100})  # type: ignore[arg-type]
    assert caught.value.field == "cost_fen"


def test_no_houses_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least one house") as caught:
        apportion(100, {})
    assert caught.value.field == "weights"


@pytest.mark.parametrize("area", [0, -1, True, False, 89.5, "8950", None])
def test_a_house_with_a_bad_area_is_refused(area: object) -> None:
    with pytest.raises(InvalidInput, match="positive integer exclusive area") as caught:
        apportion(100, {"0101": 8_950, "0102": area})  # type: ignore[dict-item]
    assert caught.value.field == "weights"
    assert caught.value.value == "0102"
    assert f"0102: {area!r}" in str(caught.value)
    assert "0101" not in str(caught.value)


def test_every_bad_house_is_named_at_once_sorted() -> None:
    weights: dict[str, object] = {"0305": -2, "0101": 8_950, "0204": 1.5, "0102": 0, "0401": True}
    with pytest.raises(InvalidInput) as caught:
        apportion(100, weights)  # type: ignore[arg-type]
    assert caught.value.field == "weights"
    assert caught.value.value == "0102, 0204, 0305, 0401"
    assert "(0102: 0, 0204: 1.5, 0305: -2, 0401: True)" in str(caught.value)


def test_a_total_area_of_zero_is_refused_naming_every_house() -> None:
    with pytest.raises(InvalidInput) as caught:
        apportion(100, {"B": 0, "A": 0})
    assert caught.value.field == "weights" and caught.value.value == "A, B"


def test_a_house_code_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidInput, match="house codes must be strings") as caught:
        apportion(100, {"A": 1, 7: 1})  # type: ignore[dict-item]
    assert caught.value.field == "weights" and caught.value.value == "7"


# --- first deposits -------------------------------------------------------------------------


def test_first_deposit_is_area_times_rate() -> None:
    assert first_deposit_fen(8_950, 5_000) == 447_500  # 89.50 m² × ¥50.00/m² = ¥4,475.00
    assert first_deposit_fen(12_075, 8_000) == 966_000  # 120.75 m² × ¥80.00/m²
    assert first_deposit_fen(100, 0) == 0


@pytest.mark.parametrize(
    ("area", "rate", "fen"),
    [
        (1, 49, 0), (1, 50, 1), (1, 51, 1),  # 0.49, 0.50, 0.51 fen
        (8_949, 1, 89), (8_950, 1, 90), (8_951, 1, 90),  # 89.49, 89.50, 89.51 fen
        (3, 1_783, 53), (2, 2_525, 51), (7, 1_493, 105),  # 53.49, 50.50, 104.51 fen
    ],
)
def test_first_deposit_rounds_half_up(area: int, rate: int, fen: int) -> None:
    assert first_deposit_fen(area, rate) == fen
    exact = Fraction(area * rate, 100)
    assert fen == math.floor(exact + Fraction(1, 2))


@pytest.mark.parametrize("area", [0, -1, -8_950])
def test_first_deposit_refuses_an_area_not_above_zero(area: int) -> None:
    with pytest.raises(InvalidInput, match="greater than 0") as caught:
        first_deposit_fen(area, 5_000)
    assert caught.value.field == "area_centi_m2" and caught.value.value == area


@pytest.mark.parametrize("area", [True, 89.5, "8950", None])
def test_first_deposit_refuses_an_area_that_is_not_an_int(area: object) -> None:
    with pytest.raises(InvalidInput, match="integer number of centi-m²") as caught:
        first_deposit_fen(area, 5_000)  # type: ignore[arg-type]
    assert caught.value.field == "area_centi_m2"


def test_first_deposit_refuses_a_negative_rate() -> None:
    with pytest.raises(InvalidInput, match="must not be negative") as caught:
        first_deposit_fen(8_950, -1)
    assert caught.value.field == "rate_fen_per_m2" and caught.value.value == -1


@pytest.mark.parametrize("rate", [True, 50.0, "5000", None])
def test_first_deposit_refuses_a_rate_that_is_not_an_int(rate: object) -> None:
    with pytest.raises(InvalidInput, match="integer number of fen") as caught:
        first_deposit_fen(8_950, rate)  # type: ignore[arg-type]
    assert caught.value.field == "rate_fen_per_m2"


def test_doctests() -> None:
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0
