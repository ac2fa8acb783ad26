"""Limits and bad input: query shape, page sizes, body size, rate, introspection, masked errors.

Most tests use the suite's live server (default shape limits, 256 KiB bodies). Rate limiting,
introspection off and an internal failure need apps of their own: those are built in process
over the same store and served through httpx's ASGI transport on the server's own loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any, cast

import httpx
import pytest

from graph.store import Store
from hub.app import create_app
from hub.auth.authentication import Authenticator
from hub.gate import Gate
from hub.limits import Limits
from tests.security.conftest import SecureHub
from tests.security.world import cursor_of, relay_id

LIMITS = Limits()


def _errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert body.get("errors"), body
    errors: list[dict[str, Any]] = body["errors"]
    return errors


def _audit_and_tokens(secure_hub: SecureHub) -> tuple[int, int]:
    [last] = secure_hub.run(secure_hub.store.audit_tail(1))
    return last.seq, len(secure_hub.run(secure_hub.store.tokens()))


@pytest.fixture
def unchanged(secure_hub: SecureHub) -> Iterator[None]:
    """The test writes nothing: no audit entry, no token."""
    secure_hub.data("street", "{ levels { level } }")  # the token's login, if it is its first request
    before = _audit_and_tokens(secure_hub)
    yield
    assert _audit_and_tokens(secure_hub) == before


# -- the shape of a document -----------------------------------------------------------------


def test_a_query_deeper_than_the_limit_is_refused(secure_hub: SecureHub) -> None:
    def nested(depth: int) -> str:
        """A document `depth` selections deep below its root field (graphql-depth-limit's count)."""
        return '{ place(code: "370202001012E001") { ' + "parent { " * (depth - 1) + "code" + " }" * (depth - 1) + " } }"

    assert secure_hub.post("admin", nested(LIMITS.depth))["data"]["place"] is not None
    body = secure_hub.post("admin", nested(LIMITS.depth + 1))
    assert body["data"] is None
    [error] = _errors(body)
    assert f"exceeds maximum operation depth of {LIMITS.depth}" in error["message"]


def test_too_many_aliases_are_refused(secure_hub: SecureHub) -> None:
    def aliased(count: int) -> str:
        return "{ " + " ".join(f"a{index}: levels {{ level }}" for index in range(count)) + " }"

    assert len(secure_hub.data("admin", aliased(LIMITS.aliases))) == LIMITS.aliases
    [error] = _errors(secure_hub.post("admin", aliased(LIMITS.aliases + 1)))
    assert error["message"] == f"{LIMITS.aliases + 1} aliases found. Allowed: {LIMITS.aliases}"


def test_too_many_tokens_are_refused(secure_hub: SecureHub) -> None:
    query = "{ levels { " + "level " * LIMITS.tokens + "} }"
    [error] = _errors(secure_hub.post("admin", query))
    assert f"more than {LIMITS.tokens} tokens" in error["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("{ places(level: STREET, first: 501) { totalCount } }", "first"),
        ("{ places(level: STREET, first: 0) { totalCount } }", "first"),
        ("{ places(level: STREET, first: -1) { totalCount } }", "first"),
        ('{ place(code: "370202") { children(first: 501) { totalCount } } }', "first"),
        ('{ search(text: "3702", first: 501) { code } }', "first"),
        ("{ nodes(ids: [" + ", ".join(['"' + relay_id("District", "370202") + '"'] * 101) + "]) { id } }", "ids"),
    ],
)
def test_page_sizes_are_bounded(secure_hub: SecureHub, unchanged: None, query: str, field: str) -> None:
    errors = _errors(secure_hub.post("admin", query))
    assert {error["extensions"]["field"] for error in errors} == {field}
    assert all(error["extensions"]["code"] == "BAD_USER_INPUT" for error in errors)


def test_the_largest_page_is_served(secure_hub: SecureHub) -> None:
    listed = secure_hub.data("admin", "{ places(level: HOUSE, first: 500) { edges { cursor } pageInfo { hasNextPage } } }")
    assert len(listed["places"]["edges"]) == 500 and listed["places"]["pageInfo"]["hasNextPage"]


# -- bad input names its field and changes nothing ---------------------------------------------


