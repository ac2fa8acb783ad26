"""The hash-chained audit log: its encoding, its chain rule, the SQL appends, and tampering.

The adversary of these tests has the database: it edits the `audit` table with SQL behind the
hub's back. Everything it does within the chain is caught without help; what it does at the end
of the chain (cut off the newest entries, or recompute every hash after the point it changed)
leaves a chain intact in itself and is caught only against a head recorded earlier (the
`expected_head` anchor, `hub audit verify --head`). Both halves are tested, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import hub.commands.audit as audit_command
from graph import audit
from graph.audit import GENESIS, Finding, Verifier, chain, entry_hash, hash_of, parse_head, verify
from graph.ciphers.keyring import Keyring
from graph.ciphers.sealing import Sealer
from graph.errors import InvalidInput
from graph.security import AuditDraft, AuditEntry
from graph.sql import SqlStore, tables
from graph.sql import audit as sql_audit
from graph.sql.audit import AuditRecords
from hub.cli import main
from hub.commands.common import load_keys, settings_of


class Store(SqlStore, AuditRecords):
    """SqlStore with the audit mixin (a no-op once SqlStore inherits AuditRecords itself)."""


UTC = dt.timezone.utc
AT = dt.datetime(2026, 3, 1, 16, 30, 0, 123456, tzinfo=UTC)


def draft(number: int, **changes: Any) -> AuditDraft:
    values: dict[str, Any] = {
        "actor": "王芳" if number % 2 else "ops@370202",
        "role": "street" if number % 2 else "admin",
        "action": "read_owner",
        "target": f"Owner:o-{number}",
        "detail": {"fields": ["name", "phone"], "n": number, "街道": "八大湖"},
        "reason": "业主投诉回访" if number % 3 == 0 else None,
        "at": AT + dt.timedelta(seconds=number),
    }
    values.update(changes)
    return AuditDraft(**values)


def drafts(start: int, count: int) -> list[AuditDraft]:
    return [draft(number) for number in range(start, start + count)]


# -- the encoding and the chain rule, without a store ---------------------------------------


PINNED_ENCODING = (
    '{"action":"read_owner","actor":"王芳","at":"2026-01-02T03:04:05.678901Z",'
    '"detail":{"fields":["name"]},"prev_hash":"' + "0" * 64 + '","reason":null,'
    '"role":"street","seq":1,"target":"Owner:o-1"}'
)
PINNED_HASH = "3e4c4a99cba1197662930e20cc4be0ea4fe08f62771681e4f3fdb36a6ce71f1a"
"""Computed once through OpenSSL and checked against gmssl's pure-Python SM3; documented in the
docstring of graph.audit. If this changes, every stored chain stops verifying."""


def test_a_fixed_entry_has_the_documented_encoding_and_hash() -> None:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    content = (1, at, "王芳", "street", "read_owner", "Owner:o-1", {"fields": ["name"]}, None, GENESIS)
    assert audit.encoding(*content) == PINNED_ENCODING.encode("utf-8")
    assert entry_hash(*content) == PINNED_HASH
    assert audit.__doc__ is not None and PINNED_HASH in audit.__doc__


def test_the_encoding_is_canonical() -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))
    base = (1, AT, "a", "admin", "act", "t", {"b": 1, "a": {"y": 2, "x": 1}}, "为什么", GENESIS)
    encoded = audit.encoding(*base).decode("utf-8")
    assert '"at":"2026-03-01T16:30:00.123456Z"' in encoded
    assert '"detail":{"a":{"x":1,"y":2},"b":1}' in encoded  # keys sorted at every depth
    assert '"reason":"为什么"' in encoded and " " not in encoded
    # the same instant in another zone, and the same detail in another key order: the same hash
    same = (1, AT.astimezone(beijing), "a", "admin", "act", "t", {"a": {"x": 1, "y": 2}, "b": 1}, "为什么", GENESIS)
    assert entry_hash(*same) == entry_hash(*base)
    whole_seconds = (1, AT.replace(microsecond=0), *base[2:])
    assert '"at":"2026-03-01T16:30:00.000000Z"' in audit.encoding(*whole_seconds).decode()
    with pytest.raises(InvalidInput, match="time zone"):
        entry_hash(1, AT.replace(tzinfo=None), *base[2:])
    with pytest.raises(ValueError):
        entry_hash(1, AT, "a", "admin", "act", "t", {"x": float("nan")}, None, GENESIS)


def test_chain_numbers_and_links_entries_from_the_head() -> None:
    first = chain(drafts(1, 3), last_seq=0, last_hash=GENESIS)
    assert [entry.seq for entry in first] == [1, 2, 3]
    assert first[0].prev_hash == GENESIS
    assert [entry.prev_hash for entry in first[1:]] == [entry.hash for entry in first[:-1]]
    assert all(hash_of(entry) == entry.hash for entry in first)
    more = chain(drafts(4, 2), last_seq=3, last_hash=first[-1].hash)
    assert verify(first + more) is None
    assert verify([]) is None
    beijing = AT.astimezone(dt.timezone(dt.timedelta(hours=8)))
    local = chain([draft(1, at=beijing, detail={"k": (1, 2)})], last_seq=0, last_hash=GENESIS)
    assert local[0].at.tzinfo == UTC and local[0].detail == {"k": [1, 2]}  # as a store reads it back
    with pytest.raises(InvalidInput):
        chain(drafts(1, 1), last_seq=0, last_hash="xyz")


def _log(count: int = 10) -> list[AuditEntry]:
    return chain(drafts(1, count), last_seq=0, last_hash=GENESIS)


def _rehash(entries: list[AuditEntry], start: int = 0) -> list[AuditEntry]:
    """The adversary's recomputation: from index `start` on, every hash and link made consistent."""
    fixed = entries[:start]
    for entry in entries[start:]:
        previous = fixed[-1].hash if fixed else GENESIS
        linked = dataclasses.replace(entry, prev_hash=previous)
        fixed.append(dataclasses.replace(linked, hash=hash_of(linked)))
    return fixed


