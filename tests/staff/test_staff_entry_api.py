"""Done when, over HTTP on a real store: a property firm enters its own staff (`saveStaffMember`) at
the estates it manages, its personal data sealed at rest and found by blind index, the answer
whole to the firm and masked to nobody else (the city reads it masked); a bad value is refused
naming the field, and nothing is stored; a firm cannot enter another employer's staff, take
another employer's member's id, nor name an estate it does not manage (answered as one that does
not exist); the admin enters a maintenance contractor's; and a member entered so is the one a
water case opened at its estate is assigned to.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph import open_store
from graph.ciphers.keyring import Keyring
from graph.codes import credit_check_character
from graph.model import Batch, PropertyFirm
from graph.scope import Scope
from graph.staff.records import Position, Post, StaffMember
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.serving import serve_app, served
from tests.staff.test_staff_api import StaffHub
from tests.staff.world import ESTATE, FIRM, HOUSE, LIFT, OTHER_ESTATE, OTHER_FIRM, city

EVERYTHING = Scope.everything()
CONTRACTOR = "91370200MA3M8N9Q2" + credit_check_character("91370200MA3M8N9Q2")
"""A maintenance contractor (维保单位): a firm the hub knows that manages no estate."""
ID_NUMBER = "370202199001011237"
OTHERS_MEMBER = "YG-OTHER-01"
SAVE = "mutation($m: StaffMemberInput!) { saveStaffMember(member: $m) { id employer post postLabel name idNumber phone estates certificates { kind number issued expiry standing } shifts { weekday startTime endTime startsAt endsAt } onShift position { lon lat } } }"
MEMBER = "query($id: ID!) { staffMember(id: $id) { id name idNumber phone estates } }"
OPEN = 'mutation { openCase(input: {title: "厨房水管漏水", category: REPAIR, place: "%s"}) { id status assignee history { note } } }' % HOUSE


class EntryHub(StaffHub):
    """The staff API suite's client, with each error's field and a way to run on the hub's loop."""

    def failure(self, who: str, query: str, variables: dict[str, Any] | None = None) -> tuple[str, str | None]:
        """The first error's message and field (and no data)."""
        body = self.ask(who, query, variables)
        assert body.get("errors") and body.get("data") is None, body
        error = body["errors"][0]
        return str(error["message"]), (error.get("extensions") or {}).get("field")

    def run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.started["loop"]).result(30)


