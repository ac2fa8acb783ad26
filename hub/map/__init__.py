"""The street office's map page (`GET /map`): the page itself, with this deployment's settings.

The page and its scripts are public files (hub/static/map, Leaflet vendored beside them); every
figure it shows comes from `/graphql` with the token the user signs in with. Nothing it loads
leaves the machine: its Content-Security-Policy allows this server alone, plus the origin of the
tile server when a deployment names one (`HUB_MAP_TILES`). Without tiles the shapes are drawn on
a blank background, which is the default: no base map is fetched from anywhere.
"""

from __future__ import annotations

from hub.map.page import MapSettings, map_routes

__all__ = ["MapSettings", "map_routes"]