BAD_INPUT = [
    ('{ place(code: "3702") { code } }', "code"),
    ('{ place(code: "370202001012E00X") { code } }', "code"),
    ('{ house(code: "370202") { code } }', "code"),
    ('{ house(code: "370202001012GB00016F0002007") { code } }', "code"),
    ('{ node(id: "abc") { id } }', "id"),
    ('{ node(id: "' + relay_id("District", "370202001") + '") { id } }', "id"),  # a street's code as a District
    ('{ node(id: "' + relay_id("Ghost", "370202") + '") { id } }', "id"),
    ('{ nodes(ids: ["' + relay_id("Owner", "x" * 65) + '"]) { id } }', "ids"),
    ('{ places(level: STREET, after: "zzz") { totalCount } }', "after"),
    ('{ places(level: STREET, after: "' + cursor_of("x" * 70) + '") { totalCount } }', "after"),
    ('{ places(level: STREET, within: "abc") { totalCount } }', "within"),
    ('{ places(level: DISTRICT, within: "370202001") { totalCount } }', "level"),
    ('{ search(text: "   ") { code } }', "text"),
    ('{ search(text: "' + "a" * 65 + '") { code } }', "text"),
    ('{ stats(scope: "x", groupBy: STREET) { houses } }', "scope"),
    ('{ stats(scope: "370202001", groupBy: DISTRICT) { houses } }', "groupBy"),
    ('{ geo(scope: "370202001", level: CITY) }', "level"),
    ('{ firm(code: "91370202MA01L93B6D") { code } }', "code"),
    ('{ place(code: "370202001012E001") { ... on Estate { managers(asOf: "2024-13-01") { since } } } }', "Date"),
]


@pytest.mark.parametrize(("query", "field"), BAD_INPUT, ids=[f"{index}-{field}" for index, (_, field) in enumerate(BAD_INPUT)])
def test_bad_input_gets_an_error_naming_the_field(secure_hub: SecureHub, unchanged: None, query: str, field: str) -> None:
    [error] = _errors(secure_hub.post("street", query))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert field in error["message"]
    assert "Traceback" not in error["message"] and "internal" not in error["message"]


def test_a_bad_date_says_how_to_write_one(secure_hub: SecureHub) -> None:
    variables = {"d": "2024-02-30"}
    query = 'query($d: Date) { place(code: "370202001012E001") { ... on Estate { managers(asOf: $d) { since } } } }'
    [error] = _errors(secure_hub.post("street", query, variables))
    assert "$d" in error["message"] and "YYYY-MM-DD" in error["message"]


def test_there_is_nothing_to_write_with(secure_hub: SecureHub, unchanged: None) -> None:
    [error] = _errors(secure_hub.post("admin", "mutation { revokeToken(id: \"x\") }"))
    assert "mutation" in error["message"].lower()


# -- the HTTP request itself -----------------------------------------------------------------


def _authorised(secure_hub: SecureHub, name: str = "street") -> dict[str, str]:
    return {"authorization": f"Bearer {secure_hub.roles[name].token}"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{bad", "Unable to parse request body as JSON"),
        (b'{"query": "{ levels { level } }"', "Unable to parse request body as JSON"),
        (b"\xff\xfe\x00{", "Unable to parse request body as JSON"),
        (b'{"query": "\xff"}', "Unable to parse request body as JSON"),  # not UTF-8: was a 500
        (b"null", "must be a JSON object"),
        (b'"{ levels { level } }"', "must be a JSON object"),
        (b"42", "must be a JSON object"),
        (b"[]", "Batching is not enabled"),
        (b'{"variables": {}}', "No GraphQL query found"),
        (b'{"query": 5}', "`query` must be a string"),
        (b'{"query": "{ levels { level } }", "variables": [1]}', "`variables` must be an object"),
    ],
)
def test_a_bad_body_gets_a_clear_400_and_changes_nothing(
    secure_hub: SecureHub, unchanged: None, body: bytes, reason: str
) -> None:
    headers = {**_authorised(secure_hub), "content-type": "application/json"}
    response = secure_hub.client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert reason in response.text and "Traceback" not in response.text


def test_a_body_over_the_limit_is_refused_by_its_length(secure_hub: SecureHub, unchanged: None) -> None:
    padding = "x" * (LIMITS.body_bytes + 1)
    response = secure_hub.client.post(
        "/graphql", json={"query": "{ levels { level } }", "variables": {"pad": padding}}, headers=_authorised(secure_hub)
    )
    assert response.status_code == 413
    assert response.json() == {"error": "too large", "reason": f"request body over {LIMITS.body_bytes} bytes"}


