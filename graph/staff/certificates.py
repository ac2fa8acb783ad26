"""The standing of staff certificates: valid, expiring (within a warning period, 30 days by
default, `warn_within`) or expired, per certificate (`standing_of`: what GraphQL flags), and per
firm the held and lapsed counts the firms' credit score reads (`certificate_standing`, the
reader graph.credit.inputs plugs in as `certificates`).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import NamedTuple

from graph.scope import Scope
from graph.staff.records import Certificate, StaffStore

WARN_WITHIN = dt.timedelta(days=30)
"""How long before its expiry a certificate is flagged as expiring (configurable per call)."""


class Standing(enum.Enum):
    VALID = "valid"  # 有效
    EXPIRING = "expiring"  # 即将到期
    EXPIRED = "expired"  # 已过期
    NOT_YET_VALID = "not_yet_valid"  # 未生效

    @property
    def flagged(self) -> bool:
        return self is not Standing.VALID


def standing_of(certificate: Certificate, day: dt.date, warn_within: dt.timedelta = WARN_WITHIN) -> Standing:
    """>>> from graph.staff.records import CertificateKind
    >>> c = Certificate(CertificateKind.ELEVATOR_REPAIR, "T1", dt.date(2022, 1, 1), dt.date(2026, 1, 31))
    >>> [standing_of(c, dt.date(2025, 12, 1)).value, standing_of(c, dt.date(2026, 1, 2)).value, standing_of(c, dt.date(2026, 2, 1)).value]
    ['valid', 'expiring', 'expired']
    """
    if day < certificate.issued:
        return Standing.NOT_YET_VALID
    if day > certificate.expiry:
        return Standing.EXPIRED
    if certificate.expiry - day < warn_within:
        return Standing.EXPIRING
    return Standing.VALID


class CertificateStanding(NamedTuple):
    """A firm's staff certificates on a day: `held` valid ones (expiring ones included: still
    valid), `lapsed` expired ones. A (held, lapsed) pair, the shape the firms' credit score
    reads from its plugged certificates reader (graph.credit.inputs)."""

    held: int = 0
    lapsed: int = 0


async def certificate_standing(store: StaffStore, firm_codes: Sequence[str], at: dt.date) -> dict[str, CertificateStanding]:
    """Held and lapsed certificate counts of each firm's staff on `at` (unscoped: the hub's own
    figures), keyed by credit code; a firm with no staff gets (0, 0). Reads no personal data.
    A certificate not yet valid on `at` counts in neither."""
    codes = list(dict.fromkeys(firm_codes))
    staffs = await store.staff_of(codes, Scope.everything(), personal=False)
    result: dict[str, CertificateStanding] = {}
    for code, members in zip(codes, staffs):
        held = lapsed = 0
        for member in members:
            for certificate in member.certificates:
                if at > certificate.expiry:
                    lapsed += 1
                elif at >= certificate.issued:
                    held += 1
        result[code] = CertificateStanding(held, lapsed)
    return result
