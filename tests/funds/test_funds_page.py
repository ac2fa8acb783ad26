"""The maintenance-fund page in a real headless Chromium (Debian's, driven by Playwright) against
a real hub on loopback holding two periods of an estate's fund journal (tests/funds/conftest.py).

Every page is watched as the voting page's are (tests/vote/conftest.py `watched`): a request that
would leave the hub is aborted and recorded, and so is every console and page error — a
Content-Security-Policy violation shows as one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from hub.funds.statement_text import yuan
from tests.funds.conftest import (
    CONFIRMED, ESTATE, HOUSES, INTEREST, LIFT, LIFT_COST, LIFT_TITLE, OCTOBER, REVENUE, ROOF, ROOF_BUDGET, ROOF_REF, FundHub, balance_of,
    first_deposit, november_figures, november_revenue, shares_of_lift,
)
from tests.vote.conftest import ESTATE_NAME, HOUSE_NAMES, READY, Watched, watched

DESK = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 667}
STATEMENT = f"/funds?estate={ESTATE}&period=2026-11"
A4_POINTS = (595.28, 841.89)
ZHANG = (HOUSES[0], HOUSES[1], HOUSES[5])
"""张伟's houses: 1 and 6 alone, 2 with 李娜."""


@pytest.fixture
def desk(browser: Any, fund_hub: FundHub) -> Iterator[Watched]:
    yield from watched(browser, fund_hub, STATEMENT, DESK)


@pytest.fixture
def phone(browser: Any, fund_hub: FundHub) -> Iterator[Watched]:
    yield from watched(browser, fund_hub, "/funds?view=mine", PHONE)


def _figures(page: Any) -> dict[str, str]:
    return dict(page.eval_on_selector_all("#figures tbody tr", "rows => rows.map(r => [r.dataset.figure, r.querySelector('td').textContent])"))


def test_the_statement_shows_the_periods_figures_in_yuan_and_flags_the_emergency_use(desk: Watched) -> None:
    hub, page = desk.hub, desk.page
    desk.sign_in("street")
    desk.ready("statement")
    assert page.inner_text("#who") == "街道办事处 · 香港中路街道办事处"
    assert page.input_value("#estate") == ESTATE and page.input_value("#period") == "2026-11"
    assert page.inner_text("#statement-title") == f"{ESTATE_NAME} 专项维修资金收支公示"
    assert "2026年11月（2026-11-01 至 2026-11-30）" in page.inner_text("#statement-status")
    assert page.get_attribute("#published", "data-published") == "true" and page.inner_text("#published") == "已公布"
    assert page.inner_text("#head-root") == hub.books["heads"]["2026-11"]
    signature = hub.graphql("street", "query H($e: String!) { fundHeads(estate: $e) { kind signature } }", {"e": ESTATE})["fundHeads"]
    november = next(head for head in signature if head["kind"] == "period:2026-11")
    assert page.inner_text("#head-signature") == november["signature"][:16] + "…"
    # the head's signature under the hub's key and its consistency with October's, checked here
    assert page.get_attribute("#head-check [data-ok]", "data-ok") == "true"
    assert "上期账本的延续" in page.inner_text("#head-check")

    expected = november_figures()
    assert _figures(page) == {key: yuan(fen) for key, fen in expected.items()}
    assert _figures(page)["repairs"] == yuan(LIFT_COST) == "12,345.67"
    labels = page.eval_on_selector_all("#figures tbody th", "cells => cells.map(c => c.textContent)")
    assert labels == ["期初余额", "首次缴存", "续筹", "利息", "维修支出", "期末余额"]
    assert "期末余额" in page.inner_text("#figures-check") and "不平" not in page.inner_text("#figures-check")

    lift = page.locator(f"#projects tr[data-project='{LIFT}']")
    assert lift.get_attribute("data-emergency") == "true"
    assert lift.locator(".tag.emergency").inner_text() == "应急使用"
    assert LIFT_TITLE in lift.inner_text() and yuan(LIFT_COST) in lift.inner_text() and "已完成" in lift.inner_text()
    assert "电梯" in lift.locator("td.authority").inner_text()
    roof = page.locator(f"#projects tr[data-project='{ROOF}']")
    assert roof.get_attribute("data-emergency") == "false" and roof.locator(".tag.emergency").count() == 0
    assert ROOF_REF in roof.inner_text() and yuan(ROOF_BUDGET) in roof.inner_text() and "未结算" in roof.inner_text()

    # public revenue: the sums, and the entries the committee has not confirmed shown as such
    revenue = dict(page.eval_on_selector_all("#revenue-figures tbody tr", "rows => rows.map(r => [r.dataset.figure, r.querySelector('td').textContent])"))
    assert revenue == {key: yuan(fen) for key, fen in november_revenue().items()}
    unconfirmed = sorted(set(range(len(REVENUE))) - set(CONFIRMED))
    assert page.get_attribute("#revenue-pending", "data-unconfirmed") == str(len(unconfirmed))
    assert f"{len(unconfirmed)} 笔" in page.inner_text("#revenue-pending") and "尚未经业主委员会确认" in page.inner_text("#revenue-pending")
    statuses = dict(page.eval_on_selector_all("#revenue-entries tbody tr", "rows => rows.map(r => [Number(r.dataset.index), r.dataset.status])"))
    assert statuses == {index: "CONFIRMED" if index in CONFIRMED else "UNCONFIRMED" for index in range(len(REVENUE))}
    for index in unconfirmed:
        assert page.inner_text(f"#revenue-entries tr[data-index='{index}'] .tag.unconfirmed") == "未确认"
    assert "电梯广告" in page.inner_text("#revenue-entries tr[data-index='0']") and "HT-2026-电梯广告-003" in page.inner_text("#revenue-entries tr[data-index='0']")

    # the period picker: December is still open, so provisional, opening at November's close
    page.select_option("#period", "2026-12")
    page.wait_for_function("() => document.getElementById('published')?.dataset.published === 'false'")
    desk.ready("statement")
    assert "暂定" in page.inner_text("#published") and page.locator("#head-root").count() == 0
    assert _figures(page)["opening"] == _figures(page)["closing"] == yuan(expected["closing"])
    assert "period=2026-12" in page.url and f"estate={ESTATE}" in page.url
    page.go_back()
    page.wait_for_function("() => document.getElementById('published')?.dataset.published === 'true'")
    desk.assert_clean()


