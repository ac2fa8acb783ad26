"""The Markdown report of a benchmark run."""

from __future__ import annotations

from collections.abc import Sequence

from hub.bench.http import Latency, Rate
from hub.bench.load import LoadFigures

TARGETS_MS = {"house(code)": 5.0, 'stats(scope:"370200", groupBy: DISTRICT)': 50.0}


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(
    machine: dict[str, str],
    load: LoadFigures,
    preset: str,
    build_seconds: float | None,
    latencies: Sequence[Latency],
    rates: Sequence[Rate],
    *,
    quick: bool,
) -> str:
    lines = [
        "## Run" + (" (quick: small inputs, not the targets' inputs)" if quick else ""),
        "",
        *(f"- {key}: {value}" for key, value in machine.items()),
        "",
        f"### Bulk load, `{load.preset}` preset, SQLite file",
        "",
        "| path | rows | seconds | rows/s |",
        "|---|---:|---:|---:|",
        f"| store port (`SqlStore.write`, 5,000-record batches) | {load.records:,} | {load.port_seconds:.2f} | {load.port_rate:,.0f} |",
        f"| raw `sqlite3.executemany`, same rows, same schema | {load.raw_rows:,} | {load.raw_seconds:.2f} | {load.raw_rate:,.0f} |",
        "",
        f"Port rate is **{load.ratio:.0%}** of raw (target ≥ 25%: {_verdict(load.ratio >= 0.25)}). "
        f"Generating the records took {load.generate_seconds:.1f} s (not counted); refreshing the "
        f"roll-ups afterwards took {load.refresh_seconds:.1f} s (not counted on either side).",
        "",
        f"### HTTP latency, `{preset}` preset, sequential requests on one keep-alive connection",
        "",
        "| query | requests | p50 ms | p99 ms | target |",
        "|---|---:|---:|---:|---|",
    ]
    if build_seconds is not None:
        lines.insert(-5, f"The `{preset}` store was built for this run in {build_seconds:.0f} s.\n")
    for figure in latencies:
        target = TARGETS_MS.get(figure.name)
        verdict = f"p50 < {target:g} ms: {_verdict(figure.p50_ms < target)}" if target else "—"
        lines.append(f"| `{figure.name}` | {figure.samples} | {figure.p50_ms:.2f} | {figure.p99_ms:.2f} | {verdict} |")
    lines += [
        "",
        "### Request rate, 8 concurrent keep-alive connections from one Python client process",
        "",
        "| server | requests | seconds | requests/s |",
        "|---|---:|---:|---:|",
        *(f"| {r.name} | {r.requests:,} | {r.seconds:.1f} | {r.per_second:,.0f} |" for r in rates),
        "",
    ]
    if len(rates) == 2:
        lines.append(f"The hub answers `house(code)` at {rates[0].per_second / rates[1].per_second:.0%} of the bare route's rate.")
    return "\n".join(lines) + "\n"
