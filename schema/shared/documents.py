"""Checking a shared query's document against the schema, and its variables when it runs.

A document is refused at publishing when GraphQL itself would refuse it (the message is
GraphQL's own), when it is not one query (mutations and subscriptions change or stream, and a
shared query only reads), or when it runs shared queries itself. Its variables schema comes from
the document's own variable definitions; the publisher adds descriptions and defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableDefinitionNode,
    parse,
    print_ast,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values
from strawberry.schema.base import BaseSchema

from graph.shared import MAX_DOCUMENT, SharedQueryError, VariableSpec, relative_default

NOT_IN_SHARED = frozenset({"runSharedQuery"})
"""Root fields a shared query may not select: a run inside a run would escape its audit."""
SAFE_ROOT_FIELDS = frozenset({"runSharedQuery", "sharedQuery", "sharedQueries", "__typename"})
"""What a safelisted principal may send to /graphql itself (see schema.shared.safelist)."""
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def graphql_schema(schema: BaseSchema) -> GraphQLSchema:
    """The graphql-core schema strawberry built (what validation and coercion run against)."""
    return cast(GraphQLSchema, getattr(schema, "_schema"))


def _messages(errors: Sequence[GraphQLError]) -> str:
    return "; ".join(error.message for error in errors[:5])


def parsed(document: str, max_tokens: int | None = None) -> DocumentNode:
    if not isinstance(document, str) or not document.strip():
        raise SharedQueryError("document", "document: a GraphQL query document is required")
    if len(document) > MAX_DOCUMENT:
        raise SharedQueryError("document", f"document: longer than {MAX_DOCUMENT} characters")
    try:
        return parse(document, max_tokens=max_tokens)
    except GraphQLError as error:
        raise SharedQueryError("document", f"document: {error.message}") from None


def operation_of(document: DocumentNode) -> OperationDefinitionNode:
    operations = [item for item in document.definitions if isinstance(item, OperationDefinitionNode)]
    if len(operations) != 1:
        raise SharedQueryError("document", f"document: must hold exactly one operation, not {len(operations)}")
    return operations[0]


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> list[FieldNode]:
    """The operation's root fields, through fragments (named and inline)."""
    fragments = {item.name.value: item for item in document.definitions if isinstance(item, FragmentDefinitionNode)}
    found: list[FieldNode] = []
    seen: set[str] = set()

    def walk(selections: SelectionSetNode) -> None:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    walk(fragment.selection_set)

    walk(operation.selection_set)
    return found


def checked_document(
    schema: GraphQLSchema,
    document: str,
    descriptions: Mapping[str, str],
    defaults: Mapping[str, Any],
    csv_path: str | None,
    limits: tuple[Sequence[type[ASTValidationRule]], int | None] = ((), None),
    *,
    quiet: bool = False,
) -> tuple[str, tuple[VariableSpec, ...]]:
    """The document (as given) and its variables schema, or SharedQueryError saying why not;
    `limits` (schema.limits.document_limits) are the depth, alias and token bounds every run
    will meet, so a document over them is refused when published, not at its first run.
    `quiet` leaves GraphQL's "Did you mean …" out of the errors (schema.quiet)."""
    rules, max_tokens = limits
    tree = parsed(document, max_tokens)
    operation = operation_of(tree)
    if operation.operation is not OperationType.QUERY:
        raise SharedQueryError(
            "document", f"document: a shared query only reads; a {operation.operation.value} cannot be shared"
        )
    errors = validate(schema, tree, [*specified_rules, *rules], hide_suggestions=quiet)
    if errors:
        raise SharedQueryError("document", f"document: {_messages(errors)}")
    roots = root_fields(tree, operation)
    nested = sorted({item.name.value for item in roots} & NOT_IN_SHARED)
    if nested:
        raise SharedQueryError("document", f"document: a shared query may not select {', '.join(nested)}")
    definitions = {item.variable.name.value: item for item in operation.variable_definitions or ()}
    for name in [*descriptions, *defaults]:
        if name not in definitions:
            takes = ", ".join(f"${key}" for key in definitions) or "none"
            raise SharedQueryError(f"variables.{name}", f"variables: ${name} is not a variable of the document (it declares {takes})")
    specs = []
    for name, definition in definitions.items():
        default = defaults.get(name)
        if default is not None:
            relative_default(default, field=f"variables.{name}")
            if not (isinstance(default, str) and default.startswith("@")):
                problem = variable_problem(schema, definition, {name: default}, quiet=quiet)
                if problem:
                    raise SharedQueryError(f"variables.{name}", f"variables: the default of ${name} is not valid: {problem}")
        required = isinstance(definition.type, NonNullTypeNode) and definition.default_value is None and default is None
        specs.append(VariableSpec(name, print_ast(definition.type), required, default, descriptions.get(name, "")))
    if csv_path is not None:
        if not _PATH.fullmatch(csv_path):
            raise SharedQueryError("csvPath", f"csvPath: {csv_path!r} must be a dotted path such as cases.edges")
        keys = {(item.alias or item.name).value for item in roots}
        if csv_path.split(".")[0] not in keys:
            raise SharedQueryError("csvPath", f"csvPath: {csv_path!r} must start with a root field of the query ({', '.join(sorted(keys))})")
    return document, tuple(specs)


def variable_problem(
    schema: GraphQLSchema, definition: VariableDefinitionNode, given: Mapping[str, Any], *, quiet: bool = False
) -> str | None:
    """GraphQL's own complaint about one variable's value, or None when it coerces."""
    coerced = get_variable_values(schema, [definition], dict(given), hide_suggestions=quiet)
    if isinstance(coerced, list):
        return _messages(coerced)
    return None


def checked_variables(
    schema: GraphQLSchema, document: str, given: Mapping[str, Any], label: str, *, quiet: bool = False
) -> None:
    """Refuse variables the stored document does not declare, or values it cannot take; every
    error names the variable (`label` names the query: `name v2`)."""
    operation = operation_of(parsed(document))
    definitions = {item.variable.name.value: item for item in operation.variable_definitions or ()}
    for name in given:
        if name not in definitions:
            takes = ", ".join(f"${key}" for key in definitions) or "no variables"
            raise SharedQueryError(f"variables.{name}", f"${name} is not a variable of shared query {label}; it takes {takes}", name)
    for name, definition in definitions.items():
        problem = variable_problem(schema, definition, {name: given[name]} if name in given else {}, quiet=quiet)
        if problem:
            if name not in given:
                problem = f"${name} ({print_ast(definition.type)}) is required by shared query {label}: {problem}"
            raise SharedQueryError(f"variables.{name}", problem, given.get(name))
