"""The street office's map page in a real headless Chromium (Debian's, driven by Playwright).

Every page here is watched: each request that would leave the hub is aborted and recorded (and
must not happen), and every body the page received from the hub, every WebSocket frame and the
final DOM are searched for anything of the other street (its places, device, case and alarms).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from graph.clock import CHINA_STANDARD_TIME
from tests.map.conftest import (
    COMMUNITY,
    FIRM,
    SECOND_FIRM,
    ELEVATOR,
    ESTATE,
    BUILDINGS,
    FOREIGN,
    FUND_BALANCE,
    LOW_ACCOUNTS,
    OTHER_STREET,
    HAPPY_CASE,
    OPEN_CASE,
    OTHER_ELEVATOR,
    OVERDUE_CASE,
    SECOND_COMMUNITY,
    SECOND_ESTATE,
    SMALL_ESTATE,
    SMOKE,
    STREET,
    TILES,
    UNHAPPY_CASE,
    MapHub,
)

READY = "body[data-state=ready]"


@dataclass
class Watched:
    page: Any
    hub: MapHub
    responses: list[Any] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def sign_in(self, token: str) -> None:
        self.page.fill("#token", token)
        self.page.click("#signin-form button[type=submit]")

    def ready(self, view: str | None = None) -> None:
        selector = READY if view is None else f"{READY}[data-view='{view}']"
        self.page.wait_for_selector(selector, timeout=15_000)

    def shapes(self) -> dict[str, tuple[str, str]]:
        """Code → (fill colour, value of the metric shown) of every shape drawn."""
        found = self.page.eval_on_selector_all(
            "path.shape", "paths => paths.map(p => [p.dataset.code, p.getAttribute('fill'), p.dataset.value])"
        )
        return {code: (fill, value) for code, fill, value in found}

    def legend(self) -> tuple[str, list[str], list[str]]:
        """The legend's title, its swatches' colours and its labels."""
        title = self.page.inner_text("#legend h3")
        fills = self.page.eval_on_selector_all("#legend .step", "steps => steps.map(s => s.dataset.fill)")
        labels = self.page.eval_on_selector_all("#legend .step", "steps => steps.map(s => s.textContent.trim())")
        return title, fills, labels

    def figures(self) -> dict[str, str]:
        """The figures panel: metric → the value shown."""
        found = self.page.eval_on_selector_all("#figures dd[data-key]", "cells => cells.map(c => [c.dataset.key, c.textContent])")
        return dict(found)

    def crumbs(self) -> list[str]:
        return [text.strip() for text in self.page.eval_on_selector_all("#crumbs > :not(.sep)", "items => items.map(i => i.textContent)")]

    def listed(self) -> list[tuple[str, str]]:
        return [tuple(item) for item in self.page.eval_on_selector_all("#items li[data-id]", "items => items.map(i => [i.dataset.kind, i.dataset.id])")]

    def click_shape(self, code: str) -> None:
        # near the shape's top-left corner: its centre may hold a point marker or a label
        self.page.locator(f"path.shape[data-code='{code}']").click(position={"x": 6, "y": 6})

    def everything_received(self) -> str:
        texts = []
        for response in self.responses:
            try:
                texts.append(response.text())
            except Exception as error:  # a body Chromium no longer holds cannot have been shown either
                texts.append(f"<unreadable {response.url}: {error}>")
        return "\n".join(texts + self.frames + [self.page.content()])

    def assert_nothing_foreign(self, *extra: str) -> None:
        seen = self.everything_received()
        assert self.responses, "the page received nothing from the hub"
        for secret in (*FOREIGN, *extra):
            assert secret not in seen, f"the street office was shown {secret}"
        assert self.outside == [], f"requests left the machine: {self.outside}"
        assert self.errors == [], self.errors


@pytest.fixture
def watched(browser: Any, map_hub: MapHub) -> Iterator[Watched]:
    yield from _watched(browser, map_hub, 1366, 768)


def _watched(
    browser: Any, map_hub: MapHub, width: int, height: int, route_first: dict[str, tuple[list[str], bytes]] | None = None
) -> Iterator[Watched]:
    """A page at /map, watched; `route_first` answers some hub paths with a PNG (recording them)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    watch = Watched(page, map_hub)

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(map_hub.url + "/") or url.startswith(map_hub.url.replace("http", "ws") + "/"):
            route.continue_()
        else:
            watch.outside.append(url)
            route.abort()

    context.route("**/*", guard)
    for pattern, (seen, body) in (route_first or {}).items():
        page.route(f"{map_hub.url}{pattern}", _answer_with(seen, body))
    page.on("response", lambda response: watch.responses.append(response) if "/graphql" in response.url else None)
    page.on("websocket", lambda socket: socket.on("framereceived", lambda payload: watch.frames.append(str(payload))))
    page.on("console", lambda message: watch.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    page.goto(f"{map_hub.url}/map")
    try:
        yield watch
    finally:
        context.close()


def _answer_with(seen: list[str], body: bytes) -> Any:
    def answer(route: Any) -> None:
        seen.append(route.request.url)
        route.fulfill(status=200, body=body, content_type="image/png")

    return answer


def _other_alarms(map_hub: MapHub) -> list[str]:
    data = map_hub.graphql("other_street", '{ alarms(scope: "370202002") { edges { node { id } } } }')
    return [edge["node"]["id"] for edge in data["alarms"]["edges"]]


def _open_and_overdue(map_hub: MapHub, code: str) -> tuple[int, int]:
    """Open and overdue cases under a place, as the API lists them to the street office."""
    data = map_hub.graphql("street", "query($s: String!) { cases(scope: $s, first: 500) { edges { node { closed overdue } } } }", {"s": code})
    nodes = [edge["node"] for edge in data["cases"]["edges"]]
    return sum(1 for node in nodes if not node["closed"]), sum(1 for node in nodes if node["overdue"])


def test_the_scope_shapes_are_coloured_by_houses_with_a_legend(watched: Watched, map_hub: MapHub) -> None:
    watched.sign_in(map_hub.tokens["street"])
    watched.ready(STREET)
    shapes = watched.shapes()
    assert set(shapes) == {COMMUNITY, SECOND_COMMUNITY}, "a street office opens on its communities"
    assert shapes[COMMUNITY][1] == "8" and shapes[SECOND_COMMUNITY][1] == "1"
    assert shapes[COMMUNITY][0] != shapes[SECOND_COMMUNITY][0], "different values, different fills"
    title, fills, labels = watched.legend()
    assert title.startswith("房屋数")
    assert shapes[COMMUNITY][0] in fills and shapes[SECOND_COMMUNITY][0] in fills
    assert labels == ["1", "8"], "two values shown, two classes, in order"
    assert watched.crumbs() == ["香港中路街道"]
    assert "香港中路街道" in watched.page.inner_text("#figures h2")
    figures = watched.figures()
    assert figures["houses"] == "9" and figures["estates"] == "3" and figures["buildings"] == "4"
    assert figures["satisfactionRate"] == "50.0%", "one rating of 2, one of 5"
    assert watched.page.inner_text("#who") == "街道办事处 · 香港中路街道办事处"
    listed = watched.listed()
    assert ("case", OPEN_CASE) in listed and ("case", OVERDUE_CASE) in listed
    assert ("alarm", map_hub.seeded_alarms[SMOKE]) in listed
    assert all(key not in {UNHAPPY_CASE, HAPPY_CASE} for _, key in listed), "closed cases are not in the list"
    # devices, cases and alarms are on the map as points (clustered or not)
    keys = watched.page.evaluate("window.hubMap.markerKeys()")
    assert {f"device:{ELEVATOR}", f"device:{SMOKE}", f"case:{OPEN_CASE}", f"case:{OVERDUE_CASE}", f"alarm:{map_hub.seeded_alarms[SMOKE]}"} <= set(keys)
    watched.assert_nothing_foreign(*_other_alarms(map_hub))


def test_switching_the_metric_recolours(watched: Watched, map_hub: MapHub) -> None:
    watched.sign_in(map_hub.tokens["street"])
    watched.ready(STREET)
    by_houses = watched.shapes()
    watched.page.select_option("#metric", "satisfactionRate")
    rated = watched.shapes()
    assert rated[COMMUNITY][1] == "0" and rated[SECOND_COMMUNITY][1] == "1", "one unhappy rating, one happy"
    assert rated[COMMUNITY][0] != rated[SECOND_COMMUNITY][0]
    # many houses is the dark end; for 满意率 the low value is the warning and takes the dark end
    assert rated[COMMUNITY][0] == by_houses[COMMUNITY][0] and rated[SECOND_COMMUNITY][0] == by_houses[SECOND_COMMUNITY][0]
    title, _, labels = watched.legend()
    assert title.startswith("满意率") and labels == ["0.0%", "100.0%"]
    expected = {code: _open_and_overdue(map_hub, code) for code in (COMMUNITY, SECOND_COMMUNITY)}
    assert expected[COMMUNITY][0] >= 2 and expected[COMMUNITY][1] >= 1 and expected[SECOND_COMMUNITY] == (0, 0)
    watched.page.select_option("#metric", "openCases")
    open_cases = watched.shapes()
    assert {code: int(value) for code, (_, value) in open_cases.items()} == {code: found[0] for code, found in expected.items()}
    assert open_cases[COMMUNITY][0] != open_cases[SECOND_COMMUNITY][0]
    watched.page.select_option("#metric", "overdueCases")
    overdue = watched.shapes()
    assert {code: int(value) for code, (_, value) in overdue.items()} == {code: found[1] for code, found in expected.items()}
    assert watched.legend()[0].startswith("超期工单")
    watched.assert_nothing_foreign()


def test_the_fund_balance_colours_in_yuan_with_a_low_balance_as_the_warning(watched: Watched, map_hub: MapHub) -> None:
    """维修资金余额: the hub sends integer fen, the page shows yuan (exactly, from the integer),
    and as for 满意率 the low end is the warning; 维修资金不足户 colours the other way round."""
    watched.sign_in(map_hub.tokens["street"])
    watched.ready(STREET)
    by_houses = watched.shapes()
    watched.page.select_option("#metric", "fundBalance")
    funded = watched.shapes()
    assert {code: value for code, (_, value) in funded.items()} == {
        COMMUNITY: str(FUND_BALANCE[COMMUNITY]), SECOND_COMMUNITY: str(FUND_BALANCE[SECOND_COMMUNITY])
    }
    assert funded[COMMUNITY][0] != by_houses[COMMUNITY][0], "the richer community changes colour"
    # 8 houses and 38,000.00 yuan against 1 house and 2,500.00: the palette runs the other way
    assert funded[COMMUNITY][0] == by_houses[SECOND_COMMUNITY][0] and funded[SECOND_COMMUNITY][0] == by_houses[COMMUNITY][0]
    title, fills, labels = watched.legend()
    assert title == "维修资金余额（元）" and labels == ["2,500.00", "38,000.00"]
    assert fills == [funded[SECOND_COMMUNITY][0], funded[COMMUNITY][0]]
    assert "维修资金余额：38,000.00" in watched.page.inner_text("#map"), "the shape's label says yuan too"
    figures = watched.figures()
    assert figures["fundBalance"] == "40,500.00" == f"{FUND_BALANCE[STREET] // 100:,}.{FUND_BALANCE[STREET] % 100:02d}"
    assert figures["fundLowAccounts"] == str(LOW_ACCOUNTS[STREET])
    watched.page.select_option("#metric", "fundLowAccounts")
    low = watched.shapes()
    assert {code: value for code, (_, value) in low.items()} == {COMMUNITY: "2", SECOND_COMMUNITY: "0"}
    assert low[COMMUNITY][0] == by_houses[COMMUNITY][0], "more houses short is the dark end"
    assert watched.legend()[0] == "维修资金不足户（户）" and watched.legend()[2] == ["0", "2"]
    watched.click_shape(COMMUNITY)
    watched.ready(COMMUNITY)
    low = watched.shapes()
    assert {code: value for code, (_, value) in low.items()} == {ESTATE: "0", SMALL_ESTATE: "2"}, "the colouring stays chosen"
    assert watched.figures()["fundBalance"] == "38,000.00"
    other = FUND_BALANCE[OTHER_STREET]
    watched.assert_nothing_foreign(str(other), f"{other // 100:,}.{other % 100:02d}")


def test_estates_colour_by_their_firms_credit_score(watched: Watched, map_hub: MapHub) -> None:
    """物业信用分: each estate shows its managing firm's latest monthly score (hundredths from the
    hub, shown as points exactly); a higher score is the light end; places above the estates
    have none."""
    watched.sign_in(map_hub.tokens["street"])
    watched.ready(STREET)
    watched.page.select_option("#metric", "firmCredit")
    assert {value for _, value in watched.shapes().values()} == {""}, "communities have no firm"
    watched.click_shape(COMMUNITY)
    watched.ready(COMMUNITY)
    period = f"{dt.datetime.now(CHINA_STANDARD_TIME):%Y-%m}"
    scores = {
        row["firmCode"]: row["totalCenti"]
        for row in map_hub.graphql("street", "query($p: String) { firmScores(period: $p) { firmCode totalCenti } }", {"p": period})["firmScores"]
    }
    coloured = watched.shapes()
    assert {code: value for code, (_, value) in coloured.items()} == {ESTATE: str(scores[FIRM]), SMALL_ESTATE: str(scores[SECOND_FIRM])}
    assert scores[FIRM] < scores[SECOND_FIRM], "the firm with unhappy and overdue cases scores lower"
    title, fills, labels = watched.legend()
    points = [f"{value // 100}.{value % 100:02d}" for value in sorted(scores[code] for code in (FIRM, SECOND_FIRM))]
    assert title == "物业信用分（分）" and labels == points
    assert fills == [coloured[ESTATE][0], coloured[SMALL_ESTATE][0]], "the lower score is the warning end"
    assert f"物业信用分：{points[0]}" in watched.page.inner_text("#map")
    watched.assert_nothing_foreign()


def test_clicking_a_shape_drills_down_and_the_breadcrumb_goes_back(watched: Watched, map_hub: MapHub) -> None:
    watched.sign_in(map_hub.tokens["street"])
    watched.ready(STREET)
    watched.click_shape(COMMUNITY)
    watched.ready(COMMUNITY)
    assert set(watched.shapes()) == {ESTATE, SMALL_ESTATE}
    assert watched.crumbs() == ["香港中路街道", "八大湖社区"]
    assert "八大湖社区" in watched.page.inner_text("#figures h2")
    assert watched.figures()["houses"] == "8" and watched.figures()["satisfactionRate"] == "0.0%"
    listed = {key for _, key in watched.listed()}
    assert OPEN_CASE in listed and OVERDUE_CASE in listed
    watched.click_shape(ESTATE)
    watched.ready(ESTATE)
    assert set(watched.shapes()) == set(BUILDINGS[ESTATE]), "an estate opens on its buildings"
    assert watched.crumbs() == ["香港中路街道", "八大湖社区", "海信花园"]
    listed = {key for _, key in watched.listed()}
    assert OPEN_CASE in listed and OVERDUE_CASE not in listed, "the list follows the place in view"
    # a building is the last level with outlines: clicking it shows its figures in place
    watched.click_shape(BUILDINGS[ESTATE][0])
    watched.page.wait_for_selector(f"#figures[data-code='{BUILDINGS[ESTATE][0]}']")
    assert "海信花园1号楼" in watched.page.inner_text("#figures h2")
    assert watched.figures()["houses"] == "4"
    assert watched.crumbs() == ["香港中路街道", "八大湖社区", "海信花园"]
    watched.page.click("#crumbs button[data-code='370202001']")
    watched.ready(STREET)
    assert set(watched.shapes()) == {COMMUNITY, SECOND_COMMUNITY}
    assert watched.crumbs() == ["香港中路街道"]
    watched.assert_nothing_foreign()


def test_a_live_alarm_shows_on_the_map_and_in_the_list_within_seconds(watched: Watched, map_hub: MapHub) -> None:
    watched.sign_in(map_hub.tokens["street"])
    watched.ready(STREET)
    watched.page.wait_for_selector("body[data-live=on]", timeout=10_000)
    watched.page.select_option("#metric", "activeAlarms")
    before = watched.shapes()[COMMUNITY][1]
    street_before = int(watched.figures()["activeAlarms"])
    # let the subscriptions reach the bus before the device speaks
    deadline = time.monotonic() + 10
    from graph.events import Topic

    while map_hub.bus.listeners(Topic.ALARMS) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    now = time.time()
    for code in (OTHER_ELEVATOR, ELEVATOR):  # the other street's first: it must never arrive
        map_hub.publish(code, "status", "online", retain=True)
        map_hub.publish(code, "telemetry", json.dumps({"ts": now, "values": {"trapped": False, "fault_code": "0", "door_fault": False}}))
    published = time.monotonic()
    for code in (OTHER_ELEVATOR, ELEVATOR):
        map_hub.publish(code, "telemetry", json.dumps({"ts": now + 1, "values": {"trapped": True}}))
    seeded = map_hub.seeded_alarms[SMOKE]
    first = watched.page.wait_for_selector(f"#items li[data-kind=alarm]:not([data-id='{seeded}'])", timeout=10_000)
    took = time.monotonic() - published
    assert took < 10
    print(f"alarm on the page {took:.2f} s after the device's message was published")
    alarm_id = first.get_attribute("data-id")
    assert alarm_id is not None
    assert watched.listed()[0] == ("alarm", alarm_id), "a new alarm goes to the top of the list"
    assert "电梯" in first.inner_text()
    assert f"alarm:{alarm_id}" in watched.page.evaluate("window.hubMap.markerKeys()")
    # the community's count follows
    watched.page.wait_for_function(
        "([code, before]) => { const p = document.querySelector(`path.shape[data-code='${code}']`); return p && p.dataset.value !== before; }",
        arg=[COMMUNITY, before],
        timeout=10_000,
    )
    assert int(watched.shapes()[COMMUNITY][1]) == int(before) + 1
    assert int(watched.figures()["activeAlarms"]) == street_before + 1, "the street's own figures follow too"
    # the alarm opened a case (未诉先办), which arrives too
    watched.page.wait_for_function("() => document.querySelectorAll('#items li[data-kind=case]').length >= 3", timeout=10_000)
    # from the list to the point: the marker is shown with its popup
    watched.page.locator(f"#items li[data-id='{alarm_id}']").click()  # the list is redrawn as updates come
    watched.page.wait_for_selector(f"[data-alarm='{alarm_id}']", state="visible", timeout=10_000)
    watched.page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
    assert "电梯" in watched.page.inner_text(".leaflet-popup-content")
    time.sleep(1.0)  # anything of the other street would have come by now
    others = _other_alarms(map_hub)
    assert len(others) == 2, "the other street's elevator raised its alarm too"
    watched.assert_nothing_foreign(*others)


def test_filters_narrow_the_list(watched: Watched, map_hub: MapHub) -> None:
    watched.sign_in(map_hub.tokens["street"])
    watched.ready(STREET)
    watched.page.select_option("#f-category", "COMPLAINT")
    assert watched.listed() == [("case", OVERDUE_CASE)]
    watched.page.select_option("#f-category", "")
    watched.page.select_option("#f-status", "overdue")
    assert watched.listed() == [("case", OVERDUE_CASE)]
    watched.page.select_option("#f-status", "")
    watched.page.select_option("#f-time", "24")
    kinds = dict(watched.listed())
    assert OVERDUE_CASE not in {key for _, key in watched.listed()}, "reported three days ago"
    assert OPEN_CASE in {key for _, key in watched.listed()} and "alarm" in kinds
    watched.page.select_option("#f-category", "alarm")
    assert {kind for kind, _ in watched.listed()} == {"alarm"}
    watched.assert_nothing_foreign()


def test_a_bad_token_is_refused_with_a_clear_message(watched: Watched, map_hub: MapHub) -> None:
    watched.sign_in("hub1.this-is-not-a-token")
    watched.page.wait_for_selector("#signin-error:not([hidden])")
    message = watched.page.inner_text("#signin-error")
    assert message.startswith("令牌无效，已被平台拒绝：") and len(message) > len("令牌无效，已被平台拒绝：")
    assert watched.page.evaluate("sessionStorage.getItem('hub-map-token')") is None
    assert watched.page.is_visible("#signin")
    assert watched.page.locator("path.shape").count() == 0
    # the browser logs the refused request itself; nothing else went wrong
    assert watched.errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    watched.errors.clear()
    watched.assert_nothing_foreign()


def test_a_token_revoked_while_the_page_is_open_signs_the_tab_out(watched: Watched, map_hub: MapHub) -> None:
    """The hub closes the page's live socket (4403, with the reason) within two seconds of the
    revocation, and the page signs the tab out on its own, without waiting for a click."""
    token = map_hub.tokens["revoked_street"]
    watched.sign_in(token)
    watched.ready(STREET)
    map_hub.revoke(token)
    revoked = time.monotonic()
    watched.page.wait_for_selector("#signin-error:not([hidden])", timeout=10_000)
    assert time.monotonic() - revoked < 3.0, "signed out more than two seconds (and the page's turn) after the revocation"
    message = watched.page.inner_text("#signin-error")
    assert message.startswith("实时推送被拒绝：token ") and " was revoked at " in message, message
    assert watched.page.evaluate("sessionStorage.getItem('hub-map-token')") is None
    assert watched.page.locator("path.shape").count() == 0 and watched.listed() == []
    watched.assert_nothing_foreign()  # and no request failed: the socket, not a 401, said so


def test_the_token_stays_for_the_tab_until_signing_out(watched: Watched, map_hub: MapHub) -> None:
    watched.sign_in(map_hub.tokens["street"])
    watched.ready(STREET)
    assert watched.page.evaluate("sessionStorage.getItem('hub-map-token')") == map_hub.tokens["street"]
    watched.page.reload()
    watched.ready(STREET)
    assert not watched.page.is_visible("#signin"), "a reload keeps the tab signed in"
    watched.page.click("#signout")
    assert watched.page.is_visible("#signin")
    assert watched.page.evaluate("sessionStorage.getItem('hub-map-token')") is None
    assert watched.page.locator("path.shape").count() == 0 and watched.listed() == []
    watched.page.reload()
    watched.page.wait_for_selector("body[data-state=signed-out]")
    assert watched.page.is_visible("#signin")
    watched.assert_nothing_foreign()


def test_a_firm_sees_the_estates_it_manages(watched: Watched, map_hub: MapHub) -> None:
    """A scope of several roots (or one estate): the page opens on the estate's buildings."""
    watched.sign_in(map_hub.tokens["firm"])
    watched.ready(ESTATE)
    assert set(watched.shapes()) == set(BUILDINGS[ESTATE])
    assert watched.crumbs() == ["海信花园"]
    listed = {key for _, key in watched.listed()}
    assert OPEN_CASE in listed and OVERDUE_CASE not in listed and map_hub.seeded_alarms[SMOKE] not in listed
    watched.assert_nothing_foreign(SMALL_ESTATE, "银都花园")


def test_a_scope_of_several_estates_opens_on_them_side_by_side(watched: Watched, map_hub: MapHub) -> None:
    """A firm managing estates in two communities: its estates together (read under their
    city, in its scope), then one estate's buildings, and back."""
    watched.sign_in(map_hub.tokens["second_firm"])
    watched.ready("370200")
    assert set(watched.shapes()) == {SMALL_ESTATE, SECOND_ESTATE}
    assert watched.crumbs() == ["我的范围"]
    listed = {key for _, key in watched.listed()}
    assert OVERDUE_CASE in listed and map_hub.seeded_alarms[SMOKE] in listed and OPEN_CASE not in listed
    assert watched.figures()["houses"] == "3", "the houses of both estates, summed"
    assert watched.figures()["satisfactionRate"] == "无数据", "a rate is not summed"
    watched.click_shape(SMALL_ESTATE)
    watched.ready(SMALL_ESTATE)
    assert set(watched.shapes()) == set(BUILDINGS[SMALL_ESTATE])
    assert watched.crumbs() == ["我的范围", "银都花园"]
    watched.page.click("#crumbs button[data-code='370200']")
    watched.ready("370200")
    assert set(watched.shapes()) == {SMALL_ESTATE, SECOND_ESTATE}
    watched.assert_nothing_foreign(ESTATE, "海信花园", OPEN_CASE, *_other_alarms(map_hub))


@pytest.mark.parametrize("size", [(1366, 768), (390, 844)], ids=["office", "phone"])
def test_the_map_and_the_list_are_usable_on_an_office_screen_and_a_phone(
    browser: Any, map_hub: MapHub, size: tuple[int, int], tmp_path: Path
) -> None:
    width, height = size
    for watch in _watched(browser, map_hub, width, height):
        watch.sign_in(map_hub.tokens["street"])
        watch.ready(STREET)
        page = watch.page
        shot = tmp_path / f"map-{width}x{height}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        map_box = page.locator("#map").bounding_box()
        list_box = page.locator("#side").bounding_box()
        assert map_box is not None and list_box is not None
        assert map_box["width"] >= width * 0.6 if width < 760 else map_box["width"] >= 700
        assert map_box["height"] >= 300
        assert map_box["x"] >= 0 and map_box["x"] + map_box["width"] <= width + 1
        if width < 760:
            assert list_box["y"] >= map_box["y"] + map_box["height"] - 1, "on a phone the list goes under the map"
            assert list_box["width"] >= width - 2
        else:
            assert list_box["x"] >= map_box["x"] + map_box["width"] - 1, "on an office screen the list is beside the map"
            assert list_box["y"] + 100 <= height
        page.locator("#items li").first.scroll_into_view_if_needed()
        assert page.locator("#items li").first.is_visible()
        assert all(page.locator(f"path.shape[data-code='{code}']").is_visible() for code in (COMMUNITY, SECOND_COMMUNITY))
        assert re.search(r"\d", page.inner_text("#figures"))
        watch.assert_nothing_foreign()
        print(f"screenshot: {shot}")


def test_a_tile_server_is_used_when_configured(browser: Any, tiled_hub: MapHub) -> None:
    """With `HUB_MAP_TILES` the page draws tiles from that template (here a path on the hub that
    the test answers itself), and its Content-Security-Policy names where images may come from."""
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f80f0000010100005d0a2db40000000049454e44ae426082"
    )
    tiles: list[str] = []
    for watch in _watched(browser, tiled_hub, 1366, 768, route_first={"/tiles/**": (tiles, png)}):
        page = watch.page
        watch.sign_in(tiled_hub.tokens["street"])
        watch.ready(STREET)
        page.wait_for_selector("img.leaflet-tile-loaded", timeout=10_000)
        assert tiles and all(re.search(r"/tiles/\d+/\d+/\d+\.png$", url) for url in tiles)
        assert "测试底图" in page.inner_text(".leaflet-control-attribution")
        watch.assert_nothing_foreign()
    page_response = tiled_hub.client.get("/map")
    assert page_response.headers["content-security-policy"] == TILES.policy()
