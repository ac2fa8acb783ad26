"""The `hub` command: build a demo city, serve the API, migrate, benchmark."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from graph.errors import HubError
from hub.settings import Settings

EXAMPLE_QUERY = """{
  stats(scope: "370202", groupBy: STREET) { place { code name } houses floorArea owners estates }
  house(code: "%s") { name area floor usage owners { owner { name } share since } }
}"""


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", help="store URL: sqlite:///FILE (default sqlite:///hub.sqlite, or $HUB_DB) or postgresql://…"
    )


def _add_server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub", description="智慧物业管理服务平台 — the smart-property data hub (GraphQL)."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="build the Qingdao demo city into the store")
    _add_db(demo)
    demo.add_argument("--preset", default="small", choices=["small", "district", "city"])
    demo.add_argument("--seed", type=int, default=2020, help="the same seed builds the same city")
    demo.add_argument("--fresh", action="store_true", help="delete the SQLite file first")
    demo.add_argument("--serve", action="store_true", help="serve the API when the city is built")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_server(demo)

    serve = commands.add_parser("serve", help="serve the GraphQL API (GraphiQL at /graphql)")
    _add_db(serve)
    _add_server(serve)

    database = commands.add_parser("db", help="schema migrations")
    database.add_argument("action", choices=["upgrade", "current"])
    _add_db(database)

    bench = commands.add_parser("bench", help="measure load rate and API latency (see BENCHMARKS.md)")
    bench.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    bench.add_argument("--city-db", default="var/bench-city.sqlite", help="the city preset store (built if missing)")
    bench.add_argument("--output", help="write the Markdown report here as well as printing it")
    bench.add_argument("--requests", type=int, default=400, help="requests per latency figure")
    return parser


async def _build_demo(db: str, preset: str, seed: int, *, progress: bool) -> str:
    """Build the demo city; returns a house code for the example query."""
    from graph.sql import SqlStore
    from hub import demo
    from hub.loading import load

    store = await SqlStore.open(db)
    try:
        report = await load(
            store,
            demo.generate(preset, seed),
            total=demo.estimate(preset),
            progress=progress,
            description=f"demo {preset}",
        )
        counts = report.counts
        print(
            f"built the {preset} demo city: {report.records:,} records in {report.seconds:.1f} s "
            f"({report.rate:,.0f}/s; inserted {counts.inserted:,}, updated {counts.updated:,}, "
            f"unchanged {counts.unchanged:,})"
        )
        from graph.levels import Level
        from graph.scope import Scope

        page = await store.subtree(Level.HOUSE, None, Scope.everything(), 1)
        return page.items[0].code if page.items else ""
    finally:
        await store.close()


def _sqlite_file(db: str) -> Path | None:
    from graph.sql.engine import database_url

    url = database_url(db)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database)
    return None


def _serve(settings: Settings) -> None:
    import uvicorn

    from graph.sql import SqlStore
    from hub.app import create_app

    async def upgrade() -> None:
        store = await SqlStore.open(settings.db)
        await store.close()

    asyncio.run(upgrade())
    store = SqlStore.connect(settings.db)
    app = create_app(store, owns_store=True)
    print(f"GraphiQL: http://{settings.host}:{settings.port}/graphql  (store: {settings.db})")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        return _run(arguments)
    except HubError as error:
        print(f"hub: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run(arguments: argparse.Namespace) -> int:
    settings = Settings.from_env(
        db=getattr(arguments, "db", None),
        host=getattr(arguments, "host", None),
        port=getattr(arguments, "port", None),
    )
    if arguments.command == "demo":
        if arguments.fresh:
            path = _sqlite_file(settings.db)
            for suffix in ("", "-wal", "-shm"):
                if path is not None:
                    Path(str(path) + suffix).unlink(missing_ok=True)
        house = asyncio.run(_build_demo(settings.db, arguments.preset, arguments.seed, progress=not arguments.quiet))
        print(f"\nGraphiQL will be at http://{settings.host}:{settings.port}/graphql — try:\n")
        print(EXAMPLE_QUERY % house)
        if arguments.serve:
            print()
            _serve(settings)
        else:
            print(f"\nstart it with: hub serve --db {settings.db}")
        return 0
    if arguments.command == "serve":
        _serve(settings)
        return 0
    if arguments.command == "db":
        return asyncio.run(_database(settings.db, arguments.action))
    if arguments.command == "bench":
        from hub.bench import run_benchmarks

        return run_benchmarks(arguments)
    raise AssertionError(arguments.command)


async def _database(db: str, action: str) -> int:
    from graph.sql import SqlStore, migrate

    store = await SqlStore.open(db, upgrade=action == "upgrade")
    try:
        revision = await migrate.current(store.engine)
        print(f"{db}: at revision {revision or '(empty)'}; newest is {migrate.head()}")
    finally:
        await store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
