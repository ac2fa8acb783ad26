"""What a caller sees when something fails: the hub's own messages, or "internal error".

`graph.errors.HubError` messages are written for users (`code: '3702' is not a place code: …`)
and are passed through with an extension code clients can branch on; `InvalidInput` also names
the field. Every other exception is a bug or an outage whose text could reveal how the hub
works (SQL, paths, stack frames), so it is replaced by a fixed message and logged in full here.

    {"message": "first: '0' must be between 1 and 500", "path": ["places"],
     "extensions": {"code": "BAD_USER_INPUT", "field": "first"}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry.federation
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.federation.schema import FederationAny
from strawberry.types.execution import ExecutionContext

from graph.errors import HubError, InvalidInput, StoreBusy, StoreError
from graph.security import Principal, Role
from schema.context import Info
from schema.federation import entity_keys, resolve_entities

INTERNAL_MESSAGE = "internal error"


class Forbidden(HubError):
    """The caller's role may not do this (see connectors, cases, devices, shared queries)."""


def require_role(principal: Principal, roles: frozenset[Role], doing: str) -> None:
    """Refuse a principal whose role is not among `roles`: "the street role may not <doing>"."""
    if principal.role not in roles:
        raise Forbidden(f"forbidden: the {principal.role.value} role may not {doing}")


def error_code(error: HubError) -> str:
    """The `extensions.code` of a hub error, in the spirit of Apollo's codes."""
    if isinstance(error, InvalidInput):
        return "BAD_USER_INPUT"
    if isinstance(error, StoreBusy):
        return "STORE_BUSY"
    if isinstance(error, StoreError):
        return "STORE_ERROR"
    return "HUB_ERROR"


def cause(error: GraphQLError) -> Exception | None:
    """The exception behind a GraphQL error; graphql-core wraps variable errors twice."""
    original = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original


def is_expected(error: GraphQLError) -> bool:
    """GraphQL's own syntax and validation errors and the hub's errors are safe to show."""
    original = cause(error)
    return original is None or isinstance(original, HubError)


def should_mask_error(error: GraphQLError) -> bool:
    return not is_expected(error)


class HubErrors(MaskErrors):
    """Masks unexpected errors and labels the hub's with `extensions.code` (and `field`)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask_error, error_message=INTERNAL_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked

    def on_operation(self) -> Iterator[None]:
        yield from super().on_operation()
        for error in getattr(self.execution_context.result, "errors", None) or []:
            label(error)


def label(error: GraphQLError) -> None:
    """Give a hub error its `extensions.code` (and `field`); an unexpected one is reworded, in
    place, as `internal error` (for errors no extension sees: see HubSchema.process_errors)."""
    original = cause(error)
    if isinstance(original, HubError):
        labels: dict[str, Any] = {"code": error_code(original)}
        if isinstance(original, InvalidInput):
            labels["field"] = original.field
        error.extensions = {**(error.extensions or {}), **labels}
    elif not is_expected(error):
        error.message = INTERNAL_MESSAGE
        error.extensions = {"code": "INTERNAL_SERVER_ERROR"}


class HubSchema(strawberry.federation.Schema):
    """An Apollo Federation v2 subgraph schema (`_service`, `_entities`; see schema.federation)
    that logs only the errors callers do not cause; a bad code in a query is not an incident."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        origins = {name: getattr(concrete.definition, "origin", None) for name, concrete in self.schema_converter.type_map.items()}
        self.entity_resolvers = entity_keys({name: origin for name, origin in origins.items() if isinstance(origin, type)})
        """Entity type name → its key field and `resolve_reference`."""

    async def entities_resolver(  # type: ignore[override]
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        # strawberry's own resolver calls resolve_reference one representation at a time and
        # turns every failure into "Unable to resolve reference"; the hub's checks each
        # representation, keeps its clear errors and lets the loaders batch the lookups
        return await resolve_entities(info, list(representations), self.entity_resolvers)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [error for error in errors if not is_expected(error)]
        if unexpected:
            super().process_errors(unexpected, execution_context)
        # Errors raised by an extension after the operation (the audit of a personal-data read
        # failing) reach the caller without passing HubErrors: logged above, labelled here.
        for error in errors:
            label(error)
