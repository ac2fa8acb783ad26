"""Small query helpers the API tests share: walk a connection, pick the first place of a level."""

from __future__ import annotations

from typing import Any

from tests.schema.conftest import Hub

PAGE = """
query Page($level: Level!, $within: String, $first: Int, $after: String) {
  places(level: $level, within: $within, first: $first, after: $after) {
    totalCount
    edges { cursor node { id code name level __typename } }
    pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
  }
}
"""


def first_place(hub: Hub, level: str, within: str | None = None) -> dict[str, Any]:
    """The first place of `level` (under `within`), by code."""
    edges = hub.data(PAGE, level=level, within=within, first=1)["places"]["edges"]
    assert edges, f"the demo city has no {level}"
    node: dict[str, Any] = edges[0]["node"]
    return node


def all_places(hub: Hub, level: str, within: str | None = None, first: int = 500) -> list[str]:
    """Every code of `level` (under `within`), following the cursors to the end."""
    codes: list[str] = []
    after: str | None = None
    while True:
        page = hub.data(PAGE, level=level, within=within, first=first, after=after)["places"]
        codes.extend(edge["node"]["code"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return codes
        after = page["pageInfo"]["endCursor"]
