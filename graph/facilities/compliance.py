"""Facilities' maintenance and inspection compliance of property firms over a period (设施设备
维保及检验合规), from the recorded history — the facilities reader the firms' credit score plugs
in (graph.credit.inputs.FacilityReader). A past month scores the same whenever it is computed:
it reads the events, never today's state of a record.

Whose facilities: a firm answers for the facilities whose device sits at or under an estate it
managed (graph.model.Management, days in China Standard Time, `until` exclusive), and for each
of them only for what fell due while it managed that estate within [since, until): a handover in
the middle of a month splits the month's dues between the two firms. A facility retired before
a due time owes nothing from then on.

Maintenance (维护保养), per facility with the interval `Intervals` gives its type:
- the clock starts at installation (or, when the record opened later — its first event — or
  gives none, at that first event: before it the hub holds no history);
- each due time is one interval after the clock mark: the last maintenance; when a due time
  passed with no maintenance, the first maintenance done within the next interval (done late, it
  restarts the clock), or else the missed due time itself (an unmaintained elevator falls due
  every 15 days);
- a due time is **on time** when a maintenance was done after the clock mark and at or before it
  (a late one leaves its due time missed);
- the history is read `lookback` (the longest interval) before the period; a facility with no
  maintenance in that window and installed before it was overdue already: its first due time
  counted is the period's start (missed, unless a maintenance was booked exactly then).
Every due time in [since, until) counts once as due, and once more as on time when it was.

Periodic inspection (定期检验): every inspection event sets a next due date (`next_due`, due once
that day has ended in China, graph.facilities.life.day_end). Each distinct due time in
[since, until) counts as due; it is **passed** when an inspection with a passing result
(InspectionResult.passed: 合格 or 复检合格) was done after the inspection that set it and at or
before it (an inspection done late, or failed, leaves it not passed). Inspections are read from
`INSPECTION_LOOKBACK` before the period, long enough for the longest cycle a body sets.

All counts are exact integers (FacilityCompliance); the store is read in two grouped reads (the
firms' estates, then every estate's facility activity at once), never per firm or per facility.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Sequence

from graph.clock import CHINA_STANDARD_TIME
from graph.credit.engine import FacilityCompliance
from graph.facilities.intervals import MAX_DAYS, Intervals
from graph.facilities.life import day_end
from graph.facilities.records import FacilityActivity
from graph.model import Management
from graph.scope import Scope
from graph.store import Store
from graph.votes.checks import check_time

INSPECTION_LOOKBACK = dt.timedelta(days=MAX_DAYS)
"""How far before a period inspections are read: a due date in the period set up to ten years before."""

Piece = tuple[dt.datetime, dt.datetime]
"""A firm's time at an estate within the period: [from, until)."""


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), CHINA_STANDARD_TIME).astimezone(dt.timezone.utc)


def _piece(span: Management, since: dt.datetime, until: dt.datetime) -> Piece | None:
    start = max(since, _midnight(span.since))
    end = until if span.until is None else min(until, _midnight(span.until))
    return (start, end) if start < end else None


def maintenance_dues(
    activity: FacilityActivity, interval: dt.timedelta, since: dt.datetime, until: dt.datetime, lookback: dt.timedelta
) -> list[tuple[dt.datetime, bool]]:
    """The facility's maintenance due times in [since, until) (before retirement), each with
    whether it was on time (the rule in the module docstring)."""
    done = list(activity.maintenances)
    start = activity.opened_at if activity.installed_at is None else max(activity.installed_at, activity.opened_at)
    window = since - lookback
    if start >= window:
        clock = start
    elif done and done[0] < since:
        clock = done[0]
    else:
        clock = since - interval  # overdue as the period opens: due at its start
    end = until if activity.retired_at is None else min(until, activity.retired_at)
    found: list[tuple[dt.datetime, bool]] = []
    while (due := clock + interval) < end:
        first, last = bisect_right(done, clock), bisect_right(done, due)
        if due >= since:
            found.append((due, last > first))
        if last > first:
            clock = done[last - 1]  # on time: the interval runs from the latest maintenance
        elif last < len(done) and done[last] <= due + interval:
            clock = done[last]  # late: the late maintenance restarts the clock
        else:
            clock = due  # none within the next interval either: due again an interval on
    return found


def inspection_dues(activity: FacilityActivity, since: dt.datetime, until: dt.datetime) -> list[tuple[dt.datetime, bool]]:
    """The facility's inspection due times in [since, until) (before retirement), each with
    whether a passing inspection was done by then (the rule in the module docstring)."""
    end = until if activity.retired_at is None else min(until, activity.retired_at)
    set_at: dict[dt.datetime, dt.datetime] = {}
    for mark in activity.inspections:
        due = day_end(mark.next_due)
        if since <= due < end and (due not in set_at or mark.at < set_at[due]):
            set_at[due] = mark.at
    found: list[tuple[dt.datetime, bool]] = []
    for due, after in sorted(set_at.items()):
        passed = any(
            mark.result is not None and mark.result.passed and after < mark.at <= due and day_end(mark.next_due) != due
            for mark in activity.inspections
        )
        found.append((due, passed))
    return found


async def facility_compliance(
    store: Store,
    firm_codes: Sequence[str],
    since: dt.datetime,
    until: dt.datetime,
    intervals: Intervals | None = None,
) -> dict[str, FacilityCompliance]:
    """Each firm's maintenance and inspection compliance over [since, until): a count for every
    firm that managed an estate in the period (zeros when nothing fell due); firms that managed
    none are left out (their parts show no data)."""
    check_time(since, "since")
    check_time(until, "until")
    intervals = intervals or Intervals()
    firms = list(dict.fromkeys(firm_codes))
    pieces: dict[str, dict[str, list[Piece]]] = {}  # estate -> firm -> its time there
    for firm, spans in zip(firms, await store.estates_of(firms, None, Scope.everything()) if firms else []):
        for span in spans:
            piece = _piece(span, since, until)
            if piece is not None:
                pieces.setdefault(span.estate_code, {}).setdefault(firm, []).append(piece)
    counts = {firm: [0, 0, 0, 0] for by_firm in pieces.values() for firm in by_firm}
    if not pieces:
        return {}
    lookback = dt.timedelta(days=max(intervals.days.values()))
    estates = sorted(pieces)
    found = await store.facility_activity(estates, since, until, lookback=lookback, inspection_lookback=INSPECTION_LOOKBACK)
    for estate, activities in zip(estates, found):
        for activity in activities:
            interval = dt.timedelta(days=intervals.for_type(activity.device_type))
            maintenance = maintenance_dues(activity, interval, since, until, lookback)
            inspections = inspection_dues(activity, since, until)
            for firm, held in pieces[estate].items():
                tally = counts[firm]
                for due, ok in maintenance:
                    if _within(held, due):
                        tally[0] += 1
                        tally[1] += ok
                for due, ok in inspections:
                    if _within(held, due):
                        tally[2] += 1
                        tally[3] += ok
    return {firm: FacilityCompliance(*tally) for firm, tally in sorted(counts.items())}


def _within(held: Sequence[Piece], at: dt.datetime) -> bool:
    return any(start <= at < end for start, end in held)

