"""Personal data: masked unless the role may see it, every whole read audited, sealed at rest.

The expected masks are written out here (张*, 370202********1234, 138****5678) rather than taken
from graph.masking, and which roles see people whole is listed here rather than taken from
graph.security, so the tests hold the hub to the issue and not to itself.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
from typing import Any

import pytest

from graph.security import AuditEntry
from tests.security.conftest import (
    NAMESAKE,
    NAMESAKE_INSIDE,
    NAMESAKES_OUTSIDE,
    NORTH_ID_NUMBER,
    NORTH_NAME,
    NORTH_OWNER,
    NORTH_PHONE,
    ROLE_NAMES,
    SHARED_ID_NUMBER,
    SHARED_NAME,
    SHARED_OWNER,
    SHARED_PHONE,
    SecureHub,
)
from tests.security.world import relay_id

WHOLE = {"admin", "street", "community", "property_firm", "committee"}
"""Roles that serve residents in person (and operators): they see owners whole."""
MASKED = {"city", "district"}
"""Dashboards: they see owners masked."""

OWNER = "fragment O on Owner { id kind name idNumber phone }"
VIEW = f"""query($id: ID!, $house: String!) {{
  node(id: $id) {{ ...O }}
  house(code: $house) {{ owners {{ share owner {{ ...O }} }} }}
}} {OWNER}"""


def test_the_shared_owner_is_masked_exactly_for_dashboards(secure_hub: SecureHub) -> None:
    """The masks of the issue, character for character."""
    assert SHARED_NAME == "张翀" and SHARED_ID_NUMBER.endswith("X") and SHARED_PHONE == "13900001234"
    expected = {"name": "张*", "idNumber": SHARED_ID_NUMBER[:6] + "********" + SHARED_ID_NUMBER[-4:], "phone": "139****1234"}
    assert expected["idNumber"] == "370203********" + SHARED_ID_NUMBER[-4:]
    for role in ("city", "district"):
        data = secure_hub.data(role, f"query($id: ID!) {{ node(id: $id) {{ ...O }} }} {OWNER}", {"id": relay_id("Owner", SHARED_OWNER)})
        assert {key: data["node"][key] for key in expected} == expected
    city = secure_hub.data("city", f"query($id: ID!) {{ node(id: $id) {{ ...O }} }} {OWNER}", {"id": relay_id("Owner", NORTH_OWNER)})
    assert city["node"]["name"] == NORTH_NAME[0] + "*" and city["node"]["phone"] == "186****0000"
    assert city["node"]["idNumber"] == NORTH_ID_NUMBER[:6] + "********" + NORTH_ID_NUMBER[-4:]


@pytest.mark.parametrize("name", ROLE_NAMES)
def test_each_role_sees_the_same_owner_masked_or_whole(secure_hub: SecureHub, name: str) -> None:
    """The owner role's owner and its co-owner, as every role sees them."""
    world, cast = secure_hub.world, secure_hub.cast
    data = secure_hub.data(name, VIEW, {"id": relay_id("Owner", cast.owner), "house": cast.house})
    owner, co_owner = world.owners[cast.owner], world.owners[cast.co_owner]

    def whole(person: Any) -> dict[str, Any]:
        return {"id": relay_id("Owner", person.id), "kind": "PERSON", "name": person.name, "idNumber": person.id_number, "phone": person.phone}

    def masked(person: Any) -> dict[str, Any]:
        phone = None if person.phone is None else person.phone[:3] + "****" + person.phone[-4:]
        return {
            "id": relay_id("Owner", person.id),
            "kind": "PERSON",
            "name": person.name[0] + "*",
            "idNumber": person.id_number[:6] + "********" + person.id_number[-4:],
            "phone": phone,
        }

    if name == "staff":  # a member of staff sees no owner at all, masked or whole
        assert data == {"node": None, "house": None}
        return
    if name in WHOLE:
        expected = {owner.id: whole(owner), co_owner.id: whole(co_owner)}
    elif name in MASKED:
        expected = {owner.id: masked(owner), co_owner.id: masked(co_owner)}
    else:  # the owner itself: its own record whole, its co-owner's masked
        assert name == "owner"
        expected = {owner.id: whole(owner), co_owner.id: masked(co_owner)}
    assert data["node"] == expected[owner.id]
    shown = {item["owner"]["id"]: item["owner"] for item in data["house"]["owners"]}
    assert shown[relay_id("Owner", owner.id)] == expected[owner.id]
    assert shown[relay_id("Owner", co_owner.id)] == expected[co_owner.id]
    if name in MASKED:
        assert owner.name not in str(data) and owner.id_number not in str(data)


def _pii_entries(secure_hub: SecureHub, after: int) -> list[AuditEntry]:
    return [entry for entry in secure_hub.run(secure_hub.store.audit_entries(after=after)) if entry.action == "pii.read"]


