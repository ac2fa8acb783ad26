"""hub.bench.facilities at a small size: the device count it takes from the presets, and a run
whose sweep raises exactly the overdue records it planted, each with its case, and reports
each figure beside its baseline."""

from __future__ import annotations

from hub.bench.facilities import devices_for, measure_facilities, render_facilities
from hub.demo.presets import resolve


def test_the_city_count_scales_the_small_city_by_houses() -> None:
    assert devices_for("small") == 516
    assert devices_for("city") == round(resolve("city").houses * 516 / 10_000)


def test_a_small_run_sweeps_what_it_planted() -> None:
    figures = measure_facilities(600, 0.01)
    assert figures.devices == 600 and figures.overdue == 6
    assert (figures.raised, figures.cases) == (6, 6)
    text = "\n".join(render_facilities(figures))
    assert "steady sweep" in text and "reading every device row" in text and "the city preset has about" in text