def test_verify_names_the_first_break_of_each_kind() -> None:
    log = _log()
    altered = log[:4] + [dataclasses.replace(log[4], actor="someone else")] + log[5:]
    assert verify(altered) == Finding(5, "altered", "entry 5 was altered: its content no longer matches its hash")

    assert verify(log[:5] + log[6:]) == Finding(6, "removed", "entry 6 is missing (removed?): 5 is followed by 7")
    assert verify(log[:5] + log[8:]) == Finding(6, "removed", "entries 6–8 are missing (removed?): 5 is followed by 9")
    assert verify(log[1:]) == Finding(1, "removed", "entry 1 is missing (removed?): the log starts at 2")

    out_of_order = verify(log[:6] + [log[3]] + log[6:])
    assert out_of_order is not None and (out_of_order.seq, out_of_order.kind) == (4, "reordered")
    assert out_of_order.message.startswith("entries out of order at 4")

    # entry 5 renumbered 4 (entry 4 removed) without recomputing: hashed for another position
    renumbered = log[:3] + [dataclasses.replace(entry, seq=entry.seq - 1) for entry in log[4:]]
    found = verify(renumbered)
    assert found is not None and (found.seq, found.kind) == (4, "reordered")
    assert found.message.startswith("entry 4 does not follow 3 (removed, inserted or reordered)")

    forged = dataclasses.replace(log[0], seq=11, prev_hash="f" * 64)
    forged = dataclasses.replace(forged, hash=hash_of(forged))
    found = verify(log + [forged])
    assert found is not None and (found.seq, found.kind) == (11, "inserted")
    assert found.message == (
        "entry 11 does not follow 10 (removed, inserted or reordered); it follows no entry of the log"
    )

    # a consistent forged entry 5 linked to 4, and the real 5 renumbered 6 with its hash recomputed
    forged_five = dataclasses.replace(log[4], target="Owner:forged")
    forged_five = dataclasses.replace(forged_five, hash=hash_of(forged_five))
    real_five = dataclasses.replace(log[4], seq=6)
    real_five = dataclasses.replace(real_five, hash=hash_of(real_five))
    found = verify(log[:4] + [forged_five, real_five])
    assert found is not None and (found.seq, found.kind) == (6, "inserted")
    assert found.message == "entry 6 does not follow 5 (removed, inserted or reordered); it follows entry 4"

    relinked = dataclasses.replace(log[6], prev_hash=log[4].hash)  # only prev_hash changed
    found = verify(log[:6] + [relinked] + log[7:])
    assert found == Finding(7, "altered", "entry 7 was altered: its prev_hash was changed")

    not_first = dataclasses.replace(log[1], seq=1)
    found = verify([dataclasses.replace(not_first, hash=hash_of(not_first))])
    assert found is not None and found.kind == "inserted" and "entry 1 does not start the chain" in found.message
    assert verify([dataclasses.replace(log[0], seq=0)]) == Finding(
        0, "inserted", "entry 0 cannot be in the log: entries are numbered from 1"
    )


