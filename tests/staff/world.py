"""A small city for the staff suites: one estate with an outline, a building and an entrance
with an elevator, its firm, and a crew whose distances to the elevator are known."""

from __future__ import annotations

import datetime as dt
import math

from graph.cases import Point
from graph.codes import credit_check_character
from graph.devices import Device, DeviceType
from graph.levels import Level
from graph.model import Batch, Management, Place, PropertyFirm
from graph.staff.records import Certificate, CertificateKind, DatedShift, Position, Post, StaffMember

STREET = "370202001"
COMMUNITY = "370202001001"
ESTATE = "370202001001E001"
OTHER_ESTATE = "370202001001E002"
BUILDING = "370202001001GB00001F0001"
ENTRANCE = "370202001001GB00001F000101"
HOUSE = "370202001001GB00001F00010001"
OTHER_BUILDING = "370202001001GB00002F0001"
FIRM = "91370202MA06EM7T05"
OTHER_FIRM = "91370202MA3N4K7P1" + credit_check_character("91370202MA3N4K7P1")
LIFT = Point(120.3800, 36.0700)
"""Where the elevator EL-0001 is (its device point)."""


def square(lon: float, lat: float, half: float) -> dict[str, object]:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half], [lon - half, lat - half]]
    return {"type": "Polygon", "coordinates": [ring]}


def north_of(point: Point, metres: float) -> Point:
    """A point `metres` due north (haversine's sphere: 1° of latitude ≈ 111 195 m)."""
    return Point(point.lon, point.lat + metres / (6_371_008.8 * math.pi / 180))


def city() -> Batch:
    return Batch(
        places=[
            Place("370200", Level.CITY, "青岛市", None),
            Place("370202", Level.DISTRICT, "市南区", "370200"),
            Place(STREET, Level.STREET, "香港中路街道", "370202"),
            Place(COMMUNITY, Level.COMMUNITY, "云霄路社区", STREET),
            Place(ESTATE, Level.ESTATE, "海信花园", COMMUNITY, geometry=square(LIFT.lon, LIFT.lat, 0.002)),
            Place(OTHER_ESTATE, Level.ESTATE, "远方花园", COMMUNITY, geometry=square(LIFT.lon + 0.05, LIFT.lat, 0.002)),
            Place(BUILDING, Level.BUILDING, "1号楼", ESTATE),
            Place(ENTRANCE, Level.ENTRANCE, "1单元", BUILDING),
            Place(HOUSE, Level.HOUSE, "1单元101室", ENTRANCE, area_centi_m2=8800),
            Place(OTHER_BUILDING, Level.BUILDING, "1号楼", OTHER_ESTATE),
        ],
        firms=[PropertyFirm(FIRM, "青岛海信物业服务有限公司"), PropertyFirm(OTHER_FIRM, "青岛远方物业有限公司")],
        managements=[Management(FIRM, ESTATE, dt.date(2020, 1, 1)), Management(OTHER_FIRM, OTHER_ESTATE, dt.date(2020, 1, 1))],
    )


def elevator() -> Device:
    return Device("EL-0001", DeviceType.ELEVATOR, "M1", ENTRANCE, 30, LIFT, name="1号梯")


def crew(now: dt.datetime) -> list[StaffMember]:
    """The firm's crew at `now`: the nearest of them is an electrician without an elevator
    certificate, the next is off shift, the next holds an expired one; S-HAND (150 m) is the
    nearest certified elevator hand on shift; S-FAR (400 m) is too, but farther; S-STALE's last
    position is near but an hour old, so it counts from its estate in the other estate."""
    today = now.date()
    on = (DatedShift(now - dt.timedelta(hours=4), now + dt.timedelta(hours=4)),)
    off = (DatedShift(now - dt.timedelta(days=1, hours=8), now - dt.timedelta(days=1)),)
    lift_cert = (Certificate(CertificateKind.ELEVATOR_REPAIR, "T370200001", today - dt.timedelta(days=700), today + dt.timedelta(days=400)),)
    expired = (Certificate(CertificateKind.ELEVATOR_REPAIR, "T370200009", today - dt.timedelta(days=1500), today - dt.timedelta(days=3)),)
    electric = (Certificate(CertificateKind.LOW_VOLTAGE, "D370200002", today - dt.timedelta(days=300), today + dt.timedelta(days=20)),)

    def person(key: str, post: Post, certificates: tuple[Certificate, ...], shifts: tuple[DatedShift, ...], metres: float,
               *, age: dt.timedelta = dt.timedelta(minutes=2), estates: tuple[str, ...] = (ESTATE,), phone: str = "13800000001") -> StaffMember:
        return StaffMember(
            key, FIRM, post, f"王{key[-4:]}", "370202199001011234", phone, estates, certificates, shifts,
            Position(north_of(LIFT, metres), now - age),
        )

    return [
        person("S-NOCERT", Post.ELECTRICIAN, electric, on, 5),
        person("S-OFF", Post.ELEVATOR_MECHANIC, lift_cert, off, 20),
        person("S-EXPIRED", Post.ELEVATOR_MECHANIC, expired, on, 40),
        person("S-HAND", Post.ELEVATOR_MECHANIC, lift_cert, on, 150, phone="13912345678"),
        person("S-FAR", Post.ELEVATOR_SAFETY_OFFICER, lift_cert, on, 400),
        person("S-STALE", Post.ELEVATOR_MECHANIC, lift_cert, on, 1, age=dt.timedelta(hours=1), estates=(OTHER_ESTATE,)),
    ]
