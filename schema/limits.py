"""Bounds on a document's shape: depth, aliases and lexical tokens, with rules built once.

strawberry's QueryDepthLimiter and MaxAliasesLimiter build their validation rules per request
when passed as factories, and the validation cache keys on the rules, so it never hit: every
request was validated again (about 2 ms). Here the rules are made once per schema.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ASTValidationRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.base import BaseSchema


def query_limits(*, depth: int, aliases: int, tokens: int) -> type[SchemaExtension]:
    """An extension class applying the three limits with the same rule objects every request."""
    rules = tuple(QueryDepthLimiter(max_depth=depth).validation_rules) + tuple(
        MaxAliasesLimiter(max_alias_count=aliases).validation_rules
    )

    class QueryLimits(SchemaExtension):
        limit_rules = rules
        max_tokens = tokens

        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            context.validation_rules = tuple(context.validation_rules) + rules
            context.parse_options["max_tokens"] = tokens
            yield

    return QueryLimits


def document_limits(schema: BaseSchema) -> tuple[tuple[type[ASTValidationRule], ...], int | None]:
    """The limit rules and the token bound a schema applies to every request, for checking a
    document before it is ever sent (a shared query when it is published)."""
    for extension in getattr(schema, "extensions", ()):
        rules = getattr(extension, "limit_rules", None)
        if rules is not None:
            return tuple(rules), getattr(extension, "max_tokens", None)
    return (), None