def test_the_end_of_the_chain_needs_a_recorded_head() -> None:
    log = _log()
    head = (10, log[-1].hash)
    assert verify(log, expected_head=head) is None
    assert verify(log, expected_head=(6, log[5].hash)) is None  # a head recorded earlier; the log grew

    # truncation: what is left is a perfectly good chain
    assert verify(log[:7]) is None
    assert verify(log[:7], expected_head=head) == Finding(
        8, "removed", "entries after 7 are missing (removed?): the log ends at entry 7 but head 10 was recorded"
    )
    found = verify([], expected_head=head)
    assert found is not None and found.kind == "removed" and "the log is empty" in found.message

    # rewrite: entry 4 changed and every hash after it recomputed
    rewritten = _rehash(log[:3] + [dataclasses.replace(log[3], reason="编造的理由")] + log[4:], 3)
    assert verify(rewritten) is None
    found = verify(rewritten, expected_head=head)
    assert found is not None and (found.seq, found.kind) == (10, "altered")
    assert "rewritten" in found.message
    found = verify(rewritten, expected_head=(6, log[5].hash))  # found where the old anchor lies
    assert found is not None and found.seq == 6
    assert verify(rewritten, expected_head=(3, log[2].hash)) is None  # the anchor predates the change


def test_a_verifier_walks_pages_and_keeps_its_first_finding() -> None:
    log = _log()
    verifier = Verifier()
    for start in range(0, 10, 3):
        assert verifier.feed(log[start : start + 3]) is None
    assert verifier.finish() is None and verifier.count == 10 and verifier.last == log[-1]
    broken = Verifier()
    assert broken.feed(log[:2] + log[3:]) is not None
    first = Finding(3, "removed", "entry 3 is missing (removed?): 2 is followed by 4")
    assert broken.feed(log) == broken.finish() == first


def test_a_recorded_head_is_parsed_as_printed() -> None:
    digest = "ab" * 32
    assert parse_head(f"42:{digest}") == (42, digest)
    assert parse_head(f" 42:{digest.upper()} ") == (42, digest)
    for wrong in ("42", f"x:{digest}", "42:abc", f"-1:{digest}", f"42 {digest}"):
        with pytest.raises(InvalidInput, match="SEQ:HASH"):
            parse_head(wrong)


# -- the SQL store ------------------------------------------------------------------------------


