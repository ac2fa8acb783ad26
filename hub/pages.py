"""The hub's own pages (`/vote`, `/funds`): a static HTML file with its settings put in as JSON
data, served under a Content-Security-Policy that allows this server alone (scripts, styles,
images and requests) and no inline script or style."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Everything from this server only; no inline script or style (the pages set none)."""

HEADERS = {
    "content-security-policy": POLICY,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def script_json(value: object) -> str:
    """JSON safe inside a <script> element: no `</script>` or HTML comment can be formed."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(page: Path, slot: str, element_id: str, settings: dict[str, object]) -> str:
    """The page's HTML with `slot` (an HTML comment in it) replaced by its settings: a JSON
    script element with id `element_id` (data, not run) that the page's script reads."""
    html = page.read_text(encoding="utf-8")
    element = f'<script id="{element_id}" type="application/json">{script_json(settings)}</script>'
    return html.replace(slot, element, 1)


def page_routes(path: str, html: str) -> list[BaseRoute]:
    """`GET path` (the page, with the headers above) and `path/` (back to it)."""

    async def page(_: Request) -> Response:
        return HTMLResponse(html, headers=HEADERS)

    async def slash(_: Request) -> Response:
        return RedirectResponse(url=path)

    return [Route(path, page, methods=["GET"]), Route(path + "/", slash, methods=["GET"])]