def _last_seq(secure_hub: SecureHub) -> int:
    [last] = secure_hub.run(secure_hub.store.audit_tail(1))
    return last.seq


def test_a_whole_read_is_audited_with_who_what_and_why(secure_hub: SecureHub) -> None:
    cast, role = secure_hub.cast, secure_hub.roles["street"]
    before = _last_seq(secure_hub)
    secure_hub.data(
        role,
        VIEW,
        {"id": relay_id("Owner", cast.owner), "house": cast.house},
        **{"x-hub-reason": urllib.parse.quote("报修联系")},
    )
    [entry] = _pii_entries(secure_hub, before)
    assert entry.actor == role.holder and entry.role == "street"
    assert entry.reason == "报修联系"
    assert entry.detail["token"] == role.token_id
    assert entry.detail["owners"] == sorted({cast.owner, cast.co_owner}) and entry.detail["count"] == 2
    assert entry.detail["fields"] == ["id_number", "name", "phone"]
    assert set(entry.target.split(",")) == {cast.owner, cast.co_owner}
    # the entry names the people, and holds none of their personal data
    for person in (secure_hub.world.owners[cast.owner], secure_hub.world.owners[cast.co_owner]):
        assert person.name not in str(entry) and person.id_number not in str(entry)
    # only the fields shown are named; no reason given, none recorded
    before = _last_seq(secure_hub)
    secure_hub.data(role, f"query($id: ID!) {{ node(id: $id) {{ ... on Owner {{ id name }} }} }}", {"id": relay_id("Owner", cast.owner)})
    [entry] = _pii_entries(secure_hub, before)
    assert entry.detail["fields"] == ["name"] and entry.detail["owners"] == [cast.owner] and entry.reason is None


def test_masked_reads_write_no_pii_entry(secure_hub: SecureHub) -> None:
    cast = secure_hub.cast
    before = _last_seq(secure_hub)
    for name in MASKED:
        secure_hub.data(name, VIEW, {"id": relay_id("Owner", cast.owner), "house": cast.house}, **{"x-hub-reason": "dashboard"})
    # reading owners without their personal fields shows nothing personal either
    secure_hub.data("street", f"query($id: ID!) {{ node(id: $id) {{ id ... on Owner {{ kind }} }} }}", {"id": relay_id("Owner", cast.owner)})
    assert _pii_entries(secure_hub, before) == []


def test_an_owner_reading_its_own_record_is_audited_for_itself_only(secure_hub: SecureHub) -> None:
    cast, role = secure_hub.cast, secure_hub.roles["owner"]
    before = _last_seq(secure_hub)
    secure_hub.data(role, VIEW, {"id": relay_id("Owner", cast.owner), "house": cast.house})
    [entry] = _pii_entries(secure_hub, before)
    assert entry.detail["owners"] == [cast.owner] and entry.role == "owner" and entry.actor == role.holder


LOOKUP = f"query($n: String!) {{ owners(idNumber: $n) {{ ...O houses {{ house {{ code }} }} }} }} {OWNER}"
WHY = "报修联系"
REASON = {"x-hub-reason": urllib.parse.quote(WHY)}
LOOKERS = WHOLE
"""Roles that may look owners up by exact personal data: those that see it whole."""
REFUSED_LOOKUPS = {"city", "district", "owner", "staff"}
"""Roles that see owners masked (the owner: all but itself) or not at all (staff) and may not look them up."""


@pytest.mark.parametrize("name", sorted(LOOKERS))
def test_owners_by_id_number_in_any_case_and_only_in_scope(secure_hub: SecureHub, name: str) -> None:
    """An exact ID number finds the owner (a lower-case x too) where the role sees one of its
    houses, and then only those houses; elsewhere it finds nothing."""
    world, role = secure_hub.world, secure_hub.roles[name]
    inside = world.holdings(SHARED_OWNER) & role.places
    for spelled in (SHARED_ID_NUMBER, SHARED_ID_NUMBER.lower(), f" {SHARED_ID_NUMBER.lower()} "):
        found = secure_hub.data(role, LOOKUP, {"n": spelled}, **REASON)["owners"]
        if SHARED_OWNER in role.owners:
            [owner] = found
            assert owner["id"] == relay_id("Owner", SHARED_OWNER)
            assert {item["house"]["code"] for item in owner["houses"]} == inside
            assert owner["idNumber"] == SHARED_ID_NUMBER
        else:
            assert found == []
    north = secure_hub.data(role, LOOKUP, {"n": NORTH_ID_NUMBER}, **REASON)["owners"]
    assert [item["id"] for item in north] == ([relay_id("Owner", NORTH_OWNER)] if name == "admin" else [])
    by_phone = secure_hub.data(role, "query($p: String!) { owners(phone: $p) { id } }", {"p": "139-0000-1234"}, **REASON)["owners"]
    assert [item["id"] for item in by_phone] == ([relay_id("Owner", SHARED_OWNER)] if SHARED_OWNER in role.owners else [])


