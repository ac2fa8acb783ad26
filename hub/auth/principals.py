"""From a principal to the part of the tree it may read, at the time of the request."""

from __future__ import annotations

import datetime as dt

from graph.scope import Scope
from graph.security import Principal, Role
from graph.store import Store


async def scope_of(store: Store, principal: Principal, today: dt.date) -> Scope:
    """The scope a principal reads today.

    A member of staff reads no place at all: the cases assigned to it are read by assignee, never
    through a scope. A firm reads the estates it manages today, an owner the houses it holds today: both are
    looked up again (the answer moves when a management or a sale is registered), through the
    store with an unlimited scope because this is the hub deciding, not the caller reading.
    """
    everything = Scope.everything()
    if principal.role is Role.ADMIN:
        return everything
    if principal.role is Role.PROPERTY_FIRM:
        [managed] = await store.estates_of([principal.scope], today, everything)
        return Scope.of_codes(item.estate_code for item in managed)
    if principal.role is Role.STAFF:
        return Scope.of_codes([])  # no place: its own cases are read by assignee (schema.staff)
    if principal.role is Role.OWNER:
        [held] = await store.houses_of([principal.scope], today, everything)
        return Scope.of_codes(item.house_code for item in held)
    return Scope.of(principal.scope)