def test_the_statement_prints_on_a4_without_the_navigation(desk: Watched) -> None:
    hub, page = desk.hub, desk.page
    desk.sign_in("zhang")  # an owner reads the books of the estate it holds a house in
    desk.ready("statement")
    assert page.is_enabled("#print")
    assert not page.is_visible("#print-footer"), "the footer is for paper"

    page.emulate_media(media="print")
    for hidden in ("#bar", "#views", "#pickers", "#print", "#signin"):
        assert not page.is_visible(hidden), f"{hidden} shows in print"
    assert page.is_visible("#figures") and page.is_visible("#projects")
    footer = page.inner_text("#print-footer")
    size = hub.books["november_size"]
    assert f"账目序号 {len(OCTOBER)}–{size - 1}" in footer and hub.books["heads"]["2026-11"] in footer, footer
    # every printed page carries the range and the root in its bottom margin (an @page rule of the page's own sheet)
    margins = page.evaluate(
        "() => [...document.styleSheets].flatMap(s => [...s.cssRules]).filter(r => r instanceof CSSPageRule).map(r => r.cssText)"
    )
    bottom = [rule for rule in margins if "@bottom-left" in rule]
    assert len(bottom) == 1 and f"账目序号 {len(OCTOBER)}–{size - 1}" in bottom[0] and hub.books["heads"]["2026-11"] in bottom[0], margins
    assert any("size: a4" in rule.lower() and "counter(pages)" in rule for rule in margins), margins  # portrait is the default
    breaks = page.eval_on_selector_all(".sheet tr", "rows => [...new Set(rows.map(r => getComputedStyle(r).breakInside))]")
    assert breaks == ["avoid"], "no table row is split across pages"
    assert page.evaluate("() => getComputedStyle(document.querySelector('#figures thead')).display") == "table-header-group"

    pdf = page.pdf(prefer_css_page_size=True, print_background=True)  # the page's own @page size
    boxes = {tuple(float(n) for n in box) for box in re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)}
    assert boxes and all(abs(w - A4_POINTS[0]) < 1.5 and abs(h - A4_POINTS[1]) < 1.5 for w, h in boxes), boxes
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == len(boxes and re.findall(rb"/MediaBox", pdf)) >= 1
    page.emulate_media(media="screen")
    assert page.is_visible("#bar") and not page.is_visible("#print-footer")
    desk.assert_clean()


