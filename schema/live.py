"""Live updates over graphql-transport-ws: `alarms(scope)` and `caseUpdates(scope)`.

The event bus (graph.events) says only which alarm or case changed; each subscriber reads it
back through the store with its own scope, exactly as a query would, and keeps it only when it
lies under the place it subscribed to. An event about anything outside the caller's scope is
therefore never shown, whatever the event says. Loaders are cleared before each event so a
long-lived connection never answers from an old cache.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, TypeVar

import strawberry

from graph.errors import HubError
from graph import cases as domain_cases
from graph import devices as domain_devices
from graph.events import Topic
from graph.levels import Level
from graph.scope import Scope
from graph.security import Role
from schema.arguments import place_argument
from schema.cases.types import Case
from schema.context import Context, Info
from schema.errors import require_role
from schema.devices.types import Alarm
from schema.votes.access import readable
from schema.votes.types import Vote
from schema.fields import subscription

EVERYTHING = Scope.everything()

ScopeCode = Annotated[str, strawberry.argument(description="A place code: changes at it or under it.")]


class Unavailable(HubError):
    """This server publishes no live updates (it was built without an event bus)."""


@strawberry.type(description="An alarm that changed, and how: raised, acknowledged or cleared.")
class AlarmUpdate:
    kind: str
    alarm: Alarm


@strawberry.type(description="A case that changed, and how: opened, dispatched, signed, resolved, rated, returned, escalated, archived or moved.")
class CaseUpdate:
    kind: str
    case: Case


async def _under(context: Context, place_code: str | None, within: str, level: Level) -> bool:
    """Whether a place the caller may see lies at or under `within` (a record with no place is
    under the city only, as the store lists it)."""
    if place_code is None:
        return level is Level.CITY
    if place_code == within:
        return True
    # the record was read with the caller's scope already; its lineage is read whole, because a
    # caller may subscribe at a place above its scope (a district office at the city), as it may
    # list under it, and only whether `within` is among the ancestors is used
    [lineage] = await context.store.ancestors([place_code], EVERYTHING)
    return any(place.code == within for place in lineage)


Record = TypeVar("Record", domain_cases.Case, domain_devices.Alarm)


async def _follow(
    context: Context,
    topic: Topic,
    scope: str,
    read: Callable[[Sequence[str], Scope], Awaitable[Sequence[Record | None]]],
    place_of: Callable[[Record], str | None],
) -> AsyncIterator[tuple[str, Record]]:
    """(kind, record) for each event of `topic` whose record the caller sees at or under `scope`,
    read through `read` with the caller's own scope, with fresh loaders each time."""
    within, level = place_argument(scope, field="scope")
    if context.bus is None:
        raise Unavailable("live updates are not available on this server")
    # each subscription keeps its own loop over the bus rather than a shared inner generator:
    # closing a token's sockets cancels the outer generator, and a nested one would then end
    # the subscription with an error frame instead of closing quietly
    subscription = context.bus.subscribe(topic)
    try:
        async for event in subscription:
            context.forget()
            [record] = await read([event.id], context.scope)
            if record is not None and await _under(context, place_of(record), within, level):
                yield event.kind, record
    finally:
        subscription.close()


@strawberry.type(description="A vote that changed, and how: noticed, opened, participation (a ballot cast), closed (the result published) or cancelled.")
class VoteUpdate:
    kind: str
    vote: Vote


@strawberry.type
class Subscription:
    @subscription(description="Alarms raised, acknowledged or cleared at or under a place in your scope, as they happen.")
    async def alarms(self, info: Info, scope: ScopeCode) -> AsyncGenerator[AlarmUpdate, None]:
        context = info.context
        async for kind, alarm in _follow(context, Topic.ALARMS, scope, context.store.alarms, lambda alarm: alarm.place_code):
            yield AlarmUpdate(kind=kind, alarm=Alarm.of(alarm))

    @subscription(description="Cases opened or moved at or under a place in your scope, as they happen.")
    async def case_updates(self, info: Info, scope: ScopeCode) -> AsyncGenerator[CaseUpdate, None]:
        context = info.context
        async for kind, case in _follow(context, Topic.CASES, scope, context.store.cases, lambda case: case.place_code):
            yield CaseUpdate(kind=kind, case=Case.of(case))

    @subscription(description="For a member of staff: the cases assigned to it, as they change (assigned, signed, arrived, resolved, …).")
    async def my_case_updates(self, info: Info) -> AsyncGenerator[CaseUpdate, None]:
        context = info.context
        require_role(context.principal, frozenset({Role.STAFF}), "follow assigned cases (only a member of staff has them)")
        if context.bus is None:
            raise Unavailable("live updates are not available on this server")
        subscription = context.bus.subscribe(Topic.CASES)
        try:
            async for event in subscription:
                context.forget()
                [case] = await context.store.cases([event.id], EVERYTHING)
                if case is not None and case.assignee == context.principal.scope:
                    yield CaseUpdate(kind=event.kind, case=Case.of(case))
        finally:
            subscription.close()

    @subscription(
        description="Votes at or under a place noticed, opened, cast in, closed or cancelled, as they happen; "
        "owners hear of the votes of their houses (give the place of the vote or above it)."
    )
    async def vote_updates(self, info: Info, scope: ScopeCode) -> AsyncGenerator[VoteUpdate, None]:
        context = info.context
        within, level = place_argument(scope, field="scope")
        if context.bus is None:
            raise Unavailable("live updates are not available on this server")
        subscription = context.bus.subscribe(Topic.VOTES)
        try:
            async for event in subscription:
                context.forget()
                vote = await readable(info, event.id)
                if vote is not None and await _under(context, vote.place_code, within, level):
                    yield VoteUpdate(kind=event.kind, vote=Vote(record=vote))
        finally:
            subscription.close()