@pytest.mark.parametrize("name", sorted(LOOKERS))
def test_a_lookup_by_name_finds_the_namesake_in_scope_among_many_outside(secure_hub: SecureHub, name: str) -> None:
    """501 owners outside the street share a name with one inside: the one inside is found
    (the page limit applies to what the role may see, not to the namesakes it may not)."""
    role = secure_hub.roles[name]
    found = secure_hub.data(role, "query($n: String!) { owners(name: $n) { id } }", {"n": NAMESAKE}, **REASON)["owners"]
    ids = [item["id"] for item in found]
    expected = sorted(owner for owner in role.owners if secure_hub.world.owners[owner].name == NAMESAKE)
    assert ids == [relay_id("Owner", owner) for owner in expected][:500]
    if name == "admin":
        assert len(ids) == 500 and NAMESAKES_OUTSIDE + 1 > 500
    else:
        assert ids == [relay_id("Owner", NAMESAKE_INSIDE)]


@pytest.mark.parametrize("name", sorted(REFUSED_LOOKUPS))
def test_masked_roles_may_not_look_owners_up(secure_hub: SecureHub, name: str) -> None:
    """A dashboard (or an owner) asking whether an ID number, phone or name holds a house in its
    scope gets a clear refusal, the same whether the person does or not: no existence oracle.
    Nothing is audited as a lookup, since none was made."""
    role = secure_hub.roles[name]
    before = _last_seq(secure_hub)
    answers = set()
    for argument, value in (
        ("idNumber", SHARED_ID_NUMBER),  # holds a house in every one of these scopes but the owner's
        ("idNumber", NORTH_ID_NUMBER),
        ("idNumber", "11010519491231002X"),  # nobody's
        ("phone", SHARED_PHONE),
        ("phone", "13000000000"),
        ("name", SHARED_NAME),
        ("name", "无此人"),
    ):
        body = secure_hub.post(role, f"query($v: String!) {{ owners({argument}: $v) {{ id name }} }}", {"v": value}, **REASON)
        assert body["data"] is None
        [error] = body["errors"]
        answers.add(json.dumps(error, sort_keys=True, ensure_ascii=False))
        assert error["message"] == (
            f"forbidden: the {name} role sees owners' personal data masked, so it may not look owners up by ID number, "
            "phone or name; roles that may: admin, committee, community, property_firm, street"
        )
    assert len(answers) == 1
    assert [entry for entry in secure_hub.run(secure_hub.store.audit_entries(after=before)) if entry.action.startswith("pii.")] == []


def test_a_lookup_without_a_reason_is_refused_and_writes_nothing(secure_hub: SecureHub) -> None:
    before = _last_seq(secure_hub)
    for headers in ({}, {"x-hub-reason": ""}, {"x-hub-reason": "%20%20"}):
        body = secure_hub.post("street", "query($v: String!) { owners(idNumber: $v) { id } }", {"v": SHARED_ID_NUMBER}, **headers)
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "X-Hub-Reason"}
        assert error["message"].startswith("X-Hub-Reason: '' must say why you look owners up by idNumber")
    assert _last_seq(secure_hub) == before


def _lookups(secure_hub: SecureHub, after: int) -> list[AuditEntry]:
    return [entry for entry in secure_hub.run(secure_hub.store.audit_entries(after=after)) if entry.action == "pii.lookup"]


