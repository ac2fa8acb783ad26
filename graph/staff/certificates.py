"""The standing of staff certificates: valid, expiring (within a warning period, 30 days by
default) or expired, per certificate and per firm — what the firms' credit score reads
(`certificate_standing`).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class CertificateStanding:
    """A firm's certificates on a day: `held` valid ones (expiring included: still valid),
    `lapsed` expired ones, `expiring` those valid but within the warning period."""

    firm: str
    held: int = 0
    lapsed: int = 0
    expiring: int = 0


async def certificate_standing(
    store: StaffStore, firm_codes: Sequence[str], at: dt.date, *, warn_within: dt.timedelta = WARN_WITHIN
) -> dict[str, CertificateStanding]:
    """Held and lapsed certificate counts of each firm's staff on `at` (unscoped: the hub's
    own figures), keyed by credit code; a firm with no staff gets zeros. Reads no personal data."""
    codes = list(dict.fromkeys(firm_codes))
    staffs = await store.staff_of(codes, Scope.everything(), personal=False)
    result: dict[str, CertificateStanding] = {}
    for code, members in zip(codes, staffs):
        held = lapsed = expiring = 0
        for member in members:
            for certificate in member.certificates:
                standing = standing_of(certificate, at, warn_within)
                if standing is Standing.EXPIRED:
                    lapsed += 1
                elif standing is not Standing.NOT_YET_VALID:
                    held += 1
                    expiring += standing is Standing.EXPIRING
        result[code] = CertificateStanding(code, held, lapsed, expiring)
    return result
