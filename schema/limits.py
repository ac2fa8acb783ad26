"""Bounds on a document's shape: depth, aliases and lexical tokens, with rules built once.

strawberry's QueryDepthLimiter and MaxAliasesLimiter build their validation rules per request
when passed as factories, and the validation cache keys on the rules, so it never hit: every
request was validated again (about 2 ms). Here the rules are made once per schema.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension


def query_limits(*, depth: int, aliases: int, tokens: int) -> type[SchemaExtension]:
    """An extension class applying the three limits with the same rule objects every request."""
    rules = tuple(QueryDepthLimiter(max_depth=depth).validation_rules) + tuple(
        MaxAliasesLimiter(max_alias_count=aliases).validation_rules
    )

    class QueryLimits(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            context.validation_rules = tuple(context.validation_rules) + rules
            context.parse_options["max_tokens"] = tokens
            yield

    return QueryLimits
