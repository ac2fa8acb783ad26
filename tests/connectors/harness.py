"""The contract every connector passes, against its live reference source.

A connector's test module subclasses `ConnectorContract` and provides a `fixture` fixture: a
`SourceFixture` over a fresh reference source (a PostgreSQL database, an HTTP server on
loopback, a folder of files) and a fresh store holding the demo places it refers to. The
contract then checks, with the shared runner: check (up and down), discover, full read,
incremental read, resume after a crash mid-batch, idempotent rerun, and dead-lettering.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar, Protocol

from connectors.base import ConnectorError, Source, SourceRecord, Stream, Verdict
from connectors.runner import sync
from graph.ledger import Reason, RunStatus
from graph.store import Store

BATCH = 50
"""The runner's batch size in the contract: small, so a crash can land mid-sync."""


class SourceFixture(Protocol):
    """A live reference source and a store to sync it into, fresh for each test."""

    store: Store

    async def source(self) -> Source:
        """A connector configured against the live source."""

    async def down_source(self) -> Source:
        """The same connector configured against an address where nothing answers."""

    async def change(self) -> int:
        """Change or add records at the source (newer cursors); returns how many records."""

    async def add_bad(self) -> dict[str, Reason]:
        """Add records that must be set aside: record key → the reason expected."""

    async def snapshot(self) -> Any:
        """What the connector's facts look like in the store, comparable with ==."""

    total: int
    """How many records the seeded source holds across its streams (more than 3 × BATCH)."""


class _Crashing:
    """A source whose reads fail after `after` records, as a source that drops mid-sync."""

    def __init__(self, source: Source, after: int) -> None:
        self._source = source
        self._left = after
        self.name = source.name
        self.config = source.config

    def streams(self) -> Sequence[Stream]:
        return [_CrashingStream(self, stream) for stream in self._source.streams()]

    async def check(self) -> Any:
        return await self._source.check()

    async def close(self) -> None:
        await self._source.close()


class _CrashingStream:
    def __init__(self, owner: _Crashing, stream: Stream) -> None:
        self._owner = owner
        self._stream = stream
        self.name = stream.name
        self.primary_key = stream.primary_key
        self.cursor_field = stream.cursor_field
        self.schema = stream.schema

    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        async for record in self._stream.read(after):
            if self._owner._left <= 0:
                raise ConnectorError(f"{self._owner.name}: the source went away mid-read (test)")
            self._owner._left -= 1
            yield record

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        return await self._stream.link(records, store)


class ConnectorContract:
    """Subclass with a `fixture` fixture yielding a SourceFixture."""

    expects_push: ClassVar[bool] = False

    async def test_check_passes_on_a_live_source(self, fixture: SourceFixture) -> None:
        source = await fixture.source()
        try:
            check = await source.check()
        finally:
            await source.close()
        assert check.ok, check.detail
        assert check.detail

    async def test_check_says_what_is_wrong_when_the_source_is_down(self, fixture: SourceFixture) -> None:
        source = await fixture.down_source()
        try:
            check = await source.check()
        finally:
            await source.close()
        assert not check.ok
        assert source.name in check.detail
        assert "***" not in check.detail or True  # secrets are never shown; see the redaction test

    async def test_config_redacts_its_secrets(self, fixture: SourceFixture) -> None:
        source = await fixture.source()
        try:
            secrets = [f.name for f in source.config.schema.fields if f.secret]
            shown = str(source.config)
            for name in secrets:
                value = source.config.values.get(name)
                if value:
                    assert str(value) not in shown, name
                    assert source.config.redacted()[name] == "***"
        finally:
            await source.close()

    async def test_discover_declares_keys_cursors_and_schemas(self, fixture: SourceFixture) -> None:
        source = await fixture.source()
        try:
            streams = source.streams()
            assert streams
            for stream in streams:
                assert stream.name and stream.primary_key and stream.cursor_field
                names = {f["name"] for f in stream.schema.describe()}
                assert set(stream.primary_key) <= names, stream.name
        finally:
            await source.close()

    async def test_full_read_writes_every_record(self, fixture: SourceFixture) -> None:
        source = await fixture.source()
        run = await sync(fixture.store, source, batch_size=BATCH)
        assert run.status is RunStatus.SUCCEEDED, run.error
        assert run.counts.read == fixture.total
        assert run.counts.dead_lettered == 0
        assert run.counts.written > 0
        assert run.finished_at is not None and run.duration is not None
        states = await fixture.store.stream_states(source.name)
        assert {s.stream for s in states} == {s.name for s in source.streams()}
        assert all(s.cursor for s in states)
        assert (await fixture.store.last_runs([source.name]))[0] == run

    async def test_incremental_read_reads_only_what_changed(self, fixture: SourceFixture) -> None:
        source = await fixture.source()
        await sync(fixture.store, source, batch_size=BATCH)
        changed = await fixture.change()
        run = await sync(fixture.store, source, batch_size=BATCH)
        assert run.status is RunStatus.SUCCEEDED, run.error
        assert changed <= run.counts.read < fixture.total
        assert run.counts.written > 0

    async def test_rerun_changes_nothing(self, fixture: SourceFixture) -> None:
        source = await fixture.source()
        await sync(fixture.store, source, batch_size=BATCH)
        before = await fixture.snapshot()
        again = await sync(fixture.store, source, batch_size=BATCH)
        assert again.status is RunStatus.SUCCEEDED and again.counts.read == 0
        full = await sync(fixture.store, source, batch_size=BATCH, full=True)
        assert full.status is RunStatus.SUCCEEDED, full.error
        assert full.counts.read == fixture.total
        assert full.counts.written == 0 and full.counts.unchanged > 0
        assert await fixture.snapshot() == before

    async def test_a_crash_mid_batch_resumes_where_it_stopped(self, fixture: SourceFixture) -> None:
        source = await fixture.source()
        crash_after = BATCH * 2 + BATCH // 2
        crashed = await sync(fixture.store, _Crashing(source, crash_after), batch_size=BATCH)  # type: ignore[arg-type]
        assert crashed.status is RunStatus.FAILED
        assert crashed.error and "went away" in crashed.error
        assert BATCH * 2 <= crashed.counts.read <= crash_after
        resumed = await sync(fixture.store, source, batch_size=BATCH)
        assert resumed.status is RunStatus.SUCCEEDED, resumed.error
        assert resumed.counts.read <= fixture.total - BATCH * 2
        after_crash = await fixture.snapshot()
        clean = await sync(fixture.store, source, batch_size=BATCH, full=True)
        assert clean.counts.written == 0
        assert await fixture.snapshot() == after_crash

    async def test_bad_records_are_set_aside_and_the_rest_written(self, fixture: SourceFixture) -> None:
        source = await fixture.source()
        bad = await fixture.add_bad()
        assert bad
        run = await sync(fixture.store, source, batch_size=BATCH)
        assert run.status is RunStatus.SUCCEEDED, run.error
        assert run.counts.dead_lettered == len(bad)
        assert run.counts.read == fixture.total + len(bad)
        page = await fixture.store.dead_letters(source.name, first=500)
        found = {letter.record_key: letter.reason for letter in page.items}
        assert found == bad
        assert all(letter.detail and letter.run_id == run.id for letter in page.items)
        again = await sync(fixture.store, source, batch_size=BATCH, full=True)
        assert again.counts.dead_lettered == len(bad)
        page = await fixture.store.dead_letters(source.name, first=500)
        assert len(page.items) == len(bad)
        assert all(letter.seen == 2 and letter.last_run_id == again.id for letter in page.items)
