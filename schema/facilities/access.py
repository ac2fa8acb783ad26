"""Who may read and write facilities' life records, and as whom a maintenance is booked.

Reading (`facility`, `Place.facilities`): every role within its scope — a firm the estates it
manages, street / community / district / city their subtree, a committee its estate, the admin
everything. An owner reads the facilities of the estates where it holds a house, but only what
the public sees posted in the car or on the plant room's door (`public`): the registration and
rescue codes, the contractor's name, the last maintenance and the next due, the inspection's
result and due date, retirement — never the contractor's credit code, the contract's number and
dates, who booked an event, its point, the case or fund project of a repair.

Writing: installation, registration, contract, inspection, repair, part and retirement by the
administrations (admin, city, district, street, community) and property firms, in scope.
Maintenance by a property firm whose credit code is the facility's contractor (then the facility
need not be in its scope: a contractor manages no estate) or the firm managing the estate, and
by the admin naming the organisation (`byOrg`). `recorder_of` is the one place a principal
becomes a recorder: the integrator adds the contractors' `staff` tokens there (scope: the staff
id; employer: a credit code).
"""

from __future__ import annotations

from graph.facilities.records import Facility
from graph.facilities.service import Facilities, Recorder
from graph.scope import Scope
from graph.security import Principal, Role
from schema.context import Info
from schema.errors import Forbidden
from schema.funds.access import actor_name, owner_estates

WRITERS = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET, Role.COMMUNITY, Role.PROPERTY_FIRM})
"""Roles that book installations, registrations, contracts, inspections, repairs, parts and retirements (in scope)."""
MAINTAINERS = frozenset({Role.ADMIN, Role.PROPERTY_FIRM})
"""Roles that book maintenance (see `recorder_of`)."""


def recorder_of(principal: Principal, *, by_org: str | None = None, by_staff: str | None = None) -> Recorder | None:
    """As whom `principal` books a maintenance: a property firm as its own credit code (with the
    staff id it names, if any); the admin as the organisation it names; anyone else, nobody
    (None: refused). The integrator extends this for `staff` tokens: scope = staff id, employer
    = the organisation's credit code."""
    if principal.role is Role.PROPERTY_FIRM:
        return Recorder(principal.scope, by_staff)
    if principal.role is Role.ADMIN and by_org is not None:
        return Recorder(by_org.strip(), by_staff)
    return None


def service(info: Info) -> Facilities:
    return Facilities(info.context.store, bus=info.context.bus)


async def read_scope(info: Info) -> tuple[Scope, bool]:
    """The scope to read facilities in, and whether only the public view may be shown (an
    owner: the estates where it holds a house)."""
    if info.context.principal.role is Role.OWNER:
        return Scope.of_codes(sorted(await owner_estates(info))), True
    return info.context.scope, False


def require_writer(info: Info, doing: str) -> None:
    role = info.context.principal.role
    if role not in WRITERS:
        raise Forbidden(f"forbidden: the {role.value} role may not {doing}")


async def maintenance_scope(info: Info, recorder: Recorder, facility: Facility | None) -> Scope:
    """The contractor of the facility's contract books for it wherever it is; anyone else
    within its own scope."""
    if facility is not None and facility.contractor_code == recorder.org and info.context.principal.role is Role.PROPERTY_FIRM:
        return Scope.everything()
    return info.context.scope


__all__ = ["MAINTAINERS", "WRITERS", "actor_name", "maintenance_scope", "read_scope", "recorder_of", "require_writer", "service"]
