"""The Markdown report of a benchmark run."""

from __future__ import annotations

from collections.abc import Sequence

from hub.bench.ciphers import BULK_BYTES, SM2_MESSAGE, TARGET_RATIO, CipherFigures
from hub.bench.http import Latency, Rate, ScopeCost
from hub.bench.load import LoadFigures

TARGETS_MS = {"house(code)": 3.0, 'stats(scope:"370200", groupBy: DISTRICT)': 50.0}


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render_machine(machine: dict[str, str], quick: bool) -> str:
    """The run's heading: the machine, and whether the inputs were the small ones."""
    heading = "## Run" + (" (quick: small inputs, not the targets' inputs)" if quick else "")
    return "\n".join([heading, "", *(f"- {key}: {value}" for key, value in machine.items()), "", ""])


def render(
    machine: dict[str, str],
    load: LoadFigures,
    preset: str,
    build_seconds: float | None,
    latencies: Sequence[Latency],
    rates: Sequence[Rate],
    *,
    quick: bool,
    ciphers: CipherFigures | None = None,
    scope_costs: Sequence[ScopeCost] = (),
) -> str:
    lines = [
        render_machine(machine, quick).rstrip("\n"),
        f"### Bulk load, `{load.preset}` preset, SQLite file",
        "",
        "| path | rows | seconds | rows/s |",
        "|---|---:|---:|---:|",
        f"| store port (`SqlStore.write`, 5,000-record batches) | {load.records:,} | {load.port_seconds:.2f} | {load.port_rate:,.0f} |",
        f"| raw `sqlite3.executemany`, same rows, same schema | {load.raw_rows:,} | {load.raw_seconds:.2f} | {load.raw_rate:,.0f} |",
        "",
        f"Port rate is **{load.ratio:.0%}** of raw (target ≥ 25%: {_verdict(load.ratio >= 0.25)}). "
        f"The port's time includes keeping every roll-up current as it writes (the raw side writes no "
        f"roll-ups). Generating the records took {load.generate_seconds:.1f} s (not counted); a full "
        f"refresh of the roll-ups afterwards (the repair path, which a load no longer needs) took "
        f"{load.refresh_seconds:.1f} s (not counted on either side).",
        "",
    ]
    lines += render_http(preset, build_seconds, latencies, rates).rstrip("\n").split("\n")
    if scope_costs:
        lines += ["", *render_scope_costs(scope_costs)]
    if ciphers is not None:
        lines += ["", *render_ciphers(ciphers)]
    return "\n".join(lines) + "\n"


RATE_TARGET = 0.40
"""The hub's `house(code)` rate as a share of the bare route's, on one process (issue 16)."""


def render_http(preset: str, build_seconds: float | None, latencies: Sequence[Latency], rates: Sequence[Rate]) -> str:
    """HTTP latency of each query, then the hub's request rate beside the bare route's."""
    lines = [
        f"### HTTP latency, `{preset}` preset, sequential requests on one keep-alive connection",
        "",
        "| query | requests | p50 ms | p99 ms | target |",
        "|---|---:|---:|---:|---|",
    ]
    if build_seconds is not None:
        lines[1:1] = ["", f"The `{preset}` store was built for this run in {build_seconds:.0f} s."]
    for figure in latencies:
        target = TARGETS_MS.get(figure.name)
        verdict = f"p50 < {target:g} ms: {_verdict(figure.p50_ms < target)}" if target else "—"
        lines.append(f"| `{figure.name}` | {figure.samples} | {figure.p50_ms:.2f} | {figure.p99_ms:.2f} | {verdict} |")
    lines += [
        "",
        "### Request rate, 8 concurrent keep-alive connections from one Python client process",
        "",
        "| server | requests | seconds | requests/s | server CPU ms/request |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {r.name} | {r.requests:,} | {r.seconds:.1f} | {r.per_second:,.0f} | "
            f"{'—' if r.cpu_ms is None else f'{r.cpu_ms:.3f}'} |"
            for r in rates
        ),
        "",
    ]
    if len(rates) == 2:
        share = rates[0].per_second / rates[1].per_second
        lines.append(
            f"The hub answers `house(code)` at {share:.0%} of the bare route's rate, one hub process "
            f"(target ≥ {RATE_TARGET:.0%}: {_verdict(share >= RATE_TARGET)})."
        )
        hub_cpu, bare_cpu = rates[0].cpu_ms, rates[1].cpu_ms
        if hub_cpu and bare_cpu:
            lines.append(
                f"Server CPU per request: the hub {hub_cpu:.3f} ms, the bare route {bare_cpu:.3f} ms "
                f"({bare_cpu / hub_cpu:.0%}): the rates share two cores with the client (one Python "
                "process), the CPU figures do not depend on what else runs."
            )
    return "\n".join(lines) + "\n"


