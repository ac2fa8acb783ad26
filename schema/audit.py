"""Writing each request's whole reads of personal data to the audit log when the request ends.

One entry per request (not per field): who, which owners, which fields, when, and why if the
caller said so in `X-Hub-Reason`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from graph.security import AuditDraft
from schema.context import Context

MAX_LISTED = 500


class AuditPersonalData(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, Context) or not context.revelations:
            return
        owners = sorted(context.revelations)
        fields = sorted({name for names in context.revelations.values() for name in names})
        principal = context.principal
        await context.store.append_audit(
            [
                AuditDraft(
                    actor=principal.name,
                    role=principal.role.value,
                    action="pii.read",
                    target=",".join(owners[:20]) + ("…" if len(owners) > 20 else ""),
                    detail={
                        "token": principal.token_id,
                        "owners": owners[:MAX_LISTED],
                        "count": len(owners),
                        "fields": fields,
                        "operation": self.execution_context.operation_name,
                    },
                    reason=context.reason,
                )
            ]
        )
