"""What the map page reads stays inside each role's scope: `me` (where the page starts) and the
live figures on `geo` features (open cases, overdue cases, active alarms, satisfaction rate).

Every answer also goes through the leak walker. The figures are recounted here from the store
read whole (not through the hub's scope) and the suite's own account of the tree, so a feature
that counted one foreign case or alarm fails.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from graph.cases import Case, CaseStatus
from graph.devices import Alarm
from graph.levels import Level
from graph.scope import Scope
from tests.security.conftest import CITY, NORTH, SecureHub
from tests.security.world import Role

ME = "{ me { role roleLabel name roots { code name level levelName } } }"
GEO = "query($c: String!) {{ geo(scope: $c, level: {level}) }}"
CLOSED = frozenset({CaseStatus.RESOLVED, CaseStatus.FOLLOWED_UP, CaseStatus.ARCHIVED})


def test_me_names_the_role_and_the_roots_of_its_scope(secure_hub: SecureHub, role: Role) -> None:
    data = secure_hub.data(role, ME)["me"]
    assert data["role"] == role.name and data["name"] == role.holder
    assert data["roleLabel"]
    roots = [root["code"] for root in data["roots"]]
    assert roots == sorted(role.roots)
    world = secure_hub.world
    for root in data["roots"]:
        assert root["level"] == world.places[root["code"]].level.name
        assert root["name"] == world.places[root["code"]].name


def test_me_without_a_token_is_refused(secure_hub: SecureHub) -> None:
    response = secure_hub.request(None, ME)
    assert response.status_code == 401 and "token" in response.json()["reason"]


def _everything(secure_hub: SecureHub) -> tuple[list[Case], list[Alarm]]:
    everything = Scope.everything()

    async def read() -> tuple[list[Case], list[Alarm]]:
        cases: list[Case] = []
        after = None
        while True:
            page = await secure_hub.store.case_page(everything, 500, after)
            cases += page.items
            if not page.has_next:
                break
            after = page.end_cursor
        alarms: list[Alarm] = []
        after = None
        while True:
            found = await secure_hub.store.alarm_page(everything, 500, after, active=True)
            alarms += found.items
            if not found.has_next:
                return cases, alarms
            after = found.end_cursor

    return secure_hub.run(read())


@pytest.mark.parametrize("level", [Level.DISTRICT, Level.STREET, Level.COMMUNITY], ids=lambda level: level.name.lower())
def test_map_figures_count_only_what_the_role_sees(secure_hub: SecureHub, role: Role, level: Level) -> None:
    """openCases, activeAlarms and satisfactionRate of every feature, recounted from the whole
    store restricted to the role's places under that feature."""
    world = secure_hub.world
    features: list[dict[str, Any]] = secure_hub.data(role, GEO.format(level=level.name), {"c": CITY})["geo"]["features"]
    assert [feature["id"] for feature in features] == [
        code for code in world.at(level, role.places) if world.places[code].geometry is not None
    ]
    cases, alarms = _everything(secure_hub)
    counted = 0
    for feature in features:
        under = world.subtree(feature["id"]) & role.places
        seen = [case for case in cases if case.place_code in under]
        rated = [case for case in seen if case.rating is not None]
        properties = feature["properties"]
        assert properties["openCases"] == sum(1 for case in seen if case.status not in CLOSED), feature["id"]
        assert properties["activeAlarms"] == sum(1 for alarm in alarms if alarm.place_code in under), feature["id"]
        expected_rate = sum(1 for case in rated if (case.rating or 0) >= 4) / len(rated) if rated else None
        assert properties["satisfactionRate"] == expected_rate, feature["id"]
        now = dt.datetime.now(dt.timezone.utc)
        overdue = sum(1 for case in seen if case.overdue(now))
        assert properties["overdueCases"] == overdue, feature["id"]
        counted += properties["openCases"] + properties["activeAlarms"]
    if features and role.name in ("admin", "city", "district", "street"):
        assert counted, "the seeded cases and alarms of the role's scope are counted somewhere"


def test_map_figures_of_a_foreign_district_answer_as_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    """Asked at 市北区, a role that may not see it gets what it gets for a district that does not exist."""
    if NORTH in role.places:
        pytest.skip("this role sees 市北区")
    for level in ("DISTRICT", "STREET", "ESTATE"):
        foreign = secure_hub.post(role, GEO.format(level=level), {"c": NORTH})
        absent = secure_hub.post(role, GEO.format(level=level), {"c": "370299"})
        assert foreign == absent == {"data": {"geo": {"type": "FeatureCollection", "features": []}}}