def test_a_chunked_body_over_the_limit_is_refused(secure_hub: SecureHub, unchanged: None) -> None:
    """Without Content-Length the gate counts the bytes as they come and answers 413 (the
    app's error middleware used to answer 500 first)."""
    document = json.dumps({"query": "{ levels { level } }", "variables": {"pad": "x" * (LIMITS.body_bytes + 1)}}).encode()

    def chunks(data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), 16 * 1024):
            yield data[start : start + 16 * 1024]

    headers = {**_authorised(secure_hub), "content-type": "application/json"}
    response = secure_hub.client.post("/graphql", content=chunks(document), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["reason"] == f"request body over {LIMITS.body_bytes} bytes"
    # a chunked body under the limit is served, and the server goes on serving
    small = json.dumps({"query": "{ levels { level } }"}).encode()
    response = secure_hub.client.post("/graphql", content=chunks(small), headers=headers)
    assert response.status_code == 200 and response.json()["data"]["levels"][0] == {"level": "CITY"}


# -- apps of their own, in process -----------------------------------------------------------


async def _requests(
    gate: Gate, calls: Sequence[tuple[str | None, dict[str, Any]]], pause: float = 0.0, **extra: str
) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=gate)
    responses = []
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        for token, payload in calls:
            headers = dict(extra) if token is None else {**extra, "authorization": f"Bearer {token}"}
            responses.append(await client.post("/graphql", json=payload, headers=headers))
            await asyncio.sleep(pause)
    return responses


def test_a_burst_over_the_rate_gets_429_with_retry_after(secure_hub: SecureHub) -> None:
    store, keys = secure_hub.store, secure_hub.keys
    app = create_app(store, keys=keys, limits=Limits(rate=2, burst=2), authenticator=Authenticator(store, keys))
    street, district = secure_hub.roles["street"].token, secure_hub.roles["district"].token
    levels = {"query": "{ levels { level } }"}
    responses = secure_hub.run(_requests(app, [(street, levels)] * 6 + [(district, levels)]))
    statuses = [response.status_code for response in responses]
    assert statuses[:2] == [200, 200] and statuses[-1] == 200  # another principal has its own bucket
    throttled = [response for response in responses[2:6] if response.status_code == 429]
    assert len(throttled) >= 3
    for response in throttled:
        assert int(response.headers["retry-after"]) >= 1
        assert response.json() == {"error": "too many requests", "reason": "over 2 requests per second"}
    time.sleep(int(throttled[-1].headers["retry-after"]))
    [again] = secure_hub.run(_requests(app, [(street, levels)]))
    assert again.status_code == 200


def test_refused_tokens_are_rate_limited_by_address(secure_hub: SecureHub) -> None:
    store, keys = secure_hub.store, secure_hub.keys
    app = create_app(store, keys=keys, limits=Limits(rate=2, burst=2), authenticator=Authenticator(store, keys))
    responses = secure_hub.run(_requests(app, [("hub1.bad.token", {"query": "{ levels { level } }"})] * 5))
    statuses = [response.status_code for response in responses]
    assert statuses[:2] == [401, 401] and 429 in statuses
    throttled = next(response for response in responses if response.status_code == 429)
    assert throttled.headers["retry-after"] == "1"
    assert throttled.json()["reason"] == "too many refused requests from this address"


def test_introspection_can_be_switched_off(secure_hub: SecureHub) -> None:
    store, keys = secure_hub.store, secure_hub.keys
    token = secure_hub.roles["street"].token
    on = secure_hub.data("street", "{ __schema { queryType { name } } }")
    assert on == {"__schema": {"queryType": {"name": "Query"}}}
    app = create_app(store, keys=keys, introspection=False, authenticator=Authenticator(store, keys))
    queries = [
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Owner") { fields { name } } }',
        "query IntrospectionQuery { __schema { types { name } } }",
        '{ levels { level } __type(name: "Query") { name } }',
    ]
    responses = secure_hub.run(_requests(app, [(token, {"query": query}) for query in queries]))
    for response in responses:
        body = response.json()
        assert body["data"] is None
        assert "introspection has been disabled" in body["errors"][0]["message"]
        assert "Owner" not in json.dumps(body["data"])
    [plain] = secure_hub.run(_requests(app, [(token, {"query": "{ levels { level } __typename }"})]))
    assert plain.json()["data"]["__typename"] == "Query"


TYPOS = [
    ("{ plase { code } }", {}, "plase", ("place", "places")),
    ('{ places(levl: CITY) { totalCount } }', {}, "levl", ("level",)),
    ("{ places(level: CITYY) { totalCount } }", {}, "CITYY", ("CITY",)),
    ("query($l: Level!) { places(level: $l) { totalCount } }", {"l": "DISTRCT"}, "DISTRCT", ("DISTRICT",)),
    ('{ place(code: "370202") { ... on Estat { code } } }', {}, "Estat", ("Estate",)),
    ('mutation($i: OpenCaseInput!) { openCase(input: $i) { id } }', {"i": {"title": "x", "category": "REPAIR", "severty": "MAJOR"}}, "severty", ("severity",)),
    ('{ cases(scope: "370202", status: [DISPATCHD]) { totalCount } }', {}, "DISPATCHD", ("DISPATCHED",)),
]
"""Misspelt fields, arguments, enum values (literal and variable), types and input fields, with
the real names GraphQL would suggest for each."""


