"""What a credit computation reads, per firm: the `CreditInputs` readers, and `StoreInputs`, the
readers made from the store (cases, complaints, ratings, votes) with two readers plugged in from
outside: facilities' maintenance and inspection compliance, and staff certificates.

Every reader answers for all the firms (or estates) of a period at once: one grouped store read
per input, never one per firm.

The two plugged readers have the signatures their modules expose:

    async def facility_compliance(store, firm_codes, since, until) -> dict[firm, counts]
    async def certificate_standing(store, firm_codes, at) -> dict[firm, (held, lapsed)]

`counts` is a `FacilityCompliance`, a mapping with its four field names, or a 4-tuple in its
field order; `at` is the period's last day. A reader not plugged in (None), or a firm it leaves
out, gives that part "no data".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from graph.cases import CaseCategory, CaseSource, CaseTally
from graph.clock import CHINA_STANDARD_TIME
from graph.credit.engine import CertificateStanding, FacilityCompliance
from graph.credit.periods import Period
from graph.credit.records import FirmCaseCounts
from graph.errors import InvalidInput
from graph.model import Management
from graph.scope import Scope
from graph.store import Store
from graph.votes.law import ItemClass
from graph.votes.records import ItemForm, VoteStatus
from graph.votes.tally import parse_result

FacilityReader = Callable[[Store, Sequence[str], dt.datetime, dt.datetime], Awaitable[Mapping[str, Any]]]
CertificateReader = Callable[[Store, Sequence[str], dt.date], Awaitable[Mapping[str, Any]]]


class CreditInputs(Protocol):
    """The per-firm input readers of a credit computation, each answering for many at once."""

    async def case_tallies(self, firm_codes: Sequence[str], period: Period, now: dt.datetime) -> Mapping[str, CaseTally]:
        """三率, overdue: the cases dispatched to each firm reported in the period."""

    async def case_counts(self, firm_codes: Sequence[str], period: Period) -> Mapping[str, FirmCaseCounts]:
        """Escalated cases and owners' ratings of each firm's cases reported in the period."""

    async def complaints(self, estate_codes: Sequence[str], period: Period) -> Mapping[str, int]:
        """12345 complaints (source HOTLINE, category COMPLAINT) at or under each estate."""

    async def houses(self, estate_codes: Sequence[str]) -> Mapping[str, int]:
        """Houses of each estate."""

    async def dismissals(self, spans: Sequence[Management], period: Period) -> Mapping[str, frozenset[str]]:
        """For each firm, the estates whose owners dismissed it by a vote closed in the period."""

    async def facility_compliance(self, firm_codes: Sequence[str], period: Period) -> Mapping[str, FacilityCompliance]:
        """Facilities' maintenance and inspections of each firm in the period (absent: no data)."""

    async def certificate_standing(self, firm_codes: Sequence[str], period: Period) -> Mapping[str, CertificateStanding]:
        """Each firm's staff certificates held and lapsed on the period's last day (absent: no data)."""


def facility_of(value: Any, firm: str) -> FacilityCompliance:
    """A plugged reader's counts as `FacilityCompliance` (InvalidInput naming the firm otherwise)."""
    if isinstance(value, FacilityCompliance):
        found = value
    elif isinstance(value, Mapping):
        found = FacilityCompliance(**{name: value.get(name, 0) for name in FacilityCompliance.__dataclass_fields__})
    elif isinstance(value, tuple) and len(value) == 4:
        found = FacilityCompliance(*value)
    else:
        raise InvalidInput(f"facility compliance of {firm}", value, "must be FacilityCompliance, a mapping or 4 integers")
    _counts(found.maintenance_due, found.maintenance_on_time, f"facility compliance of {firm} maintenance")
    _counts(found.inspections_due, found.inspections_passed, f"facility compliance of {firm} inspections")
    return found


def certificates_of(value: Any, firm: str) -> CertificateStanding:
    if isinstance(value, CertificateStanding):
        found = value
    elif isinstance(value, tuple) and len(value) == 2:
        found = CertificateStanding(*value)
    else:
        raise InvalidInput(f"certificates of {firm}", value, "must be CertificateStanding or (held, lapsed)")
    for count in (found.held, found.lapsed):
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidInput(f"certificates of {firm}", value, "must be counts: non-negative integers")
    return found


def _counts(due: Any, done: Any, where: str) -> None:
    for count in (due, done):
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidInput(where, count, "must be a non-negative integer")
    if done > due:
        raise InvalidInput(where, done, f"is more than what was due ({due})")


