"""`MapSettings` (the tile URL template, from `HUB_MAP_TILES`) and the `/map` route that serves
the page with them and with a Content-Security-Policy that keeps every request on this server
(and the tile server, when there is one)."""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from graph.errors import InvalidInput

PAGE = Path(__file__).resolve().parent.parent / "static" / "map" / "index.html"
CONFIG_SLOT = "<!--HUB-MAP-CONFIG-->"
"""Where the page's settings go, as a JSON script element the page's script reads."""


@dataclass(frozen=True, slots=True)
class MapSettings:
    """What a deployment tells the map page.

    `tiles` is a Leaflet URL template (`https://tiles.example/{z}/{x}/{y}.png`, or a path on this
    server, `/tiles/{z}/{x}/{y}.png`); `{s}` may name subdomains. Tiles must be WGS-84-aligned
    web-mercator tiles (天地图's `_w` layers are; GCJ-02 tiles would shift every shape by
    hundreds of metres). None: no base map.
    """

    tiles: str | None = None
    attribution: str = ""

    def __post_init__(self) -> None:
        if self.tiles is None:
            return
        if not all(part in self.tiles for part in ("{z}", "{x}", "{y}")):
            raise InvalidInput("HUB_MAP_TILES", self.tiles, "must be a tile URL template with {z}, {x} and {y}")
        if self.tiles.startswith("/"):
            if self.tiles.startswith("//"):
                raise InvalidInput("HUB_MAP_TILES", self.tiles, "must name its scheme (https://…) or be a path on this server (/…)")
            return
        parsed = urllib.parse.urlsplit(self.tiles)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidInput("HUB_MAP_TILES", self.tiles, "must be an http(s) URL template or a path on this server (/…)")
        if any(character in self.tiles for character in "\"'<> \n"):
            raise InvalidInput("HUB_MAP_TILES", self.tiles, "must not contain quotes, angle brackets or spaces")

    @classmethod
    def from_env(cls) -> MapSettings:
        """`HUB_MAP_TILES` (empty or unset: no base map) and `HUB_MAP_ATTRIBUTION`."""
        return cls(tiles=os.environ.get("HUB_MAP_TILES") or None, attribution=os.environ.get("HUB_MAP_ATTRIBUTION", ""))

    @property
    def tile_source(self) -> str | None:
        """The tile server as a CSP source (`https://*.tianditu.gov.cn` for `https://t{s}.…`);
        None when tiles come from this server or there are none."""
        if self.tiles is None or self.tiles.startswith("/"):
            return None
        parsed = urllib.parse.urlsplit(self.tiles)
        host = parsed.netloc
        if "{" in host:
            host = "*." + host.split(".", 1)[1] if "." in host else "*"
        return f"{parsed.scheme}://{host}"

    def policy(self) -> str:
        """The page's Content-Security-Policy: scripts, styles, fonts and data from this server
        only (WebSockets to it included), images from it and the tile server."""
        images = " ".join(filter(None, ["'self'", "data:", self.tile_source]))
        return (
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src {images}; font-src 'self'; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )

    def page_config(self) -> dict[str, object]:
        return {"graphql": "/graphql", "tiles": self.tiles, "attribution": self.attribution}


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element: no `</script>` or HTML comment can be formed."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(settings: MapSettings) -> str:
    html = PAGE.read_text(encoding="utf-8")
    slot = f'<script id="hub-map-config" type="application/json">{_script_json(settings.page_config())}</script>'
    return html.replace(CONFIG_SLOT, slot, 1)


def map_routes(settings: MapSettings) -> list[BaseRoute]:
    """`GET /map` (the page) and `/map/` (back to it)."""
    html = render(settings)
    headers = {
        "content-security-policy": settings.policy(),
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }

    async def page(_: Request) -> Response:
        return HTMLResponse(html, headers=headers)

    async def slash(_: Request) -> Response:
        return RedirectResponse(url="/map")

    return [Route("/map", page, methods=["GET"]), Route("/map/", slash, methods=["GET"])]
