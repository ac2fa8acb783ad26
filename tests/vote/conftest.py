"""A served hub for the voting page's tests, and Chromium (tests/map's: Debian's, by its path).

The hub (uvicorn in a thread on loopback, as tests/map) holds one estate of six houses in one
entrance, two property firms, and the owners: 张伟 holds houses 1 and 6 alone and house 2 jointly
with 李娜; 王芳, 刘洋 and 陈静 hold houses 3, 4 and 5. Tokens: each owner's, the street office's (it
organises the estate's votes as 换届小组) and another street's. The page's tests sign in as 张伟.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph import open_store
from graph.ciphers.keyring import Keyring
from graph.codes import credit_check_character, resident_id_check_digit
from graph.levels import Level
from graph.model import Batch, Owner, OwnerKind, Ownership, Place, PropertyFirm
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.map.conftest import browser, chromium_path
from tests.serving import TokenHolders, serve_app, served

READY = "body[data-state=ready]"

__all__ = ["browser", "chromium_path"]  # the map suite's Chromium fixtures, used here too

CITY, DISTRICT, STREET, OTHER_STREET = "370200", "370202", "370202001", "370202002"
COMMUNITY, OTHER_COMMUNITY = "370202001001", "370202002001"
ESTATE, OTHER_ESTATE = "370202001001E001", "370202002001E001"
BUILDING = "370202001001GB00001F0001"
ENTRANCE = BUILDING + "01"
ESTATE_NAME = "海信花园"
HOUSES = tuple(f"{BUILDING}{number:02d}01" for number in range(1, 7))
HOUSE_NAMES = {code: f"1号楼1单元{number}01室" for number, code in enumerate(HOUSES, start=1)}
AREAS = dict(zip(HOUSES, (8850, 10020, 9000, 7510, 12000, 6600)))
"""Each house's exclusive area, centi-m²."""

OWNERS = {
    "zhang": ("OWVOTE0001", "张伟"),
    "li": ("OWVOTE0002", "李娜"),
    "wang": ("OWVOTE0003", "王芳"),
    "liu": ("OWVOTE0004", "刘洋"),
    "chen": ("OWVOTE0005", "陈静"),
}
HOLDINGS = {
    HOUSES[0]: (("zhang", 1.0),),
    HOUSES[1]: (("zhang", 0.5), ("li", 0.5)),
    HOUSES[2]: (("wang", 1.0),),
    HOUSES[3]: (("liu", 1.0),),
    HOUSES[4]: (("chen", 1.0),),
    HOUSES[5]: (("zhang", 1.0),),
}
FIRMS = {
    "91370202MA06EM7T05": "青岛海信物业服务有限公司",
    "91370202MA3N4K7P1" + credit_check_character("91370202MA3N4K7P1"): "青岛浮山物业服务有限公司",
}


def world() -> Batch:
    places = [
        Place(CITY, Level.CITY, "青岛市", None),
        Place(DISTRICT, Level.DISTRICT, "市南区", CITY),
        Place(STREET, Level.STREET, "香港中路街道", DISTRICT),
        Place(OTHER_STREET, Level.STREET, "八大峡街道", DISTRICT),
        Place(COMMUNITY, Level.COMMUNITY, "八大湖社区", STREET),
        Place(OTHER_COMMUNITY, Level.COMMUNITY, "团岛社区", OTHER_STREET),
        Place(ESTATE, Level.ESTATE, ESTATE_NAME, COMMUNITY, parcel_codes=(BUILDING[:19],)),
        Place(OTHER_ESTATE, Level.ESTATE, "团岛小区", OTHER_COMMUNITY),
        Place(BUILDING, Level.BUILDING, f"{ESTATE_NAME}1号楼", ESTATE, floors=6),
        Place(ENTRANCE, Level.ENTRANCE, "1单元", BUILDING),
    ]
    places += [Place(code, Level.HOUSE, HOUSE_NAMES[code], ENTRANCE, area_centi_m2=AREAS[code]) for code in HOUSES]
    owners = []
    for number, (owner_id, name) in enumerate(OWNERS.values()):
        first17 = f"370202198{number}0101002"
        owners.append(Owner(owner_id, OwnerKind.PERSON, name, first17 + resident_id_check_digit(first17)))
    ownerships = [
        Ownership(house, OWNERS[who][0], share, dt.date(2019, 5, 1))
        for house, holders in HOLDINGS.items()
        for who, share in holders
    ]
    firms = [PropertyFirm(code, name) for code, name in FIRMS.items()]
    return Batch(places=places, owners=owners, ownerships=ownerships, firms=firms)


@dataclass
class VoteHub(TokenHolders):
    url: str
    tokens: dict[str, str]
    client: httpx.Client

    graphql = TokenHolders.data


async def _main(folder: Path, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        await store.write(world())
        ttl = dt.timedelta(hours=2)
        tokens = {who: await issue_token(store, keys, "owner", owner_id, name, ttl) for who, (owner_id, name) in OWNERS.items()}
        tokens["street"] = await issue_token(store, keys, "street", STREET, "香港中路街道办事处", ttl)
        tokens["other_street"] = await issue_token(store, keys, "street", OTHER_STREET, "八大峡街道办事处", ttl)
    except BaseException:
        await store.close()
        raise
    # the page's tests ask often (a proof per receipt entry): no rate limit gets in their way
    app = create_app(store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000))
    await serve_app(app, sock, started, store=store, tokens=tokens)


@pytest.fixture(scope="module")
def vote_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoteHub]:
    folder = tmp_path_factory.mktemp("vote")

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        await _main(folder, sock, started)

    with served(main, startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            yield VoteHub(base, started["tokens"], client)


# -- a page in Chromium, watched (the voting page's tests and the fund page's) -------------------


@dataclass
class Watched:
    page: Any
    hub: VoteHub
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def sign_in(self, who: str) -> None:
        self.page.fill("#token", self.hub.tokens[who])
        self.page.click("#signin-form button[type=submit]")

    def ready(self, view: str) -> None:
        try:
            self.page.wait_for_selector(f"{READY}[data-view='{view}']", timeout=15_000)
        except Exception as error:  # say what the page said, not only that it timed out
            said = self.page.inner_text("#notice")
            raise AssertionError(f"the {view} view did not show: notice {said!r}, errors {self.errors}") from error

    def assert_clean(self) -> None:
        assert self.outside == [], f"requests left the machine: {self.outside}"
        assert self.errors == [], self.errors


def watched(browser: Any, hub: VoteHub, path: str, viewport: dict[str, int]) -> Iterator[Watched]:
    """A fresh browser context on `path` of the hub, every request and console error watched."""
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    watch = Watched(page, hub)

    def guard(route: Any) -> None:
        if route.request.url.startswith(hub.url + "/"):
            route.continue_()
        else:
            watch.outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page.on("console", lambda message: watch.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    page.goto(f"{hub.url}{path}")
    try:
        yield watch
    finally:
        context.close()