class StoreInputs:
    """`CreditInputs` from the store, with the facilities and certificates readers plugged in."""

    def __init__(
        self, store: Store, *, facility: FacilityReader | None = None, certificates: CertificateReader | None = None
    ) -> None:
        self.store = store
        self.facility = facility
        self.certificates = certificates

    async def case_tallies(self, firm_codes: Sequence[str], period: Period, now: dt.datetime) -> Mapping[str, CaseTally]:
        found = await self.store.case_tallies(
            firm_codes, Scope.everything(), firms=True, now=now, since=period.start, until=period.end
        )
        return {code: tally or CaseTally(key=code) for code, tally in zip(firm_codes, found)}

    async def case_counts(self, firm_codes: Sequence[str], period: Period) -> Mapping[str, FirmCaseCounts]:
        found = await self.store.firm_case_counts(firm_codes, period.start, period.end)
        return {counts.firm_code: counts for counts in found}

    async def complaints(self, estate_codes: Sequence[str], period: Period) -> Mapping[str, int]:
        found = await self.store.estate_case_counts(
            estate_codes, period.start, period.end, source=CaseSource.HOTLINE, category=CaseCategory.COMPLAINT
        )
        return dict(zip(estate_codes, found))

    async def houses(self, estate_codes: Sequence[str]) -> Mapping[str, int]:
        found = await self.store.place_stats(estate_codes, Scope.everything())
        return {code: (row.houses if row is not None else 0) for code, row in zip(estate_codes, found)}

    async def dismissals(self, spans: Sequence[Management], period: Period) -> Mapping[str, frozenset[str]]:
        ids = await self.store.votes_closed(period.start, period.end)
        votes = [vote for vote in await self.store.votes(ids, Scope.everything()) if vote is not None]
        return dismissed(spans, votes)

    async def facility_compliance(self, firm_codes: Sequence[str], period: Period) -> Mapping[str, FacilityCompliance]:
        if self.facility is None:
            return {}
        found = await self.facility(self.store, firm_codes, period.start, period.end)
        asked = set(firm_codes)
        return {firm: facility_of(value, firm) for firm, value in found.items() if firm in asked}

    async def certificate_standing(self, firm_codes: Sequence[str], period: Period) -> Mapping[str, CertificateStanding]:
        if self.certificates is None:
            return {}
        found = await self.certificates(self.store, firm_codes, period.last_day)
        asked = set(firm_codes)
        return {firm: certificates_of(value, firm) for firm, value in found.items() if firm in asked}


def dismissed(spans: Sequence[Management], votes: Sequence[Any]) -> dict[str, frozenset[str]]:
    """The rule that says a vote dismissed a firm (解聘), for each firm the estates it was
    dismissed at. A vote counts when it is CLOSED, at an estate, with a passed item of class 4
    (选聘和解聘物业服务企业, Civil Code Art. 278 (四)); the firms it dismisses are those managing
    the estate on the day it closed (China Standard Time) and:
    - for a firm choice (选聘), every such firm that is not the firm chosen;
    - for a motion, every such firm whose management of the estate is recorded as ended (its
      span has an `until`): a passed class-4 motion decides on the incumbent, and a renewal
      (续聘) leaves the span open. A period computed before the end is recorded does not see
      it; computing the period again (a new version) does."""
    by_estate: dict[str, list[Management]] = {}
    for span in spans:
        by_estate.setdefault(span.estate_code, []).append(span)
    found: dict[str, set[str]] = {}
    for vote in votes:
        if vote.status is not VoteStatus.CLOSED or vote.result is None or vote.closed_at is None:
            continue
        day = vote.closed_at.astimezone(CHINA_STANDARD_TIME).date()
        holding = [
            span for span in by_estate.get(vote.estate_code, ())
            if span.since <= day and (span.until is None or span.until > day)
        ]
        if not holding:
            continue
        items = {item.number: item for item in vote.items}
        for result in parse_result(vote.result).items:
            if result.klass is not ItemClass.PROPERTY_SERVICE or not result.passed:
                continue
            if result.form is ItemForm.FIRM_CHOICE:
                item = items.get(result.number)
                chosen = {c.firm_code for c in (item.candidates if item else ()) if c.id in result.elected}
                out = [span for span in holding if span.firm_code not in chosen]
            elif result.form is ItemForm.MOTION:
                out = [span for span in holding if span.until is not None]
            else:
                out = []
            for span in out:
                found.setdefault(span.firm_code, set()).add(vote.estate_code)
    return {firm: frozenset(estates) for firm, estates in found.items()}
