"""The demo city's outside world: a registry exchange database, a water utility's API and the
city's 12345 work-order feed, built from the demo city so that `hub demo` runs real syncs.

- the registry (不动产登记) exchange database is a SQLite file in the sources folder, filled from
  the demo city's houses, holders and registrations; while `hub serve --demo-sources` runs, the
  registry records a few transfers every few minutes, which the scheduled sync brings in;
- the maintenance fund's custodian (市维修资金中心) is a folder of statement files, a year of
  them written once from the demo city's houses (`connectors.custodian.reference`: first
  deposits at each house's area × the city's rate for its kind, monthly interest, a few
  top-ups), which the `custodian` connector books on each estate's fund journal;
- the water utility and the 12345 feed are HTTP services (connectors.utilities.reference,
  connectors.cityops.reference) served on their own port beside the hub (`hub serve
  --demo-sources`), rebuilt deterministically from the store at start; the feed keeps moving —
  clerks advance a few orders every minute — so scheduled syncs always have news.

`connectors.toml` written beside the store points the hub's connectors at them. Their tokens are
the reference services' own fixed demo tokens, not secrets of any real system.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from starlette.applications import Starlette
from starlette.routing import Mount

from graph.ledger import ConnectorRun
from graph.store import Store
from graph.utilities import Utility

if TYPE_CHECKING:
    from connectors.base import Source, SourceRecord, Stream, Verdict
    from connectors.custodian.reference import FundRates
    from connectors.cityops.reference import FeedData

WATER_TOKEN = "demo-water-api-token"
FEED_TOKEN = "demo-12345-feed-token"
FEED_ACTIVITY_SECONDS = 60.0
"""How often the reference feed's clerks move some orders on."""


@dataclass(frozen=True, slots=True)
class SourcesPlace:
    """Where the demo's sources live: a folder for the registry file, a loopback address for
    the HTTP services."""

    folder: Path
    host: str
    port: int

    @property
    def registry_url(self) -> str:
        return f"sqlite:///{(self.folder / 'registry.sqlite').resolve()}"

    @property
    def statements(self) -> Path:
        """The folder of the fund custodian's statement files."""
        return self.folder / "custodian"

    def base_url(self, port: int | None = None) -> str:
        return f"http://{self.host}:{self.port if port is None else port}"


REGISTRY_ACTIVITY_SECONDS = 300.0
"""How often the reference registry records new transfers while the demo is served."""


def sources_place(db: str, host: str, port: int) -> SourcesPlace:
    """Beside a SQLite store `hub.sqlite`, the folder `hub-sources/`; for a graph `hub`, the
    folder `hub-sources/` here; the HTTP sources on the port after the hub's."""
    from graph.opening import graph_name, sqlite_file

    path = sqlite_file(db)
    if path is not None:
        return SourcesPlace(path.with_name(path.stem + "-sources"), host, port + 1)
    graph = graph_name(db)
    return SourcesPlace(Path(f"{graph or 'hub'}-sources"), host, port + 1)


async def build_registry(store: Store, where: SourcesPlace, *, seed: int) -> int:
    """Fill the registry exchange file from the demo city (what the registry holds is what the
    city was built from, so the first sync confirms it); returns the rows written."""
    from connectors.registry.reference import build_exchange

    where.folder.mkdir(parents=True, exist_ok=True)
    return await build_exchange(where.registry_url, store, seed=seed)


async def build_statements(store: Store, where: SourcesPlace, *, seed: int, rates: FundRates, day: dt.date | None = None) -> int:
    """Write the fund custodian's statements of the calendar year before `day` (today in Beijing)
    into the sources folder, unless it holds statements already (the custodian sent them once:
    a demo built again syncs what is there); returns the lines written (0 when kept)."""
    from connectors.custodian.files import SUFFIXES
    from connectors.custodian.reference import fund_houses, write_statements
    from graph.clock import today

    folder = where.statements
    if folder.is_dir() and any(path.suffix in SUFFIXES for path in folder.iterdir()):
        return 0
    year = (day or today()).year - 1
    made = write_statements(await fund_houses(store), folder, [(year, month) for month in range(1, 13)], rates=rates, seed=seed)
    return made.lines


async def keep_registry_moving(where: SourcesPlace, every: float = REGISTRY_ACTIVITY_SECONDS) -> None:
    """Register transfers of 0.2% of the units every `every` seconds, as a registry office would."""
    from connectors.registry.reference import record_changes

    tick = 0
    while True:
        await asyncio.sleep(every)
        tick += 1
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        await record_changes(where.registry_url, fraction=0.002, seed=tick, at=now)


async def source_app(store: Store, *, seed: int) -> tuple[Starlette, FeedData]:
    """The HTTP sources in one app: `/water/v1/...` and `/12345/api/...`; also returns the
    feed's data, which the caller may keep moving with `keep_feed_moving`."""
    app, feed, _ = await _source_app(store, seed=seed)
    return app, feed


