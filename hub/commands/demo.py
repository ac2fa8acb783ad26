"""`hub demo`: build the Qingdao demo city, print ready tokens, and optionally serve it."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

from graph.ciphers.keyring import Keyring
from graph.levels import Level
from graph.scope import Scope
from graph.store import Store
from hub.commands.common import add_db, add_server, keys_path, settings_of
from hub.demo.sources import SourcesPlace, sources_place

if TYPE_CHECKING:
    from connectors.custodian.reference import FundRates

EXAMPLE_QUERY = """{
  stats(scope: "370200", groupBy: STREET) { place { code name } houses owners devices { online alarm activeAlarms } cases { responseRate overdue } }
  house(code: "%s") { name area floor usage owners { owner { name phone } share since } }
  alarms(scope: "370200", active: true, first: 5) { edges { node { message severityLabel device { name } case { id statusLabel firm { name } } } } }
}

and, live (the same Headers tab), subscription { alarms(scope: "370200") { kind alarm { message device { name } } } }"""


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", help="build the Qingdao demo city into the store")
    add_db(demo)
    demo.add_argument("--preset", default="small", choices=["small", "district", "city"])
    demo.add_argument("--seed", type=int, default=2020, help="the same seed builds the same city")
    demo.add_argument("--fresh", action="store_true", help="start empty: delete the SQLite file, or the graph, first")
    demo.add_argument("--serve", action="store_true", help="serve the API when the city is built")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.add_argument(
        "--no-sources",
        action="store_true",
        help="skip the reference sources (registry exchange, water API, 12345 feed) and their first syncs",
    )
    demo.add_argument("--connectors", help="where to write the connectors file (default connectors.toml, or $HUB_CONNECTORS)")
    demo.add_argument(
        "--fund-rates",
        default=os.environ.get("HUB_FUND_RATES", ""),
        help="the city's maintenance-fund rates for the custodian's statements, e.g. "
        "'住宅无电梯=60,住宅有电梯=90,非住宅=100,利率=1.35,结息=月' (yuan per m², annual interest in percent "
        "credited monthly, or 季 quarterly, 年 yearly; default those, or $HUB_FUND_RATES)",
    )
    add_server(demo)
    demo.set_defaults(handler=run)


def demo_keys(path: Path) -> Keyring:
    """The hub's keys, created on first use so that a demo needs no setup step."""
    if path.exists():
        return Keyring.load(path)
    keys = Keyring.generate()
    keys.save(path)
    print(f"created the hub's keys in {path} (mode 600); keep them: they open the owners' data")
    return keys


