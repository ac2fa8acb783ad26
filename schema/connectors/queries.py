"""`connectors`, `connectorRuns`, `deadLetters` and the `runConnector` mutation.

Connectors are the hub's plumbing: their settings, errors and dead letters say what sources
hold and how they are reached, so only operators (admin) and the city see them. Everyone else
is told so plainly rather than shown an empty list that would look like "no connectors".

Reading runs closes the runs whose lease expired as abandoned first (connectors.leases), so the
API never shows a dead run as running. Dead letters may be asked for by a configured connector
or by a built-in source that sets records aside (`mqtt`, the device ingestion).
"""

from __future__ import annotations

from typing import TypeVar, cast

import strawberry
from strawberry.scalars import JSON

from connectors.config import ConnectorSet
from connectors.leases import close_abandoned
from graph import ledger
from graph.cursors import page_size
from graph.errors import HubError
from graph.model import Page
from graph.security import Role
from schema.connectors.types import (
    Connector,
    ConnectorRun,
    ConnectorRunConnection,
    DeadLetter,
    DeadLetterConnection,
    StreamCursor,
)
from schema.context import Info
from schema.errors import Forbidden
from schema.fields import field
from schema.relay import PageInfo

ALLOWED = frozenset({Role.ADMIN, Role.CITY})
SUCCESS_LOOKBACK = 200
"""How many recent runs `lag` looks through for the last successful one."""

T = TypeVar("T")


def _connectors(info: Info) -> ConnectorSet:
    if info.context.principal.role not in ALLOWED:
        raise Forbidden("forbidden: connectors are for admin and city roles")
    return info.context.connectors or ConnectorSet()


async def _close_abandoned(info: Info) -> None:
    await close_abandoned(info.context.store, f"the API ({info.context.principal.role.value} {info.context.principal.name})")


def _page_info(page: Page[T], after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=after is not None,
        start_cursor=page.start_cursor,
        end_cursor=page.end_cursor,
    )


async def _last_success(info: Info, name: str) -> ledger.ConnectorRun | None:
    after: str | None = None
    looked = 0
    while looked < SUCCESS_LOOKBACK:
        page = await info.context.store.runs(name, first=50, after=after)
        for run in page.items:
            if run.status is ledger.RunStatus.SUCCEEDED and run.finished_at is not None:
                return run
        looked += len(page.items)
        if not page.has_next:
            return None
        after = page.end_cursor
    return None


@strawberry.type
class ConnectorQueries:
    @field(description="The configured connectors with their last run, lag, cursors and dead letters (admin, city).")
    async def connectors(self, info: Info) -> list[Connector]:
        configured = _connectors(info)
        store = info.context.store
        await _close_abandoned(info)
        last = await store.last_runs(configured.names())
        found: list[Connector] = []
        for spec, run in zip(configured.specs, last):
            success = run if run is not None and run.status is ledger.RunStatus.SUCCEEDED else await _last_success(info, spec.name)
            found.append(
                Connector(
                    name=spec.name,
                    kind=spec.kind,
                    schedule_seconds=spec.every,
                    settings=cast(JSON, spec.redacted()),
                    last_run=ConnectorRun.of(run) if run is not None else None,
                    cursors=[
                        StreamCursor(stream=s.stream, cursor=s.cursor, updated_at=s.updated_at, run_id=s.run_id)
                        for s in await store.stream_states(spec.name)
                    ],
                    dead_letter_count=await store.dead_letter_count(spec.name),
                    last_success_at=success.finished_at if success is not None else None,
                )
            )
        return found

    @field(description="Runs of one connector (or all), newest first (admin, city).")
    async def connector_runs(
        self, info: Info, connector: str | None = None, first: int = 20, after: str | None = None
    ) -> ConnectorRunConnection:
        configured = _connectors(info)
        if connector is not None:
            configured.get(connector, field="connector")
        await _close_abandoned(info)
        page = await info.context.store.runs(connector, page_size(first), after)
        return ConnectorRunConnection(nodes=[ConnectorRun.of(r) for r in page.items], page_info=_page_info(page, after))

    @field(
        description="Records set aside by one connector or built-in source (`mqtt`), or by all, newest first; open "
        "ones only unless includeResolved (admin, city)."
    )
    async def dead_letters(
        self,
        info: Info,
        connector: str | None = None,
        first: int = 20,
        after: str | None = None,
        include_resolved: bool = False,
    ) -> DeadLetterConnection:
        configured = _connectors(info)
        if connector is not None:
            configured.check_letters_source(connector)
        page = await info.context.store.dead_letters(connector, page_size(first), after, include_resolved=include_resolved)
        return DeadLetterConnection(nodes=[DeadLetter.of(x) for x in page.items], page_info=_page_info(page, after))


@strawberry.type
class ConnectorMutations:
    @field(
        description="Start a sync of a connector now; with retry, it then retries the connector's open dead letters. "
        "Answers with the run, RUNNING (admin, city)."
    )
    async def run_connector(self, info: Info, name: str, full: bool = False, retry: bool = False) -> ConnectorRun:
        configured = _connectors(info)
        spec = configured.get(name)
        if configured.launcher is None:
            raise HubError("this hub cannot start connector runs (no scheduler or broker)")
        return ConnectorRun.of(await configured.launcher.launch(spec, full=full, trigger="api", retry=retry))