async def _main(folder: Path, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        await store.write(city())
        await store.write(Batch(firms=[PropertyFirm(CONTRACTOR, "青岛快修电梯工程有限公司")]))
        at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
        await store.save_staff([StaffMember(OTHERS_MEMBER, OTHER_FIRM, Post.STEWARD, "李管家", ID_NUMBER, None, (OTHER_ESTATE,), position=Position(LIFT, at))])
        ttl = dt.timedelta(hours=2)
        tokens = {
            "firm": await issue_token(store, keys, "property_firm", FIRM, "海信物业", ttl),
            "admin": await issue_token(store, keys, "admin", "*", "平台管理员", ttl),
            "city": await issue_token(store, keys, "city", "370200", "青岛市城市运行中心", ttl),
            "street": await issue_token(store, keys, "street", "370202001", "香港中路街道", ttl),
            "committee": await issue_token(store, keys, "committee", ESTATE, "海信花园业委会", ttl),
        }
    except BaseException:
        await store.close()
        raise
    app = create_app(store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000))
    await serve_app(app, sock, started, store=store, tokens=tokens, db=folder / "hub.sqlite")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntryHub]:
    folder = tmp_path_factory.mktemp("staff-entry")

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        await _main(folder, sock, started)

    with served(main, startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            yield EntryHub(client, started["tokens"], {}, started)


def plumber(key: str = "YG-PLUMBER-01", **changes: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    today = dt.date.today()
    member: dict[str, Any] = {
        "id": key, "post": "plumber", "name": "张水工", "idNumber": ID_NUMBER, "phone": "13911112222", "estates": [ESTATE],
        "certificates": [{"kind": "plumbing", "number": "G370200001", "issued": (today - dt.timedelta(days=300)).isoformat(), "expiry": (today + dt.timedelta(days=300)).isoformat()}],
        "shifts": [
            {"startsAt": (now - dt.timedelta(hours=4)).isoformat(), "endsAt": (now + dt.timedelta(hours=4)).isoformat()},
            {"weekday": 6, "startTime": "20:00", "endTime": "08:00"},
        ],
    }
    member.update(changes)
    return member


def test_a_firm_enters_its_plumber_sealed_whole_to_it_and_masked_to_the_city(hub: EntryHub) -> None:
    saved = hub.data("firm", SAVE, {"m": plumber()})["saveStaffMember"]
    assert (saved["id"], saved["employer"], saved["post"], saved["postLabel"]) == ("YG-PLUMBER-01", FIRM, "plumber", "水暖工")
    assert (saved["name"], saved["idNumber"], saved["phone"], saved["estates"]) == ("张水工", ID_NUMBER, "13911112222", [ESTATE])
    assert [(c["kind"], c["number"], c["standing"]) for c in saved["certificates"]] == [("plumbing", "G370200001", "valid")]
    assert saved["shifts"][1] == {"weekday": 6, "startTime": "20:00:00", "endTime": "08:00:00", "startsAt": None, "endsAt": None}
    assert saved["onShift"] is True and saved["position"] is None
    masked = hub.data("city", MEMBER, {"id": "YG-PLUMBER-01"})["staffMember"]
    assert (masked["name"], masked["idNumber"], masked["phone"]) == ("张*", "370202********1237", "139****2222")
    store = hub.started["store"]
    found = hub.run(store.staff_by("phone", "139 1111 2222", EVERYTHING))  # by blind index, as normalised
    assert [member.id for member in found] == ["YG-PLUMBER-01"]
    db = Path(hub.started["db"])
    raw = b"".join(path.read_bytes() for path in (db, db.with_name(db.name + "-wal")) if path.exists())
    for clear in ("张水工".encode(), ID_NUMBER.encode(), b"13911112222"):
        assert clear not in raw  # sealed at rest (the firm's own answer was whole)
    entry = next(item for item in reversed(hub.run(store.audit_tail(20))) if item.action == "pii.read" and item.role == "property_firm")
    assert "staff/YG-PLUMBER-01" in entry.detail["owners"]


def test_replacing_keeps_the_last_position_and_replaces_the_rest(hub: EntryHub) -> None:
    hub.data("firm", SAVE, {"m": plumber("YG-PLUMBER-02")})
    store = hub.started["store"]
    at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    assert hub.run(store.report_position("YG-PLUMBER-02", Position(LIFT, at))) is True
    saved = hub.data("firm", SAVE, {"m": plumber("YG-PLUMBER-02", phone=None, certificates=[], shifts=[])})["saveStaffMember"]
    assert (saved["phone"], saved["certificates"], saved["shifts"], saved["onShift"]) == (None, [], [], False)
    assert saved["position"] == {"lon": LIFT.lon, "lat": LIFT.lat}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"certificates": [plumber()["certificates"][0], {"kind": "plumbing", "number": "G2", "issued": "2026-02-01", "expiry": "2026-01-01"}]},
         "member.certificates[1].expiry", "is before it was issued"),
        ({"certificates": [{"kind": "forklift", "number": "G2", "issued": "2026-01-01", "expiry": "2027-01-01"}]}, "member.certificates[0].kind", "must be one of"),
        ({"shifts": [{"weekday": 8, "startTime": "08:00", "endTime": "17:00"}]}, "member.shifts[0].weekday", "must be 1 (Monday) to 7"),
        ({"shifts": [{"weekday": 1, "startTime": "8 点", "endTime": "17:00"}]}, "member.shifts[0].startTime", "must be a time"),
        ({"shifts": [{"startsAt": "2026-12-05T08:00:00", "endsAt": "2026-12-05T17:00:00+08:00"}]}, "member.shifts[0].startsAt", "must carry a time zone"),
        ({"shifts": [{"startsAt": "2026-12-05T18:00:00+08:00", "endsAt": "2026-12-05T17:00:00+08:00"}]}, "member.shifts[0].endsAt", "must be after its start"),
        ({"shifts": [{"weekday": 1, "startTime": "08:00", "endTime": "17:00", "endsAt": "2026-12-05T17:00:00+08:00"}]}, "member.shifts[0]", "either weekly"),
        ({"idNumber": "370202199001011234"}, "member.idNumber", "check digit"),
        ({"post": "chef"}, "member.post", "must be one of"),
        ({"name": " "}, "member.name", "must not be empty"),
        ({"phone": "call me"}, "member.phone", "must be 5 to 20"),
        ({"id": "YG/1"}, "member.id", "without '/'"),
        ({"estates": [ESTATE, ESTATE]}, "member.estates[1]", "is named twice"),
        ({"estates": []}, "member.estates", "at least one estate"),
        ({"employer": OTHER_FIRM}, "member.employer", "its own staff only"),
    ],
    ids=["expiry", "kind", "weekday", "time", "zone", "order", "both", "id number", "post", "name", "phone", "id", "twice", "none", "employer"],
)
def test_bad_values_are_refused_naming_the_field_and_store_nothing(hub: EntryHub, changes: dict[str, Any], field: str, words: str) -> None:
    message, named = hub.failure("firm", SAVE, {"m": plumber("YG-BAD-01", **changes)})
    assert named == field and message.startswith(f"{field}: ") and words in message, message
    assert hub.data("admin", MEMBER, {"id": "YG-BAD-01"})["staffMember"] is None


