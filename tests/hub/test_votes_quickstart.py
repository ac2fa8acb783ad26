"""A vote end to end as the README tells a new user: `hub demo` (SQLite), `hub serve`, the street
office organises, two owners cast, every refusal of a ballot, the close and its result, a receipt
checked against the signed final head, `hub votes verify` — and a ballot changed in the store
afterwards named by the verifier. Real subprocesses, real HTTP."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.logstore import SignedHead
from graph.merkle import leaf_hash, verify_consistency, verify_head, verify_inclusion
from hub.bench.http import free_port
from tests.hub.test_graph_demo import token_after

HUB = [sys.executable, "-m", "hub.cli"]
ENV = {**os.environ, "HUB_BROKER": "", "HUB_MQTT": ""}

CLOSES_AFTER = 6
"""Seconds the test's vote stays open: the casts and every refusal before the close took 0.4 s
run alone on 2 cores (a 15-fold margin for a busy machine); the test then waits for the close."""
MY_VOTES = "{ myVotes { id status title myHouses { houseCode canCast castBy } } }"
CAST = """mutation($vote: ID!, $house: String!, $choices: [ChoiceInput!]!) {
  castBallot(vote: $vote, house: $house, choices: $choices) {
    houseCode entries { item index leafHash payload } head { log size root at kind signature publicKey signedText } } }"""
ORGANISE = """mutation($input: OrganiseVoteInput!) { organiseVote(input: $input) { id status organiser { capacity } } }"""
CLOSE = """mutation($id: ID!) { closeVote(id: $id) { status result { ballots items { number passed quorum
  participation { houses heads area } choices { choice tally { houses areaCentiM2 } } } } } }"""


@dataclass
class Served:
    url: str
    folder: Path
    tokens: dict[str, str]

    def post(self, who: str, query: str, **variables: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {self.tokens[who]}"},
            timeout=120,
            trust_env=False,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, who: str, query: str, **variables: Any) -> dict[str, Any]:
        body = self.post(who, query, **variables)
        assert not body.get("errors"), body["errors"]
        return dict(body["data"])

    def error(self, who: str, query: str, **variables: Any) -> str:
        body = self.post(who, query, **variables)
        assert body.get("errors"), body
        return str(body["errors"][0]["message"])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("votes-demo")
    built = subprocess.run([*HUB, "demo", "--preset", "small", "--no-sources", "--quiet"], cwd=folder, capture_output=True, text=True, timeout=1200, env=ENV)
    assert built.returncode == 0, built.stderr
    output = built.stdout
    tokens = {
        "street": token_after(output, "street office"),
        "owner1": token_after(output, "owner 1 of estate"),
        "owner2": token_after(output, "owner 2 of estate"),
        "committee": token_after(output, "owners' committee of estate"),
    }
    port = free_port()
    server = subprocess.Popen([*HUB, "serve", "--port", str(port)], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/healthz", trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else "hub serve stopped"
            assert time.monotonic() < deadline, "hub serve did not come up"
            time.sleep(0.2)
        yield Served(base, folder, tokens)
    finally:
        server.terminate()
        server.communicate(timeout=30)


def _head(raw: dict[str, Any]) -> SignedHead:
    return SignedHead(raw["log"], raw["size"], bytes.fromhex(raw["root"]), dt.datetime.fromisoformat(raw["at"]), raw["kind"], bytes.fromhex(raw["signature"]))


def test_the_demo_has_a_meeting_under_way_and_a_finished_vote(hub: Served) -> None:
    [meeting] = hub.data("owner1", MY_VOTES)["myVotes"]
    assert meeting["status"] == "OPEN" and meeting["title"].startswith("首次业主大会")
    assert all(house["canCast"] and house["castBy"] is None for house in meeting["myHouses"])
    votes = hub.data("committee", "{ votes(status: [CLOSED]) { edges { node { id result { items { number passed } } } } } }")
    [finished] = [edge["node"] for edge in votes["votes"]["edges"]]
    assert [(item["number"], item["passed"]) for item in finished["result"]["items"]] == [(1, True), (2, False)]


def test_a_vote_end_to_end_as_the_readme_says(hub: Served) -> None:
    [meeting] = hub.data("owner1", MY_VOTES)["myVotes"]
    estate_houses = {who: hub.data(who, MY_VOTES)["myVotes"][0]["myHouses"][0]["houseCode"] for who in ("owner1", "owner2")}
    lines = hub.data("street", "query($code: String!) { house(code: $code) { ancestors { code level } } }", code=estate_houses["owner1"])
    estate = next(a["code"] for a in lines["house"]["ancestors"] if a["level"] == "ESTATE")
    now = dt.datetime.now(dt.timezone.utc)
    closes = now + dt.timedelta(seconds=CLOSES_AFTER)
    organised = hub.data(
        "street",
        ORGANISE,
        input={
            "place": estate,
            "title": "更换小区门禁",
            "recordDate": (now + dt.timedelta(hours=8)).date().isoformat(),
            "opensAt": now.isoformat(),
            "closesAt": closes.isoformat(),
            "items": [{"klass": 9, "form": "MOTION", "title": "更换小区门禁系统"}],
        },
    )["organiseVote"]
    vote = organised["id"]
    assert organised["organiser"]["capacity"] == "换届小组" and organised["id"] != meeting["id"]

    first = hub.data("owner1", CAST, vote=vote, house=estate_houses["owner1"], choices=[{"item": 1, "choice": "against"}])["castBallot"]
    changed = hub.data("owner1", CAST, vote=vote, house=estate_houses["owner1"], choices=[{"item": 1, "choice": "for"}])["castBallot"]
    second = hub.data("owner2", CAST, vote=vote, house=estate_houses["owner2"], choices=[{"item": 1, "choice": "for"}])["castBallot"]
    assert [e["index"] for e in (*first["entries"], *changed["entries"], *second["entries"])] == [0, 1, 2]

    # each refusal, and nothing recorded by any of them
    cast_one = {"vote": vote, "choices": [{"item": 1, "choice": "for"}]}
    assert "only owners do" in hub.error("committee", CAST, house=estate_houses["owner1"], **cast_one)
    assert "only owners do" in hub.error("street", CAST, house=estate_houses["owner1"], **cast_one)
    assert "is not a house you may cast for" in hub.error("owner1", CAST, house=estate_houses["owner2"], **cast_one)
    assert "not an item" in hub.error("owner1", CAST, vote=vote, house=estate_houses["owner1"], choices=[{"item": 2, "choice": "for"}])
    assert "must be for, against or abstain" in hub.error("owner1", CAST, vote=vote, house=estate_houses["owner1"], choices=[{"item": 1, "choice": "yes"}])
    assert "cannot be closed before" in hub.error("street", "mutation($id: ID!) { closeVote(id: $id) { status } }", id=vote)
    assert "only the vote's organiser" in hub.error("owner1", "mutation($id: ID!) { closeVote(id: $id) { status } }", id=vote)
    # another estate's committee cannot even see it: the same answer as an unknown vote
    assert hub.error("committee", "mutation($id: ID!) { closeVote(id: $id) { status } }", id=vote) == f"vote: '{vote}' is not a vote you can see"

    time.sleep(max(0.0, (closes - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 0.5)
    assert "no ballot is taken after" in hub.error("owner2", CAST, house=estate_houses["owner2"], **cast_one)
    result = hub.data("street", CLOSE, id=vote)["closeVote"]
    assert result["status"] == "CLOSED"
    [item] = result["result"]["items"]
    assert result["result"]["ballots"] == 3
    assert item["participation"]["houses"] == 2 and not item["quorum"] and not item["passed"]  # two houses of hundreds
    assert {c["choice"]: c["tally"]["houses"] for c in item["choices"]} == {"for": 2, "against": 0, "abstain": 0}

    # the receipts, checked against the signed final head as any owner can
    heads = hub.data("owner1", "query($id: ID!) { vote(id: $id) { heads(kind: \"final\") { log size root at kind signature publicKey signedText } } }", id=vote)
    [final_raw] = heads["vote"]["heads"]
    final = _head(final_raw)
    assert final.size == 3 and verify_head(final_raw["publicKey"], final)
    for receipt in (first, changed, second):
        [entry] = receipt["entries"]
        assert leaf_hash(entry["payload"].encode()).hex() == entry["leafHash"]
        proof = hub.data("owner1", "query($v: ID!, $i: Int!) { inclusionProof(vote: $v, index: $i) { size leafHash path root } }", v=vote, i=entry["index"])["inclusionProof"]
        assert proof["size"] == final.size and proof["root"] == final.root.hex()
        assert verify_inclusion(bytes.fromhex(entry["leafHash"]), entry["index"], final.size, [bytes.fromhex(p) for p in proof["path"]], final.root)
        head = _head(receipt["head"])
        assert verify_head(receipt["head"]["publicKey"], head)
        consistency = hub.data(
            "owner1", "query($v: ID!, $f: Int!) { consistencyProof(vote: $v, fromSize: $f) { toSize path fromRoot toRoot } }", v=vote, f=head.size
        )["consistencyProof"]
        assert verify_consistency(head.size, final.size, head.root, final.root, [bytes.fromhex(p) for p in consistency["path"]])

    verified = subprocess.run([*HUB, "votes", "verify", vote], cwd=hub.folder, capture_output=True, text=True, timeout=300, env=ENV)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "the published count redone and equal" in verified.stdout

    # a ballot changed in the store afterwards: against instead of for, and the verifier names it
    with sqlite3.connect(hub.folder / "hub.sqlite") as database:
        [payload] = database.execute("SELECT payload FROM merkle_entry WHERE log = ? AND \"index\" = 2", (f"vote:{vote}",)).fetchone()
        database.execute(
            "UPDATE merkle_entry SET payload = ? WHERE log = ? AND \"index\" = 2",
            (bytes(payload).replace(b'"choice":"for"', b'"choice":"against"'), f"vote:{vote}"),
        )
    tampered = subprocess.run([*HUB, "votes", "verify", vote], cwd=hub.folder, capture_output=True, text=True, timeout=300, env=ENV)
    assert tampered.returncode == 1, tampered.stdout
    assert "entry 2 is not what was appended" in tampered.stdout
    assert "the published result is not the count of the board's entries" in tampered.stdout
