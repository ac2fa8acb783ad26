"""The safelist guard: principals of a safelisted role run only shared queries.

It is a schema extension, so it stands wherever a document enters the schema — POST and GET
`/graphql`, batches, WebSocket subscriptions — and nothing reaches a resolver without passing
it. It refuses at validation, before anything is read. A safelisted principal may still send
documents whose root fields are only `runSharedQuery`, `sharedQuery`, `sharedQueries` (and
`__typename`); the shared query's own document then runs with the `SHARED_RUN` root value,
which a request cannot set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import GraphQLError, OperationType
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from graph.shared import OVERSEERS
from schema.context import Context
from schema.shared.documents import SAFE_ROOT_FIELDS, root_fields
from schema.shared.running import SHARED_RUN, shared_state

REFUSAL = (
    "your role ({role}) runs shared queries only: send runSharedQuery(name:, variables:) or GET /q/NAME "
    "(see sharedQueries for those shared with you)"
)


class SafelistGuard(SchemaExtension):
    async def on_validate(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if (
            isinstance(context, Context)
            and execution.root_value is not SHARED_RUN
            and context.principal.role not in OVERSEERS
            and execution.graphql_document is not None
        ):
            safelisted = await shared_state(execution.schema).safelist.roles(context.store)
            if context.principal.role in safelisted and not self._only_shared():
                execution.pre_execution_errors = [
                    GraphQLError(
                        REFUSAL.format(role=context.principal.role.value),
                        extensions={"code": "SAFELISTED", "role": context.principal.role.value},
                    )
                ]
        yield

    def _only_shared(self) -> bool:
        document = self.execution_context.graphql_document
        assert document is not None
        operation = get_operation_ast(document, self.execution_context.operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return False
        return all(field.name.value in SAFE_ROOT_FIELDS for field in root_fields(document, operation))