async def build(arguments: argparse.Namespace, keys: Keyring) -> tuple[str, list[tuple[str, str]]]:
    """Build the city; returns a house code for the example and (label, token) pairs."""
    from graph.opening import open_store
    from hub import demo
    from hub.auth.issuing import issue_token
    from hub.loading import load

    settings = settings_of(arguments)
    store = await open_store(settings.db, sealer=keys.sealer())
    try:
        # a large load: the store defers the indexes no write reads until the city is in
        async with store.bulk_loading():
            report = await load(
                store,
                demo.generate(arguments.preset, arguments.seed, batch_size=demo.BUILD_BATCH, owner_ids=store.owner_ids),
                total=demo.estimate(arguments.preset),
                progress=not arguments.quiet,
                description=f"demo {arguments.preset}",
            )
        counts = report.counts
        print(
            f"built the {arguments.preset} demo city: {report.records:,} records in {report.seconds:.1f} s "
            f"({report.rate:,.0f}/s; inserted {counts.inserted:,}, updated {counts.updated:,}, "
            f"unchanged {counts.unchanged:,})"
        )
        from hub.demo.devices import register_demo_devices

        devices = await register_demo_devices(store, arguments.seed)
        print(f"registered {devices:,} devices (elevators, smoke and gas detectors, pumps, transformers, manhole covers)")
        from hub.demo.facilities import build_demo_facilities

        lives = await build_demo_facilities(store, arguments.seed)
        print(
            f"facilities: {lives.records:,} life records loaded ({lives.events:,} events); overdue now: "
            f"{lives.overdue_maintenance} maintenance, {lives.overdue_inspection} inspection "
            f"({lives.example_overdue or '—'} is one)"
        )
        everything = Scope.everything()
        house = (await store.subtree(Level.HOUSE, None, everything, 1)).items
        street = (await store.subtree(Level.STREET, None, everything, 1)).items
        estate = (await store.subtree(Level.ESTATE, None, everything, 1)).items
        firms = await store.managements([estate[0].code], None, everything) if estate else [[]]
        ttl = dt.timedelta(days=30)
        tokens = [("city dashboard (青岛市)", await issue_token(store, keys, "city", "370200", "青岛市城市运行中心", ttl))]
        if street:
            label = f"street office ({street[0].name} {street[0].code})"
            tokens.append((label, await issue_token(store, keys, "street", street[0].code, f"{street[0].name}办事处", ttl)))
        if firms[0]:
            code = firms[0][-1].firm_code
            [firm] = await store.firms([code], everything)
            name = firm.name if firm else code
            tokens.append((f"property firm ({name} {code})", await issue_token(store, keys, "property_firm", code, name, ttl)))
        from hub.demo.staff import build_demo_staff

        crew = await build_demo_staff(store, arguments.seed)
        print(
            f"staff: {crew.members:,} people in {crew.estates:,} estates (shifts round the clock); certificates: "
            f"{crew.expiring:,} expiring within 30 days, {crew.expired:,} expired"
        )
        from graph.facilities.service import Facilities
        from graph.workflow import Workflow

        # the sweep `hub serve` runs every minute, once now: the city starts with the overdue
        # facilities' alarms raised and their cases opened, dispatched and assigned to the staff
        swept = await Facilities(store, workflow=Workflow(store)).overdue_sweep()
        print(f"overdue facilities: {swept.raised:,} alarms raised, {swept.cases:,} cases opened and assigned")
        if crew.elevator_hand is not None:
            label = f"elevator mechanic on shift ({crew.elevator_hand}: signs, reaches and resolves the cases assigned to it)"
            tokens.append((label, await issue_token(store, keys, "staff", crew.elevator_hand, "电梯维修工", ttl)))
        if street:
            from hub.demo.votes import build_demo_votes

            made = await build_demo_votes(store, keys, street[0].code, seed=arguments.seed)
            print(
                f"owners' votes: {made.committees} estates with a committee; first owners' meeting under way in "
                f"{made.meeting_estate} (vote {made.meeting_vote}); vote {made.finished_vote} of {made.finished_estate} closed "
                "with its result"
            )
            for number, owner in enumerate(made.voters, start=1):
                tokens.append((f"owner {number} of estate {made.meeting_estate} (votes in {made.meeting_vote})", await issue_token(store, keys, "owner", owner, f"业主{number}", ttl)))
            tokens.append((f"owners' committee of estate {made.finished_estate}", await issue_token(store, keys, "committee", made.finished_estate, "业主委员会", ttl)))
            from hub.demo.party import build_demo_party

            built = await build_demo_party(store, street[0].code, seed=arguments.seed)
            print(
                f"party building: {built.organisations} party organisations in {street[0].name} (communities and firms), "
                f"{built.members} members" + (" (built before, kept)" if built.kept else f", {built.claims} cases claimed by members")
            )
            community = (await store.subtree(Level.COMMUNITY, street[0].code, everything, 1)).items
            if community:
                label = f"community office ({community[0].name} {community[0].code}; party building)"
                tokens.append((label, await issue_token(store, keys, "community", community[0].code, f"{community[0].name}居委会", ttl)))
        if not arguments.no_sources:
            await _sources(store, arguments)
            if street and made.meeting_estate:
                from hub.demo.funds import build_demo_funds

                books = await build_demo_funds(store, keys, estate=made.finished_estate, vote=made.finished_vote, other_estate=made.meeting_estate)
                if books.kept:
                    print(f"owners' money: the books built before kept as they were ({books.published} heads published for {books.period})")
                else:
                    lift = (
                        f"{books.lift_project} (1号楼电梯更换, vote {made.finished_vote}) apportioned ¥{books.lift_cost_fen / 100:,.2f} "
                        f"over {books.lift_houses} houses of {books.lift_estate}" if books.lift_project else "no lift repair"
                    )
                    print(
                        f"owners' money: {lift}; emergency use {books.pump_project or '—'} in {made.meeting_estate}; "
                        f"{books.revenue_entries} public-revenue entries, {books.confirmed} confirmed by the committee; "
                        f"{books.published} estates' heads published for {books.period} (hub ledger verify ESTATE checks them)"
                    )
        from hub.demo.credit import build_demo_credit, demo_credit_line

        print(demo_credit_line(await build_demo_credit(store)))
        return (house[0].code if house else ""), tokens
    finally:
        await store.close()


