"""The `/funds` route (维修资金): an estate's statement for a period (收支公示, printable on A4)
and an owner's accounts with each last entry's inclusion proof checked in the browser.

The page is a public file (hub/static/funds); every figure, entry and proof comes from
`/graphql` with the token the reader signs in with. Its settings carry the hub's SM2 public
key, the key the page checks every tree head's signature with, so a head signed with another
key fails even if it names that key itself. Served under the hub's pages' policy (hub.pages):
this server alone, no inline script or style.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import BaseRoute

from hub import pages

PAGE = Path(__file__).resolve().parent.parent / "static" / "funds" / "index.html"
CONFIG_SLOT = "<!--HUB-FUNDS-CONFIG-->"
"""Where the page's settings go, as a JSON script element (data, not run) the page's script reads."""
PUBLIC_KEY = re.compile(r"[0-9a-f]{128}")


def render(public_key: str, graphql: str = "/graphql") -> str:
    """The page with its settings: where the GraphQL endpoint is and the hub's SM2 public key
    (x‖y, 128 lower-case hex digits; anything else is a ValueError)."""
    if not PUBLIC_KEY.fullmatch(public_key):
        raise ValueError(f"public_key must be 128 lower-case hex digits (x‖y), not {public_key!r}")
    return pages.render(PAGE, CONFIG_SLOT, "hub-funds-config", {"graphql": graphql, "publicKey": public_key})


def funds_routes(public_key: str) -> list[BaseRoute]:
    """`GET /funds` (the page) and `/funds/` (back to it)."""
    return pages.page_routes("/funds", render(public_key))
