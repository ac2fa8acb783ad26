"""Firms' credit in SQL (a base of SqlStore): the storage side of `graph.credit.records.CreditStore`,
whose docstrings hold each member's contract. The checks are `graph.credit.texts` (no SQL in
them); this module stores, finds and counts.

`credit_score` keeps a row per firm, period and version, the parts as JSON text. Saving reads
the latest versions of the (firm, period) pairs given and inserts the next ones in the same
transaction; two savers at once on PostgreSQL meet the unique (firm, period, version) key and
the loser stores nothing (StoreError: compute again). The latest version of a period is the row
with no row of a higher version beside it (a NOT EXISTS on the same index).

The computation's reads are each one grouped query: spans overlapping the period, escalations
and ratings per firm (GROUP BY firm), cases per estate (GROUP BY the place's estate: the
estate's own id for a case at the estate, its `estate_id` ancestor column under it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.cases import CaseCategory, CaseSource
from graph.credit.records import CreditScore, FirmCaseCounts
from graph.credit.texts import as_dict, check_scores, parts_of
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.model import Management, span_order
from graph.sql import rows, tables
from graph.sql.rows import utc
from graph.sql.writes import select_in
from graph.sql.writers import WriteTurns
from graph.votes.records import VoteStatus

_SCORE = tables.credit_score
_FIRM = tables.firm
_NEWER = _SCORE.alias("credit_newer")
_CASE = tables.case
_PLACE = tables.place


def _score_query(*, latest: bool = True) -> Select[Any]:
    query = select(_SCORE, _FIRM.c.code.label("firm_code")).join(_FIRM, _FIRM.c.id == _SCORE.c.firm_id)
    if latest:
        newer = exists().where(
            and_(_NEWER.c.firm_id == _SCORE.c.firm_id, _NEWER.c.period == _SCORE.c.period, _NEWER.c.version > _SCORE.c.version)
        )
        query = query.where(~newer)
    return query


def _score(row: Any) -> CreditScore:
    m = row._mapping
    return CreditScore(
        firm_code=m["firm_code"],
        period=m["period"],
        total_centi=int(m["total_centi"]),
        parts=parts_of(m["parts"]),
        estates=int(m["estates"]),
        houses=int(m["houses"]),
        computed_at=utc(m["computed_at"]),
        no_data=m["no_data"],
        version=int(m["version"]),
    )


class CreditRecords:
    """The credit part of the store port (a base of SqlStore)."""

    engine: AsyncEngine
    turns: WriteTurns

    async def save_scores(self, scores: Sequence[CreditScore]) -> list[CreditScore]:
        check_scores(scores)
        if not scores:
            return []
        try:
            async with self.turns.writing() as connection:
                codes = sorted({found.firm_code for found in scores})
                firms = {row.code: row.id for row in await select_in(connection, select(_FIRM.c.id, _FIRM.c.code), _FIRM.c.code, codes)}
                for found in scores:
                    if found.firm_code not in firms:
                        raise InvalidInput(f"score of {found.firm_code} for {found.period} firm", found.firm_code, "is not a firm in the store")
                periods = sorted({found.period for found in scores})
                latest: dict[tuple[int, str], int] = {}
                query = (
                    select(_SCORE.c.firm_id, _SCORE.c.period, func.max(_SCORE.c.version).label("top"))
                    .where(_SCORE.c.period.in_(periods))
                    .group_by(_SCORE.c.firm_id, _SCORE.c.period)
                )
                for row in await select_in(connection, query, _SCORE.c.firm_id, list(firms.values())):
                    latest[(row.firm_id, row.period)] = int(row.top)
                stored = []
                values = []
                for found in scores:
                    firm_id = firms[found.firm_code]
                    version = latest.get((firm_id, found.period), 0) + 1
                    kept = CreditScore(**{**_fields(found), "version": version})
                    stored.append(kept)
                    values.append({**as_dict(kept), "firm_id": firm_id, "computed_at": utc(found.computed_at)})
                for start in range(0, len(values), 500):
                    await connection.execute(_SCORE.insert(), values[start : start + 500])
        except IntegrityError:
            raise StoreError("credit scores: another computation of the same period stored first; compute again") from None
        return stored

    async def credit_scores(self, firm_codes: Sequence[str], period: str) -> list[CreditScore | None]:
        async with self.engine.connect() as connection:
            query = _score_query().where(_SCORE.c.period == period)
            found = {row.firm_code: _score(row) for row in await select_in(connection, query, _FIRM.c.code, firm_codes)}
        return [found.get(code) for code in firm_codes]

    async def period_scores(self, period: str) -> list[CreditScore]:
        async with self.engine.connect() as connection:
            query = _score_query().where(_SCORE.c.period == period)
            found = [_score(row) for row in await connection.execute(query)]
        return sorted(found, key=lambda s: s.firm_code)

    async def latest_scores(self, firm_codes: Sequence[str], *, monthly: bool = True) -> list[CreditScore | None]:
        length = 7 if monthly else 4
        async with self.engine.connect() as connection:
            query = _score_query().where(func.length(_SCORE.c.period) == length)
            found: dict[str, CreditScore] = {}
            for row in await select_in(connection, query, _FIRM.c.code, firm_codes):
                score = _score(row)
                if score.firm_code not in found or found[score.firm_code].period < score.period:
                    found[score.firm_code] = score
        return [found.get(code) for code in firm_codes]

    async def credit_history(self, firm_codes: Sequence[str], *, versions: bool = False) -> list[list[CreditScore]]:
        async with self.engine.connect() as connection:
            query = _score_query(latest=not versions)
            grouped: dict[str, list[CreditScore]] = {}
            for row in await select_in(connection, query, _FIRM.c.code, firm_codes):
                score = _score(row)
                grouped.setdefault(score.firm_code, []).append(score)
        return [sorted(grouped.get(code, []), key=lambda s: (s.period, s.version)) for code in firm_codes]

    # -- what the computation reads -----------------------------------------------------------

    async def management_spans(self, first_day: dt.date, last_day: dt.date) -> list[Management]:
        span = tables.management
        query = (
            select(span, _PLACE.c.code.label("estate_code"), _FIRM.c.code.label("firm_code"))
            .join(_PLACE, _PLACE.c.id == span.c.estate_id)
            .join(_FIRM, _FIRM.c.id == span.c.firm_id)
            .where(span.c.since <= last_day, or_(span.c.until.is_(None), span.c.until > first_day))
        )
        async with self.engine.connect() as connection:
            found = [rows.management_of(row._mapping) for row in await connection.execute(query)]
        return sorted(found, key=span_order)

    async def firm_case_counts(
        self, firm_codes: Sequence[str], since: dt.datetime, until: dt.datetime
    ) -> list[FirmCaseCounts]:
        query = (
            select(
                _FIRM.c.code,
                func.sum(case((_CASE.c.escalation.is_not(None), 1), else_=0)).label("escalated"),
                func.count(_CASE.c.rating).label("rated"),
                func.coalesce(func.sum(_CASE.c.rating), 0).label("rating_sum"),
            )
            .join(_FIRM, _FIRM.c.id == _CASE.c.firm_id)
            .where(_CASE.c.reported_at >= utc(since), _CASE.c.reported_at < utc(until))
            .group_by(_FIRM.c.code)
        )
        async with self.engine.connect() as connection:
            found = {
                row.code: FirmCaseCounts(row.code, int(row.escalated or 0), int(row.rated or 0), int(row.rating_sum or 0))
                for row in await select_in(connection, query, _FIRM.c.code, firm_codes)
            }
        return [found.get(code, FirmCaseCounts(code)) for code in firm_codes]

    async def estate_case_counts(
        self,
        estate_codes: Sequence[str],
        since: dt.datetime,
        until: dt.datetime,
        *,
        source: CaseSource | None = None,
        category: CaseCategory | None = None,
    ) -> list[int]:
        estate = _PLACE.alias("case_estate")
        estate_of = case((_PLACE.c.level == int(Level.ESTATE), _PLACE.c.id), else_=_PLACE.c.estate_id)
        query = (
            select(estate.c.code, func.count().label("cases"))
            .select_from(_CASE)
            .join(_PLACE, _PLACE.c.id == _CASE.c.place_id)
            .join(estate, estate.c.id == estate_of)
            .where(_CASE.c.reported_at >= utc(since), _CASE.c.reported_at < utc(until))
            .group_by(estate.c.code)
        )
        if source is not None:
            query = query.where(_CASE.c.source_kind == source.value)
        if category is not None:
            query = query.where(_CASE.c.category == category.value)
        async with self.engine.connect() as connection:
            found = {row.code: int(row.cases) for row in await select_in(connection, query, estate.c.code, estate_codes)}
        return [found.get(code, 0) for code in estate_codes]

    async def votes_closed(self, since: dt.datetime, until: dt.datetime) -> list[str]:
        vote = tables.vote
        query = select(vote.c.key).where(
            vote.c.status == VoteStatus.CLOSED.value, vote.c.closed_at >= utc(since), vote.c.closed_at < utc(until)
        )
        async with self.engine.connect() as connection:
            return sorted(row.key for row in await connection.execute(query))


def _fields(found: CreditScore) -> dict[str, Any]:
    return {name: getattr(found, name) for name in CreditScore.__dataclass_fields__}
