"""One live hub for the security suite, with one token per role and what each role may see.

The server is uvicorn on a free loopback port, in a thread with its own event loop (as in
tests/schema/conftest.py). Its SQLite store holds the `small` demo (市南区) plus a second
district written here through the port: 市北区 with a street, a community, an estate managed by
a firm of its own, a building, an entrance and two houses, an owner who also holds a house in
市南区, and 502 namesakes (one of them in 市南区). Tokens are issued for admin, city, district,
street, community, property firm, owners' committee and owner; `World` (tests/security/world.py) works out from the same records
what each of them may see, without asking the hub.

Tests talk to the server over HTTP (`SecureHub.post`), and run coroutines on its loop
(`SecureHub.run`) to read the audit log or to serve a second app in process over the same store.
"""

from __future__ import annotations

import functools

import asyncio
import datetime as dt
import socket
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from graph.ciphers.keyring import Keyring
from graph.clock import today
from graph.codes import credit_check_character, resident_id_check_digit
from graph.levels import Level
from graph.model import (
    Batch,
    Management,
    Owner,
    OwnerKind,
    Ownership,
    Place,
    PropertyFirm,
    Provenance,
    Usage,
)
from graph.scope import Scope
from graph.sql import SqlStore
from hub.app import create_app
from hub.auth.authentication import Authenticator
from hub.auth.issuing import issue_token
from hub.auth.tokens import decode
from hub.demo import generate
from hub.limits import Limits
from hub.loading import load
from tests.serving import served
from tests.security.world import Role, World, leaks

PRESET, SEED = "small", 7
STARTUP_SECONDS = 600.0
REVOCATION_SECONDS = 1.0
"""How often the suite's server rereads revocations (the default is two seconds)."""

CITY, DISTRICT, NORTH = "370200", "370202", "370203"
STREET = "370202001"  # 香港中路街道, the street role's street
NORTH_STREET = "370203005"  # 辽宁路街道
NORTH_COMMUNITY = "370203005001"  # 科技街社区居委会
NORTH_ESTATE = "370203005001E001"
NORTH_PARCEL = "370203005001GB00001"
NORTH_BUILDING = NORTH_PARCEL + "F0001"
NORTH_ENTRANCE = NORTH_BUILDING + "01"
NORTH_HOUSES = (NORTH_PARCEL + "F00010001", NORTH_PARCEL + "F00010002")
NORTH_ESTATE_NAME = "北岭测试花园"
NORTH_FIRM = "91370203MA3N4K7P1" + credit_check_character("91370203MA3N4K7P1")
SHARED_OWNER = "OWSECURITYSHARED01"
NORTH_OWNER = "OWSECURITYNORTH001"
SHARED_NAME, NORTH_NAME = "张翀", "钱多多"
SHARED_PHONE, NORTH_PHONE = "13900001234", "18655550000"
NAMESAKE = "王同名"
"""The name of 501 past owners of a 市北区 house and of one owner of a house in the committee's
estate, whose id sorts after theirs: more namesakes than a lookup returns, nearly all outside
the street's scope."""
NAMESAKES_OUTSIDE = 501
NAMESAKE_INSIDE = "OWSECURITYZZNAMESAKE"


def _id_number_ending_in_x(prefix: str) -> str:
    """An ID number whose check character is X, so the suite can look it up in lower case."""
    for sequence in range(1000):
        first17 = f"{prefix}{sequence:03d}"
        if resident_id_check_digit(first17) == "X":
            return first17 + "X"
    raise AssertionError("no sequence gives the check character X")


SHARED_ID_NUMBER = _id_number_ending_in_x("37020319900101")
NORTH_ID_NUMBER = "37020319851212003" + resident_id_check_digit("37020319851212003")

_Result = TypeVar("_Result")