def _account(page: Any, house: str) -> Any:
    return page.locator(f".account[data-house='{house}']")


def _steps(page: Any, house: str) -> dict[str, str]:
    return dict(page.eval_on_selector_all(f".account[data-house='{house}'] .steps li", "items => items.map(i => [i.dataset.step, i.dataset.ok])"))


ALL_HOLD = {"第1步 重算叶哈希": "true", "第2步 包含证明": "true", "第3步 树头签名": "true"}


def test_an_owner_sees_each_houses_balance_and_its_last_entry_verified(phone: Watched) -> None:
    hub, page = phone.hub, phone.page
    phone.sign_in("zhang")
    phone.ready("mine")
    assert page.get_attribute("#tab-mine", "aria-current") == "page"
    assert page.inner_text("#public-key") == hub.public_key
    shown = page.eval_on_selector_all(".account", "cards => cards.map(c => c.dataset.house)")
    assert sorted(shown) == sorted(ZHANG)
    for house in ZHANG:
        card = _account(page, house)
        assert HOUSE_NAMES[house] in card.locator("h3").inner_text()
        balance = card.locator(".balance-yuan")
        assert balance.get_attribute("data-fen") == str(balance_of(house))
        assert balance.inner_text() == f"¥{yuan(balance_of(house))}"
        verdict = card.locator(".verdict")
        assert verdict.get_attribute("data-ok") == "true", verdict.inner_text()
        assert verdict.inner_text().startswith("核验通过")
        assert _steps(page, house) == ALL_HOLD
        # the last entry is November's repair: proved against November's published head
        assert card.locator(".proof-root").text_content() == hub.books["heads"]["2026-11"]
    first = _account(page, HOUSES[0])
    rows = first.locator("tbody tr")
    assert rows.count() == 3  # the first deposit, interest, the lift's share
    assert rows.nth(2).get_attribute("class") == "debit" and "维修支出" in rows.nth(2).inner_text()
    amounts = first.locator("tbody td.amount").all_inner_texts()
    assert amounts == [yuan(first_deposit(HOUSES[0])), yuan(INTEREST[0].amount_fen), yuan(-shares_of_lift()[HOUSES[0]])]
    assert amounts[2].startswith("-") and "," in amounts[2], "a debit, written exactly with its sign"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], "nothing wider than the phone"

    # the statement tab opens the estate of the owner's houses, for the last finished month
    page.click("#tab-statement")
    phone.ready("statement")
    assert page.input_value("#estate") == ESTATE
    phone.assert_clean()


def test_a_tampered_proof_or_head_is_shown_to_fail(phone: Watched) -> None:
    page = phone.page
    changed: list[str] = []

    def tamper(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        data = body.get("data") or {}
        first, second = data.get("h0"), data.get("h1")
        if first and first.get("proof") and second and second.get("proof"):
            path = first["proof"]["path"]
            path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]  # one sibling hash altered
            second["proof"]["head"]["publicKey"] = "ab" * 64  # a head claiming another key
            changed.append("proofs")
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/graphql", tamper)
    phone.sign_in("zhang")
    phone.ready("mine")
    assert changed == ["proofs"]
    order = page.eval_on_selector_all(".account", "cards => cards.map(c => c.dataset.house)")
    altered_path, other_key, untouched = order

    verdict = _account(page, altered_path).locator(".verdict")
    assert verdict.get_attribute("data-ok") == "false" and verdict.get_attribute("data-step") == "第2步 包含证明"
    assert verdict.inner_text().startswith("核验未通过：第2步 包含证明"), verdict.inner_text()
    assert _steps(page, altered_path) == {**ALL_HOLD, "第2步 包含证明": "false"}

    verdict = _account(page, other_key).locator(".verdict")
    assert verdict.get_attribute("data-ok") == "false" and "不是用本平台的公钥签名" in verdict.inner_text()
    assert _steps(page, other_key) == {**ALL_HOLD, "第3步 树头签名": "false"}

    assert _account(page, untouched).locator(".verdict").get_attribute("data-ok") == "true"
    assert page.locator(f"{READY} .account .balance-yuan").count() == 3, "the balances still show"
    phone.assert_clean()
