"""The smallest city the case and device store suites need: two streets of 市南区, an estate in
each, one building, entrance and house in the first, managed by one firm."""

from __future__ import annotations

import datetime as dt

from graph.levels import Level
from graph.model import Batch, Management, Place, PropertyFirm

STREET_1, STREET_2 = "370202001", "370202002"
ESTATE_1, ESTATE_2 = "370202001001E001", "370202002001E001"
BUILDING_1 = "370202001001GB00001F0001"
ENTRANCE_1 = BUILDING_1 + "01"
HOUSE_1 = "370202001001GB00001F00010001"
FIRM = "91370202MA06EM7T05"
T0 = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)  # 09:30 in China


def city() -> Batch:
    places = [
        Place("370200", Level.CITY, "青岛市", None),
        Place("370202", Level.DISTRICT, "市南区", "370200"),
        Place(STREET_1, Level.STREET, "香港中路街道", "370202"),
        Place(STREET_2, Level.STREET, "八大峡街道", "370202"),
        Place("370202001001", Level.COMMUNITY, "云霄路社区", STREET_1),
        Place("370202002001", Level.COMMUNITY, "团岛社区", STREET_2),
        Place(ESTATE_1, Level.ESTATE, "海信花园", "370202001001"),
        Place(ESTATE_2, Level.ESTATE, "团岛小区", "370202002001"),
        Place(BUILDING_1, Level.BUILDING, "1号楼", ESTATE_1),
        Place(ENTRANCE_1, Level.ENTRANCE, "1单元", BUILDING_1),
        Place(HOUSE_1, Level.HOUSE, "1单元101室", ENTRANCE_1, area_centi_m2=8800),
    ]
    return Batch(
        places=places,
        firms=[PropertyFirm(FIRM, "青岛海信物业服务有限公司")],
        managements=[Management(FIRM, ESTATE_1, dt.date(2020, 1, 1))],
    )