def test_without_introspection_errors_suggest_no_real_names(secure_hub: SecureHub) -> None:
    """With introspection on, GraphQL's errors say "Did you mean 'place'…"; with it off, the same
    mistakes get the same errors without any suggestion, so the schema cannot be spelt out."""
    store, keys = secure_hub.store, secure_hub.keys
    token = secure_hub.roles["street"].token
    payloads = [(token, {"query": query, "variables": variables}) for query, variables, _, _ in TYPOS]
    open_app = create_app(store, keys=keys, authenticator=Authenticator(store, keys))
    closed_app = create_app(store, keys=keys, introspection=False, authenticator=Authenticator(store, keys))
    told = secure_hub.run(_requests(open_app, payloads))
    hidden = secure_hub.run(_requests(closed_app, payloads))
    for (query, _, mistake, names), open_answer, closed_answer in zip(TYPOS, told, hidden):
        suggested = " ".join(error["message"] for error in _errors(open_answer.json()))
        assert "Did you mean" in suggested and all(f"'{name}'" in suggested for name in names), (query, suggested)
        messages = [error["message"] for error in _errors(closed_answer.json())]
        assert messages and all("Did you mean" not in message for message in messages), (query, messages)
        assert not any(f"'{name}'" in message for name in names for message in messages), (query, messages)
        # the mistake itself is still named, so the caller knows what to fix
        assert closed_answer.json()["data"] is None and any(mistake in message for message in messages), (query, messages)
    # a shared query published with a mistake in its document is refused just as quietly
    publish = (
        'mutation { publishSharedQuery(input: {name: "quiet-typo", document: "{ plase { code } }", roles: [STREET]}) { name } }'
    )
    [refused] = secure_hub.run(_requests(closed_app, [(token, {"query": publish})]))
    [error] = _errors(refused.json())
    assert "plase" in error["message"] and "Did you mean" not in error["message"] and "'place'" not in error["message"]
    assert secure_hub.run(store.shared_versions("quiet-typo")) == []


class _Failing:
    """The store with one method failing as a real outage would, its message full of internals."""

    LEAK = 'sqlite3.OperationalError: no such column: owner.name_plain [SQL: SELECT * FROM owner] File "/work/main/graph/sql/store.py"'

    def __init__(self, store: Store, method: str) -> None:
        self._store = store
        self._method = method

    def __getattr__(self, name: str) -> Any:
        if name == self._method:

            async def fail(*_: Any, **__: Any) -> Any:
                raise RuntimeError(self.LEAK)

            return fail
        return getattr(self._store, name)


@pytest.mark.parametrize(
    ("method", "query", "path"),
    [
        ("places", '{ place(code: "370202") { code } levels { level } }', ["place"]),
        ("stats", '{ stats(scope: "370202", groupBy: STREET) { houses } }', ["stats"]),
        ("owners_by", '{ owners(name: "张翀") { id } }', ["owners"]),
        ("ancestors", '{ place(code: "370202001") { code ancestors { code } } levels { level } }', ["place", "ancestors"]),
    ],
)
def test_internal_errors_are_masked(
    secure_hub: SecureHub, caplog: pytest.LogCaptureFixture, method: str, query: str, path: list[str]
) -> None:
    store, keys = secure_hub.store, secure_hub.keys
    failing = cast(Store, _Failing(store, method))
    app = create_app(failing, keys=keys, authenticator=Authenticator(store, keys))
    [response] = secure_hub.run(_requests(app, [(secure_hub.roles["admin"].token, {"query": query})], **{"x-hub-reason": "test"}))
    assert response.status_code == 200
    body = response.json()
    [error] = body["errors"]
    assert error["message"] == "internal error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert error["path"] == path
    if "levels" in query:  # a nullable field fails alone: the rest of the answer is still given
        assert len(body["data"]["levels"]) == 8
    else:
        assert body["data"] is None
    for internal in ("sqlite", "SELECT", "Traceback", "store.py", "RuntimeError", "name_plain", "/work"):
        assert internal not in response.text
    # the operator, not the caller, gets the details
    assert _Failing.LEAK in caplog.text
