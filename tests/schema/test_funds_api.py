"""The owners' money over the API, as each kind of user meets it (a hub on loopback over SQLite,
the conformance suite's city, real tokens): an owner reads its house's account and an inclusion
proof it checks itself, and nothing of another house or estate; a repair with a flagged emergency
authority is apportioned and debited, an underfunded or unauthorised one refused with nothing
changed; the firm enters public revenue, the committee confirms it once, the rest stays listed
as unconfirmed; a street publishes a period and reads its statement, another street reads
nothing; the shipped shared queries answer as CSV; no answer names an owner."""

from __future__ import annotations

import csv
import datetime as dt
import io
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph import merkle, open_store
from graph.ciphers.keyring import Keyring
from graph.funds.journal import EntryKind, FundEntry
from graph.funds.service import Funds
from graph.votes.records import Committee, Member
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.graph.conformance import (
    B_A1,
    B_A2,
    E_A,
    E_B,
    FIRM_2,
    FIRM_3,
    OWNER_B,
    OWNER_D,
    ST_A,
    ST_B,
    T_HOUSE,
    fixture_city,
    fixture_places,
)
from tests.serving import TokenHolders, serve_app, served

CST = dt.timezone(dt.timedelta(hours=8))
NOV = dt.datetime(2026, 11, 3, 9, 0, tzinfo=CST)
HOUSES_A = sorted(p.code for p in fixture_places() if p.code.startswith((B_A1, B_A2)) and len(p.code) == 28)
NAMES = ("张伟", "李娜", "王芳", "刘洋", "陈静", "赵磊")
ACCOUNT = """query($h: String!) { fundAccount(house: $h) {
  house estate estateName balanceFen balanceYuan firstDepositFen low entries
  history { index kind label amountFen ref }
  proof { index payload leafHash path head { size root signature publicKey signedText kind } }
} }"""


@dataclass
class FundHub(TokenHolders):
    url: str
    tokens: dict[str, str]
    client: httpx.Client
    public_key: str



