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
need not be in its scope: a contractor manages no estate) or the firm managing the estate; by a
member of staff (`staff` token) of such a firm — booked as its employer (`byOrg` = the staff
record's employer) and itself (`byStaff` = its staff id), reaching the facilities its employer
reaches: all under its employer's contracts, and those of the estates its employer manages
today; and by the admin naming the organisation (`byOrg`). A member of staff of any other
employer is answered exactly as for a facility that does not exist. Staff book maintenance
only: inspections are booked by the inspection body (特种设备检验机构) through the
administrations; repairs (tied to a case) and parts by the managing firm, which sees the case.
`recorder_of` is the one place a principal becomes a recorder.
"""

from __future__ import annotations

from graph.facilities.records import Facility
from graph.facilities.service import Facilities, Recorder
from graph.errors import InvalidInput
from graph.scope import Scope
from graph.security import Principal, Role
from graph.store import Store
from schema.context import Info
from schema.errors import Forbidden
from schema.funds.access import actor_name, owner_estates

WRITERS = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET, Role.COMMUNITY, Role.PROPERTY_FIRM})
"""Roles that book installations, registrations, contracts, inspections, repairs, parts and retirements (in scope)."""
MAINTAINERS = frozenset({Role.ADMIN, Role.PROPERTY_FIRM, Role.STAFF})
"""Roles that book maintenance (see `recorder_of`)."""
EVERYTHING = Scope.everything()


async def recorder_of(
    store: Store, principal: Principal, *, by_org: str | None = None, by_staff: str | None = None
) -> Recorder | None:
    """As whom `principal` books a maintenance: a property firm as its own credit code (with the
    staff id it names, if any); a member of staff as its staff record's employer and its own
    staff id (naming another organisation or person is InvalidInput); the admin as the
    organisation it names; anyone else — and a staff token whose record is gone — nobody
    (None: refused)."""
    if principal.role is Role.PROPERTY_FIRM:
        return Recorder(principal.scope, by_staff)
    if principal.role is Role.ADMIN and by_org is not None:
        return Recorder(by_org.strip(), by_staff)
    if principal.role is Role.STAFF:
        if by_staff is not None and by_staff.strip() != principal.scope:
            raise InvalidInput("byStaff", by_staff, "is not you: a member of staff books as itself (leave byStaff out)")
        [member] = await store.staff([principal.scope], EVERYTHING)
        if member is None:
            return None
        if by_org is not None and by_org.strip() != member.employer:
            raise InvalidInput("byOrg", by_org, "is not your employer: a member of staff books for its employer (leave byOrg out)")
        return Recorder(member.employer, member.id)
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
    """The contractor of the facility's contract (its firm, or a member of its staff) books for
    it wherever it is; a member of staff otherwise within the estates its employer manages today
    (the scope a firm's own token reads); anyone else within its own scope."""
    role = info.context.principal.role
    if facility is not None and facility.contractor_code == recorder.org and role in (Role.PROPERTY_FIRM, Role.STAFF):
        return EVERYTHING
    if role is Role.STAFF:
        [managed] = await info.context.store.estates_of([recorder.org], info.context.today, EVERYTHING)
        return Scope.of_codes(item.estate_code for item in managed)
    return info.context.scope


__all__ = ["MAINTAINERS", "WRITERS", "actor_name", "maintenance_scope", "read_scope", "recorder_of", "require_writer", "service"]
