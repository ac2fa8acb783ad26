"""Who sees and who computes firms' credit.

Seeing: graph.credit.service decides (a firm its own score; every other role the firms that
manage or ever managed an estate in its scope; an owner, whose scope is houses, none). Computing
a period is city-wide work: the admin and the city only.
"""

from __future__ import annotations

from graph.credit.service import Credit
from graph.security import Role
from schema.context import Info, viewer_of
from schema.errors import Forbidden

__all__ = ["COMPUTERS", "credit_of", "require_computer", "viewer_of"]

COMPUTERS = frozenset({Role.ADMIN, Role.CITY})


def credit_of(info: Info) -> Credit:
    """The server's credit service (its weights and plugged readers), or one with the defaults."""
    return info.context.credit or Credit(info.context.store)


def require_computer(info: Info) -> None:
    role = info.context.principal.role
    if role not in COMPUTERS:
        raise Forbidden(f"forbidden: the {role.value} role may not compute firms' credit (admin and city only)")
