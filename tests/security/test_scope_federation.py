"""The federation root fields, `_entities` and `_service`, stay inside each role's scope.

A gateway composing the hub forwards each client's token, so `_entities` is just another way in:
every representation of a place, device, case or firm the role may not see must answer exactly
like a well-formed key that names nothing (null, no error), and what the role may see must
resolve, with nested paths that stay in scope. Every answer also goes through the leak walker.
`_service { sdl }` is the schema, the same for every role.
"""

from __future__ import annotations

import json
from typing import Any

from graph.levels import Level
from hub.app import create_app
from hub.auth.authentication import Authenticator
from tests.security.conftest import (
    CASE_DISTRICT,
    CASE_ESTATE,
    CASE_HOUSE,
    CASE_NORTH_ESTATE,
    CASE_NORTH_HOUSE,
    CASE_NOWHERE,
    CASE_STREET,
    NORTH,
    NORTH_ESTATE,
    NORTH_FIRM,
    NORTH_HOUSES,
    UNKNOWN_CASE,
    UNKNOWN_DEVICE,
    SecureHub,
)
from tests.security.test_limits import _requests
from tests.security.test_scope import PLACE, UNKNOWN, UNKNOWN_FIRM, probe_codes
from tests.security.world import RELAY_PLACE_TYPES, Role

ENTITIES = f"""
query($r: [_Any!]!) {{
  _entities(representations: $r) {{
    __typename
    ... on Place {{ ...P parent {{ ...P }} ancestors {{ ...P }} children(first: 5) {{ edges {{ cursor node {{ ...P }} }} }} }}
    ... on Estate {{ parcelCodes currentFirm {{ code name }} managers {{ firm {{ code }} }} }}
    ... on House {{ owners {{ owner {{ id }} }} estate {{ code }} street {{ code }} }}
    ... on Device {{ code name place {{ code }} activeAlarms {{ id case {{ id }} }} }}
    ... on Case {{ id title place {{ code }} firm {{ code }} history {{ actor }} }}
    ... on PropertyFirm {{ id code name estates {{ estate {{ code }} }} }}
  }}
}}
{PLACE}
"""


def _entities(secure_hub: SecureHub, role: Role, representations: list[dict[str, str]]) -> dict[str, Any]:
    body = secure_hub.post(role, ENTITIES, {"r": representations})
    assert not body.get("errors"), body["errors"]
    return body


def _masked(body: dict[str, Any], keys: list[str], unknown: str) -> str:
    text = json.dumps(body)
    for key in keys:
        text = text.replace(key, unknown)
    return text


def test_service_sdl_is_the_same_schema_for_every_role(secure_hub: SecureHub, role: Role) -> None:
    sdl = secure_hub.data(role, "{ _service { sdl } }")["_service"]["sdl"]
    assert sdl == secure_hub.data("admin", "{ _service { sdl } }")["_service"]["sdl"]
    assert '@key(fields: "code"' in sdl


def test_service_sdl_is_off_where_introspection_is(secure_hub: SecureHub) -> None:
    """A deployment that switches introspection off hides the SDL as well; `_entities` still
    answers (a gateway composing from an offline supergraph needs it)."""
    store, keys = secure_hub.store, secure_hub.keys
    app = create_app(store, keys=keys, introspection=False, authenticator=Authenticator(store, keys))
    token = secure_hub.roles["street"].token
    sdl, entities = secure_hub.run(
        _requests(
            app,
            [
                (token, {"query": "{ _service { sdl } }"}),
                (token, {"query": ENTITIES, "variables": {"r": [{"__typename": "Street", "code": secure_hub.roles["street"].scope}]}}),
            ],
        )
    )
    body = sdl.json()
    assert body["data"] is None and "_service (the schema's SDL) is off on this hub" in body["errors"][0]["message"]
    assert "@key" not in sdl.text
    [street] = entities.json()["data"]["_entities"]
    assert street["code"] == secure_hub.roles["street"].scope


def test_entities_of_places_from_other_scopes_answer_like_unknown_ones(
    secure_hub: SecureHub, role: Role, copied: dict[str, dict[Level, list[tuple[str, str]]]]
) -> None:
    for level in Level:
        type_name = RELAY_PLACE_TYPES[level]
        chosen = probe_codes(secure_hub, role, level, copied)
        outside = [code for code, _ in chosen["foreign"] + chosen["above"]]
        if outside:
            asked = _entities(secure_hub, role, [{"__typename": type_name, "code": code} for code in outside])
            absent = _entities(secure_hub, role, [{"__typename": type_name, "code": UNKNOWN[level]}] * len(outside))
            assert asked == absent == {"data": {"_entities": [None] * len(outside)}}, (role.name, level, outside)
        for code, _ in chosen["inside"]:
            [found] = _entities(secure_hub, role, [{"__typename": type_name, "code": code}])["data"]["_entities"]
            assert found is not None and found["code"] == code and found["__typename"] == type_name
            assert [item["code"] for item in found["ancestors"]] == [
                item for item in secure_hub.world.lineage(code) if item in role.places
            ]
    # 市北区's estate and houses, named directly
    north = [{"__typename": "Estate", "code": NORTH_ESTATE}] + [{"__typename": "House", "code": code} for code in NORTH_HOUSES]
    found = _entities(secure_hub, role, north)["data"]["_entities"]
    assert [item is not None for item in found] == [entry["code"] in role.places for entry in north]
    assert all(item is None for item in found) or NORTH in role.places


def test_entities_of_devices_cases_and_firms_follow_the_scope(secure_hub: SecureHub, role: Role) -> None:
    world = secure_hub.world
    devices = sorted(world.devices)
    cases = [CASE_HOUSE, CASE_ESTATE, CASE_STREET, CASE_DISTRICT, CASE_NORTH_HOUSE, CASE_NORTH_ESTATE, CASE_NOWHERE]
    firms = sorted(world.firms)
    representations = (
        [{"__typename": "Device", "code": code} for code in devices]
        + [{"__typename": "Case", "id": key} for key in cases]
        + [{"__typename": "PropertyFirm", "code": code} for code in firms]
    )
    found = _entities(secure_hub, role, representations)["data"]["_entities"]
    expected = (
        [world.devices[code] in role.places for code in devices]
        + [role.may_see_case(world, key) for key in cases]
        + [code in role.firms for code in firms]
    )
    assert [item is not None for item in found] == expected, role.name
    for item, entry in zip(found, representations):
        if item is not None:
            assert item.get("code", item.get("id")) == entry.get("code", entry.get("id"))
    # what the role may not see answers exactly like keys that name nothing
    hidden_devices = [code for code in devices if world.devices[code] not in role.places]
    hidden_cases = [key for key in cases if not role.may_see_case(world, key)]
    hidden_firms = [code for code in firms if code not in role.firms]
    for type_name, key, hidden, unknown in (
        ("Device", "code", hidden_devices, UNKNOWN_DEVICE),
        ("Case", "id", hidden_cases, UNKNOWN_CASE),
        ("PropertyFirm", "code", hidden_firms, UNKNOWN_FIRM),
    ):
        if not hidden:
            continue
        asked = _entities(secure_hub, role, [{"__typename": type_name, key: value} for value in hidden])
        absent = _entities(secure_hub, role, [{"__typename": type_name, key: unknown}] * len(hidden))
        assert _masked(asked, hidden, unknown) == json.dumps(absent), (role.name, type_name)
    if role.name not in ("admin", "city"):
        assert hidden_devices and hidden_cases and NORTH_FIRM in hidden_firms
