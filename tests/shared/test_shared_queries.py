"""Shared queries over real HTTP: publishing and versions, documents and variables checked,
sharing, the caller's scope on every run, `/q/NAME` as JSON and CSV, the safelist mode, the
cache and the audit."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest

from tests.shared.conftest import CACHE_SECONDS, SharedHub

PUBLISH = """mutation($input: PublishSharedQueryInput!) {
  publishSharedQuery(input: $input) { name version versions roles organisations owner { name role scope }
    variables { name type required default description } }
}"""
RUN = """query($name: String!, $version: Int, $variables: JSON) {
  runSharedQuery(name: $name, version: $version, variables: $variables) { name version data errors cached }
}"""
ONE = "query($name: String!, $version: Int) { sharedQuery(name: $name, version: $version) { name version versions document } }"
LIST = "{ sharedQueries { name version } }"
CASES = """query Cases($scope: String!, $first: Int = 50) {
  cases(scope: $scope, first: $first) { totalCount edges { node { title place { code name } } } }
}"""


def publish(hub: SharedHub, who: str, **fields: Any) -> dict[str, Any]:
    return hub.post(who, PUBLISH, {"input": fields})


def published(hub: SharedHub, who: str, **fields: Any) -> dict[str, Any]:
    body = publish(hub, who, **fields)
    assert not body.get("errors"), body["errors"]
    result: dict[str, Any] = body["data"]["publishSharedQuery"]
    return result


def error_of(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    message: str = body["errors"][0]["message"]
    return message


def run(hub: SharedHub, who: str, name: str, variables: dict[str, Any] | None = None, version: int | None = None) -> dict[str, Any]:
    body = hub.post(who, RUN, {"name": name, "variables": variables, "version": version})
    assert not body.get("errors"), body["errors"]
    result: dict[str, Any] = body["data"]["runSharedQuery"]
    return result


def titles(data: dict[str, Any]) -> set[str]:
    return {edge["node"]["title"] for edge in data["cases"]["edges"]}


# -- publishing, versions, documents and variables ----------------------------------------


def test_publishing_again_makes_the_next_version_and_old_ones_still_run(shared_hub: SharedHub) -> None:
    first = published(shared_hub, "city", name="city-cases", document=CASES, roles=["PROPERTY_FIRM"], description="v1")
    assert (first["version"], first["versions"]) == (1, [1])
    assert first["owner"] == {"name": "青岛市城运中心", "role": "CITY", "scope": "370200"}
    assert first["variables"] == [
        {"name": "scope", "type": "String!", "required": True, "default": None, "description": ""},
        {"name": "first", "type": "Int", "required": False, "default": None, "description": ""},
    ]
    second = published(
        shared_hub, "city", name="city-cases", document=CASES.replace("title place", "title category place"),
        roles=["PROPERTY_FIRM"], variables=[{"name": "scope", "default": "@area", "description": "片区"}],
    )
    assert (second["version"], second["versions"]) == (2, [1, 2])
    assert second["variables"][0] == {"name": "scope", "type": "String!", "required": False, "default": "@area", "description": "片区"}
    latest = shared_hub.data("firm_a", ONE, {"name": "city-cases"})["sharedQuery"]
    assert (latest["version"], latest["versions"]) == (2, [1, 2]) and "category" in latest["document"]
    assert "category" not in shared_hub.data("firm_a", ONE, {"name": "city-cases", "version": 1})["sharedQuery"]["document"]
    old = run(shared_hub, "firm_a", "city-cases", {"scope": "370200"}, version=1)
    assert old["version"] == 1 and old["errors"] is None and "category" not in old["data"]["cases"]["edges"][0]["node"]
    new = run(shared_hub, "firm_a", "city-cases")  # the latest, with @area for the scope
    assert new["version"] == 2 and "category" in new["data"]["cases"]["edges"][0]["node"]


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ("query { cases(scope: ", "Syntax Error"),
        ("query { nothingHere }", "Cannot query field 'nothingHere' on type 'Query'"),
        ("query($s: String!) { cases(scope: $s) { totalCount } } query B { levels { name } }", "exactly one operation"),
        ('mutation { ackAlarm(id: "AL1") { id } }', "a mutation cannot be shared"),
        ("subscription { alarms { alarm { id } } }", "a subscription cannot be shared"),
        ('query { runSharedQuery(name: "x") { data } }', "may not select runSharedQuery"),
        # over the limits every run meets (depth 12, 20 aliases): refused now, not at its first run
        ("query { place(code: \"370202\") { " + "parent { " * 12 + "code" + " }" * 12 + " } }", "exceeds maximum operation depth"),
        ("query { " + " ".join(f"a{n}: levels {{ name }}" for n in range(21)) + " }", "aliases"),
    ],
)
def test_a_broken_or_writing_document_is_refused_with_graphqls_own_words(shared_hub: SharedHub, document: str, says: str) -> None:
    body = publish(shared_hub, "city", name="broken-one", document=document)
    message = error_of(body)
    assert says.replace("'", '"') in message.replace("'", '"'), message
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert shared_hub.data("city", ONE, {"name": "broken-one"})["sharedQuery"] is None


def test_bad_names_defaults_and_described_variables_are_refused(shared_hub: SharedHub) -> None:
    assert "a-z, 0-9" in error_of(publish(shared_hub, "city", name="No Spaces!", document=CASES))
    assert "$nope is not a variable of the document" in error_of(
        publish(shared_hub, "city", name="bad-vars", document=CASES, variables=[{"name": "nope", "description": "x"}])
    )
    assert "relative default" in error_of(
        publish(shared_hub, "city", name="bad-vars", document=CASES, variables=[{"name": "scope", "default": "@yesterday"}])
    )
    assert "default of $first is not valid" in error_of(
        publish(shared_hub, "city", name="bad-vars", document=CASES, variables=[{"name": "first", "default": "many"}])
    )
    assert "csvPath" in error_of(publish(shared_hub, "city", name="bad-vars", document=CASES, csvPath="devices.edges"))


def test_missing_extra_and_mistyped_variables_are_named(shared_hub: SharedHub) -> None:
    published(shared_hub, "city", name="strict-cases", document=CASES, roles=["PROPERTY_FIRM"])
    cases = [
        ({}, "$scope (String!) is required by shared query strict-cases v1"),
        ({"scope": "370200", "colour": "red"}, "$colour is not a variable of shared query strict-cases v1; it takes $scope, $first"),
        ({"scope": "370200", "first": "ten"}, "Variable '$first' has invalid value: Int cannot represent non-integer value: 'ten'"),
    ]
    for variables, says in cases:
        body = shared_hub.post("firm_a", RUN, {"name": "strict-cases", "variables": variables})
        assert says in error_of(body), body
        assert body["errors"][0]["extensions"]["field"].startswith("variables.")


# -- sharing --------------------------------------------------------------------------------


def test_a_firm_sees_what_is_shared_with_firms_and_not_what_is_shared_with_streets(shared_hub: SharedHub) -> None:
    published(shared_hub, "city", name="for-firms", document=CASES, roles=["PROPERTY_FIRM"])
    published(shared_hub, "city", name="for-streets", document=CASES, roles=["STREET"])
    published(shared_hub, "city", name="for-firm-a", document=CASES, organisations=[shared_hub.cast.firm_a.lower()])
    published(shared_hub, "city", name="for-nobody", document=CASES)
    names = {who: {item["name"] for item in shared_hub.data(who, LIST)["sharedQueries"]} for who in ("firm_a", "firm_b", "street", "city")}
    assert {"for-firms", "for-firm-a"} <= names["firm_a"] and not {"for-streets", "for-nobody"} & names["firm_a"]
    assert "for-firms" in names["firm_b"] and not {"for-firm-a", "for-streets", "for-nobody"} & names["firm_b"]
    assert "for-streets" in names["street"] and not {"for-firms", "for-nobody"} & names["street"]
    assert {"for-firms", "for-streets", "for-firm-a", "for-nobody"} <= names["city"]
    # a query shared with nobody answers like a name that does not exist, on every path
    for name in ("for-nobody", "never-published"):
        assert shared_hub.data("firm_b", ONE, {"name": name})["sharedQuery"] is None
        assert error_of(shared_hub.post("firm_b", RUN, {"name": name})) == f"no shared query {name} is shared with you"
        assert shared_hub.get("firm_b", f"/q/{name}").json() == {"error": "not found", "reason": f"no shared query {name} is shared with you"}
    # only the publisher and the city see whom it names
    seen = shared_hub.data("firm_a", "{ sharedQuery(name: \"for-firm-a\") { organisations owner { scope } } }")["sharedQuery"]
    assert seen == {"organisations": None, "owner": {"scope": None}}


def test_what_a_firm_and_a_street_may_share(shared_hub: SharedHub) -> None:
    firm_query = published(shared_hub, "firm_a", name="firm-a-cases", document=CASES, roles=["PROPERTY_FIRM"], organisations=[shared_hub.cast.firm_b])
    assert firm_query["owner"] == {"name": "甲物业", "role": "PROPERTY_FIRM", "scope": shared_hub.cast.firm_a}
    assert "a property_firm may share only with property_firm" in error_of(
        publish(shared_hub, "firm_a", name="firm-a-street", document=CASES, roles=["STREET"])
    )
    assert "a property firm may share only with firms" in error_of(
        publish(shared_hub, "firm_a", name="firm-a-street", document=CASES, organisations=[shared_hub.cast.street])
    )
    assert "a street may share only with" in error_of(publish(shared_hub, "street", name="street-up", document=CASES, roles=["CITY"]))
    published(shared_hub, "street", name="street-cases", document=CASES, roles=["PROPERTY_FIRM"])
    assert "may not publish" in error_of(publish(shared_hub, "committee", name="committee-cases", document=CASES))
    # the name is the publisher's: another firm cannot publish its next version
    assert "taken by another publisher" in error_of(publish(shared_hub, "firm_b", name="firm-a-cases", document=CASES))
    assert {"firm-a-cases", "street-cases"} <= {item["name"] for item in shared_hub.data("firm_b", LIST)["sharedQueries"]}


def test_withdrawn_versions_no_longer_run(shared_hub: SharedHub) -> None:
    published(shared_hub, "firm_a", name="short-lived", document=CASES, roles=["PROPERTY_FIRM"])
    published(shared_hub, "firm_a", name="short-lived", document=CASES, roles=["PROPERTY_FIRM"])
    withdraw = 'mutation($v: Int!) { withdrawSharedQuery(name: "short-lived", version: $v) { version versions } }'
    assert "forbidden" in error_of(shared_hub.post("firm_b", withdraw, {"v": 2}))
    assert shared_hub.data("firm_a", withdraw, {"v": 2})["withdrawSharedQuery"] == {"version": 2, "versions": [1]}
    assert shared_hub.data("firm_b", ONE, {"name": "short-lived"})["sharedQuery"]["version"] == 1
    assert error_of(shared_hub.post("firm_b", RUN, {"name": "short-lived", "version": 2})) == "no shared query short-lived v2 is shared with you"


# -- the caller's scope ---------------------------------------------------------------------


def test_the_same_query_answers_each_caller_with_its_own_scope(shared_hub: SharedHub) -> None:
    cast = shared_hub.cast
    mine, theirs = cast.titles[cast.estate_a], cast.titles[cast.estate_b]
    answers = {who: run(shared_hub, who, "overdue-cases")["data"] for who in ("firm_a", "firm_b", "street", "city")}
    assert mine in titles(answers["firm_a"]) and theirs not in titles(answers["firm_a"])
    assert theirs in titles(answers["firm_b"]) and mine not in titles(answers["firm_b"])
    assert mine in titles(answers["street"]) and theirs not in titles(answers["street"])
    assert {mine, theirs} <= titles(answers["city"])
    # the author's scope never applies: firm A's own query run by firm B shows firm B's estates
    published(shared_hub, "firm_a", name="firm-a-overdue", document=CASES, roles=["PROPERTY_FIRM"], variables=[{"name": "scope", "default": "@area"}])
    assert titles(run(shared_hub, "firm_b", "firm-a-overdue")["data"]) >= {theirs}
    assert mine not in titles(run(shared_hub, "firm_b", "firm-a-overdue")["data"])
    # even when firm B names the whole city or firm A's estate itself
    assert mine not in titles(run(shared_hub, "firm_b", "firm-a-overdue", {"scope": cast.estate_a})["data"])
    offline = {who: run(shared_hub, who, "devices-offline")["data"]["devices"]["edges"] for who in ("firm_a", "firm_b")}
    assert [edge["node"]["code"] for edge in offline["firm_a"]] == [cast.devices[cast.estate_a]]
    assert [edge["node"]["code"] for edge in offline["firm_b"]] == [cast.devices[cast.estate_b]]
    per_estate = {who: run(shared_hub, who, "satisfaction-per-estate")["data"]["caseMetrics"] for who in ("firm_a", "street")}
    assert cast.estate_a in {row["place"]["code"] for row in per_estate["firm_a"]}
    assert cast.estate_b not in {row["place"]["code"] for row in per_estate["firm_a"] + per_estate["street"]}
    alarms = run(shared_hub, "firm_b", "alarms-this-week")["data"]["alarms"]["edges"]
    assert {edge["node"]["device"]["code"] for edge in alarms} == {cast.devices[cast.estate_b]}


# -- /q/NAME --------------------------------------------------------------------------------


def test_q_answers_json_by_default_with_typed_parameters(shared_hub: SharedHub) -> None:
    response = shared_hub.get("firm_a", "/q/overdue-cases", {"first": "1"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert (body["name"], body["version"]) == ("overdue-cases", 1)
    assert len(body["data"]["cases"]["edges"]) == 1 and body["data"]["cases"]["totalCount"] >= 1
    refused = shared_hub.get("firm_a", "/q/overdue-cases", {"first": "many"})
    assert refused.status_code == 400 and refused.json()["field"] == "variables.first" and "$first" in refused.json()["reason"]
    extra = shared_hub.get("firm_a", "/q/overdue-cases", {"colour": "red"})
    assert extra.status_code == 400 and "$colour is not a variable" in extra.json()["reason"]
    assert shared_hub.get("firm_a", "/q/overdue-cases", {"format": "xml"}).status_code == 406
    assert shared_hub.get("firm_a", "/q/overdue-cases", {"version": "x"}).status_code == 400
    assert shared_hub.client.get("/q/overdue-cases").status_code == 401


def test_q_as_csv_has_a_bom_chinese_text_and_dotted_columns(shared_hub: SharedHub) -> None:
    cast = shared_hub.cast
    for response in (
        shared_hub.get("firm_a", "/q/overdue-cases", {"format": "csv"}),
        shared_hub.get("firm_a", "/q/overdue-cases", accept="text/csv"),
    ):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert 'filename="overdue-cases-v1.csv"' in response.headers["content-disposition"]
        raw = response.content
        assert raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
        assert {"node.title", "node.place.code", "node.place.name", "node.firm.name", "node.reportedAt"} <= set(rows[0])
        assert cast.titles[cast.estate_a] in {row["node.title"] for row in rows}
        assert cast.titles[cast.estate_b] not in {row["node.title"] for row in rows}
    # a list given by csvPath, here the per-estate rows; the first list when none is named
    rows = list(csv.DictReader(io.StringIO(shared_hub.get("street", "/q/houses-in-arrears", {"format": "csv"}).content.decode("utf-8-sig"))))
    assert rows and set(rows[0]) == {"place.code", "place.name", "houses", "housesInArrears"}
    assert all(row["place.code"].startswith(cast.street) for row in rows)
    published(shared_hub, "city", name="levels-list", document="{ levels { level levelName } }", roles=["PROPERTY_FIRM"])
    text = shared_hub.get("firm_a", "/q/levels-list", {"format": "csv"}).content.decode("utf-8-sig")
    assert text.splitlines()[0] == "level,levelName" and "CITY,市" in text


# -- the safelist mode ----------------------------------------------------------------------


def test_a_safelisted_role_runs_shared_queries_only(shared_hub: SharedHub) -> None:
    switch = "mutation($on: Boolean!) { setSafelist(role: PROPERTY_FIRM, enabled: $on) }"
    adhoc = "{ cases(scope: \"370200\", first: 1) { totalCount } }"
    assert "forbidden" in error_of(shared_hub.post("firm_a", switch, {"on": True}))
    assert "cannot be safelisted" in error_of(shared_hub.post("city", "mutation { setSafelist(role: CITY, enabled: true) }"))
    assert shared_hub.data("city", switch, {"on": True})["setSafelist"] == ["PROPERTY_FIRM"]
    try:
        refused = shared_hub.post("firm_a", adhoc)
        assert refused.get("data") is None and refused["errors"][0]["extensions"]["code"] == "SAFELISTED"
        assert "runs shared queries only" in refused["errors"][0]["message"]
        # by GET too, and a mutation (publishing) as well
        by_get = shared_hub.client.get("/graphql", params={"query": adhoc}, headers={"authorization": f"Bearer {shared_hub.tokens['firm_a']}"})
        assert by_get.json()["errors"][0]["extensions"]["code"] == "SAFELISTED"
        assert publish(shared_hub, "firm_a", name="sneaky", document=CASES)["errors"][0]["extensions"]["code"] == "SAFELISTED"
        # a fragment cannot smuggle a field in
        smuggled = 'query { ...F } fragment F on Query { sharedQueries { name } cases(scope: "370200") { totalCount } }'
        assert shared_hub.post("firm_a", smuggled)["errors"][0]["extensions"]["code"] == "SAFELISTED"
        # what is shared still runs, by GraphQL and by /q
        assert run(shared_hub, "firm_a", "overdue-cases")["errors"] is None
        assert shared_hub.data("firm_a", LIST)["sharedQueries"]
        assert shared_hub.get("firm_a", "/q/devices-offline").status_code == 200
        # other roles are unaffected
        assert shared_hub.data("street", adhoc)["cases"]["totalCount"] >= 1
        assert shared_hub.data("committee", '{ place(code: "%s") { code } }' % shared_hub.cast.estate_a)["place"]
    finally:
        assert shared_hub.data("city", switch, {"on": False})["setSafelist"] == []
    assert shared_hub.data("firm_a", adhoc)["cases"]["totalCount"] >= 1
    switched = [entry for entry in shared_hub.audit("safelist.set") if entry.target == "property_firm"]
    assert [entry.detail["enabled"] for entry in switched[-2:]] == [True, False]


# -- cache and audit ------------------------------------------------------------------------


def test_runs_are_cached_per_scope_for_a_short_time_and_audited(shared_hub: SharedHub) -> None:
    published(shared_hub, "city", name="cached-cases", document=CASES, roles=["PROPERTY_FIRM"], variables=[{"name": "scope", "default": "@area"}])
    first = run(shared_hub, "firm_a", "cached-cases", {"first": 5})
    second = run(shared_hub, "firm_a", "cached-cases", {"first": 5})
    assert (first["cached"], second["cached"]) == (False, True) and first["data"] == second["data"]
    other = run(shared_hub, "firm_b", "cached-cases", {"first": 5})  # another scope never gets it
    assert other["cached"] is False and other["data"] != first["data"]
    assert run(shared_hub, "firm_a", "cached-cases", {"first": 6})["cached"] is False  # other variables
    assert shared_hub.get("firm_a", "/q/cached-cases", {"first": "5"}).json()["cached"] is True
    time.sleep(CACHE_SECONDS + 0.2)
    assert run(shared_hub, "firm_a", "cached-cases", {"first": 5})["cached"] is False
    entries = [entry for entry in shared_hub.audit("shared.run") if entry.target == "cached-cases@1"]
    assert [(entry.actor, entry.detail["cached"], entry.detail["via"]) for entry in entries] == [
        ("甲物业", False, "graphql"), ("甲物业", True, "graphql"), ("乙物业", False, "graphql"),
        ("甲物业", False, "graphql"), ("甲物业", True, "http"), ("甲物业", False, "graphql"),
    ]
    assert entries[0].role == "property_firm" and entries[0].detail["variables"]["first"] == 5
    assert entries[0].detail["variables"]["scope"]  # the @area default, worked out for the caller
    assert entries[0].detail["token"] != "-"
    assert any(entry.target == "cached-cases@1" for entry in shared_hub.audit("shared.publish"))
