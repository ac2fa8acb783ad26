"""Bad input comes back as GraphQL errors that name the argument; anything else is masked."""

from __future__ import annotations

import base64

import pytest

from tests.schema.conftest import Hub
from tests.schema.counting import CountingStore

LEAKS = ("Traceback", 'File "', "sqlalchemy", "SELECT", "graph/", "schema/")


def _assert_clean(hub: Hub, query: str, **variables: object) -> None:
    """The raw response carries no stack trace or internals."""
    text = hub.client.post("/graphql", json={"query": query, "variables": variables}).text
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked: {text}"


CASES = [
    pytest.param('{ place(code: "3702") { name } }', "code", "'3702'", id="short place code"),
    pytest.param('{ place(code: "370202X01") { name } }', "code", "370202X01", id="letter in street"),
    pytest.param(
        '{ house(code: "370202001001GB00001F0001000") { name } }',
        "code",
        "must be 28 characters",
        id="house code one short",
    ),
    pytest.param(
        '{ house(code: "370202001001GB00001X00010001") { name } }',
        "code",
        "fixture feature",
        id="bad fixture letter",
    ),
    pytest.param('{ firm(code: "91350100M000100Y44") { name } }', "code", "check character", id="firm"),
    pytest.param('{ places(level: STREET, first: 0) { totalCount } }', "first", "between 1 and 500", id="first 0"),
    pytest.param(
        '{ places(level: STREET, first: 10000) { totalCount } }', "first", "'10000'", id="first 10000"
    ),
    pytest.param(
        '{ places(level: STREET, after: "bm90LWEtY3Vyc29y") { totalCount } }',
        "after",
        "not a cursor",
        id="bad cursor",
    ),
    pytest.param(
        '{ place(code: "370202") { children(after: "%%%") { totalCount } } }',
        "after",
        "not a cursor",
        id="bad children cursor",
    ),
    pytest.param('{ places(level: HOUSE, within: "37") { totalCount } }', "within", "'37'", id="within"),
    pytest.param(
        '{ places(level: DISTRICT, within: "370202001") { totalCount } }',
        "level",
        "above",
        id="level above within",
    ),
    pytest.param('{ node(id: "not-an-id") { id } }', "id", "not a node id", id="node id garbage"),
    pytest.param(
        '{ node(id: "%s") { id } }' % base64.b64encode(b"Tower:370202").decode(),
        "id",
        "unknown type",
        id="node id of unknown type",
    ),
    pytest.param(
        '{ node(id: "%s") { id } }' % base64.b64encode(b"House:3702").decode(),
        "id",
        "not a place code",
        id="node id with bad code",
    ),
    pytest.param('{ nodes(ids: ["x"]) { id } }', "ids", "not a node id", id="nodes"),
    pytest.param('{ search(text: "   ") { code } }', "text", "1 to 64", id="blank search"),
    pytest.param('{ search(text: "%s") { code } }' % ("青" * 65), "text", "1 to 64", id="long search"),
    pytest.param('{ stats(scope: "abc", groupBy: STREET) { houses } }', "scope", "'abc'", id="stats"),
    pytest.param('{ geo(scope: "370202", level: CITY) }', "level", "above", id="geo above"),
]


@pytest.mark.parametrize(("query", "field", "fragment"), CASES)
def test_bad_input_names_the_argument(hub: Hub, query: str, field: str, fragment: str) -> None:
    [error] = hub.errors(query)
    assert error["message"].startswith(f"{field}: "), error["message"]
    assert fragment in error["message"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    _assert_clean(hub, query)


def test_a_bad_date_is_refused_clearly(hub: Hub) -> None:
    query = """query($asOf: Date) { places(level: HOUSE, first: 1) { edges { node {
        ... on House { owners(asOf: $asOf) { share } } } } } }"""
    [error] = hub.errors(query, asOf="2020-13-01")
    assert "$asOf" in error["message"] and "YYYY-MM-DD" in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_well_formed_codes_of_nothing_are_null(hub: Hub) -> None:
    query = """{
      place(code: "370299001") { code }
      house(code: "370202001001GB00001F99999999") { code }
      firm(code: "91350100M000100Y43") { code }
    }"""
    assert hub.data(query) == {"place": None, "house": None, "firm": None}


def test_graphql_mistakes_keep_their_own_message(hub: Hub) -> None:
    [error] = hub.errors("{ place(code: \"370202\") { nonsense } }")
    assert "nonsense" in error["message"]


def test_unexpected_failures_are_masked(hub: Hub, counting: CountingStore) -> None:
    counting.fail_with = RuntimeError("SELECT secret FROM place -- sqlalchemy said no")
    body = hub.post('{ place(code: "370202") { name } }')
    [error] = body["errors"]
    assert error["message"] == "internal error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert body["data"] == {"place": None}
    _assert_clean(hub, '{ place(code: "370202") { name } }')
