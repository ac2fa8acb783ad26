"""`GET /map` and its settings, without a browser: the page is public and self-contained, its
policy keeps every request on the hub (and the tile server, when one is configured), and a bad
tile template is refused with a clear error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from graph.errors import InvalidInput
from hub.map import MapSettings
from hub.map.page import render
from tests.map.conftest import MapHub

STATIC = Path(__file__).resolve().parents[2] / "hub" / "static"


def _config(html: str) -> dict[str, object]:
    found = re.search(r'<script id="hub-map-config" type="application/json">(.*?)</script>', html)
    assert found, "the page carries its settings"
    config: dict[str, object] = json.loads(found.group(1))
    return config


def test_the_page_is_public_and_names_only_files_of_the_hub(map_hub: MapHub) -> None:
    response = map_hub.client.get("/map")  # no token: the page itself holds no data
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == MapSettings().policy()
    policy = response.headers["content-security-policy"]
    assert "connect-src 'self'" in policy and "script-src 'self';" in policy and "img-src 'self' data:;" in policy
    html = response.text
    assert _config(html) == {"graphql": "/graphql", "tiles": None, "attribution": ""}
    assert 'lang="zh-CN"' in html and "登录" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "nothing is loaded from elsewhere"
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(assets) == 9 and "/static/shared/hub-api.js" in assets
    for asset in assets:
        served = map_hub.client.get(asset)
        assert served.status_code == 200 and served.content, asset
    assert map_hub.client.get("/map/", follow_redirects=False).headers["location"] == "/map"
    # the data is not public: the page's own query without a token is refused
    refused = map_hub.client.post("/graphql", json={"query": "{ me { name } }"})
    assert refused.status_code == 401


def test_vendored_leaflet_finds_its_images_beside_its_css() -> None:
    css = (STATIC / "vendor" / "leaflet" / "leaflet.css").read_text(encoding="utf-8")
    images = set(re.findall(r"url\((images/[^)]+)\)", css))
    assert images, "Leaflet's CSS names its images relatively"
    for image in images:
        assert (STATIC / "vendor" / "leaflet" / image).is_file(), image
    for licence in ("LICENSE.leaflet", "LICENSE.leaflet.markercluster", "LICENSE.graphql-ws"):
        assert (STATIC / "vendor" / licence).stat().st_size > 500, licence


def test_a_tile_template_is_passed_to_the_page_and_allowed_by_its_policy() -> None:
    settings = MapSettings(tiles="https://t{s}.tianditu.gov.cn/vec_w/wmts?tk=KEY&x={x}&y={y}&l={z}", attribution="天地图")
    assert settings.tile_source == "https://*.tianditu.gov.cn"
    assert "img-src 'self' data: https://*.tianditu.gov.cn;" in settings.policy()
    assert _config(render(settings))["tiles"] == settings.tiles
    in_house = MapSettings(tiles="https://tiles.internal:8443/{z}/{x}/{y}.png")
    assert in_house.tile_source == "https://tiles.internal:8443"
    on_the_hub = MapSettings(tiles="/tiles/{z}/{x}/{y}.png")
    assert on_the_hub.tile_source is None and "img-src 'self' data:;" in on_the_hub.policy()


def test_the_settings_cannot_break_out_of_the_page() -> None:
    settings = MapSettings(attribution="</script><script>alert(1)</script>")
    html = render(settings)
    assert "<script>alert(1)" not in html
    assert _config(html)["attribution"] == "</script><script>alert(1)</script>"


@pytest.mark.parametrize(
    ("tiles", "rule"),
    [
        ("https://tiles.example/{z}/{x}.png", "with {z}, {x} and {y}"),
        ("ftp://tiles.example/{z}/{x}/{y}.png", "http(s) URL template"),
        ("//tiles.example/{z}/{x}/{y}.png", "must name its scheme"),
        ("tiles/{z}/{x}/{y}.png", "http(s) URL template"),
        ("https://tiles.example/{z}/{x}/{y}.png?a='b'", "quotes"),
    ],
)
def test_a_bad_tile_template_is_refused_clearly(tiles: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        MapSettings(tiles=tiles)
    assert "HUB_MAP_TILES" in str(raised.value) and rule in str(raised.value)


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MAP_TILES", "https://tiles.internal/{z}/{x}/{y}.png")
    monkeypatch.setenv("HUB_MAP_ATTRIBUTION", "本单位底图")
    assert MapSettings.from_env() == MapSettings("https://tiles.internal/{z}/{x}/{y}.png", "本单位底图")
    monkeypatch.setenv("HUB_MAP_TILES", "")
    assert MapSettings.from_env().tiles is None
