"""Busy, not broken: under concurrent load on SQLite every request is answered, 200 or a JSON error.

What failed: a few dozen clients ran `GET /q/…` while the store's write lock was held (by a
writer of this hub or another process) for longer than SQLite's busy timeout; the audit append
of a run raised `database is locked`, the server logged "Exception in ASGI application" and the
client got no JSON. Here a tiny demo city in SQLite is served by uvicorn with SQLite's busy
timeout shortened to half a second, another process holds the database's write lock for
longer than that, and many clients with tokens of their own (each first request is a login,
audited) run shared queries, Open311 and GraphQL at once.

The store is served through `Faulty`, which forwards everything to the real store and can be
told to make the audit append fail, as an outage would, to check the answers to failures that
are not the store being busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

import graph.sql.engine
from graph.ciphers.keyring import Keyring
from graph.errors import StoreBusy
from graph.scope import Scope
from graph.security import AuditDraft, AuditEntry
from graph import open_store
from graph.sql import SqlStore
from graph.store import Store
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.case_city import DAY, build_city
from tests.serving import serve_app, served

BUSY_TIMEOUT_MS = 500
"""SQLite's own wait for the lock in this suite: the holder below outlasts it."""
CLIENTS = 40
STREET = "370202001"
EVERYTHING = Scope.everything()


class Faulty:
    """The store, with its audit append failing with `fault` while one is set."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self.fault: Exception | None = None

    async def append_audit(self, drafts: list[AuditDraft]) -> list[AuditEntry]:
        if self.fault is not None:
            raise self.fault
        return await self._store.append_audit(drafts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@dataclass
class BusyHub:
    url: str
    path: Path
    keys: Keyring
    store: SqlStore
    faulty: Faulty
    loop: asyncio.AbstractEventLoop
    estate: str

    def run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)

    def tokens(self, count: int, role: str = "street", scope: str = STREET) -> list[str]:
        """Fresh tokens: the first request of each is a login, written to the audit log."""
        return [self.run(issue_token(self.store, self.keys, role, scope, f"并发测试{index}", DAY)) for index in range(count)]

    @contextlib.contextmanager
    def held(self, seconds: float) -> Iterator[None]:
        """Another process holds the database's write lock for `seconds` from now."""
        with subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys, time\n"
                "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                "db.execute('BEGIN IMMEDIATE')\n"
                "print('held', flush=True)\n"
                "time.sleep(float(sys.argv[2]))\n"
                "db.execute('COMMIT')\n",
                str(self.path),
                str(seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        ) as holder:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            yield


@pytest.fixture(scope="module")
def busy_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusyHub]:
    folder = tmp_path_factory.mktemp("busy")
    path = folder / "hub.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        # every connection the engine opens, now or later, waits this long for the lock itself
        patch.setattr(graph.sql.engine, "BUSY_TIMEOUT_MS", BUSY_TIMEOUT_MS)

        async def main(sock: socket.socket, started: dict[str, Any]) -> None:
            city = await build_city(path)
            store = await open_store(f"sqlite:///{path}", sealer=city.keys.sealer())
            faulty = Faulty(store)
            app = create_app(
                cast(Store, faulty), keys=city.keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000), shared_cache_seconds=0.0
            )
            estate = next(item.code for item in city.estates if item.code.startswith(STREET))
            await serve_app(app, sock, started, store=store, faulty=faulty, keys=city.keys, estate=estate)

        with served(main, startup_seconds=300) as (base, started):
            yield BusyHub(base, path, started["keys"], started["store"], started["faulty"], started["loop"], started["estate"])


async def _shared_runs(url: str, tokens: list[str], rounds: int) -> list[httpx.Response | BaseException]:
    """Every client runs a shared query `rounds` times, all clients at once."""

    async def client(token: str) -> list[httpx.Response | BaseException]:
        answers: list[httpx.Response | BaseException] = []
        async with httpx.AsyncClient(base_url=url, timeout=120, trust_env=False) as http:
            for _ in range(rounds):
                try:
                    answers.append(await http.get("/q/overdue-cases", params={"first": 5}, headers={"authorization": f"Bearer {token}"}))
                except httpx.HTTPError as error:  # a dropped connection: what must not happen
                    answers.append(error)
        return answers

    return [answer for answers in await asyncio.gather(*(client(token) for token in tokens)) for answer in answers]


