"""`GET /vote` without a browser: the page is public and self-contained, its policy keeps every
request on the hub and allows no inline script or style, and what it loads is served here
(sm-crypto vendored with its licences)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hub.vote import POLICY, render
from tests.vote.conftest import VoteHub

STATIC = Path(__file__).resolve().parents[2] / "hub" / "static"


def test_the_page_is_public_and_names_only_files_of_the_hub(vote_hub: VoteHub) -> None:
    response = vote_hub.client.get("/vote")  # no token: the page itself holds no data
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == POLICY
    directives = dict(part.strip().split(" ", 1) for part in POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src", "font-src"):
        assert directives[directive] == "'self'", directive
    assert directives["img-src"] == "'self' data:"
    assert "unsafe" not in POLICY, "no inline script or style, no eval"
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["referrer-policy"] == "no-referrer"
    html = response.text
    assert 'lang="zh-CN"' in html and "业主登录" in html and 'name="viewport"' in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "nothing is loaded from elsewhere"
    assert "style=" not in html, "no inline style: the policy would refuse it"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    inline = [(attributes, body) for attributes, body in scripts if "src=" not in attributes]
    assert len(inline) == 1 and 'type="application/json"' in inline[0][0], "the one inline script is data, not code"
    assert json.loads(inline[0][1]) == {"graphql": "/graphql"}
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets == [
        "/static/vote/vote.css",
        "/static/vendor/sm-crypto/sm3.js",
        "/static/vendor/sm-crypto/sm2.js",
        "/static/shared/hub-api.js",
        "/static/shared/tree-check.js",
        "/static/vote/vote.js",
    ]
    for asset in assets:
        served = vote_hub.client.get(asset)
        assert served.status_code == 200 and served.content, asset
    assert vote_hub.client.get("/vote/", follow_redirects=False).headers["location"] == "/vote"
    # the data is not public: the page's own query without a token is refused
    assert vote_hub.client.post("/graphql", json={"query": "{ me { name } }"}).status_code == 401


def test_the_scripts_set_no_inline_style_and_fetch_nothing_elsewhere() -> None:
    script = (STATIC / "vote" / "vote.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script and ".style." not in script and "setAttribute(\"style\"" not in script
    assert not re.search(r"https?://", script), "the page talks to its own hub only"
    assert "config.graphql" in script


def test_sm_crypto_is_vendored_with_its_licences() -> None:
    package = json.loads((STATIC / "package.json").read_text(encoding="utf-8"))
    assert package["dependencies"]["sm-crypto"] == "0.5.8"
    for built in ("sm2.js", "sm3.js"):
        text = (STATIC / "vendor" / "sm-crypto" / built).read_text(encoding="utf-8")
        assert text.startswith("!function"), f"{built} is the UMD build (it sets a global)"
        for fetching in ("XMLHttpRequest", "fetch(", "importScripts", "http://", "https://"):
            assert fetching not in text, f"{built} would reach out: {fetching}"
    sm2 = (STATIC / "vendor" / "sm-crypto" / "sm2.js").read_text(encoding="utf-8")
    assert "1234567812345678" in sm2, "the default signer ID of GM/T 0009"
    for licence in ("LICENSE.sm-crypto", "LICENSE.jsbn"):
        assert (STATIC / "vendor" / licence).stat().st_size > 500, licence
    assert "sm-crypto/dist/sm2.js" in (STATIC / "vendor.sh").read_text(encoding="utf-8")


def test_the_settings_cannot_break_out_of_the_page() -> None:
    html = render("/graphql?</script><script>alert(1)</script>")
    assert "<script>alert(1)" not in html
    found = re.search(r'<script id="hub-vote-config" type="application/json">(.*?)</script>', html)
    assert found and json.loads(found.group(1)) == {"graphql": "/graphql?</script><script>alert(1)</script>"}
