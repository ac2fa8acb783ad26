"""`hub bench --quick` as a user runs it (a real subprocess): every section, each figure beside its
baseline. A module of its own, apart from tests/hub/test_cli.py: it is the suite's longest test
(about three minutes on 2 cores), and under `--dist loadfile` a module runs on one worker, so
alone it can run beside the other CLI tests instead of after them."""

from __future__ import annotations

from pathlib import Path

from tests.hub.test_cli import run


def test_bench_quick_reports_every_figure_beside_its_baseline(tmp_path: Path) -> None:
    report = tmp_path / "bench.md"
    # every section, the owners' vote too: more than the other commands' five minutes on 2 cores
    result = run("bench", "--quick", "--requests", "30", "--output", str(report), cwd=tmp_path, timeout=1500)
    assert result.returncode == 0, result.stderr
    text = report.read_text(encoding="utf-8")
    for part in (
        "store port (`SqlStore.write`",
        "raw `sqlite3.executemany`",
        "`house(code)`",
        "`place(code){children}`",
        'stats(scope:"370200", groupBy: DISTRICT)',
        "bare Starlette, same JSON",
        "Cost of scope enforcement",
        "search within a street",
        "### Owners' votes: one estate of 200 houses",
        "### The owners' money books: an estate of 200 houses and a journal of 20,000 entries",
        "### Facilities' overdue sweep: 3,000 devices with life records",
        "### Firms' credit: a month's scores for every firm of the `city` preset",
        "### Dispatch to a person: 100 staff of one firm over 10 estates of a district",
        "reading the firm's 100 staff alone:",
        "### Several processes: `house(code)` requests/s",
        "| hub, 2 workers + Redis |",
        "| bare Starlette, 1 process, same JSON |",
    ):
        assert part in text, part