def _json(response: httpx.Response | BaseException) -> dict[str, Any]:
    assert isinstance(response, httpx.Response), f"no answer: {response!r}"
    assert response.headers["content-type"].startswith("application/json"), (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    return body


def _entries(hub: BusyHub, action: str, after: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = hub.run(hub.store.audit_entries(after=after, limit=10_000))
    return [entry for entry in entries if entry.action == action]


def _head(hub: BusyHub) -> int:
    [last] = hub.run(hub.store.audit_tail(1))
    return int(last.seq)


def test_concurrent_shared_queries_wait_out_a_lock_held_past_the_busy_timeout(busy_hub: BusyHub) -> None:
    """Forty clients with fresh tokens run shared queries three times each while another process
    holds the write lock four times longer than SQLite waits: every answer is a 200 with data,
    and every login and every run is in the audit log."""
    tokens = busy_hub.tokens(CLIENTS)
    before = _head(busy_hub)
    with busy_hub.held(4 * BUSY_TIMEOUT_MS / 1000):
        answers = asyncio.run(_shared_runs(busy_hub.url, tokens, 3))
    for answer in answers:
        body = _json(answer)
        assert isinstance(answer, httpx.Response) and answer.status_code == 200, body
        assert body["name"] == "overdue-cases" and "cases" in body["data"]
    assert len(answers) == 3 * CLIENTS
    assert len(_entries(busy_hub, "login", before)) == CLIENTS
    assert len(_entries(busy_hub, "shared.run", before)) == 3 * CLIENTS


def test_a_store_busy_beyond_a_writers_patience_answers_503_with_retry_after(busy_hub: BusyHub) -> None:
    """When the lock is held longer than writers wait, what needed a write is refused as busy —
    a shared run, a first request (its login), an Open311 POST, a GraphQL mutation — each in its
    own JSON, nothing half written; reads go on; and once the lock is free, the same requests pass."""
    store = busy_hub.store
    [old, fresh] = busy_hub.tokens(2)
    assert httpx.get(busy_hub.url + "/healthz", trust_env=False).status_code == 200
    _json(httpx.get(busy_hub.url + "/q/overdue-cases", headers={"authorization": f"Bearer {old}"}, trust_env=False))
    cases_before = busy_hub.run(store.case_page(EVERYTHING, 500)).items
    open_case = 'mutation($p: String!) { openCase(input: {title: "楼道灯不亮", category: REPAIR, place: $p}) { id } }'
    patience, store.turns.patience = store.turns.patience, 1.0

    async def meanwhile() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=busy_hub.url, timeout=60, trust_env=False) as http:
            return list(
                await asyncio.gather(
                    http.get("/q/overdue-cases", headers={"authorization": f"Bearer {old}"}),
                    http.post("/graphql", json={"query": "{ levels { level } }"}, headers={"authorization": f"Bearer {fresh}"}),
                    http.post(
                        "/open311/v2/requests.json",
                        data={"api_key": old, "service_code": "repair", "address_id": busy_hub.estate, "description": "楼道灯不亮"},
                    ),
                    http.post("/graphql", json={"query": open_case, "variables": {"p": busy_hub.estate}}, headers={"authorization": f"Bearer {old}"}),
                    http.post("/graphql", json={"query": "{ levels { level } }"}, headers={"authorization": f"Bearer {old}"}),
                )
            )

    try:
        with busy_hub.held(4.0):
            shared, login, posted, mutation, read = asyncio.run(meanwhile())
    finally:
        store.turns.patience = patience
    for answer in (shared, login):
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1", answer.text
        assert _json(answer)["error"] == "busy" and "try again" in _json(answer)["reason"]
    assert posted.status_code == 503 and posted.headers["retry-after"] == "1"
    [problem] = _json(posted)
    assert problem["code"] == 503 and "busy" in problem["description"]
    [error] = _json(mutation)["errors"]
    assert error["extensions"]["code"] == "STORE_BUSY" and "try again" in error["message"]
    assert read.status_code == 200 and len(_json(read)["data"]["levels"]) == 8
    assert busy_hub.run(store.case_page(EVERYTHING, 500)).items == cases_before
    # not broken: the same requests pass now
    assert httpx.get(busy_hub.url + "/q/overdue-cases", headers={"authorization": f"Bearer {old}"}, trust_env=False).status_code == 200
    again = httpx.post(busy_hub.url + "/graphql", json={"query": "{ levels { level } }"}, headers={"authorization": f"Bearer {fresh}"}, trust_env=False)
    assert again.status_code == 200


def test_any_other_failure_is_a_json_500_with_nothing_of_its_insides(busy_hub: BusyHub, caplog: pytest.LogCaptureFixture) -> None:
    """A failure that is not the store being busy answers `internal error` as JSON — from a
    route (a shared run) and from the gate itself (a login) — and the operator's log, not the
    caller, gets the details."""
    [old, fresh] = busy_hub.tokens(2)
    _json(httpx.get(busy_hub.url + "/q/overdue-cases", headers={"authorization": f"Bearer {old}"}, trust_env=False))
    leak = "OperationalError: disk I/O error [SQL: INSERT INTO audit …] /work/graph/sql/audit.py"
    busy_hub.faulty.fault = RuntimeError(leak)
    try:
        with caplog.at_level(logging.ERROR, logger="hub.gate"), httpx.Client(base_url=busy_hub.url, timeout=60, trust_env=False) as http:
            shared = http.get("/q/overdue-cases", headers={"authorization": f"Bearer {old}"})
            login = http.post("/graphql", json={"query": "{ levels { level } }"}, headers={"authorization": f"Bearer {fresh}"})
    finally:
        busy_hub.faulty.fault = None
    for answer in (shared, login):
        assert answer.status_code == 500
        assert _json(answer) == {"error": "internal error", "reason": "internal error"}
        for internal in ("OperationalError", "SQL", "audit.py", "Traceback"):
            assert internal not in answer.text
    assert caplog.text.count(leak) >= 2


def test_a_store_busy_inside_the_gate_is_not_an_asgi_exception(busy_hub: BusyHub, caplog: pytest.LogCaptureFixture) -> None:
    """The server's own log never shows uvicorn's "Exception in ASGI application": the gate
    answered (and logged) the failure itself."""
    [fresh] = busy_hub.tokens(1)
    busy_hub.faulty.fault = StoreBusy("the store is busy: another process held its write lock for over 30 seconds; try again shortly")
    try:
        with caplog.at_level(logging.WARNING):
            answer = httpx.post(busy_hub.url + "/graphql", json={"query": "{ levels { level } }"}, headers={"authorization": f"Bearer {fresh}"}, trust_env=False)
    finally:
        busy_hub.faulty.fault = None
    assert answer.status_code == 503 and _json(answer)["error"] == "busy"
    assert "Exception in ASGI application" not in caplog.text
    assert "answered busy" in caplog.text


def test_a_personal_data_read_whose_audit_cannot_be_written_is_not_answered(busy_hub: BusyHub) -> None:
    """A read that showed owners whole must be audited: when the audit entry cannot be written
    (the store busy, or failing) the answer is withheld — no data, a GraphQL error saying busy
    or only "internal error" — never the personal data, never the failure's own words."""
    [admin] = busy_hub.tokens(1, role="admin", scope="*")
    query = "{ places(level: HOUSE, first: 20) { edges { node { ... on House { owners { owner { name idNumber } } } } } } }"
    headers = {"authorization": f"Bearer {admin}"}
    shown = httpx.post(busy_hub.url + "/graphql", json={"query": query}, headers=headers, trust_env=False)
    owners = [item["owner"] for edge in _json(shown)["data"]["places"]["edges"] for item in edge["node"]["owners"]]
    assert owners, "the tiny city's first houses have owners"
    busy = "the store is busy: another process held its write lock for over 30 seconds; try again shortly"
    for fault, code, message in ((StoreBusy(busy), "STORE_BUSY", busy), (RuntimeError("disk I/O error"), "INTERNAL_SERVER_ERROR", "internal error")):
        busy_hub.faulty.fault = fault
        try:
            answer = httpx.post(busy_hub.url + "/graphql", json={"query": query}, headers=headers, trust_env=False)
        finally:
            busy_hub.faulty.fault = None
        # withheld: no data, and the error says busy (with its code) or only "internal error"
        assert answer.status_code == 200 and _json(answer)["data"] is None, answer.text
        [error] = _json(answer)["errors"]
        assert error["extensions"]["code"] == code and error["message"] == message, error
        assert all(owner["idNumber"] not in answer.text and owner["name"] not in answer.text for owner in owners)
