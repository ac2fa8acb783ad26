"""`hub ledger verify|publish|statement` as a user runs them, against a SQLite store holding an
estate's fund journal and public revenue: the journal verifies, a period is published and its
statement prints in Chinese, and an entry changed in the store afterwards — a deposit made
larger, a revenue amount, or a kept balance — is named (exit 1)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from graph import open_store
from graph.ciphers.keyring import Keyring
from graph.funds.journal import EntryKind, FundEntry
from graph.funds.records import Authority, Emergency
from graph.funds.revenue import RevenueEntry, Source
from graph.funds.service import Funds
from graph.scope import Scope
from tests.graph.conformance import B_A2, E_A, FIRM_2, fixture_city, fixture_places

HUB = [sys.executable, "-m", "hub.cli"]
ENV = {**os.environ, "HUB_BROKER": "", "HUB_MQTT": ""}
CST = dt.timezone(dt.timedelta(hours=8))
HOUSES = sorted(p.code for p in fixture_places() if p.code.startswith(B_A2) and len(p.code) == 28)


class Clock:
    at = dt.datetime(2026, 11, 5, 10, tzinfo=CST)

    def __call__(self) -> dt.datetime:
        return self.at


async def _build(folder: Path, keys: Keyring) -> None:
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        await store.write(fixture_city())
        clock = Clock()
        funds = Funds(store, keys, clock=clock)
        await funds.ledger.book(
            [FundEntry(E_A, house, EntryKind.DEPOSIT, 250_000, clock.at, f"statement:qd-centre:2026-11:{n}") for n, house in enumerate(HOUSES)]
        )
        await funds.raise_project(
            project_id="WX-PUMP", part=B_A2, title="2号楼二次供水泵更换", budget_fen=300_000, authority=Authority.EMERGENCY,
            authority_ref="水泵烧毁停水", emergency=Emergency.WATER, raised_by="property_firm:" + FIRM_2, scope=Scope.everything(),
        )
        await funds.complete_project("WX-PUMP", 123_457, Scope.everything())
        await funds.enter_revenue(
            [RevenueEntry.income(E_A, FIRM_2, clock.at, Source.GATE_AD, "HT-2026-道闸-01", dt.date(2026, 1, 1), dt.date(2026, 10, 31), 480_000)]
        )
        clock.at = dt.datetime(2026, 12, 1, 0, 30, tzinfo=CST)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = tmp_path_factory.mktemp("ledger")
    keys = Keyring.generate()
    keys.save(made / "hub.keys")
    asyncio.run(_build(made, keys))
    return made


def hub(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUB, *arguments], cwd=folder, capture_output=True, text=True, timeout=300, env=ENV)


def test_publish_statement_and_verify_then_a_changed_entry_is_named(folder: Path) -> None:
    published = hub(folder, "ledger", "publish", "--period", "2026-11")
    assert published.returncode == 0, published.stdout + published.stderr
    assert f"fund:{E_A} 2026-11: 8 entries" in published.stdout  # four deposits and four debits
    statement = hub(folder, "ledger", "statement", E_A, "--period", "2026-11")
    assert statement.returncode == 0, statement.stderr
    text = statement.stdout
    assert "海韵花园 专项维修资金收支公示 2026-11" in text and "首次缴存：10,000.00 元" in text
    assert "维修支出：1,234.57 元" in text and "期末余额：8,765.43 元" in text
    assert "应急使用（供水设施损坏或漏水）" in text
    verified = hub(folder, "ledger", "verify", E_A)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "verified: 8 entries, 1 signed heads" in verified.stdout and f"revenue:{E_A} verified: 1 entries" in verified.stdout

    with sqlite3.connect(folder / "hub.sqlite") as database:
        [payload] = database.execute("SELECT payload FROM merkle_entry WHERE log = ? AND \"index\" = 2", (f"fund:{E_A}",)).fetchone()
        database.execute(
            "UPDATE merkle_entry SET payload = ? WHERE log = ? AND \"index\" = 2",
            (bytes(payload).replace(b'"amount_fen":250000', b'"amount_fen":2500000'), f"fund:{E_A}"),
        )
    tampered = hub(folder, "ledger", "verify", E_A)
    assert tampered.returncode == 1, tampered.stdout
    assert "entry 2 does not fit its stored hashes" in tampered.stdout
    assert "the first entry that does not fit is 2" in tampered.stdout

    with sqlite3.connect(folder / "hub.sqlite") as database:
        [payload] = database.execute("SELECT payload FROM merkle_entry WHERE log = ? AND \"index\" = 0", (f"revenue:{E_A}",)).fetchone()
        database.execute(
            "UPDATE merkle_entry SET payload = ? WHERE log = ? AND \"index\" = 0",
            (bytes(payload).replace(b"480000", b"48000"), f"revenue:{E_A}"),
        )
    both = hub(folder, "ledger", "verify", E_A)
    assert both.returncode == 1 and "revenue entry 0 does not fit its stored hashes" in both.stdout


def test_unknown_periods_are_refused_with_a_clear_line(folder: Path) -> None:
    refused = hub(folder, "ledger", "statement", E_A, "--period", "2026-13")
    assert refused.returncode == 2 and "period: '2026-13' must be a month" in refused.stderr
