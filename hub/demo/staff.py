"""The demo city's people who serve (物业从业人员): every estate gets the staff of the firm
managing it — a project manager, customer service, an electrician, a plumber, an elevator
safety officer, two elevator mechanics (day and night), security and cleaning — with weekly
shifts that cover every hour (so someone is on shift whenever the demo runs), certificates (one
in nine expiring within the month, one in eleven expired), and a position reported minutes ago
near their estate. Deterministic: the same seed gives the same staff (their positions' times
follow the clock)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from shapely.geometry import shape

from graph.cases import Point
from graph.clock import CHINA_STANDARD_TIME
from graph.codes import resident_id_check_digit
from graph.levels import Level
from graph.scope import Scope
from graph.staff.records import Certificate, CertificateKind, Position, Post, StaffMember, WeeklyShift
from graph.staff.shifts import on_shift
from graph.store import MAX_PAGE, Store
from hub.demo.names import person_name
from hub.demo.people import SHANDONG_ELSEWHERE, mobile_phone

EVERYTHING = Scope.everything()
DAY, NIGHT = (dt.time(8), dt.time(20)), (dt.time(20), dt.time(8))
WEEK = range(1, 8)
ROTA: tuple[tuple[Post, CertificateKind | None, tuple[dt.time, dt.time]], ...] = (
    (Post.PROJECT_MANAGER, None, (dt.time(9), dt.time(18))),
    (Post.CUSTOMER_SERVICE, None, DAY),
    (Post.ELECTRICIAN, CertificateKind.LOW_VOLTAGE, DAY),
    (Post.PLUMBER, CertificateKind.PLUMBING, DAY),
    (Post.ELEVATOR_SAFETY_OFFICER, CertificateKind.ELEVATOR_SAFETY, DAY),
    (Post.ELEVATOR_MECHANIC, CertificateKind.ELEVATOR_REPAIR, DAY),
    (Post.ELEVATOR_MECHANIC, CertificateKind.ELEVATOR_REPAIR, NIGHT),
    (Post.SECURITY_GUARD, None, NIGHT),
    (Post.CLEANER, None, (dt.time(6), dt.time(14))),
)
"""One estate's staff: post, the certificate the post needs, and the daily shift (every day)."""
_PREFIX = {
    CertificateKind.LOW_VOLTAGE: "T",  # 特种作业操作证: T + ID number
    CertificateKind.PLUMBING: "GG",
    CertificateKind.ELEVATOR_SAFETY: "TSA",
    CertificateKind.ELEVATOR_REPAIR: "TST",
}


@dataclass(frozen=True, slots=True)
class DemoStaff:
    members: int
    estates: int
    expiring: int
    expired: int
    elevator_hand: str | None
    """An elevator mechanic on shift now (for the ready token), if any."""


def _id_number(rng: random.Random) -> str:
    born = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(12_000))
    first17 = f"{rng.choice(SHANDONG_ELSEWHERE)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + resident_id_check_digit(first17)


def _certificate(kind: CertificateKind, number: str, rng: random.Random, today: dt.date) -> Certificate:
    roll = rng.randrange(99)
    if roll % 11 == 0:
        expiry = today - dt.timedelta(days=1 + rng.randrange(200))  # expired
    elif roll % 9 == 0:
        expiry = today + dt.timedelta(days=1 + rng.randrange(29))  # expiring within the month
    else:
        expiry = today + dt.timedelta(days=60 + rng.randrange(1400))
    return Certificate(kind, number, expiry - dt.timedelta(days=6 * 365), expiry)


def estate_staff(estate: str, firm: str, centre: Point, seed: int, now: dt.datetime) -> list[StaffMember]:
    """The staff of one estate (see the module docstring)."""
    rng = random.Random(f"{seed}:staff:{estate}")
    today = now.astimezone(CHINA_STANDARD_TIME).date()
    members: list[StaffMember] = []
    for number, (post, kind, (start, end)) in enumerate(ROTA, start=1):
        id_number = _id_number(rng)
        certificates = (_certificate(kind, f"{_PREFIX[kind]}{id_number}", rng, today),) if kind else ()
        offset = Point(centre.lon + rng.uniform(-0.002, 0.002), centre.lat + rng.uniform(-0.0015, 0.0015))
        members.append(
            StaffMember(
                id=f"YG-{estate}-{number:02d}",
                employer=firm,
                post=post,
                name=person_name(rng, rng.random() < 0.6, 1975),
                id_number=id_number,
                phone=mobile_phone(rng),
                estates=(estate,),
                certificates=certificates,
                shifts=tuple(WeeklyShift(day, start, end) for day in WEEK),
                position=Position(offset, now - dt.timedelta(minutes=rng.randrange(1, 20))),
            )
        )
    return members


async def build_demo_staff(store: Store, seed: int, now: dt.datetime | None = None) -> DemoStaff:
    """Give every estate with a managing firm and an outline its staff; saved in batches."""
    moment = now or dt.datetime.now(dt.timezone.utc)
    today = moment.astimezone(CHINA_STANDARD_TIME).date()
    members = estates = expiring = expired = 0
    hand: str | None = None
    after: str | None = None
    while True:
        page = await store.subtree(Level.ESTATE, None, EVERYTHING, MAX_PAGE, after)
        codes = [place.code for place in page.items if place.geometry is not None]
        spans = await store.managements(codes, today, EVERYTHING) if codes else []
        batch: list[StaffMember] = []
        geometry = {place.code: place.geometry for place in page.items}
        for code, managing in zip(codes, spans):
            if not managing:
                continue
            firm = max(managing, key=lambda span: (span.since, span.firm_code)).firm_code
            inner = shape(geometry[code]).representative_point()
            crew = estate_staff(code, firm, Point(inner.x, inner.y), seed, moment)
            batch += crew
            estates += 1
            for member in crew:
                for certificate in member.certificates:
                    expired += certificate.expiry < today
                    expiring += today <= certificate.expiry < today + dt.timedelta(days=30)
                if hand is None and member.post is Post.ELEVATOR_MECHANIC and on_shift(member.shifts, moment) and all(
                    c.valid_on(today) for c in member.certificates
                ):
                    hand = member.id
        for start in range(0, len(batch), MAX_PAGE):
            await store.save_staff(batch[start : start + MAX_PAGE])
        members += len(batch)
        if not page.has_next:
            break
        after = page.end_cursor
    return DemoStaff(members, estates, expiring, expired, hand)
