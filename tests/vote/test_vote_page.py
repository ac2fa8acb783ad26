"""The owners' voting page in a real headless Chromium (Debian's, driven by Playwright), on a
phone's viewport (375×667) against a real hub on loopback.

Every page here is watched: a request that would leave the hub is aborted and recorded (and must
not happen), and so is every console error and page error — a Content-Security-Policy violation
shows as one.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.vote.conftest import ESTATE, FIRMS, HOUSE_NAMES, HOUSES, OWNERS, READY, VoteHub, Watched, watched

PHONE = {"width": 375, "height": 667}


@pytest.fixture
def phone(browser: Any, vote_hub: VoteHub) -> Iterator[Watched]:
    yield from watched(browser, vote_hub, "/vote", PHONE)


def test_only_an_owners_token_signs_in(phone: Watched) -> None:
    page = phone.page
    page.wait_for_selector("body[data-state=signed-out] #signin:not([hidden])")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], "nothing wider than the phone"
    phone.sign_in("street")
    page.wait_for_selector("#signin-error:not([hidden])")
    refusal = page.inner_text("#signin-error")
    assert "请使用业主令牌登录" in refusal and "街道办事处" in refusal
    assert page.evaluate("() => sessionStorage.getItem('hub-vote-token')") is None
    page.fill("#token", "hub1.not-a-token")
    page.click("#signin-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('signin-error').textContent.includes('令牌无效')")
    assert page.evaluate("() => sessionStorage.getItem('hub-vote-token')") is None
    # a refused token is answered 401, which Chromium reports on the console: that one is expected
    phone.errors = [error for error in phone.errors if "401" not in error]
    phone.assert_clean()


CLOSES_AFTER = dt.timedelta(seconds=30)
"""How long the test's vote stays open: long enough for a loaded machine to sign in, cast and
change the ballot in Chromium (all of it took 2.3 s run alone on 2 cores: a 13-fold margin for
a busy machine); the test then waits for the close, which is most of its time."""

RECEIPT = "hub-vote-receipts:{vote}:{house}"
TREE_HEAD = "log size root at kind signature publicKey signedText"
ORGANISE = """mutation Organise($input: OrganiseVoteInput!) { organiseVote(input: $input) { id status opensAt closesAt } }"""
CAST = f"""mutation Cast($vote: ID!, $house: String!, $choices: [ChoiceInput!]!) {{
  castBallot(vote: $vote, house: $house, choices: $choices) {{ vote houseCode entries {{ item index leafHash payload }} head {{ {TREE_HEAD} }} }}
}}"""
RESULT = """query Result($id: ID!) { vote(id: $id) { status result { ballots items {
  number passed quorum participation { houses heads area } choices { choice tally { houses } }
  candidates { id name elected tally { houses } } elected tied openSeats } } } }"""


def _china_today() -> dt.date:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


def _organise(hub: VoteHub, title: str, opens_at: dt.datetime, closes_at: dt.datetime, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    record_date = opens_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    given = {
        "place": ESTATE, "title": title, "recordDate": record_date.isoformat(),
        "opensAt": opens_at.isoformat(), "closesAt": closes_at.isoformat(), "items": items, **extra,
    }
    organised: dict[str, Any] = hub.graphql("street", ORGANISE, {"input": given})["organiseVote"]
    return organised


def _items() -> list[dict[str, Any]]:
    firms = list(FIRMS.items())
    return [
        {"klass": 5, "form": "MOTION", "title": "使用专项维修资金更换1号楼电梯", "text": "预算 38 万元，由专项维修资金列支。"},
        {
            "klass": 3, "form": "ELECTION", "title": "选举业主委员会委员", "seats": 2,
            "candidates": [{"name": OWNERS[who][1], "ownerId": OWNERS[who][0]} for who in ("wang", "liu", "chen")],
        },
        {
            "klass": 4, "form": "FIRM_CHOICE", "title": "选聘物业服务企业", "takesEffect": (_china_today() + dt.timedelta(days=60)).isoformat(),
            "candidates": [{"name": name, "firmCode": code} for code, name in firms],
        },
    ]


def _stored(page: Any, vote: str, house: str) -> list[dict[str, Any]]:
    text = page.evaluate("key => localStorage.getItem(key)", RECEIPT.format(vote=vote, house=house))
    kept: list[dict[str, Any]] = json.loads(text) if text else []
    return kept


def _verify(page: Any, house: str) -> tuple[str, str, dict[str, str]]:
    """Press 核验回执 for a house: the verdict's data-ok, its text and each step's data-ok."""
    card = f".house[data-house='{house}']"
    page.click(f"{card} button.verify")
    page.wait_for_selector(f"{card} .verdict", timeout=30_000)
    verdict = page.locator(f"{card} .verdict")
    steps = page.eval_on_selector_all(f"{card} .steps li", "items => items.map(i => [i.dataset.step, i.dataset.ok])")
    return verdict.get_attribute("data-ok") or "", verdict.inner_text(), dict(steps)


def test_an_owner_casts_changes_keeps_the_receipt_and_checks_it_after_the_close(phone: Watched) -> None:
    hub, page = phone.hub, phone.page

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    opens_at = now + dt.timedelta(seconds=4)  # after its notice, which is now
    vote = _organise(
        hub, "2026年第一次业主大会临时会议", opens_at, opens_at + CLOSES_AFTER, _items(),
        documents=[{"title": "会议公告", "text": "定于本周召开业主大会临时会议，采用电子投票方式表决。"}, {"title": "电梯更换方案", "text": "方案全文。", "ref": "电梯更换方案.pdf"}],
    )
    later = _organise(
        hub, "修改管理规约", now + dt.timedelta(days=2), now + dt.timedelta(days=9),
        [{"klass": 2, "form": "MOTION", "title": "修改管理规约第十二条"}],
    )
    vote_id, closes_at = vote["id"], dt.datetime.fromisoformat(vote["closesAt"])
    assert vote["status"] == "NOTICED"
    time.sleep(max(0.0, (opens_at - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 0.5)
    # house 6 is 张伟's, delegated to 王芳 (who casts it later); 李娜 casts the house she holds with
    # 张伟, which locks it
    proxy = "mutation P($v: ID!, $h: String!, $d: String!, $r: String!) { registerProxy(vote: $v, house: $h, delegate: $d, reference: $r) { houseCode } }"
    hub.graphql("street", proxy, {"v": vote_id, "h": HOUSES[5], "d": OWNERS["wang"][0], "r": "委托书 WT-2026-001"})
    motion_for = [{"item": 1, "choice": "for"}, {"item": 2, "candidates": ["1"]}, {"item": 3, "choice": "1"}]
    hub.graphql("li", CAST, {"vote": vote_id, "house": HOUSES[1], "choices": motion_for})
    hub.graphql("wang", CAST, {"vote": vote_id, "house": HOUSES[2], "choices": motion_for})
    hub.graphql("liu", CAST, {"vote": vote_id, "house": HOUSES[3], "choices": [{"item": 1, "choice": "against"}, {"item": 2, "candidates": ["2", "3"]}, {"item": 3, "choice": "abstain"}]})

    # signing in on a phone: the open vote first, then the announced one with when it opens
    phone.sign_in("zhang")
    phone.ready("list")
    assert page.inner_text("#who") == "业主 · 张伟"
    groups = page.eval_on_selector_all("#groups section.group", "groups => groups.map(g => g.dataset.status)")
    assert groups == ["OPEN", "NOTICED", "CLOSED"]
    open_card = page.locator(f"section[data-status=OPEN] li.card[data-id='{vote_id}']")
    assert "香港中路街道办事处" in open_card.inner_text() and "海信花园" in open_card.inner_text()
    assert "表决权：6 户" in open_card.inner_text()
    noticed = page.locator(f"section[data-status=NOTICED] li.card[data-id='{later['id']}']").inner_text()
    assert "将于" in noticed and "开始投票" in noticed and "表决权" not in noticed
    assert page.locator("section[data-status=CLOSED] li.card").count() == 0

    # the announced vote: its items are public, no ballot yet
    page.click(f"section[data-status=NOTICED] li.card[data-id='{later['id']}'] a")
    phone.ready("vote")
    assert page.get_attribute("#vote-status", "data-status") == "NOTICED"
    assert "修改管理规约第十二条" in page.inner_text("#item-list") and "第2类" in page.inner_text("#item-list")
    assert page.locator("form.ballot").count() == 0 and "表决开始后" in page.inner_text("#houses")
    page.click("#back")
    phone.ready("list")

    open_card.locator("a").click()
    phone.ready("vote")
    assert page.inner_text("#vote-title") == "2026年第一次业主大会临时会议"
    assert page.locator("#document-list details").count() == 2
    page.click("#document-list details:nth-child(2) summary")  # a document opens in place
    assert "附件：电梯更换方案.pdf" in page.inner_text("#document-list details:nth-child(2)")
    items = page.locator("#item-list li.item")
    assert items.count() == 3
    assert "第5类 · 使用建筑物及其附属设施的维修资金" in items.nth(0).inner_text()
    assert "过半数" in items.nth(0).locator(".rule").inner_text()
    assert "应选 2 名" in items.nth(1).inner_text() and "刘洋" in items.nth(1).inner_text()
    kinds = dict(page.eval_on_selector_all(".house", "houses => houses.map(h => [h.dataset.house, h.dataset.kind])"))
    assert kinds == {HOUSES[0]: "open", HOUSES[1]: "locked", HOUSES[5]: "delegated"}
    assert HOUSE_NAMES[HOUSES[0]] in page.inner_text(f".house[data-house='{HOUSES[0]}'] h4")
    assert "已锁定" in page.inner_text(f".house[data-house='{HOUSES[1]}']")
    assert "委托" in page.inner_text(f".house[data-house='{HOUSES[5]}']")
    assert page.locator(f".house[data-house='{HOUSES[1]}'] form").count() == 0
    assert page.locator(f".house[data-house='{HOUSES[5]}'] form").count() == 0
    hub.graphql("wang", CAST, {"vote": vote_id, "house": HOUSES[5], "choices": motion_for})  # the delegate casts it
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], "nothing wider than the phone"

    # cast: against the motion, two of three candidates (the third is then disabled), the first firm
    form = f"form.ballot[data-house='{HOUSES[0]}']"
    page.check(f"{form} fieldset[data-item='1'] input[value=against]")
    page.check(f"{form} fieldset[data-item='2'] input[value='1']")
    page.check(f"{form} fieldset[data-item='2'] input[value='2']")
    assert page.is_disabled(f"{form} fieldset[data-item='2'] input[value='3']")
    page.check(f"{form} fieldset[data-item='3'] input[value='1']")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector(f"{READY} .house[data-house='{HOUSES[0]}'][data-kind=cast]", timeout=15_000)
    counted = page.inner_text(f".house[data-house='{HOUSES[0]}'] .counted")
    assert "第1项：反对" in counted and "第2项：王芳、刘洋" in counted and "第3项：青岛海信物业服务有限公司" in counted
    first = _stored(page, vote_id, HOUSES[0])
    assert len(first) == 1 and [entry["item"] for entry in first[0]["entries"]] == [1, 2, 3]
    assert all(entry["index"] < first[0]["head"]["size"] for entry in first[0]["entries"])

    # change the motion to 同意: the form starts from what counts, the last ballot counts
    assert page.is_checked(f"{form} fieldset[data-item='1'] input[value=against]")
    page.check(f"{form} fieldset[data-item='1'] input[value=for]")
    assert page.inner_text(f"{form} button[type=submit]") == "修改表决"
    page.click(f"{form} button[type=submit]")
    page.wait_for_function(
        "house => (document.querySelector(`.house[data-house='${house}'] .counted`) || {}).textContent?.includes('第1项：同意')",
        arg=HOUSES[0], timeout=15_000,
    )
    kept = _stored(page, vote_id, HOUSES[0])
    assert len(kept) == 2 and kept[1]["head"]["size"] > kept[0]["head"]["size"]
    receipt = page.locator(f".house[data-house='{HOUSES[0]}'] .receipt")
    assert receipt.get_attribute("data-receipts") == "2"
    for entry in kept[1]["entries"]:
        row = receipt.locator(f"tr[data-index='{entry['index']}']")
        assert row.get_attribute("data-item") == str(entry["item"]) and entry["leafHash"] in row.inner_text()
    assert kept[1]["head"]["root"] in receipt.inner_text() and kept[1]["head"]["signature"] in receipt.inner_text()
    assert receipt.locator("button.verify").count() == 0, "receipts are checked after the close"

    # the close, by its organiser through the API; the page reads the vote again by itself then
    time.sleep(max(0.0, (closes_at - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 0.2)
    closed = hub.graphql("street", "mutation C($id: ID!) { closeVote(id: $id) { status } }", {"id": vote_id})["closeVote"]
    assert closed["status"] == "CLOSED"
    published = hub.graphql("zhang", RESULT, {"id": vote_id})["vote"]["result"]
    page.wait_for_selector(f"{READY} #vote-status[data-status=CLOSED]", timeout=15_000)
    page.wait_for_selector("#result:not([hidden])")
    assert f"共 {published['ballots']} 条" in page.inner_text("#ballots")
    results = page.locator("#result-body section.item-result")
    assert results.count() == 3
    for shown, item in zip(range(3), published["items"]):
        section = results.nth(shown)
        assert section.get_attribute("data-item") == str(item["number"])
        assert section.get_attribute("data-passed") == str(item["passed"]).lower()
        assert section.locator(".quorum").get_attribute("data-quorum") == str(item["quorum"]).lower()
        part = item["participation"]
        assert section.locator(".participation").inner_text() == f"{part['houses']} 户 · {part['heads']} 人 · {part['area']} m²"
        for candidate in item["candidates"]:
            row = section.locator(f"tr[data-candidate='{candidate['id']}']")
            assert row.get_attribute("data-elected") == str(candidate["elected"]).lower()
            assert candidate["name"] in row.inner_text()
    motion = published["items"][0]
    # 张伟 (for, after changing), 李娜's and 王芳's two houses for, 刘洋 against: five houses take part
    assert motion["participation"]["houses"] == 5 and motion["quorum"] and motion["passed"]
    assert {row["choice"]: row["tally"]["houses"] for row in motion["choices"]}["for"] == 4
    assert results.nth(0).locator("tr[data-choice=for] td").nth(1).inner_text() == "4"
    assert "通过" in results.nth(0).locator("h4 .tag").inner_text()
    election = published["items"][1]
    elected_names = [c["name"] for c in election["candidates"] if c["elected"]]
    if elected_names:
        assert "当选：" + "、".join(elected_names) in results.nth(1).inner_text()

    # the receipts hold: checked in the browser against the signed final head
    ok, text, steps = _verify(page, HOUSES[0])
    assert ok == "true" and text == "核验通过", text
    assert steps == {"第1步 重算叶哈希": "true", "第2步 包含证明": "true", "第3步 一致性证明": "true", "第4步 树头签名": "true"}

    # a receipt whose ballot was altered: the recomputed leaf no longer matches, nor leads to the root
    altered = json.loads(json.dumps(kept))
    entry = altered[0]["entries"][0]
    assert '"choice":"against"' in entry["payload"]
    entry["payload"] = entry["payload"].replace('"choice":"against"', '"choice":"for"')
    key = RECEIPT.format(vote=vote_id, house=HOUSES[0])
    page.evaluate("([key, value]) => localStorage.setItem(key, value)", [key, json.dumps(altered, ensure_ascii=False)])
    page.click("#refresh")
    page.wait_for_selector(f"{READY} .house[data-house='{HOUSES[0]}'] button.verify")
    ok, text, steps = _verify(page, HOUSES[0])
    assert ok == "false" and text.startswith("核验未通过：第1步 重算叶哈希"), text
    assert steps["第1步 重算叶哈希"] == "false" and steps["第2步 包含证明"] == "false"
    assert steps["第3步 一致性证明"] == "true" and steps["第4步 树头签名"] == "true"

    # a receipt whose head was swapped for another root: neither consistency nor the signature holds
    swapped = json.loads(json.dumps(kept))
    swapped[1]["head"]["root"] = "0" * 64
    page.evaluate("([key, value]) => localStorage.setItem(key, value)", [key, json.dumps(swapped, ensure_ascii=False)])
    page.click("#refresh")
    page.wait_for_selector(f"{READY} .house[data-house='{HOUSES[0]}'] button.verify")
    ok, text, steps = _verify(page, HOUSES[0])
    assert ok == "false" and text.startswith("核验未通过：第3步 一致性证明"), text
    assert steps == {"第1步 重算叶哈希": "true", "第2步 包含证明": "true", "第3步 一致性证明": "false", "第4步 树头签名": "false"}

    # back to the list: the vote is among the closed ones; on a desktop the column stays readable
    page.click("#back")
    phone.ready("list")
    assert page.locator(f"section[data-status=CLOSED] li.card[data-id='{vote_id}']").count() == 1
    page.set_viewport_size({"width": 1366, "height": 768})
    column = page.locator("#work").bounding_box()
    assert column is not None and column["width"] <= 760 and column["x"] > 250, column
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1366
    # signing out forgets the token, not the receipts
    page.click("#signout")
    page.wait_for_selector("body[data-state=signed-out] #signin:not([hidden])")
    assert page.evaluate("() => sessionStorage.getItem('hub-vote-token')") is None
    assert _stored(page, vote_id, HOUSES[0]) == swapped, "the receipts stay in the browser for later checks"
    phone.assert_clean()
