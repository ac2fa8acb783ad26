"""The `/vote` route: the page with its settings, under the hub's pages' Content-Security-Policy
(hub.pages: this server alone, no inline script or style)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute

from hub import pages
from hub.pages import POLICY

__all__ = ["POLICY", "render", "vote_routes"]

PAGE = Path(__file__).resolve().parent.parent / "static" / "vote" / "index.html"
CONFIG_SLOT = "<!--HUB-VOTE-CONFIG-->"
"""Where the page's settings go, as a JSON script element (data, not run) the page's script reads."""


def render(graphql: str = "/graphql") -> str:
    """The page with its settings: where the GraphQL endpoint is."""
    return pages.render(PAGE, CONFIG_SLOT, "hub-vote-config", {"graphql": graphql})


def vote_routes() -> list[BaseRoute]:
    """`GET /vote` (the page) and `/vote/` (back to it)."""
    return pages.page_routes("/vote", render())