def _sources_place(arguments: argparse.Namespace) -> SourcesPlace:
    settings = settings_of(arguments)
    return sources_place(settings.db, settings.host, settings.port)


def _connectors_file(arguments: argparse.Namespace) -> Path:
    return Path(settings_of(arguments).connectors)


async def _sources(store: Store, arguments: argparse.Namespace) -> None:
    """Build the reference sources, point connectors.toml at them and sync each once."""
    from connectors.runner import describe
    from graph.ledger import ConnectorRun
    from hub.demo.sources import build_registry, build_statements, first_syncs, write_connectors

    rates = fund_rates(arguments)
    where = _sources_place(arguments)
    rows = await build_registry(store, where, seed=arguments.seed)
    lines = await build_statements(store, where, seed=arguments.seed, rates=rates)
    config = _connectors_file(arguments)
    write_connectors(where, config)
    statements = f"{lines:,} lines written" if lines else "kept as they were"
    print(
        f"reference sources in {where.folder}/ (registry exchange: {rows:,} rows; fund custodian's statements: "
        f"{statements}); connectors in {config}",
        flush=True,
    )

    def said(run: ConnectorRun) -> None:
        seconds = run.duration.total_seconds() if run.duration else 0.0
        outcome = run.status.value if run.error is None else f"{run.status.value}: {run.error}"
        print(f"  sync {run.connector:<9} {outcome} in {seconds:.1f} s: {describe(run.counts)}", flush=True)

    await first_syncs(
        store, where, seed=arguments.seed, config=config, progress=not arguments.quiet,
        sizes={"registry": rows, **({"fund": lines} if lines else {})}, finished=said,
    )


def fund_rates(arguments: argparse.Namespace) -> FundRates:
    """The rates `--fund-rates` (or $HUB_FUND_RATES) sets, the others at their defaults."""
    from connectors.custodian.reference import FundRates

    return FundRates.parse(getattr(arguments, "fund_rates", "") or "", field_name="--fund-rates")


def run(arguments: argparse.Namespace) -> int:
    settings = settings_of(arguments)
    fund_rates(arguments)  # a mistyped rate is said before the city is built, not after
    if arguments.fresh:
        from graph.opening import wipe

        asyncio.run(wipe(settings.db))
    keys = demo_keys(keys_path(arguments))
    house, tokens = asyncio.run(build(arguments, keys))
    print("\nready tokens (send as `Authorization: Bearer …`; valid 30 days):")
    for label, token in tokens:
        print(f"  {label}:\n    {token}")
    print(f"\nGraphiQL will be at http://{settings.host}:{settings.port}/graphql — put a token in its")
    print('Headers tab as {"Authorization": "Bearer …"} and try:\n')
    print(EXAMPLE_QUERY % house)
    print(f"\nThe street office's map: http://{settings.host}:{settings.port}/map — sign in with its token above.")
    if arguments.serve:
        from hub.commands.serve import serve

        print()
        arguments.demo_sources = not arguments.no_sources
        serve(arguments, keys)
    else:
        sources = "" if arguments.no_sources else " --demo-sources"
        print(f"\nstart it with: hub serve --db {settings.db}{sources}")
    return 0