def test_a_firm_keeps_to_its_estates_and_ids_and_other_roles_are_refused(hub: EntryHub) -> None:
    foreign = hub.failure("firm", SAVE, {"m": plumber("YG-BAD-02", estates=[OTHER_ESTATE])})
    nowhere = hub.failure("firm", SAVE, {"m": plumber("YG-BAD-02", estates=["370202001001E099"])})
    assert foreign[0].replace(OTHER_ESTATE, "<E>") == nowhere[0].replace("370202001001E099", "<E>") == "member.estates[0]: '<E>' is not an estate you can see"
    message, _ = hub.failure("firm", SAVE, {"m": plumber(OTHERS_MEMBER)})
    assert message.startswith(f"member.id: '{OTHERS_MEMBER}' is not an id you can use")
    for who in ("city", "street", "committee"):
        message, _ = hub.failure(who, SAVE, {"m": plumber("YG-BAD-02", employer=FIRM)})
        assert message.startswith(f"forbidden: the {who} role may not enter staff"), message
    assert hub.data("admin", MEMBER, {"id": "YG-BAD-02"})["staffMember"] is None
    [other] = hub.run(hub.started["store"].staff([OTHERS_MEMBER], EVERYTHING))
    assert other is not None and (other.employer, other.name) == (OTHER_FIRM, "李管家")


def test_the_admin_enters_a_contractors_mechanic(hub: EntryHub) -> None:
    message, named = hub.failure("admin", SAVE, {"m": plumber("YG-LIFT-01")})
    assert named == "member.employer" and "is needed" in message
    unknown = "91370200MA3M8N9Q3" + credit_check_character("91370200MA3M8N9Q3")
    assert "is not a firm the hub knows" in hub.failure("admin", SAVE, {"m": plumber("YG-LIFT-01", employer=unknown)})[0]
    lift = {"kind": "elevator_repair", "number": "T370200077", "issued": "2025-01-01", "expiry": "2029-01-01"}
    saved = hub.data("admin", SAVE, {"m": plumber("YG-LIFT-01", employer=CONTRACTOR, post="elevator_mechanic", certificates=[lift], estates=[ESTATE, OTHER_ESTATE])})
    assert (saved["saveStaffMember"]["employer"], saved["saveStaffMember"]["estates"]) == (CONTRACTOR, [ESTATE, OTHER_ESTATE])
    assert saved["saveStaffMember"]["idNumber"] == ID_NUMBER  # the admin sees personal data whole


def test_a_member_entered_so_is_assigned_the_water_case_at_its_estate(hub: EntryHub) -> None:
    """The firm's electrician is on shift too, and nearer, but holds no plumbing certificate."""
    hub.data("firm", SAVE, {"m": plumber("YG-PLUMBER-03")})
    electric = {"kind": "low_voltage", "number": "D370200003", "issued": "2025-01-01", "expiry": "2029-01-01"}
    hub.data("firm", SAVE, {"m": plumber("YG-ELECTRIC-01", post="electrician", certificates=[electric])})
    store = hub.started["store"]
    at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    assert hub.run(store.report_position("YG-ELECTRIC-01", Position(LIFT, at))) is True
    for other in ("YG-PLUMBER-01", "YG-PLUMBER-02"):  # the other plumbers go off shift: one candidate is left
        hub.data("firm", SAVE, {"m": plumber(other, shifts=[])})
    opened = hub.data("firm", OPEN)["openCase"]
    assert (opened["status"], opened["assignee"]) == ("DISPATCHED", "YG-PLUMBER-03"), opened
    assert "指派给 YG-PLUMBER-03（水暖工）" in opened["history"][-1]["note"]
