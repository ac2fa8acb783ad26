"""Errors that do not teach the schema: with introspection off, no "Did you mean …" suggestions.

Switching introspection off (`hub serve --no-introspection`) hides the schema from whoever may
not read it whole, but graphql-core still wrote the schema's own names into its errors:
`Cannot query field 'plase' on type 'Query'. Did you mean 'place' or 'places'?`, and the same for
arguments, types and enum values, in validation and in coercing variables. A caller could spell
its way through the schema. graphql-core can leave the suggestions out (`hide_suggestions`); a
quiet schema asks for that wherever it validates or coerces:

- `QuietValidation` validates (cached, as strawberry's ValidationCache does) with it;
- `QuietExecutor` builds every execution (queries, mutations, subscriptions) with it, which is
  where variables are coerced;
- `hides_suggestions(schema)` tells other validators (shared queries' documents) to do the same.

    >>> schema = build_schema(introspection=False)          # doctest: +SKIP
    >>> schema.execute_sync("{ plase { code } }").errors    # doctest: +SKIP
    [GraphQLError("Cannot query field 'plase' on type 'Query'.", ...)]
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.base import BaseSchema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

CACHED_DOCUMENTS = 512


@functools.lru_cache(maxsize=CACHED_DOCUMENTS)
def _validated(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    # the two rules strawberry adds to every validation of its own (strawberry.schema.schema)
    every = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, every, hide_suggestions=True)


class QuietValidation(SchemaExtension):
    """Validation without suggestions, its results cached per document and rules."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.pre_execution_errors = _validated(context.schema._schema, context.graphql_document, tuple(context.validation_rules))
        yield


class QuietExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, built to leave suggestions out of variable and execution errors."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)


def hides_suggestions(schema: BaseSchema) -> bool:
    """Whether `schema` was built quiet (without introspection)."""
    return getattr(schema, "execution_context_class", None) is QuietExecutor
