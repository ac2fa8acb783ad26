"""`hub bench --only votes --quick`: the owners' vote section runs end to end on a small estate
(real `hub serve`, real HTTP, `hub votes verify` as a subprocess) and reports every figure beside
its baseline. Only that figures were measured is checked, never a timing against its target."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"


def figures(pattern: str, text: str) -> list[float]:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the report:\n{text}"
    return [float(value.replace(",", "")) for value in found.groups()]


def test_bench_votes_quick_reports_every_figure_beside_its_baseline(tmp_path: Path) -> None:
    report = tmp_path / "bench.md"
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "bench", "--quick", "--only", "votes", "--requests", "30", "--output", str(report)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    text = report.read_text(encoding="utf-8")
    assert "### Owners' votes: one estate of 200 houses, 3 items, `hub serve` on SQLite" in text
    # the electorate's rules are exercised: jointly held houses, owners with two houses
    assert "200 houses held by 200 owners (4 houses held jointly by two, 4 owners with two houses)" in text
    [houses, heads] = figures(rf"froze the electorate \(({NUMBER}) houses, ({NUMBER}) heads", text)
    assert houses == 200 and 0 < heads < 200
    rate, ballots, floor = figures(
        rf"8 in flight: ballots/s \| ({NUMBER}) \(({NUMBER}) in {NUMBER} s\) \| `\{{ me \{{ role \}} \}}`, same tokens, "
        rf"same concurrency: ({NUMBER}) requests/s",
        text,
    )
    assert rate > 0 and ballots == 200 and floor > 0
    assert all(v > 0 for v in figures(rf"under that load, p50 / p99 ms \| ({NUMBER}) / ({NUMBER}) \| ({NUMBER}) / ({NUMBER})", text))
    close, read = figures(rf"committee seated\), s \| ({NUMBER}) \| reading the board's entries alone: ({NUMBER})", text)
    assert close > 0 and read > 0
    assert "(`Votes.close`: 600 board entries, 200 houses × 3 items" in text
    verify, listing = figures(rf"as a subprocess, wall s \| ({NUMBER}) \| `hub votes list`, same start-up and store: ({NUMBER})", text)
    assert verify > 0 and listing > 0
    http = figures(rf"\(30 proofs\) \| ({NUMBER}) / ({NUMBER}) \| `\{{ me \{{ role \}} \}}` the same way: ({NUMBER}) / ({NUMBER})", text)
    alone = figures(rf"through `MerkleLog`\), p50 / p99 ms \| ({NUMBER}) / ({NUMBER}) \| one entry read from the store: ({NUMBER}) / ({NUMBER})", text)
    assert all(v > 0 for v in http + alone)
    # what the run found, not how fast
    assert "Co-owners refused on a house their co-owner had cast: 4 of 4." in text
    assert re.search(r"`hub votes verify` said: “vote TP[0-9]{14} verified: 600 entries", text), text
    [heads_signed] = figures(rf"the receipts carried ({NUMBER}) signed heads", text)
    assert 1 <= heads_signed <= 200
    assert "Every proof's root was the final head's: yes." in text
    assert re.search(r"item 3 \(class 3, election\): quorum reached", text), text