async def _source_app(store: Store, *, seed: int) -> tuple[Starlette, FeedData, dict[str, int]]:
    """`source_app`, and how many records each source serves (for progress bars)."""
    from connectors.cityops.reference import build_orders, feed_app
    from connectors.utilities.reference import build_dataset, utility_app

    water = await build_dataset(store, utility=Utility.WATER, seed=seed, houses=3000)
    feed = await build_orders(store, seed=seed, count=400)
    app = Starlette(
        routes=[
            Mount("/water", utility_app(water, token=WATER_TOKEN)),
            Mount("/12345", feed_app(feed, token=FEED_TOKEN)),
        ]
    )
    sizes = {"water": len(water.accounts) + len(water.bills) + len(water.outages), "hotline": len(feed.orders)}
    return app, feed, sizes


async def keep_feed_moving(feed: FeedData, every: float = FEED_ACTIVITY_SECONDS) -> None:
    """Move a few open orders one step every `every` seconds, as the city's clerks would."""
    tick = 0
    while True:
        await asyncio.sleep(every)
        tick += 1
        feed.change(5, seed=tick, at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0))


def connectors_toml(where: SourcesPlace) -> str:
    """The demo's connectors file: the registry every 15 minutes, water every 10, 12345 every 2,
    the fund custodian's statements daily."""
    base = where.base_url()
    return f"""# Connectors of the demo city (written by `hub demo`; see README, "Connectors").
# The sources are the demo's reference systems: `hub serve --demo-sources` serves the HTTP ones
# on {base}; their tokens are the reference services' fixed demo tokens.

[connectors.registry]
kind = "registry-db"
every = "15m"
url = "{where.registry_url}"

[connectors.water]
kind = "utilities-http"
every = "10m"
utility = "water"
url = "{base}/water"
token = "{WATER_TOKEN}"

[connectors.hotline]
kind = "cityops-feed"
every = "2m"
url = "{base}/12345"
token = "{FEED_TOKEN}"

[connectors.fund]
kind = "custodian"
every = "1d"
folder = "{where.statements.resolve()}"
"""


@contextlib.asynccontextmanager
async def serving(app: Starlette, host: str, port: int = 0) -> AsyncIterator[int]:
    """Serve `app` with uvicorn in this event loop on (host, port); yields the port."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await task
        sock.close()


async def first_syncs(
    store: Store,
    where: SourcesPlace,
    *,
    seed: int,
    config: Path,
    progress: bool = False,
    sizes: Mapping[str, int] | None = None,
    finished: Callable[[ConnectorRun], None] | None = None,
) -> list[ConnectorRun]:
    """Run every demo connector once, the HTTP sources served on a passing loopback port.

    With `progress`, each sync has a bar on stderr counting the records it reads (out of
    `sizes[name]` where the caller knows it: the registry's rows); `finished` hears each run
    as it ends, so its summary can follow its bar."""
    from tqdm import tqdm

    from connectors.base import Config
    from connectors.config import load_connectors, opened
    from connectors.runner import sync

    specs = load_connectors(config)
    app, _, served = await _source_app(store, seed=seed)
    totals = {**served, **(sizes or {})}
    runs: list[ConnectorRun] = []
    async with serving(app, where.host) as port:
        for spec in specs:
            values = dict(spec.config.values)
            if isinstance(values.get("url"), str) and values["url"].startswith(where.base_url()):
                values["url"] = where.base_url(port) + values["url"][len(where.base_url()) :]
            moved = Config(spec.config.connector, spec.config.schema, values)
            with tqdm(
                total=totals.get(spec.name), unit="rec", unit_scale=True, desc=f"sync {spec.name}",
                disable=not progress, file=sys.stderr, leave=True,
            ) as bar:
                async with opened(dataclasses.replace(spec, config=moved)) as source:
                    counted = cast("Source", _Counted(source, bar.update))
                    run = await sync(store, counted, trigger="demo")
            runs.append(run)
            if finished is not None:
                finished(run)
    return runs


class _Counted:
    """A source whose streams tick `tick` for every record they read: a sync's progress, seen
    from outside the runner. Everything else is the source's own."""

    def __init__(self, source: Source, tick: Callable[[int], Any]) -> None:
        self._source = source
        self._tick = tick

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def streams(self) -> Sequence[Stream]:
        return [cast("Stream", _CountedStream(stream, self._tick)) for stream in self._source.streams()]


class _CountedStream:
    def __init__(self, stream: Stream, tick: Callable[[int], Any]) -> None:
        self._stream = stream
        self._tick = tick
        self.name = stream.name
        self.primary_key = stream.primary_key
        self.cursor_field = stream.cursor_field
        self.schema = stream.schema

    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        async for record in self._stream.read(after):
            self._tick(1)
            yield record

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        return await self._stream.link(records, store)


def write_connectors(where: SourcesPlace, path: Path) -> None:
    path.write_text(connectors_toml(where), encoding="utf-8")
