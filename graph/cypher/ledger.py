"""The connector ledger on Cypher: runs, stream cursors and dead letters (`graph.ledger.Ledger`).

Runs are `:Run` nodes keyed by id, stream cursors `:StreamState` nodes keyed by (connector,
stream), dead letters `:DeadLetter` nodes keyed by `key` (connector, stream, record key and
reason as one JSON text) with an integer `id` taken from a `:Counter`. Every node is written
whole (`SET n = $map`, nulls left out), and each write is one statement:

- a run is replaced only while it is running (and, closing it, only while its lease is expired)
  by one conditional statement (`update_running_run`); which runs to close, and how a closed run
  reads, is `graph.ledger.LedgerRules`;
- `set_aside` takes as many ids as the call has letters from the counter (one atomic
  increment), then merges every letter in one statement: a new one takes its id, a known one
  keeps its own, its first sighting and its count plus this call's (`graph.ledger.group_letters`).

Lists are newest first, keyset-paged by (time in microseconds, id) with `graph.ledger`'s
cursors, the same ones the SQL adapter makes.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Collection, Sequence
from typing import Any

from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.ledger import (
    MAX_LETTER_CURSOR,
    ConnectorRun,
    DeadLetter,
    Lease,
    LedgerRules,
    Reason,
    RunCounts,
    RunStatus,
    StreamState,
    check_letters,
    check_run_id,
    check_states,
    group_letters,
    latest_states,
    ledger_cursor,
    ledger_position,
    payload_json,
)
from graph.model import Page
from graph.store import MAX_PAGE

index("Run", "id", unique=True)
index("Run", "connector")
index("Run", "status")  # close_abandoned reads the running ones of every connector
index("StreamState", "connector")
index("DeadLetter", "key", unique=True)
index("DeadLetter", "record_key")
index("DeadLetter", "connector")

_AFTER = "($at IS NULL OR {n}.{t} < $at OR ({n}.{t} = $at AND {n}.id < $key))"

SAVE_RUN = st.write("ledger.save_run", "MERGE (r:Run {id: $id}) SET r = $props RETURN r.id")
UPDATE_RUNNING = st.write(
    "ledger.update_running_run",
    # the lock property takes Neo4j's write lock on the run before its status is read, so a
    # renewal and a closing (or two closings) cannot both pass; FalkorDB runs writes one at a
    # time anyway. The whole-map SET that follows drops it.
    "MATCH (r:Run {id: $id}) SET r.lock = $lock WITH r UNWIND CASE WHEN r.status = 'running' "
    "AND ($expired_before IS NULL OR r.lease_expires_at < $expired_before) THEN [1] ELSE [] END AS go "
    "SET r = $props RETURN r.id",
)
RUN = st.read("ledger.run", "MATCH (r:Run {id: $id}) RETURN properties(r)")
_RUNS_TAIL = (
    "($status IS NULL OR r.status = $status) AND " + _AFTER.format(n="r", t="started_at")
    + " RETURN properties(r) ORDER BY r.started_at DESC, r.id DESC LIMIT $limit"
)
RUNS = {
    # one connector's runs are found through the indexed connector; all runs by the label
    "one": st.read("ledger.runs.connector", f"MATCH (r:Run {{connector: $connector}}) WHERE {_RUNS_TAIL}"),
    "status": st.read("ledger.runs.status", f"MATCH (r:Run {{status: $status}}) WHERE {_RUNS_TAIL}"),
    "all": st.read("ledger.runs.all", f"MATCH (r:Run) WHERE {_RUNS_TAIL}"),
}

STATES = st.read("ledger.stream_states", "MATCH (s:StreamState {connector: $connector}) RETURN properties(s)")
SAVE_STATES = st.write(
    "ledger.save_states",
    "UNWIND $rows AS row MERGE (s:StreamState {connector: row.connector, stream: row.stream}) SET s = row RETURN count(s)",
)
RESET_STATES = st.write(
    "ledger.reset_states", "MATCH (s:StreamState {connector: $connector}) DELETE s RETURN count(*)"
)

TAKE_IDS = st.write(
    "ledger.dead_letter_ids",
    "MERGE (n:Counter {name: 'dead_letter'}) ON CREATE SET n.value = 0 SET n.value = n.value + $count RETURN n.value",
)
SET_ASIDE = st.write(
    "ledger.set_aside",
    "UNWIND $groups AS g MERGE (d:DeadLetter {key: g.key}) ON CREATE SET d = g.created "
    "ON MATCH SET d.lock = g.key, d = {key: d.key, id: d.id, connector: d.connector, stream: d.stream, record_key: d.record_key, "
    "reason: d.reason, run_id: d.run_id, first_at: d.first_at, first_detail: d.first_detail, seen: d.seen + g.seen, "
    "last_run_id: g.latest.last_run_id, at: g.latest.at, detail: g.latest.detail, payload: g.latest.payload, "
    "candidates: g.latest.candidates, retryable: g.latest.retryable, cursor: g.latest.cursor} "
    "RETURN sum(CASE WHEN d.id = g.created.id THEN 1 ELSE 0 END)",
)
RESOLVE = st.write(
    "ledger.resolve",
    "UNWIND $keys AS k MATCH (d:DeadLetter {record_key: k}) WHERE d.connector = $connector AND d.stream = $stream "
    "SET d.lock = $run WITH d UNWIND CASE WHEN d.resolved_at IS NULL THEN [1] ELSE [] END AS go "
    "SET d.resolved_at = $at, d.resolved_by_run = $run RETURN count(d)",
)
_LETTERS_TAIL = (
    "($resolved OR d.resolved_at IS NULL) AND ($stream IS NULL OR d.stream = $stream) "
    "AND ($reasons IS NULL OR d.reason IN $reasons) AND ($retryable IS NULL OR d.retryable = $retryable) "
    f"AND {_AFTER.format(n='d', t='at')} RETURN properties(d) ORDER BY d.at DESC, d.id DESC LIMIT $limit"
)
LETTERS = {
    "one": st.read("ledger.dead_letters.connector", f"MATCH (d:DeadLetter {{connector: $connector}}) WHERE {_LETTERS_TAIL}"),
    "all": st.read("ledger.dead_letters.all", f"MATCH (d:DeadLetter) WHERE {_LETTERS_TAIL}"),
}
LETTER_COUNT = st.read(
    "ledger.dead_letter_count",
    "MATCH (d:DeadLetter {connector: $connector}) WHERE d.resolved_at IS NULL RETURN count(d)",
)


def _run_props(run: ConnectorRun) -> dict[str, Any]:
    lease, counts = run.lease, run.counts
    return values.present({
        "id": run.id,
        "connector": run.connector,
        "started_at": values.micros(run.started_at),
        "finished_at": values.micros(run.finished_at),
        "heartbeat_at": values.micros(run.heartbeat_at),
        "status": run.status.value,
        "full_read": run.full,
        "trigger": run.trigger,
        "read": counts.read,
        "written": counts.written,
        "unchanged": counts.unchanged,
        "dead_lettered": counts.dead_lettered,
        "duplicates": counts.duplicates,
        "retried": counts.retried,
        "resolved": counts.resolved,
        "places_added": counts.places_added,
        "error": run.error,
        "lease_pid": None if lease is None else lease.pid,
        "lease_host": None if lease is None else lease.host[:255],
        "lease_expires_at": None if lease is None else values.micros(lease.expires_at),
        "closed_at": values.micros(run.closed_at),
        "closed_by": None if run.closed_by is None else run.closed_by[:400],
    })


def _run(props: dict[str, Any]) -> ConnectorRun:
    started = values.from_micros(props["started_at"])
    assert started is not None
    lease = None
    if props.get("lease_expires_at") is not None:
        expires = values.from_micros(props["lease_expires_at"])
        assert expires is not None
        lease = Lease(int(props.get("lease_pid") or 0), props.get("lease_host") or "unknown", expires)
    return ConnectorRun(
        id=props["id"],
        connector=props["connector"],
        started_at=started,
        status=RunStatus(props["status"]),
        finished_at=values.from_micros(props.get("finished_at")),
        counts=RunCounts(*(int(props.get(name) or 0) for name in RunCounts.__slots__)),
        full=bool(props.get("full_read")),
        trigger=props["trigger"],
        error=props.get("error"),
        heartbeat_at=values.from_micros(props.get("heartbeat_at")),
        lease=lease,
        closed_at=values.from_micros(props.get("closed_at")),
        closed_by=props.get("closed_by"),
    )


def _letter(props: dict[str, Any]) -> DeadLetter:
    at, first_at = values.from_micros(props["at"]), values.from_micros(props["first_at"])
    assert at is not None
    return DeadLetter(
        connector=props["connector"],
        stream=props["stream"],
        record_key=props["record_key"],
        reason=Reason(props["reason"]),
        detail=props["detail"],
        payload=json.loads(props["payload"]),
        run_id=props["run_id"],
        at=at,
        candidates=tuple(json.loads(props["candidates"])),
        id=int(props["id"]),
        seen=int(props["seen"]),
        last_run_id=props.get("last_run_id"),
        first_at=first_at,
        first_detail=props.get("first_detail"),
        resolved_at=values.from_micros(props.get("resolved_at")),
        resolved_by_run=props.get("resolved_by_run"),
        cursor=props.get("cursor"),
        retryable=bool(props.get("retryable")),
    )


def _latest(letter: DeadLetter, run_id: str) -> dict[str, Any]:
    """What a letter set aside again replaces (nulls left out of the map the node is set to)."""
    return values.present({
        "last_run_id": run_id,
        "at": values.micros(letter.at),
        "detail": letter.detail,
        "payload": payload_json(letter.payload),
        "candidates": payload_json(list(letter.candidates)),
        "retryable": letter.retryable,
        "cursor": letter.cursor[:MAX_LETTER_CURSOR] if letter.cursor else None,
    })


def _clamp(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


class LedgerRecords(LedgerRules):
    """The ledger part of the store port on Cypher."""

    transport: Transport

    async def _page(
        self, statement: st.Statement, params: dict[str, Any], first: int, after: str | None, moment: str,
        convert: Any, *, numeric: bool,
    ) -> Page[Any]:
        first = _clamp(first)
        position = ledger_position(after, numeric=numeric)
        at = None if position is None else values.micros(position[0])
        key: str | int | None = None if position is None else (int(position[1]) if numeric else position[1])
        rows = await self.transport.run(statement, {**params, "at": at, "key": key, "limit": first + 1})
        shown = [row[0] for row in rows[:first]]
        marks = [ledger_cursor(values.from_micros(props[moment]) or dt.datetime.min, props["id"]) for props in shown]
        return Page(
            items=[convert(props) for props in shown],
            has_next=len(rows) > first,
            end_cursor=marks[-1] if marks else None,
            start_cursor=marks[0] if marks else None,
        )

    # -- runs --------------------------------------------------------------------------

    async def save_run(self, run: ConnectorRun) -> None:
        check_run_id(run)
        await self.transport.run(SAVE_RUN, {"id": run.id, "props": _run_props(run)})

    async def update_running_run(self, run: ConnectorRun, *, expired_before: dt.datetime | None = None) -> bool:
        params = {
            "id": run.id, "props": _run_props(run), "expired_before": values.micros(expired_before), "lock": secrets.token_hex(8),
        }
        return bool(await self.transport.run(UPDATE_RUNNING, params))

    async def run(self, run_id: str) -> ConnectorRun | None:
        rows = await self.transport.run(RUN, {"id": run_id})
        return _run(rows[0][0]) if rows else None

    async def runs(
        self, connector: str | None, first: int, after: str | None = None, *, status: RunStatus | None = None
    ) -> Page[ConnectorRun]:
        params = {"connector": connector, "status": None if status is None else status.value}
        statement = RUNS["one" if connector is not None else "status" if status is not None else "all"]
        return await self._page(statement, params, first, after, "started_at", _run, numeric=False)

    # -- stream cursors -----------------------------------------------------------------

    async def stream_states(self, connector: str) -> list[StreamState]:
        rows = await self.transport.run(STATES, {"connector": connector})
        states = []
        for (props,) in rows:
            updated = values.from_micros(props["updated_at"])
            assert updated is not None
            states.append(StreamState(props["connector"], props["stream"], props.get("cursor"), updated, props["run_id"]))
        return sorted(states, key=lambda state: state.stream)

    async def save_states(self, states: Sequence[StreamState]) -> None:
        check_states(states)
        rows = [
            values.present({
                "connector": state.connector,
                "stream": state.stream,
                "cursor": state.cursor,
                "updated_at": values.micros(state.updated_at),
                "run_id": state.run_id,
            })
            for state in latest_states(states)
        ]
        if rows:
            await self.transport.run(SAVE_STATES, {"rows": rows})

    async def reset_states(self, connector: str) -> None:
        await self.transport.run(RESET_STATES, {"connector": connector})

    # -- dead letters ---------------------------------------------------------------------

    async def set_aside(self, letters: Sequence[DeadLetter]) -> int:
        check_letters(letters)
        groups = group_letters(letters)
        if not groups:
            return 0
        [(last_id,)] = await self.transport.run(TAKE_IDS, {"count": len(groups)})
        rows = []
        for number, group in enumerate(groups, start=int(last_id) - len(groups) + 1):
            first, last = group.first, group.last
            latest = _latest(last, last.run_id)
            created = {
                "key": json.dumps(list(group.identity[:3]) + [first.reason.value], ensure_ascii=False),
                "id": number,
                "connector": first.connector,
                "stream": first.stream,
                "record_key": first.record_key,
                "reason": first.reason.value,
                "run_id": first.run_id,
                "first_at": values.micros(first.at),
                "first_detail": first.detail,
                "seen": group.seen,
                **latest,
            }
            rows.append({"key": created["key"], "seen": group.seen, "created": created, "latest": latest})
        [(new,)] = await self.transport.run(SET_ASIDE, {"groups": rows})
        return int(new or 0)

    async def resolve(self, connector: str, stream: str, keys: Sequence[str], run_id: str, at: dt.datetime) -> int:
        unique = list(dict.fromkeys(keys))
        if not unique:
            return 0
        params = {"keys": unique, "connector": connector, "stream": stream, "run": run_id, "at": values.micros(at)}
        [(resolved,)] = await self.transport.run(RESOLVE, params)
        return int(resolved)

    async def dead_letters(
        self,
        connector: str | None,
        first: int,
        after: str | None = None,
        *,
        stream: str | None = None,
        reasons: Collection[Reason] | None = None,
        include_resolved: bool = False,
        retryable: bool | None = None,
    ) -> Page[DeadLetter]:
        params = {
            "connector": connector,
            "resolved": include_resolved,
            "stream": stream,
            "reasons": None if reasons is None else sorted(reason.value for reason in reasons),
            "retryable": retryable,
        }
        statement = LETTERS["all" if connector is None else "one"]
        return await self._page(statement, params, first, after, "at", _letter, numeric=True)

    async def dead_letter_count(self, connector: str) -> int:
        [(count,)] = await self.transport.run(LETTER_COUNT, {"connector": connector})
        return int(count)