@pytest.fixture
async def url(backend: str, request: pytest.FixtureRequest, sqlite_path: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{sqlite_path}"
    return str(await request.getfixturevalue("postgres_databases").create())


@pytest.fixture
async def store(url: str) -> AsyncIterator[Store]:
    opened = await Store.open(url, sealer=Sealer.generate())
    assert isinstance(opened, Store)
    try:
        yield opened
    finally:
        await opened.close()


async def _ten(store: Store) -> list[AuditEntry]:
    """Three appends: entries 1–4, 5–7, 8–10."""
    entries = []
    for start, count in ((1, 4), (5, 3), (8, 3)):
        entries += await store.append_audit(drafts(start, count))
    return entries


async def _sql(store: Store, *statements: str) -> None:
    """The adversary at work: plain SQL on the audit table, in one transaction."""
    async with store.engine.begin() as connection:
        for statement in statements:
            await connection.exec_driver_sql(statement)


async def _insert(store: Store, entry: AuditEntry) -> None:
    row = dataclasses.asdict(entry) | {"detail": audit.canonical_json(entry.detail)}
    async with store.engine.begin() as connection:
        await connection.execute(tables.audit.insert().values(**row))


async def _rewrite(store: Store, entries: list[AuditEntry]) -> None:
    async with store.engine.begin() as connection:
        for entry in entries:
            await connection.execute(
                tables.audit.update()
                .where(tables.audit.c.seq == entry.seq)
                .values(
                    detail=audit.canonical_json(entry.detail),
                    reason=entry.reason,
                    prev_hash=entry.prev_hash,
                    hash=entry.hash,
                )
            )


async def _verify(store: Store, expected_head: tuple[int, str] | None = None) -> Finding | None:
    return verify(await store.audit_entries(limit=1000), expected_head=expected_head)


async def test_appends_are_chained_and_read_back_as_written(store: Store) -> None:
    assert await store.append_audit([]) == []
    assert await store.audit_entries() == [] and await store.audit_tail() == []
    written = await _ten(store)
    assert [entry.seq for entry in written] == list(range(1, 11))
    assert await store.audit_entries() == written  # times, detail and all, on both backends
    assert await store.audit_entries(after=3, limit=4) == written[3:7]
    assert await store.audit_entries(after=10) == [] and await store.audit_entries(limit=0) == []
    assert await store.audit_tail(3) == written[-3:]
    assert await _verify(store) is None
    assert await _verify(store, (10, written[-1].hash)) is None
    # append and read: the store has no way to update or delete an entry
    public = [name for name in dir(AuditRecords) if not name.startswith("_")]
    assert public == ["append_audit", "audit_entries", "audit_tail"]


async def test_an_append_is_refused_whole_when_a_field_is_too_long(store: Store) -> None:
    await store.append_audit(drafts(1, 2))
    with pytest.raises(InvalidInput, match="audit target"):
        await store.append_audit([draft(3), draft(4, target="T" * 401)])
    assert [entry.seq for entry in await store.audit_entries()] == [1, 2]
    with pytest.raises(InvalidInput, match="time zone"):
        await store.append_audit([draft(3, at=AT.replace(tzinfo=None))])


async def test_concurrent_appends_leave_no_gap(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """20 appends at once from two stores (two pools, as two processes would be); with a single
    attempt each, so that the locks alone — not the retries — must keep them apart."""
    monkeypatch.setattr(sql_audit, "ATTEMPTS", 1)
    first = await Store.open(url, sealer=Sealer.generate())
    second = await Store.open(url, sealer=Sealer.generate())
    try:
        batches = [drafts(100 * number, 3) for number in range(20)]
        results = await asyncio.gather(
            *((first if number % 2 else second).append_audit(batch) for number, batch in enumerate(batches))
        )
        stored = await first.audit_entries()
    finally:
        await first.close()
        await second.close()
    assert [entry.seq for entry in stored] == list(range(1, 61))
    assert verify(stored) is None
    for batch, entries in zip(batches, results):
        seqs = [entry.seq for entry in entries]
        assert seqs == list(range(seqs[0], seqs[0] + 3))  # a batch is appended whole, in order
        assert [entry.target for entry in entries] == [item.target for item in batch]
        assert stored[seqs[0] - 1 : seqs[-1]] == entries


async def test_an_altered_entry_is_named(store: Store) -> None:
    await _ten(store)
    await _sql(store, """UPDATE audit SET detail = '{"fields":["name"],"n":5,"街道":"八大湖"}' WHERE seq = 5""")
    assert await _verify(store) == Finding(5, "altered", "entry 5 was altered: its content no longer matches its hash")


async def test_an_altered_time_or_reason_is_named(store: Store) -> None:
    written = await _ten(store)
    audit_table = tables.audit
    async with store.engine.begin() as connection:
        later = written[2].at + dt.timedelta(microseconds=1)
        await connection.execute(audit_table.update().where(audit_table.c.seq == 3).values(at=later))
    found = await _verify(store)
    assert found is not None and (found.seq, found.kind) == (3, "altered")
    async with store.engine.begin() as connection:
        await connection.execute(audit_table.update().where(audit_table.c.seq == 3).values(at=written[2].at))
    assert await _verify(store) is None
    await _sql(store, "UPDATE audit SET reason = NULL WHERE seq = 6")
    assert await _verify(store) == Finding(6, "altered", "entry 6 was altered: its content no longer matches its hash")


async def test_a_removed_entry_is_named(store: Store) -> None:
    await _ten(store)
    await _sql(store, "DELETE FROM audit WHERE seq = 6")
    assert await _verify(store) == Finding(6, "removed", "entry 6 is missing (removed?): 5 is followed by 7")


async def test_swapped_entries_are_named(store: Store) -> None:
    await _ten(store)
    await _sql(
        store,
        "UPDATE audit SET seq = -3 WHERE seq = 3",
        "UPDATE audit SET seq = 3 WHERE seq = 7",
        "UPDATE audit SET seq = 7 WHERE seq = -3",
    )
    found = await _verify(store)
    assert found is not None and (found.seq, found.kind) == (3, "reordered")
    assert found.message.startswith("entry 3 does not follow 2 (removed, inserted or reordered)")


async def test_a_removal_hidden_by_renumbering_is_named(store: Store) -> None:
    await _ten(store)
    await _sql(
        store,
        "DELETE FROM audit WHERE seq = 4",
        "UPDATE audit SET seq = -seq WHERE seq > 4",
        "UPDATE audit SET seq = -seq - 1 WHERE seq < 0",
    )
    found = await _verify(store)
    assert found is not None and (found.seq, found.kind) == (4, "reordered")
    assert found.message.startswith("entry 4 does not follow 3")


async def test_a_forged_entry_is_named(store: Store) -> None:
    written = await _ten(store)
    forged = dataclasses.replace(written[0], seq=11, target="Owner:nobody", prev_hash="f" * 64)
    await _insert(store, dataclasses.replace(forged, hash=hash_of(forged)))
    found = await _verify(store)
    assert found is not None and (found.seq, found.kind) == (11, "inserted")

    # in the middle: later entries pushed up by one to make room
    await _sql(
        store,
        "DELETE FROM audit WHERE seq = 11",
        "UPDATE audit SET seq = -seq WHERE seq >= 5",
        "UPDATE audit SET seq = -seq + 1 WHERE seq < 0",
    )
    middle = dataclasses.replace(forged, seq=5, prev_hash=entry_hash(1, AT, "x", "admin", "a", "t", {}, None, GENESIS))
    await _insert(store, dataclasses.replace(middle, hash=hash_of(middle)))
    found = await _verify(store)
    assert found is not None and (found.seq, found.kind) == (5, "inserted")
    assert found.message.startswith("entry 5 does not follow 4")


async def test_a_recomputed_chain_is_caught_only_by_a_recorded_head(store: Store) -> None:
    written = await _ten(store)
    anchor = (10, written[-1].hash)  # what `hub audit tail` printed and someone kept
    changed = [*written[:3], dataclasses.replace(written[3], detail={"fields": []}), *written[4:]]
    await _rewrite(store, _rehash(changed, 3)[3:])
    assert await _verify(store) is None  # the rewritten chain is consistent in itself
    found = await _verify(store, anchor)
    assert found is not None and (found.seq, found.kind) == (10, "altered")
    assert "rewritten" in found.message


async def test_cut_off_newest_entries_are_caught_only_by_a_recorded_head(store: Store) -> None:
    written = await _ten(store)
    anchor = (10, written[-1].hash)
    await _sql(store, "DELETE FROM audit WHERE seq > 7")
    assert await _verify(store) is None  # what is left is a perfectly good, shorter chain
    assert await _verify(store, anchor) == Finding(
        8, "removed", "entries after 7 are missing (removed?): the log ends at entry 7 but head 10 was recorded"
    )
    appended = await store.append_audit(drafts(20, 4))  # the log grows past the old head again
    assert appended[0].seq == 8 and appended[0].prev_hash == written[6].hash
    found = await _verify(store, anchor)
    assert found is not None and (found.seq, found.kind) == (10, "altered")


# -- hub audit verify | tail ----------------------------------------------------------------------


def _hub(argv: list[str]) -> int:
    return main(argv)


@pytest.fixture
def keyed(tmp_path: Path, sqlite_path: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`--db … --keys …` for a SQLite store and a fresh key file."""
    keys = tmp_path / "hub.keys"
    Keyring.generate().save(keys)
    if not issubclass(SqlStore, AuditRecords):  # until SqlStore inherits the mixin

        async def open_store(arguments: argparse.Namespace) -> Store:
            opened = await Store.open(settings_of(arguments).db, sealer=load_keys(arguments).sealer())
            assert isinstance(opened, Store)
            return opened

        monkeypatch.setattr(audit_command, "open_store", open_store)
    return ["--db", f"sqlite:///{sqlite_path}", "--keys", str(keys)]


def _with_store(url: str, keys: str, work: Any) -> Any:
    async def go() -> Any:
        store = await Store.open(url, sealer=Keyring.load(Path(keys)).sealer())
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def test_hub_audit_verify_and_tail(keyed: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # the audit commands never change the database they read, not even to create its schema
    assert _hub(["audit", "verify", *keyed]) == 2
    assert "run `hub db upgrade` first" in capsys.readouterr().err
    assert _hub(["db", "upgrade", *keyed]) == 0
    capsys.readouterr()
    assert _hub(["audit", "verify", *keyed]) == 0
    assert f"audit chain intact: 0 entries, head 0 {GENESIS}" in capsys.readouterr().out
    assert _hub(["audit", "tail", *keyed]) == 0
    assert "the audit log is empty" in capsys.readouterr().out

    async def fill(store: Store) -> list[AuditEntry]:
        entries = await store.append_audit(drafts(1, 4))
        entries += await store.append_audit(
            [draft(5, actor="李\x1b[2J", target="Owner:o-5", detail={"note": "x" * 200}, reason="核查\n第二行")]
        )
        return entries

    written = _with_store(keyed[1], keyed[3], fill)
    head = f"{written[-1].seq}:{written[-1].hash}"
    assert _hub(["audit", "verify", *keyed]) == 0
    out = capsys.readouterr().out
    assert f"audit chain intact: 5 entries, head 5 {written[-1].hash}" in out
    assert f"hub audit verify --head {head}" in out

    assert _hub(["audit", "tail", "-n", "3", *keyed]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["seq", "time", "(Beijing)", "actor/role", "action", "target", "reason", "detail"]
    assert [line.split()[0] for line in lines[1:4]] == ["3", "4", "5"]
    assert "2026-03-02 00:30:03" in lines[1]  # 16:30:03 UTC is half past midnight in Beijing
    assert "王芳/street" in lines[1] and "业主投诉回访" in lines[1]
    assert "\x1b" not in lines[3] and "李\\x1b[2J/street" in lines[3] and "核查\\n第二行" in lines[3]
    assert '{"note":"xxxxx' in lines[3] and lines[3].endswith("…")
    # columns line up: each heading starts where its cells start, counting CJK as two columns
    assert len({audit_command._width(line[: line.index("read_owner")]) for line in lines[1:4]}) == 1
    assert f"hub audit verify --head {head}" in lines[4]

    assert _hub(["audit", "verify", "--head", head, *keyed]) == 0
    assert "it still holds the recorded head 5" in capsys.readouterr().out


def test_hub_audit_verify_fails_on_tampering(keyed: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    written = _with_store(keyed[1], keyed[3], lambda store: store.append_audit(drafts(1, 6)))
    head = f"6:{written[-1].hash}"
    _with_store(keyed[1], keyed[3], lambda store: _sql(store, "DELETE FROM audit WHERE seq = 6"))
    assert _hub(["audit", "verify", *keyed]) == 0  # without the anchor, a cut-off end looks fine
    capsys.readouterr()
    assert _hub(["audit", "verify", "--head", head, *keyed]) == 1
    assert capsys.readouterr().out.strip() == (
        "audit chain broken (removed): entries after 5 are missing (removed?): "
        "the log ends at entry 5 but head 6 was recorded"
    )
    _with_store(keyed[1], keyed[3], lambda store: _sql(store, "UPDATE audit SET actor = 'x' WHERE seq = 2"))
    assert _hub(["audit", "verify", *keyed]) == 1
    assert "audit chain broken (altered): entry 2 was altered" in capsys.readouterr().out
    assert _hub(["audit", "verify", "--head", "6", *keyed]) == 2
    assert "must be SEQ:HASH" in capsys.readouterr().err


def test_hub_audit_verify_walks_the_log_in_pages(
    keyed: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_command, "PAGE", 4)
    _with_store(keyed[1], keyed[3], lambda store: store.append_audit(drafts(1, 10)))
    assert _hub(["audit", "verify", *keyed]) == 0
    assert "audit chain intact: 10 entries" in capsys.readouterr().out
    _with_store(keyed[1], keyed[3], lambda store: _sql(store, "DELETE FROM audit WHERE seq = 9"))
    assert _hub(["audit", "verify", *keyed]) == 1
    assert "entry 9 is missing (removed?): 8 is followed by 10" in capsys.readouterr().out
