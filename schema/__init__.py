"""The GraphQL face of the hub (strawberry): one folder per domain, thin resolvers, loaders.

`build_schema()` merges the domains' query types into one schema with the hub's scalars and
error handling. Resolvers read through `schema.context.Context` only: the store port, the
caller's scope and the request's DataLoaders; nothing here speaks SQL or knows a driver.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import DisableIntrospection, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from schema.audit import AuditPersonalData
from schema.cases.queries import CaseMutations, CaseQueries
from schema.connectors.queries import ConnectorMutations, ConnectorQueries
from schema.context import Context
from schema.credit.queries import CreditMutations, CreditQueries
from schema.devices.queries import DeviceMutations, DeviceQueries
from schema.limits import query_limits
from schema.errors import HubErrors, HubSchema
from schema.federation import DisableServiceSdl
from schema.firms.queries import FirmQueries
from schema.facilities.queries import FacilityMutations, FacilityQueries
from schema.funds.queries import FundMutations, FundQueries
from schema.live import Subscription
from schema.me import MeQueries
from schema.nodes import NodeQueries
from schema.owners.queries import OwnerQueries
from schema.party.queries import PartyMutations, PartyQueries
from schema.places.queries import PlaceQueries
from schema.places.types import PLACE_TYPES
from schema.questions.queries import QuestionQueries
from schema.quiet import CACHED_DOCUMENTS, QuietExecutor, QuietValidation
from schema.scalars import SCALARS
from schema.shared.queries import SharedQueryMutations, SharedQueryQueries
from schema.staff.entry import StaffEntryMutations
from schema.staff.queries import StaffMutations, StaffQueries
from schema.stats.queries import StatsQueries
from schema.utilities.queries import UtilityQueries
from schema.votes.queries import VoteMutations, VoteQueries


@strawberry.type(description="Read the city: places, houses, owners, firms and their roll-ups.")
class Query(
    PlaceQueries,
    StatsQueries,
    FirmQueries,
    OwnerQueries,
    NodeQueries,
    ConnectorQueries,
    CaseQueries,
    UtilityQueries,
    DeviceQueries,
    SharedQueryQueries,
    MeQueries,
    QuestionQueries,
    VoteQueries,
    FundQueries,
    PartyQueries,
    FacilityQueries,
    CreditQueries,
    StaffQueries,
):
    pass


@strawberry.type(description="Change the hub: run connectors, move cases, register devices, acknowledge alarms, organise votes and cast ballots.")
class Mutation(ConnectorMutations, CaseMutations, DeviceMutations, SharedQueryMutations, VoteMutations, FundMutations, PartyMutations, FacilityMutations, CreditMutations, StaffMutations, StaffEntryMutations):
    pass


def build_schema(
    *, depth: int = 12, aliases: int = 20, tokens: int = 2000, introspection: bool = True
) -> strawberry.Schema:
    """The hub's schema; every per-level place type is listed so `node(id:)` can return it.

    It is an Apollo Federation v2 subgraph (`_service`, `_entities`; see schema.federation).
    `depth`, `aliases` and `tokens` bound the shape of a document before it runs, `_entities`
    included; `introspection=False` refuses schema introspection and `_service { sdl }` (a
    deployment's choice), and leaves graphql-core's "Did you mean …" out of every error.
    """
    extensions: list[Any] = [
        HubErrors,
        AuditPersonalData,
        query_limits(depth=depth, aliases=aliases, tokens=tokens),
        # Parsing and validating a document cost more than answering it; dashboards and shared
        # queries send the same few documents over and over.
        lambda: ParserCache(maxsize=512),
    ]
    quiet: dict[str, Any] = {}
    if introspection:
        extensions.append(lambda: ValidationCache(maxsize=CACHED_DOCUMENTS))
    else:
        # a hidden schema must not be spelled out by its errors either (schema.quiet)
        extensions += [QuietValidation, DisableIntrospection, DisableServiceSdl]
        quiet["execution_context_class"] = QuietExecutor
    return HubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(PLACE_TYPES.values()),
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
        **quiet,
    )


__all__ = ["Context", "build_schema"]
