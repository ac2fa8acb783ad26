"""`GET /funds` without a browser: the page is public and self-contained, its policy keeps every
request on the hub and allows no inline script or style, its settings carry the hub's public key,
and what it loads is served here. And the figures the page shows, as GraphQL gives them to it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hub.funds.page import render
from hub.pages import POLICY
from tests.funds.conftest import CONFIRMED, ESTATE, LIFT, REVENUE, ROOF, FundHub, november_figures, november_revenue

STATIC = Path(__file__).resolve().parents[2] / "hub" / "static"


def test_the_page_is_public_and_names_only_files_of_the_hub(fund_hub: FundHub) -> None:
    response = fund_hub.client.get("/funds", params={"estate": ESTATE, "period": "2026-11"})  # no token
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == POLICY
    directives = dict(part.strip().split(" ", 1) for part in POLICY.split(";"))
    assert directives["default-src"] == "'none'" and directives["script-src"] == directives["style-src"] == "'self'"
    assert "unsafe" not in POLICY
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["referrer-policy"] == "no-referrer"
    html = response.text
    assert 'lang="zh-CN"' in html and "收支公示" in html and "我的维修资金" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "nothing is loaded from elsewhere"
    assert "style=" not in html and "<style" not in html, "no inline style: the policy would refuse it"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    inline = [(attributes, body) for attributes, body in scripts if "src=" not in attributes]
    assert len(inline) == 1 and 'type="application/json"' in inline[0][0], "the one inline script is data, not code"
    assert json.loads(inline[0][1]) == {"graphql": "/graphql", "publicKey": fund_hub.public_key}
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets == [
        "/static/funds/funds.css",
        "/static/vendor/sm-crypto/sm3.js",
        "/static/vendor/sm-crypto/sm2.js",
        "/static/shared/hub-api.js",
        "/static/shared/tree-check.js",
        "/static/funds/funds.js",
    ]
    for asset in assets:
        served = fund_hub.client.get(asset)
        assert served.status_code == 200 and served.content, asset
    assert fund_hub.client.get("/funds/", follow_redirects=False).headers["location"] == "/funds"
    assert fund_hub.client.post("/graphql", json={"query": "{ me { name } }"}).status_code == 401


def test_the_script_sets_no_inline_style_and_fetches_nothing_elsewhere() -> None:
    script = (STATIC / "funds" / "funds.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script and ".style." not in script and 'setAttribute("style"' not in script
    assert not re.search(r"https?://", script), "the page talks to its own hub only"
    assert "config.graphql" in script and "config.publicKey" in script


def test_the_settings_cannot_break_out_of_the_page() -> None:
    key = "ab" * 64
    html = render(key, "/graphql?</script><script>alert(1)</script>")
    assert "<script>alert(1)" not in html
    found = re.search(r'<script id="hub-funds-config" type="application/json">(.*?)</script>', html)
    assert found and json.loads(found.group(1)) == {"graphql": "/graphql?</script><script>alert(1)</script>", "publicKey": key}
    with pytest.raises(ValueError, match="public_key"):
        render('"></script><script>alert(1)</script>')


STATEMENT = """query S($estate: String!, $period: String!) { fundStatement(estate: $estate, period: $period) {
  published openingFen depositsFen topUpsFen interestFen repairsFen closingFen head { root }
  projects { id emergencyUse authorityText costFen status }
  revenue { incomeFen costFen ownersShareFen toFundFen unconfirmed } } }"""


def test_the_statement_the_page_reads_holds_the_books_figures(fund_hub: FundHub) -> None:
    found = fund_hub.graphql("zhang", STATEMENT, {"estate": ESTATE, "period": "2026-11"})["fundStatement"]
    expected = november_figures()
    assert {key: found[f"{key}Fen"] for key in expected} == expected
    assert found["published"] and found["head"]["root"] == fund_hub.books["heads"]["2026-11"]
    projects = {project["id"]: project for project in found["projects"]}
    assert projects[LIFT]["emergencyUse"] and projects[LIFT]["status"] == "COMPLETED"
    assert not projects[ROOF]["emergencyUse"] and projects[ROOF]["costFen"] is None
    revenue = november_revenue()
    assert found["revenue"] == {
        "incomeFen": revenue["income"], "costFen": revenue["cost"], "ownersShareFen": revenue["share"],
        "toFundFen": revenue["toFund"], "unconfirmed": len(REVENUE) - len(CONFIRMED),
    }
    # another street's office reads no books of this estate
    refused = fund_hub.ask("other_street", STATEMENT, {"estate": ESTATE, "period": "2026-11"})
    assert refused["errors"] and refused["data"] is None