async def _main(folder: Path, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        await store.write(fixture_city())
        today = dt.date.today()
        await store.save_committee(
            Committee("YWH-E_A-2026", E_A, (Member(OWNER_D, "主任"),), today - dt.timedelta(days=300), today + dt.timedelta(days=700))
        )
        funds = Funds(store, keys)
        await funds.ledger.book(
            [FundEntry(E_A, house, EntryKind.DEPOSIT, 300_000, NOV, f"statement:qd-centre:2026-11:{n}", "首次缴存") for n, house in enumerate(HOUSES_A)]
        )
        ttl = dt.timedelta(hours=2)
        tokens = {
            "owner_b": await issue_token(store, keys, "owner", OWNER_B, "李娜", ttl),
            "committee": await issue_token(store, keys, "committee", E_A, "海韵花园业主委员会", ttl),
            "firm": await issue_token(store, keys, "property_firm", FIRM_2, "八大关物业", ttl),
            "other_firm": await issue_token(store, keys, "property_firm", FIRM_3, "台东物业", ttl),
            "street": await issue_token(store, keys, "street", ST_A, "香港中路街道办事处", ttl),
            "other_street": await issue_token(store, keys, "street", ST_B, "八大关街道办事处", ttl),
            "city": await issue_token(store, keys, "city", "370200", "青岛市城市运行中心", ttl),
        }
    except BaseException:
        await store.close()
        raise
    app = create_app(store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000))
    await serve_app(app, sock, started, store=store, tokens=tokens, public_key=keys.sm2_public)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FundHub]:
    folder = tmp_path_factory.mktemp("funds")

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        await _main(folder, sock, started)

    with served(main, startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            yield FundHub(base, started["tokens"], client, started["public_key"])


def test_an_owner_reads_its_account_and_checks_the_proof_itself(hub: FundHub) -> None:
    account = hub.data("owner_b", ACCOUNT, {"h": T_HOUSE})["fundAccount"]
    assert (account["balanceFen"], account["balanceYuan"], account["firstDepositFen"], account["low"]) == (300_000, "3,000.00", 300_000, False)
    assert [entry["label"] for entry in account["history"]] == ["首次缴存"] and account["estateName"] == "海韵花园"
    proof = account["proof"]
    head = proof["head"]
    assert head["publicKey"] == hub.public_key
    leaf = merkle.leaf_hash(proof["payload"].encode())
    assert leaf.hex() == proof["leafHash"]
    path = [bytes.fromhex(node) for node in proof["path"]]
    assert merkle.verify_inclusion(leaf, proof["index"], head["size"], path, bytes.fromhex(head["root"]))
    from graph.ciphers import sm2

    assert sm2.verify(hub.public_key, head["signedText"].encode(), bytes.fromhex(head["signature"]))
    other = next(house for house in HOUSES_A if house != T_HOUSE)
    assert hub.data("owner_b", ACCOUNT, {"h": other})["fundAccount"] is None  # not its house: as if none
    statement = hub.data("owner_b", '{ fundStatement(estate: "%s", period: "2026-11") { openingFen closingFen } }' % E_A)
    assert statement["fundStatement"]["closingFen"] == 300_000 * len(HOUSES_A)
    assert "not a place you can see" in hub.error("owner_b", '{ fundStatement(estate: "%s", period: "2026-11") { closingFen } }' % E_B)


RAISE = """mutation($p: RepairProjectInput!) { raiseRepairProject(project: $p) {
  id status partName authority authorityText emergencyUse emergency budgetFen } }"""
COMPLETE = """mutation($id: String!, $cost: Int!) { completeRepairProject(id: $id, costFen: $cost) {
  id status costFen shares { house areaCentiM2 shareFen } } }"""


def test_repairs_are_debited_with_authority_and_refused_without(hub: FundHub) -> None:
    emergency = {
        "id": "WX-2026-LIFT", "part": B_A2, "title": "2号楼电梯困人抢修", "budgetFen": 400_000,
        "authority": "EMERGENCY", "authorityRef": "电梯困人，曳引机制动器失效", "emergency": "LIFT",
    }
    raised = hub.data("firm", RAISE, {"p": emergency})["raiseRepairProject"]
    assert raised["emergencyUse"] and raised["authorityText"].startswith("应急使用（电梯故障）") and raised["partName"] == "2号楼"
    done = hub.data("committee", COMPLETE, {"id": "WX-2026-LIFT", "cost": 398_765})["completeRepairProject"]
    assert done["status"] == "COMPLETED" and sum(s["shareFen"] for s in done["shares"]) == 398_765
    assert {s["house"] for s in done["shares"]} == {h for h in HOUSES_A if h.startswith(B_A2)}
    # unauthorised: a vote that does not exist; nothing recorded
    message = hub.error("committee", RAISE, {"p": {**emergency, "id": "WX-X", "authority": "VOTE", "authorityRef": "TP20260101000001", "emergency": None}})
    assert "names no vote" in message
    assert hub.data("city", '{ repairProject(id: "WX-X") { id } }')["repairProject"] is None
    # underfunded: 1号楼's accounts hold 3,000.00 each; a 40,000.00 repair is short everywhere
    hub.data("committee", RAISE, {"p": {**emergency, "id": "WX-ROOF", "part": B_A1, "budgetFen": 4_000_000, "emergency": "ROOF", "authorityRef": "屋面渗漏"}})
    before = hub.data("street", '{ fundTotals(places: ["%s"]) { balanceFen } }' % B_A1)["fundTotals"][0]["balanceFen"]
    message = hub.error("committee", COMPLETE, {"id": "WX-ROOF", "cost": 4_000_000})
    assert "too little in the fund" in message and B_A1 + "0101" in message
    assert hub.data("street", '{ fundTotals(places: ["%s"]) { balanceFen } }' % B_A1)["fundTotals"][0]["balanceFen"] == before
    assert hub.data("street", '{ repairProject(id: "WX-ROOF") { status } }')["repairProject"]["status"] == "APPROVED"
    # who may not: an owner raises nothing; another street sees nothing of these
    assert "forbidden" in hub.error("owner_b", RAISE, {"p": {**emergency, "id": "WX-Y"}})
    assert hub.data("other_street", '{ repairProject(id: "WX-2026-LIFT") { id } }')["repairProject"] is None
    assert hub.data("other_street", '{ fundTotals(places: ["%s"]) { balanceFen } }' % E_A)["fundTotals"] == [None]


ENTER = """mutation($e: String!, $entries: [RevenueInput!]!) { enterRevenue(estate: $e, entries: $entries) {
  index kind status amountFen by } }"""


def test_the_firm_enters_revenue_and_the_committee_confirms_it_once(hub: FundHub) -> None:
    entries = [
        {"kind": "INCOME", "amountFen": 1_200_000, "source": "LIFT_AD", "contract": "HT-2026-电梯广告-003",
         "periodStart": "2026-01-01", "periodEnd": "2026-06-30"},
        {"kind": "COST", "amountFen": 80_000, "costItem": "广告屏电费"},
        {"kind": "INCOME", "amountFen": 350_000, "source": "PARKING", "contract": "HT-2026-停车-001",
         "periodStart": "2026-07-01", "periodEnd": "2026-09-30"},
    ]
    made = hub.data("firm", ENTER, {"e": E_A, "entries": entries})["enterRevenue"]
    assert [(e["kind"], e["status"], e["by"]) for e in made] == [("INCOME", "UNCONFIRMED", FIRM_2), ("COST", "UNCONFIRMED", FIRM_2), ("INCOME", "UNCONFIRMED", FIRM_2)]
    first = made[0]["index"]
    confirmed = hub.data("committee", "mutation { confirmRevenue(estate: \"%s\", index: %d) { status decision } }" % (E_A, first))
    assert confirmed["confirmRevenue"]["status"] == "CONFIRMED"
    again = hub.error("committee", "mutation { confirmRevenue(estate: \"%s\", index: %d) { status } }" % (E_A, first))
    assert "decided" in again or "confirmed" in again
    objected = hub.data("committee", 'mutation { objectRevenue(estate: "%s", index: %d, reason: "电费无票据") { status } }' % (E_A, made[1]["index"]))
    assert objected["objectRevenue"]["status"] == "OBJECTED"
    # who may not
    assert "not an estate you manage" in hub.error("other_firm", ENTER, {"e": E_A, "entries": entries[:1]})
    assert "forbidden" in hub.error("firm", "mutation { confirmRevenue(estate: \"%s\", index: 2) { status } }" % E_A)
    assert "forbidden" in hub.error("owner_b", ENTER, {"e": E_A, "entries": entries[:1]})
    # the unconfirmed one is listed for the street; the totals say how much is confirmed
    waiting = hub.data("street", '{ revenueUnconfirmed(scope: "%s") { estate entry { index amountFen sourceLabel } } }' % ST_A)["revenueUnconfirmed"]
    assert [(w["estate"], w["entry"]["index"], w["entry"]["sourceLabel"]) for w in waiting] == [(E_A, made[2]["index"], "公共车位停车")]
    year = dt.datetime.now(CST).year
    totals = hub.data("street", '{ fundTotals(places: ["%s"], year: %d) { revenueFen confirmedRevenueFen confirmedShareBp unconfirmedEntries } }' % (E_A, year))
    assert totals["fundTotals"][0] == {"revenueFen": 1_550_000, "confirmedRevenueFen": 1_200_000, "confirmedShareBp": 7741, "unconfirmedEntries": 1}


def test_a_street_publishes_the_period_and_reads_the_statement(hub: FundHub) -> None:
    head = hub.data("street", 'mutation { publishFundPeriod(estate: "%s", period: "2026-11") { size kind root signature } }' % E_A)["publishFundPeriod"]
    assert head["kind"] == "period:2026-11" and head["size"] >= len(HOUSES_A)
    assert "forbidden" in hub.error("committee", 'mutation { publishFundPeriod(estate: "%s", period: "2026-11") { size } }' % E_A)
    query = """{ fundStatement(estate: "%s", period: "2026-11") { estateName period published openingFen depositsFen
      repairsFen closingFen entries head { size root } projects { id authorityText } revenue { incomeFen costFen ownersShareFen unconfirmed } } }""" % E_A
    statement = hub.data("city", query)["fundStatement"]
    assert statement["published"] and statement["openingFen"] == 0 and statement["head"]["size"] == head["size"]
    assert statement["depositsFen"] == 300_000 * len(HOUSES_A)
    assert statement["closingFen"] == statement["openingFen"] + statement["depositsFen"] - statement["repairsFen"]
    text = str(statement)
    assert not any(name in text for name in NAMES)  # the books name houses, never people
    heads = hub.data("committee", '{ fundHeads(estate: "%s") { kind size } }' % E_A)["fundHeads"]
    assert [h["kind"] for h in heads] == ["period:2026-11"]
    assert "not a place you can see" in hub.error("other_street", query)


def test_the_shipped_fund_queries_answer_as_csv(hub: FundHub) -> None:
    response = hub.client.get("/q/fund-balance-per-estate?format=csv", headers={"authorization": f"Bearer {hub.tokens['street']}"})
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row.get("place") for row in rows] == [E_A], response.text
    assert int(rows[0]["accounts"]) == len(HOUSES_A) and rows[0]["name"] == "海韵花园"
    response = hub.client.get("/q/repairs-this-year?format=csv", headers={"authorization": f"Bearer {hub.tokens['firm']}"})
    assert response.status_code == 200, response.text
    projects = {row["id"]: row for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    assert projects["WX-2026-LIFT"]["emergencyUse"] in ("True", "true")
    response = hub.client.get("/q/revenue-unconfirmed?format=csv", headers={"authorization": f"Bearer {hub.tokens['street']}"})
    assert response.status_code == 200, response.text
