"""`hub credit compute|show` as a user runs them against a SQLite store holding the conformance
city and a month of cases, and the demo's year of monthly scores (hub.demo.credit)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from graph import open_store
from graph.cases import CaseStatus
from graph.ciphers.keyring import Keyring
from hub.demo.credit import build_demo_credit, demo_credit_line
from tests.graph.conformance import E_B, FIRM_2, FIRM_3, fixture_city
from tests.graph.conformance_cases import a_case, insert

HUB = [sys.executable, "-m", "hub.cli"]
ENV = {**os.environ, "HUB_BROKER": "", "HUB_MQTT": "", "HUB_CREDIT_WEIGHTS": ""}
CST = dt.timezone(dt.timedelta(hours=8))


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 10, tzinfo=CST)


async def _build(folder: Path, keys: Keyring) -> None:
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        await store.write(fixture_city())
        await insert(
            store,
            a_case("n1", at=at(11, 2), firm_code=FIRM_2, status=CaseStatus.RESOLVED, resolved_at=at(11, 3), rating=5),
            a_case("n2", E_B, at=at(11, 4), firm_code=FIRM_2, status=CaseStatus.DISPATCHED, sign_by=at(11, 5)),
            a_case("o1", at=at(10, 9), firm_code=FIRM_2, status=CaseStatus.RESOLVED, resolved_at=at(10, 10), rating=1),
        )
    finally:
        await store.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = tmp_path_factory.mktemp("credit")
    keys = Keyring.generate()
    keys.save(made / "hub.keys")
    asyncio.run(_build(made, keys))
    return made


def hub(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUB, *arguments], cwd=folder, capture_output=True, text=True, timeout=300, env=ENV)


def test_compute_stores_a_version_per_run_and_show_prints_every_part(folder: Path, tmp_path: Path) -> None:
    first = hub(folder, "credit", "compute", "--period", "2026-11")
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(rf"^{FIRM_2} 2026-11 v1: \d+\.\d\d \(2 estates, 15 houses\)$", first.stdout, re.M), first.stdout
    assert f"{FIRM_3} 2026-11 v1:" in first.stdout and "credit 2026-11: 2 firms scored" in first.stdout
    weights = tmp_path / "credit.toml"
    weights.write_text("[credit.weights]\nresponse = 0\nresolution = 0\nsatisfaction = 0\n", encoding="utf-8")
    second = hub(folder, "credit", "compute", "--period", "2026-11", "--weights", str(weights))
    assert second.returncode == 0, second.stderr
    assert f"{FIRM_2} 2026-11 v2:" in second.stdout
    shown = hub(folder, "credit", "show", FIRM_2, "--period", "2026-11")
    assert shown.returncode == 0, shown.stderr
    assert "响应率 (response): due 1, signedInTime 0; rate 0/1; weight 0; points 0.00" in shown.stdout
    assert "设施维保 (maintenance): due 0, onTime 0; rate no data; weight 10; points 0.00" in shown.stdout
    assert "解决率 (resolution): cases 2, resolved 1; rate 1/2; weight 0" in shown.stdout
    history = hub(folder, "credit", "show", FIRM_2)
    assert history.returncode == 0 and history.stdout.splitlines()[0].startswith(f"{FIRM_2} 2026-11 v2:")
    missing = hub(folder, "credit", "show", FIRM_2, "--period", "2025-01")
    assert missing.returncode == 1 and "no credit score" in missing.stdout


def test_bad_periods_and_weights_are_refused_with_a_clear_line(folder: Path, tmp_path: Path) -> None:
    bad = hub(folder, "credit", "compute", "--period", "2026-13")
    assert bad.returncode == 2 and "period" in bad.stderr and "Traceback" not in bad.stderr
    weights = tmp_path / "bad.toml"
    weights.write_text("[credit.weights]\nspeed = 3\n", encoding="utf-8")
    refused = hub(folder, "credit", "compute", "--period", "2026-10", "--weights", str(weights))
    assert refused.returncode == 2 and "credit.weights.speed" in refused.stderr
    listed = hub(folder, "credit", "show", FIRM_2)
    assert "2026-10" not in listed.stdout  # nothing was computed


async def test_the_demo_scores_a_year_of_months_once(tmp_path: Path) -> None:
    keys = Keyring.generate()
    await _build(tmp_path, keys)
    store = await open_store(f"sqlite:///{tmp_path / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        made = await build_demo_credit(store, today=dt.date(2026, 12, 5))
        assert made.months == tuple("2025-12,2026-01,2026-02,2026-03,2026-04,2026-05,2026-06,2026-07,2026-08,2026-09,2026-10,2026-11".split(","))
        assert made.firms == 2 and made.best is not None and made.worst is not None
        [history] = await store.credit_history([FIRM_2])
        assert [score.period for score in history] == list(made.months) and all(score.version == 1 for score in history)
        assert all(score.computed_at <= dt.datetime(2026, 12, 1, tzinfo=CST) for score in history)
        again = await build_demo_credit(store, today=dt.date(2026, 12, 5))
        assert again.months == () and "kept as they were" in demo_credit_line(again)
        assert "12 months computed (2025-12 to 2026-11)" in demo_credit_line(made)
    finally:
        await store.close()
