"""The `/vote` route: the page with its settings, under a Content-Security-Policy that allows
this server alone (scripts, styles, images and requests), no inline script or style."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

PAGE = Path(__file__).resolve().parent.parent / "static" / "vote" / "index.html"
CONFIG_SLOT = "<!--HUB-VOTE-CONFIG-->"
"""Where the page's settings go, as a JSON script element (data, not run) the page's script reads."""

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Everything from this server only; no inline script or style (the page sets none)."""


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element: no `</script>` or HTML comment can be formed."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(graphql: str = "/graphql") -> str:
    """The page with its settings: where the GraphQL endpoint is."""
    html = PAGE.read_text(encoding="utf-8")
    slot = f'<script id="hub-vote-config" type="application/json">{_script_json({"graphql": graphql})}</script>'
    return html.replace(CONFIG_SLOT, slot, 1)


def vote_routes() -> list[BaseRoute]:
    """`GET /vote` (the page) and `/vote/` (back to it)."""
    html = render()
    headers = {
        "content-security-policy": POLICY,
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }

    async def page(_: Request) -> Response:
        return HTMLResponse(html, headers=headers)

    async def slash(_: Request) -> Response:
        return RedirectResponse(url="/vote")

    return [Route("/vote", page, methods=["GET"]), Route("/vote/", slash, methods=["GET"])]
