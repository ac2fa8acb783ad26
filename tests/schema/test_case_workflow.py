"""The case workflow in GraphQL over real HTTP: openCase, dispatchCase, signCase, resolveCase,
rateCase and returnCase with each role's rights and scope (a firm cannot sign another firm's
case; an owner cannot open a case at someone else's house), the overdue filter and fields,
escalation as the API shows it, and case metrics on `caseMetrics`, `stats` rows and firms."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from graph.cases import CaseStatus
from graph.casework import Casework
from graph.clock import today
from graph.levels import Level
from graph.scope import Scope
from graph.sql import SqlStore
from graph.workflow import Workflow
from hub.auth.issuing import issue_token
from tests.case_city import DAY, CaseHub, build_city, case_at, serve_hub

EVERYTHING = Scope.everything()
CASE_FIELDS = """id status statusLabel source category severity firm { code } place { code }
  dispatchedAt signBy signedAt resolvedAt deadline rating overdue escalation escalationLabel escalatedAt
  history { fromStatus toStatus actor note }"""
OPEN = f"mutation ($input: OpenCaseInput!) {{ openCase(input: $input) {{ {CASE_FIELDS} }} }}"
DISPATCH = f"mutation ($id: ID!, $firm: String, $note: String) {{ dispatchCase(id: $id, firm: $firm, note: $note) {{ {CASE_FIELDS} }} }}"
SIGN = f"mutation ($id: ID!, $note: String) {{ signCase(id: $id, note: $note) {{ {CASE_FIELDS} }} }}"
RESOLVE = f"mutation ($id: ID!, $note: String!) {{ resolveCase(id: $id, note: $note) {{ {CASE_FIELDS} }} }}"
RATE = f"mutation ($id: ID!, $rating: Int!, $note: String) {{ rateCase(id: $id, rating: $rating, note: $note) {{ {CASE_FIELDS} }} }}"
RETURN = f"mutation ($id: ID!, $reason: String!) {{ returnCase(id: $id, reason: $reason) {{ {CASE_FIELDS} }} }}"
CASES = f"""query ($scope: String!, $overdue: Boolean) {{
  cases(scope: $scope, overdue: $overdue, first: 100) {{ totalCount edges {{ node {{ {CASE_FIELDS} }} }} }}
}}"""
METRIC_FIELDS = "cases due signedInTime resolved rated satisfied overdue responseRate resolutionRate satisfactionRate medianResolveSeconds"
METRICS = f"""query ($scope: String!, $by: Level!, $since: DateTime, $until: DateTime) {{
  caseMetrics(scope: $scope, groupBy: $by, since: $since, until: $until) {{ place {{ code }} {METRIC_FIELDS} }}
}}"""
STATS = f"""query ($scope: String!, $by: Level!) {{
  stats(scope: $scope, groupBy: $by) {{ place {{ code }} houses cases {{ {METRIC_FIELDS} }} }}
}}"""
FIRM = f"query ($code: String!) {{ firm(code: $code) {{ code caseMetrics {{ {METRIC_FIELDS} }} }} }}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseHub]:
    folder = tmp_path_factory.mktemp("case-workflow")
    city = asyncio.run(build_city(folder / "city.sqlite"))
    shutil.copy(city.path, folder / "hub.sqlite")

    async def prepare(store: SqlStore, shared: dict[str, Any]) -> None:
        estates = [e.code for e in city.estates]
        spans = await store.managements(estates, today(), EVERYTHING)
        managed = {estate: span[-1].firm_code for estate, span in zip(estates, spans) if span}
        first = next(code for code in estates if code in managed)
        second = next(code for code in estates if code in managed and managed[code] != managed[first] and code[:9] != first[:9])
        houses = (await store.subtree(Level.HOUSE, first, EVERYTHING, 50)).items
        held = await store.ownerships([h.code for h in houses], today(), EVERYTHING, with_owners=False)
        owned = [(house.code, spans[0].owner_id) for house, spans in zip(houses, held) if len(spans) == 1]
        (house, owner), (other_house, _) = owned[0], next(item for item in owned if item[1] != owned[0][1])
        shared.update(first=first, second=second, firm=managed[first], other_firm=managed[second], house=house,
                      other_house=other_house, street=first[:9], district=first[:6])
        tokens = {
            "admin": await issue_token(store, city.keys, "admin", "*", "ops", DAY),
            "street": await issue_token(store, city.keys, "street", first[:9], "街道 王科长", DAY),
            "firm": await issue_token(store, city.keys, "property_firm", managed[first], "物业 李经理", DAY),
            "other_firm": await issue_token(store, city.keys, "property_firm", managed[second], "物业 赵经理", DAY),
            "committee": await issue_token(store, city.keys, "committee", first, "业委会 钱主任", DAY),
            "owner": await issue_token(store, city.keys, "owner", owner, "业主 张三", DAY),
        }
        # a case dispatched a day ago and never signed for: overdue, and escalated by the sweep
        yesterday = dt.datetime.now(dt.timezone.utc) - DAY
        late = await Workflow(store, clock=lambda: yesterday).open_case(case_at(first, yesterday), actor="12345")
        shared.update(late=late.id)
        calls: list[int] = []
        place_metrics = store.case_tallies

        async def counted(codes: Any, scope: Scope, **kwargs: Any) -> Any:
            calls.append(len(codes))
            return await place_metrics(codes, scope, **kwargs)

        store.case_tallies = counted  # type: ignore[method-assign]
        shared.update(tokens=tokens, metric_calls=calls)

    with serve_hub(f"sqlite:///{folder / 'hub.sqlite'}", city.keys, prepare) as (url, shared):
        yield CaseHub.of(url, shared)


def _open(served: CaseHub, who: str, place: str | None, **extra: Any) -> dict[str, Any]:
    case_input = {"title": "楼道灯不亮", "category": "REPAIR", "description": "1单元楼道灯坏了", **extra}
    if place is not None:
        case_input["place"] = place
    opened: dict[str, Any] = served.data(who, OPEN, input=case_input)["openCase"]
    return opened


def test_an_owner_opens_a_case_at_its_house_and_it_goes_to_the_estates_firm(served: CaseHub) -> None:
    shared = served.shared
    opened = _open(served, "owner", shared["house"], severity="MAJOR")
    assert (opened["status"], opened["source"], opened["severity"]) == ("DISPATCHED", "OWNER", "major")
    assert opened["firm"] is None  # a firm is seen where it manages an estate in scope: not by an owner
    assert served.case(opened["id"]).firm_code == shared["firm"]
    assert opened["place"]["code"] == shared["house"] and opened["signBy"] and opened["deadline"] is None
    signed_within = dt.datetime.fromisoformat(opened["signBy"]) - dt.datetime.fromisoformat(opened["dispatchedAt"])
    assert signed_within == dt.timedelta(hours=1)  # repair: 2 h, halved for a major matter
    assert [(h["toStatus"], h["actor"]) for h in opened["history"]] == [("ACCEPTED", "业主 张三"), ("DISPATCHED", "hub:dispatch")]
    assert opened["overdue"] is False and opened["escalation"] is None


def test_an_owner_cannot_open_a_case_at_someone_elses_house(served: CaseHub) -> None:
    shared = served.shared
    before = served.run(served.store.case_page(EVERYTHING, 500)).items
    foreign = served.error("owner", OPEN, input={"title": "t", "category": "REPAIR", "place": shared["other_house"]})
    assert foreign == f"place: '{shared['other_house']}' is not a place you can see"
    unknown = served.error("owner", OPEN, input={"title": "t", "category": "REPAIR", "place": "370202001001GB99999F00010001"})
    assert unknown == "place: '370202001001GB99999F00010001' is not a place you can see"
    patrol = served.error("owner", OPEN, input={"title": "t", "category": "REPAIR", "place": shared["house"], "source": "PATROL"})
    assert patrol == "source: 'PATROL' is not a source you may report as; use OWNER"
    device = served.error("admin", OPEN, input={"title": "t", "category": "REPAIR", "place": shared["house"], "source": "DEVICE_ALARM"})
    assert "is not a source you may report as; use HOTLINE, OWNER, PATROL" in device
    street_code = served.error("admin", OPEN, input={"title": "t", "category": "REPAIR", "place": shared["street"]})
    assert "must be an estate, building, entrance or house" in street_code
    assert served.run(served.store.case_page(EVERYTHING, 500)).items == before  # nothing stored


def test_a_firm_signs_and_resolves_its_own_cases_only(served: CaseHub) -> None:
    shared = served.shared
    case = _open(served, "committee", shared["first"])
    assert case["source"] == "OWNER" and case["firm"]["code"] == shared["firm"]
    key = case["id"]
    foreign = served.error("other_firm", SIGN, id=key)
    unknown = served.error("other_firm", SIGN, id="GD19990101000001")
    assert foreign.replace(key, "X") == unknown.replace("GD19990101000001", "X")
    assert served.case(key).status is CaseStatus.DISPATCHED
    assert "forbidden: the committee role may not sign for cases" == served.error("committee", SIGN, id=key)
    signed = served.data("firm", SIGN, id=key, note="已签收")["signCase"]
    assert signed["status"] == "SIGNED" and signed["signedAt"] and signed["deadline"]
    assert dt.datetime.fromisoformat(signed["deadline"]) - dt.datetime.fromisoformat(signed["signedAt"]) == dt.timedelta(hours=24)
    assert served.error("firm", RESOLVE, id=key, note=" ") == "note: ' ' must say what was done to resolve the case"
    resolved = served.data("firm", RESOLVE, id=key, note="已更换灯泡")["resolveCase"]
    assert resolved["status"] == "RESOLVED" and resolved["resolvedAt"]
    assert [h["toStatus"] for h in resolved["history"]][-3:] == ["SIGNED", "IN_PROGRESS", "RESOLVED"]
    assert served.error("firm", RATE, id=key, rating=5) == "forbidden: the property_firm role may not rate cases"
    illegal = served.error("firm", SIGN, id=key)
    assert f"case {key} is resolved (办结): it may go to followed_up (回访), in_progress (办理) only" in illegal
    rated = served.data("committee", RATE, id=key, rating=5)["rateCase"]
    assert (rated["status"], rated["rating"]) == ("ARCHIVED", 5)


def test_an_unsatisfied_owner_reopens_the_work(served: CaseHub) -> None:
    key = _open(served, "owner", served.shared["house"])["id"]
    served.data("firm", SIGN, id=key)
    served.data("firm", RESOLVE, id=key, note="已处理")
    reopened = served.data("owner", RATE, id=key, rating=1, note="没修好")["rateCase"]
    assert (reopened["status"], reopened["rating"], reopened["resolvedAt"]) == ("IN_PROGRESS", 1, None)
    assert reopened["history"][-1]["note"] == "回访不满意（1分），重新办理：没修好"
    assert "rating: '9' must be 1" in served.error("owner", RATE, id=key, rating=9)


def test_returns_and_dispatch_by_the_administrations(served: CaseHub) -> None:
    shared = served.shared
    key = _open(served, "street", shared["first"], source="HOTLINE")["id"]
    assert "forbidden: the property_firm role may not dispatch cases" == served.error("firm", DISPATCH, id=key)
    assert served.error("firm", RETURN, id=key, reason="") == "reason: '' must say why the case is returned"
    returned = served.data("firm", RETURN, id=key, reason="属供水公司管网")["returnCase"]
    assert (returned["status"], returned["firm"], returned["signBy"]) == ("RETURNED", None, None)
    assert served.error("owner", DISPATCH, id=key) == "forbidden: the owner role may not dispatch cases"
    assert served.error("owner", RETURN, id=key, reason="x") == "forbidden: the owner role may not return cases"
    wrong = served.error("street", DISPATCH, id=key, firm="91370211MA3NB2RC4M")
    assert wrong == "firm: '91370211MA3NB2RC4M' is not a property firm the hub knows"
    again = served.data("street", DISPATCH, id=key, firm=shared["firm"], note="请再核实")["dispatchCase"]
    assert (again["status"], again["firm"]["code"], again["history"][-1]["actor"]) == ("DISPATCHED", shared["firm"], "街道 王科长")
    # a firm's return of a case dispatched elsewhere answers as an unknown id
    foreign = served.error("other_firm", RETURN, id=key, reason="x")
    assert foreign.replace(key, "X") == served.error("other_firm", RETURN, id="GD19990101000001", reason="x").replace("GD19990101000001", "X")


def test_overdue_cases_are_listed_flagged_and_escalated(served: CaseHub) -> None:
    shared = served.shared
    late = shared["late"]
    listed = served.data("street", CASES, scope=shared["street"], overdue=True)["cases"]
    nodes = {edge["node"]["id"]: edge["node"] for edge in listed["edges"]}
    assert late in nodes and all(node["overdue"] for node in nodes.values())
    on_time = served.data("street", CASES, scope=shared["street"], overdue=False)["cases"]
    assert late not in {edge["node"]["id"] for edge in on_time["edges"]} and all(not e["node"]["overdue"] for e in on_time["edges"])
    everything = served.data("street", CASES, scope=shared["street"])["cases"]["totalCount"]
    assert listed["totalCount"] + on_time["totalCount"] == everything
    assert nodes[late]["escalation"] is None
    served.run(Workflow(served.store).escalate_due())  # 22 h past a 2 h period: to the street
    [node] = [e["node"] for e in served.data("street", CASES, scope=shared["street"], overdue=True)["cases"]["edges"] if e["node"]["id"] == late]
    assert (node["escalation"], node["escalationLabel"]) == ("STREET", "街道") and node["escalatedAt"]
    assert node["history"][-1] == {"fromStatus": "DISPATCHED", "toStatus": "DISPATCHED", "actor": "hub:escalation", "note": "逾期未签收，升级至街道"}


def test_case_metrics_per_place_on_stats_rows_and_per_firm(served: CaseHub) -> None:
    shared = served.shared
    _open(served, "owner", shared["house"])  # at least one case of the firm's
    now = dt.datetime.now(dt.timezone.utc)
    rows = served.data("admin", METRICS, scope=shared["district"], by="ESTATE")["caseMetrics"]
    by_estate = {row["place"]["code"]: row for row in rows}
    expected = served.run(Casework(served.store).case_metrics(shared["district"], Level.ESTATE, EVERYTHING, now=now))
    assert [row.key for row in expected] == [row["place"]["code"] for row in rows]
    for row in expected:
        shown = by_estate[row.key]
        assert (shown["cases"], shown["resolved"], shown["rated"], shown["satisfied"], shown["due"]) == (
            row.cases, row.resolved, row.rated, row.satisfied, row.due
        )
    first = by_estate[shared["first"]]
    listed = served.data("admin", CASES, scope=shared["first"])["cases"]
    assert first["cases"] == listed["totalCount"]
    assert first["overdue"] == sum(1 for edge in listed["edges"] if edge["node"]["overdue"])
    assert first["resolutionRate"] == pytest.approx(first["resolved"] / first["cases"])
    # stats rows carry the same figures, read for every row in one store call
    served.shared["metric_calls"].clear()
    stats = served.data("admin", STATS, scope=shared["district"], by="ESTATE")["stats"]
    assert {row["place"]["code"]: row["cases"]["cases"] for row in stats} == {code: row["cases"] for code, row in by_estate.items()}
    assert served.shared["metric_calls"] == [len(stats)]
    # the firm sees its own estates only, and its figures are those of its cases in scope
    firm_rows = served.data("firm", METRICS, scope=shared["district"], by="ESTATE")["caseMetrics"]
    [[firm_estates]] = [served.run(served.store.estates_of([shared["firm"]], today(), EVERYTHING))]
    assert {row["place"]["code"] for row in firm_rows} == {span.estate_code for span in firm_estates}
    firm = served.data("firm", FIRM, code=shared["firm"])["firm"]["caseMetrics"]
    dispatched = [e for e in listed["edges"] if (e["node"]["firm"] or {}).get("code") == shared["firm"]]
    assert firm["cases"] >= len(dispatched) > 0
    # another firm (which once managed one of the same estates, so it sees the firm) counts none
    # of these cases: none of them lies in its scope
    assert served.data("other_firm", FIRM, code=shared["firm"])["firm"]["caseMetrics"]["cases"] == 0
    # a period in the future holds nothing; a period running backwards is refused
    future = (now + DAY).isoformat()
    assert all(row["cases"] == 0 for row in served.data("admin", METRICS, scope=shared["district"], by="ESTATE", since=future)["caseMetrics"])
    backwards = served.error("admin", METRICS, scope=shared["district"], by="ESTATE", since=future, until=now.isoformat())
    assert "until" in backwards and "must be after since" in backwards
    above = served.error("admin", METRICS, scope=shared["first"], by="STREET")
    assert "groupBy" in above