def _square(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def north_batch(shared_house: str) -> Batch:
    """市北区 and everything the suite puts in it, plus the shared owner's house in 市南区."""
    fetched = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    def source(record: str) -> Provenance:
        return Provenance("security-suite", record, fetched, "security-suite")

    def place(code: str, level: Level, name: str, parent: str, shape: float | None, **extra: Any) -> Place:
        geometry = None if shape is None else _square(120.37, 36.09, shape)
        return Place(code, level, name, parent, geometry, provenance=source(code), **extra)

    places = [
        place(NORTH, Level.DISTRICT, "市北区", CITY, 0.05),
        place(NORTH_STREET, Level.STREET, "辽宁路街道", NORTH, 0.02),
        place(NORTH_COMMUNITY, Level.COMMUNITY, "科技街社区居委会", NORTH_STREET, 0.01),
        place(NORTH_ESTATE, Level.ESTATE, NORTH_ESTATE_NAME, NORTH_COMMUNITY, 0.004, parcel_codes=(NORTH_PARCEL,)),
        place(NORTH_BUILDING, Level.BUILDING, "北岭测试花园1号楼", NORTH_ESTATE, 0.001, floors=6),
        place(NORTH_ENTRANCE, Level.ENTRANCE, "1单元", NORTH_BUILDING, None),
    ]
    places += [
        place(code, Level.HOUSE, f"1单元{number}01", NORTH_ENTRANCE, None, area=88.5, floor=number, usage=Usage.RESIDENTIAL)
        for number, code in enumerate(NORTH_HOUSES, start=1)
    ]
    owners = [
        Owner(SHARED_OWNER, OwnerKind.PERSON, SHARED_NAME, SHARED_ID_NUMBER, SHARED_PHONE, source(SHARED_OWNER)),
        Owner(NORTH_OWNER, OwnerKind.PERSON, NORTH_NAME, NORTH_ID_NUMBER, NORTH_PHONE, source(NORTH_OWNER)),
    ]
    ownerships = [
        Ownership(NORTH_HOUSES[0], SHARED_OWNER, 1.0, dt.date(2019, 5, 1), provenance=source("o1")),
        Ownership(NORTH_HOUSES[1], NORTH_OWNER, 1.0, dt.date(2018, 3, 1), provenance=source("o2")),
        Ownership(shared_house, SHARED_OWNER, 0.5, dt.date(2021, 3, 1), provenance=source("o3")),
    ]
    for number in range(NAMESAKES_OUTSIDE + 1):
        born = dt.date(1980, 1, 1) + dt.timedelta(days=number)
        first17 = f"370203{born:%Y%m%d}007"
        inside = number == NAMESAKES_OUTSIDE
        owner_id = NAMESAKE_INSIDE if inside else f"OWSECURITYNAMESAKE{number:03d}"
        owners.append(Owner(owner_id, OwnerKind.PERSON, NAMESAKE, first17 + resident_id_check_digit(first17), None, source(owner_id)))
        if inside:
            ownerships.append(Ownership(shared_house, owner_id, 0.25, dt.date(2022, 6, 1), provenance=source(owner_id)))
        else:
            ownerships.append(
                Ownership(NORTH_HOUSES[1], owner_id, 1.0, dt.date(2010, 1, 1), dt.date(2015, 1, 1), provenance=source(owner_id))
            )
    firm = PropertyFirm(NORTH_FIRM, "青岛北岭测试物业服务有限公司", "0532-80000000", source(NORTH_FIRM))
    management = Management(NORTH_FIRM, NORTH_ESTATE, dt.date(2020, 1, 1), provenance=source("m1"))
    return Batch(places=places, owners=owners, ownerships=ownerships, firms=[firm], managements=[management])


@dataclass
class Cast:
    """The particular places and people the tests name."""

    community: str
    estate: str
    """The committee's estate: in the community, managed today by the firm role's firm."""
    firm: str
    other_firm: str
    """A demo firm that is not the firm role's."""
    house: str
    """The owner role's house in the estate, held today by two owners."""
    owner: str
    co_owner: str
    shared_house: str
    """A second house of the estate, which the shared owner holds with its owners."""


@dataclass
class SecureHub:
    url: str
    client: httpx.Client
    world: World
    cast: Cast
    roles: dict[str, Role]
    store: SqlStore
    keys: Keyring
    database: Path
    loop: asyncio.AbstractEventLoop
    server: uvicorn.Server | None = field(default=None, repr=False)

    def run(self, coroutine: Coroutine[Any, Any, _Result], timeout: float = 120) -> _Result:
        """Run a coroutine on the server's loop (the store belongs to it) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def request(
        self, token: str | None, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        sent = dict(headers)
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        return self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=sent)

    def post(
        self, role: Role | str, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        """The JSON body of a query sent as `role`, after checking its data shows nothing the
        role may not see (so every query of the suite is also a leak probe)."""
        who = self.roles[role] if isinstance(role, str) else role
        response = self.request(who.token, query, variables, **headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json"), response.text
        body: dict[str, Any] = response.json()
        problems = leaks(self.world, who, body.get("data"))
        assert not problems, "\n".join(problems[:20])
        return body

    def data(self, role: Role | str, query: str, variables: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        body = self.post(role, query, variables, **headers)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data


async def _world_and_store(store: SqlStore) -> tuple[World, Cast]:
    world = World(today=today())

    def recorded(batches: Iterator[Batch]) -> Iterator[Batch]:
        for batch in batches:
            world.add(batch)
            yield batch

    await load(store, recorded(generate(PRESET, seed=SEED)), progress=False)
    everything = Scope.everything()
    # the community: one of the street's with two or more estates; the estate: one of its
    # estates managed today, with a house held by two owners today and another house held
    communities = world.at(Level.COMMUNITY, world.subtree(STREET))
    candidates = sorted(communities, key=lambda code: -len(world.at(Level.ESTATE, world.subtree(code))))
    for community in candidates:
        for estate in world.at(Level.ESTATE, world.subtree(community)):
            [managing] = await store.managements([estate], world.today, everything)
            if not managing:
                continue
            firm = max(managing, key=lambda item: item.since).firm_code
            houses = sorted(world.houses_under(estate))
            shared = [house for house in houses if len(world.holders(house)) >= 2]
            # prefer two-character names: their masks (张*) are the same however one reads the rule
            shared.sort(key=lambda house: max(len(world.owners[item.owner_id].name) for item in world.holders(house)))
            held = [house for house in houses if world.holders(house)]
            if not shared or len(held) < 2:
                continue
            house = shared[0]
            first, second = sorted(world.holders(house), key=lambda item: item.owner_id)[:2]
            shared_house = next(item for item in held if item != house)
            other_firm = next(code for code in sorted(world.firms) if code != firm)
            cast = Cast(community, estate, firm, other_firm, house, first.owner_id, second.owner_id, shared_house)
            extra = north_batch(shared_house)
            world.add(extra)
            await store.write(extra)
            await store.refresh_stats()
            return world, cast
    raise AssertionError(f"street {STREET} has no estate the suite can use")


async def _roles(store: SqlStore, keys: Keyring, world: World, cast: Cast) -> dict[str, Role]:
    everything = frozenset(world.places)
    scopes: dict[str, tuple[str, frozenset[str], bool]] = {
        "admin": ("*", frozenset({CITY}), True),
        "city": (CITY, frozenset({CITY}), False),
        "district": (DISTRICT, frozenset({DISTRICT}), False),
        "street": (STREET, frozenset({STREET}), True),
        "community": (cast.community, frozenset({cast.community}), True),
        "property_firm": (cast.firm, frozenset(world.managed(cast.firm)), True),
        "committee": (cast.estate, frozenset({cast.estate}), True),
        "owner": (cast.owner, frozenset(world.holdings(cast.owner)), False),
    }
    roles: dict[str, Role] = {}
    now = dt.datetime.now(dt.timezone.utc)
    for name, (scope, roots, whole) in scopes.items():
        holder = f"security suite {name}"
        token = await issue_token(store, keys, name, scope, holder, dt.timedelta(days=1))
        places = everything if name == "admin" else frozenset(code for root in roots for code in world.subtree(root))
        roles[name] = Role(
            name=name,
            scope=scope,
            holder=holder,
            token=token,
            token_id=decode(keys.token_key, token, now).token_id,
            roots=roots,
            places=places,
            owners=frozenset(world.owners) if name == "admin" else world.owners_touching(places),
            firms=frozenset(world.firms) if name == "admin" else world.firms_touching(places),
            whole=whole,
            self_owner=cast.owner if name == "owner" else None,
        )
    return roles


async def _main(url: str, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await SqlStore.open(url, sealer=keys.sealer())
    world, cast = await _world_and_store(store)
    roles = await _roles(store, keys, world, cast)
    limits = replace(Limits(), rate=1e6, burst=1_000_000)  # the suite sends many queries fast
    authenticator = Authenticator(store, keys, revocation_seconds=REVOCATION_SECONDS)
    app = create_app(store, keys=keys, owns_store=True, limits=limits, authenticator=authenticator)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", http="h11")
    server = uvicorn.Server(config)
    started.update(
        world=world, cast=cast, roles=roles, store=store, keys=keys, server=server, loop=asyncio.get_running_loop()
    )
    await server.serve(sockets=[sock])


@pytest.fixture(scope="session")
def secure_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureHub]:
    database = tmp_path_factory.mktemp("security") / "hub.sqlite"
    with served(functools.partial(_main, f"sqlite:///{database}"), startup_seconds=STARTUP_SECONDS) as (base, started):
        client = httpx.Client(base_url=base, timeout=120, trust_env=False)
        try:
            yield SecureHub(
                url=base,
                client=client,
                world=started["world"],
                cast=started["cast"],
                roles=started["roles"],
                store=started["store"],
                keys=started["keys"],
                database=database,
                loop=started["loop"],
                server=started["server"],
            )
        finally:
            client.close()


ROLE_NAMES = ("admin", "city", "district", "street", "community", "property_firm", "committee", "owner")


@pytest.fixture(params=ROLE_NAMES)
def role(request: pytest.FixtureRequest, secure_hub: SecureHub) -> Role:
    return secure_hub.roles[request.param]


@pytest.fixture(scope="session")
def copied(secure_hub: SecureHub) -> dict[str, dict[Level, list[tuple[str, str]]]]:
    """Codes and ids other roles were shown, by role and level: copied between scopes."""
    seen: dict[str, dict[Level, list[tuple[str, str]]]] = {}
    for name in ROLE_NAMES:
        levels = " ".join(
            f"{level.name.lower()}: places(level: {level.name}, first: 3) {{ edges {{ node {{ code id }} }} }}"
            for level in Level
        )
        data = secure_hub.data(name, f"{{ {levels} }}")
        seen[name] = {
            level: [(edge["node"]["code"], edge["node"]["id"]) for edge in data[level.name.lower()]["edges"]]
            for level in Level
        }
    return seen
