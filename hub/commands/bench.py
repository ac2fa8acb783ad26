"""`hub bench`: the figures of BENCHMARKS.md."""

from __future__ import annotations

import argparse


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser("bench", help="measure load rate, API latency and ciphers (see BENCHMARKS.md)")
    bench.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    bench.add_argument("--city-db", default="var/bench-city.sqlite", help="the city preset store (built if missing)")
    bench.add_argument("--output", help="write the Markdown report here as well as printing it")
    bench.add_argument("--requests", type=int, default=400, help="requests per latency figure")
    bench.add_argument(
        "--only",
        help="comma-separated sections to measure: core (ciphers, bulk load, HTTP on the city preset), "
        "http (only the HTTP part of core: house(code), place{children}, stats p50/p99, and house(code)'s "
        "rate beside a bare Starlette route's, on --http-preset), "
        "registry (full and 1%% incremental sync), open311 (requests.json latency), "
        "devices (MQTT ingestion rate and alarm-to-case latency, needs the mosquitto binary), "
        "graph (FalkorDB beside SQLite: load, house(code), stats by street, memory), "
        "votes (an owners' vote: castBallot rate, closing, hub votes verify, inclusion proofs), "
        "funds (the owners' money books: apportion and debit, appends, verify, proofs, statements), "
        "facilities (the overdue sweep over the city preset's number of devices with life records), "
        "credit (firms' credit: a month's scores for every firm of the city preset), "
        "dispatch (assigning a case to a person among a district's 500 staff), "
        "workers (house(code) requests/s from 1 hub process and from --workers 2 through Redis, beside bare Starlette); "
        "default all",
    )
    bench.add_argument(
        "--http-preset", default="city", choices=("small", "district", "city"),
        help="the preset the HTTP figures read (default city)",
    )
    bench.add_argument(
        "--http-db",
        help="the store of --http-preset (built if missing; default --city-db for city, var/bench-PRESET.sqlite otherwise)",
    )
    bench.add_argument(
        "--graph-preset", default="district",
        help="the preset the graph section loads into both stores (district; city takes hours on 2 cores)",
    )
    bench.add_argument("--votes-houses", type=int, default=5_000, help="houses of the votes section's estate (default 5000)")
    bench.add_argument("--funds-houses", type=int, default=5_000, help="houses of the funds section's estate (default 5000)")
    bench.add_argument("--funds-entries", type=int, default=1_000_000, help="entries of the funds section's long journal (default 1000000)")
    bench.add_argument(
        "--facilities-devices", type=int, default=None,
        help="devices with life records in the facilities section (default: the city preset's count, about 125,000)",
    )
    bench.add_argument(
        "--facilities-overdue", type=float, default=0.001,
        help="the share of them overdue at the first sweep (default 0.001: about a day's missed maintenance in the city)",
    )
    bench.add_argument("--votes-concurrency", type=int, default=32, help="castBallot requests in flight in the votes section (default 32)")
    bench.add_argument(
        "--build-preset", default="city", choices=["small", "district", "city"],
        help="the preset the build section builds (default city)",
    )
    bench.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    from hub.bench import run_benchmarks

    return run_benchmarks(arguments)