@pytest.mark.parametrize(
    ("argument", "field", "value", "found"),
    [
        ("idNumber", "id_number", SHARED_ID_NUMBER.lower(), [SHARED_OWNER]),
        ("phone", "phone", "139-0000-1234", [SHARED_OWNER]),
        ("name", "name", SHARED_NAME, [SHARED_OWNER]),
        ("idNumber", "id_number", NORTH_ID_NUMBER, []),  # outside the street: found nowhere, still audited
    ],
)
def test_each_lookup_is_audited_with_a_keyed_digest_never_the_value(
    secure_hub: SecureHub, argument: str, field: str, value: str, found: list[str]
) -> None:
    """Who looked up, by which field, a keyed digest of the value (the store's, the same for
    every spelling of it), how many owners it found and which, and why — and not the value."""
    role = secure_hub.roles["street"]
    before = _last_seq(secure_hub)
    secure_hub.data(role, f"query($v: String!) {{ owners({argument}: $v) {{ id }} }}", {"v": value}, **REASON)
    [entry] = _lookups(secure_hub, before)
    assert (entry.actor, entry.role, entry.action, entry.target, entry.reason) == (role.holder, "street", "pii.lookup", field, WHY)
    assert entry.detail == {
        "token": role.token_id,
        "field": field,
        "digest": secure_hub.store.lookup_digest(field, value),
        "found": len(found),
        "owners": found,
    }
    # the digest is the same for every spelling the lookup treats as the same
    assert entry.detail["digest"] == secure_hub.store.lookup_digest(field, value.upper() if field == "id_number" else value)
    text = json.dumps([entry.detail, entry.target, entry.reason], ensure_ascii=False)
    for secret in (value, value.upper(), "".join(char for char in value if char.isdigit()) if field == "phone" else value):
        assert secret not in text


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ('idNumber: "370202199001011235"', "idNumber"),  # wrong check digit
        ('idNumber: "37020219900101123"', "idNumber"),  # 17 characters
        ('idNumber: "abc"', "idNumber"),
        ('idNumber: "990202199001011234"', "idNumber"),  # no such province
        ('phone: "12"', "phone"),
        ('name: ""', "name"),
        ("", "owners"),
        ('idNumber: "11010519491231002X", phone: "13900001234"', "owners"),
    ],
)
def test_malformed_lookups_are_refused_naming_the_argument(secure_hub: SecureHub, arguments: str, field: str) -> None:
    before = _last_seq(secure_hub)
    call = f"owners({arguments})" if arguments else "owners"
    body = secure_hub.post("street", f"{{ {call} {{ id }} }}", **REASON)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert error["message"].startswith(f"{field}: ")
    assert _last_seq(secure_hub) == before  # refused input writes nothing, not even an audit entry


def test_personal_data_is_sealed_at_rest(secure_hub: SecureHub) -> None:
    """Opened with nothing but sqlite3, the owner table holds no name, ID number or phone, and
    no byte of the database files spells one of the suite's people. On a graph store: no byte of
    the graph as the server serialises it (DUMP, uncompressed) spells one of them, while the
    places' codes and names are there to be read."""
    world, cast = secure_hub.world, secure_hub.cast
    people = [world.owners[key] for key in (cast.owner, cast.co_owner, SHARED_OWNER, NORTH_OWNER)]
    if secure_hub.backend == "neo4j":
        pytest.skip("a Neo4j server's files are its own; the sealing is the same Cypher store's as on FalkorDB")
    if secure_hub.backend == "sqlite":
        data = _sqlite_bytes(secure_hub)
    else:
        data = _graph_bytes(secure_hub)
        assert cast.house.encode() in data and world.places[cast.estate].name.encode() in data  # readable as stored
    for person in people:
        for secret in (person.name, person.id_number, person.id_number.lower(), person.phone):
            assert secret is None or secret.encode() not in data, secret
    assert NORTH_PHONE.encode() not in data and SHARED_NAME.encode() not in data
    # while the hub itself, holding the keys, reads them back
    shown = secure_hub.data("admin", f"query($id: ID!) {{ node(id: $id) {{ ...O }} }} {OWNER}", {"id": relay_id("Owner", SHARED_OWNER)})
    assert shown["node"]["name"] == SHARED_NAME and shown["node"]["idNumber"] == SHARED_ID_NUMBER


def _sqlite_bytes(secure_hub: SecureHub) -> bytes:
    """The database files' bytes, after checking the owner table has no column for what is sealed."""
    world, cast = secure_hub.world, secure_hub.cast
    people = [world.owners[key] for key in (cast.owner, cast.co_owner, SHARED_OWNER, NORTH_OWNER)]
    connection = sqlite3.connect(f"file:{secure_hub.database}?mode=ro", uri=True)
    try:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(owner)")]
        rows = connection.execute("SELECT * FROM owner").fetchall()
    finally:
        connection.close()
    assert len(rows) == len(world.owners)
    assert not {"name", "id_number", "phone"} & set(columns), columns
    for row in rows:
        for value in row:
            if isinstance(value, bytes | str):
                raw = value.encode() if isinstance(value, str) else value
                for person in people:
                    for secret in (person.name, person.id_number, person.phone):
                        assert secret is None or secret.encode() not in raw
    files = [secure_hub.database, secure_hub.database.with_name(secure_hub.database.name + "-wal")]
    return b"".join(path.read_bytes() for path in files if path.exists())


def _graph_bytes(secure_hub: SecureHub) -> bytes:
    """The graph as the FalkorDB server serialises it, strings uncompressed (the session's own
    server: its setting is put back)."""
    import redis

    url = secure_hub.store.transport.url  # type: ignore[attr-defined]
    client = redis.Redis(host=url.host, port=url.port, username=url.user, password=url.password)
    try:
        client.config_set("rdbcompression", "no")
        try:
            data = client.dump(url.graph)
        finally:
            client.config_set("rdbcompression", "yes")
    finally:
        client.close()
    assert isinstance(data, bytes) and data, f"the graph {url.graph} is empty"
    return data