SCOPE_TARGET = 0.10


def render_scope_costs(costs: Sequence[ScopeCost]) -> list[str]:
    """The same query with the same answer, read with an admin token (no scope predicate) and
    with a street office's token (its scope applied to every read)."""
    lines = [
        "### Cost of scope enforcement, the same answer read unscoped (admin) and scoped (street office)",
        "",
        "| query | unscoped p50 ms | scoped p50 ms | cost | target < 10% |",
        "|---|---:|---:|---:|---|",
    ]
    for cost in costs:
        lines.append(
            f"| {cost.name} | {cost.unscoped.p50_ms:.2f} | {cost.scoped.p50_ms:.2f} | "
            f"{cost.cost:+.1%} | {_verdict(cost.cost < SCOPE_TARGET)} |"
        )
    return lines


def render_ciphers(figures: CipherFigures) -> list[str]:
    """The cipher section: per-value rates, OpenSSL beside gmssl, with the ratios and verdicts."""
    target = f"target ≥ {TARGET_RATIO:g}×"
    lines = [
        f"### Ciphers, per value, one process (each figure run for {figures.seconds_each:g} s)",
        "",
        "| field | bytes | SM4 seal, OpenSSL GCM /s | SM4, gmssl CBC /s | ratio "
        "| SM3 blind index, OpenSSL /s | SM3 index, gmssl /s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for field in figures.fields:
        lines.append(
            f"| {field.field} | {field.value_bytes} | {field.sm4_openssl.per_second:,.0f} "
            f"| {field.sm4_gmssl.per_second:,.0f} | {field.sm4_ratio:.1f}× "
            f"| {field.sm3_openssl.per_second:,.0f} | {field.sm3_gmssl.per_second:,.0f} | {field.sm3_ratio:.0f}× |"
        )
    lines += [
        "",
        f"- SM4: OpenSSL is at least **{figures.sm4_ratio:.1f}×** gmssl on every field "
        f"({target}: {_verdict(figures.sm4_ratio >= TARGET_RATIO)}). OpenSSL's figure is the hub's "
        "`graph.ciphers.sm4.seal`: SM4-GCM with a fresh 12-byte nonce and associated data, a new "
        "cipher context per value. gmssl has no GCM (ECB and CBC only), so its figure is SM4-CBC with "
        "PKCS#7 padding and a fresh IV, as gmssl does it, with the key schedule prepared once. "
        "On values this short most of OpenSSL's time per value is spent in Python building the cipher "
        "context (pyca `cryptography` has no reusable SM4-GCM object), not in SM4 itself. "
        f"For reference, on {BULK_BYTES:,}-byte buffers (cipher work, not per-call overhead): OpenSSL "
        f"{figures.bulk_openssl.per_second * BULK_BYTES / 1e6:,.1f} MB/s, gmssl "
        f"{figures.bulk_gmssl.per_second * BULK_BYTES / 1e6:,.2f} MB/s ({figures.bulk_ratio:,.0f}×).",
        f"- SM3: OpenSSL is at least **{figures.sm3_ratio:.0f}×** gmssl on every field "
        f"({target}: {_verdict(figures.sm3_ratio >= TARGET_RATIO)}). Both compute the hub's blind "
        "index, HMAC-SM3 over `field NUL normalised value`: OpenSSL through `Sealer.index`, gmssl "
        "through RFC 2104 built on its pure-Python `sm3_hash` (padded keys prepared once).",
        "",
        "| SM2 (GB/T 32918), pure Python (`graph.ciphers.sm2_curve`) | operations | seconds | per second |",
        "|---|---:|---:|---:|",
        f"| sign (`graph.ciphers.sm2.sign`, nonce from `secrets`) | {figures.sm2_sign.operations:,} "
        f"| {figures.sm2_sign.seconds:.2f} | {figures.sm2_sign.per_second:,.0f} |",
        f"| verify (`graph.ciphers.sm2.verify`) | {figures.sm2_verify.operations:,} "
        f"| {figures.sm2_verify.seconds:.2f} | {figures.sm2_verify.per_second:,.0f} |",
        "",
        f"SM2 signs a {len(SM2_MESSAGE)}-byte message (e = SM3(Z ‖ M) through OpenSSL; the curve "
        "arithmetic is the hub's pure Python: Jacobian coordinates, a fixed-base table of G and, for "
        "a public key that has verified a few signatures, one of the key). No target: the hub signs "
        "exports and owner votes, not every request.",
    ]
    return lines
