"""GeoJSON FeatureCollections (RFC 7946) of places coloured by their roll-ups, for map pages.

Six store calls whatever the number of features: the shapes, the stats of the same level under
the same place, and, for all the shapes together, the houses in utility arrears, the case
figures (open, overdue, satisfaction), the device summaries (active alarms) and the fund totals
(维修资金余额, accounts under 30% of their first deposit), joined here by code; for estates two
more: their managing firms today and those firms' latest monthly credit scores (物业信用). Live figures are
null for a place outside the caller's scope, as on `stats` rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graph.cases import CaseMetrics
from graph.credit.records import CreditScore
from graph.devices import DeviceSummary
from graph.funds.records import FundTotals
from graph.model import Place, Stats

METRICS = ("houses", "floor_area", "owners", "estates", "buildings")
_PROPERTY = {"floor_area": "floorArea"}
"""`floorArea` is m² for display (the exact whole hundredths over 100: JSON writes it exactly,
like 12345.67); `floorAreaCentiM2` beside it is the exact integer."""


LIVE_METRICS = (
    "housesInArrears", "openCases", "overdueCases", "activeAlarms", "satisfactionRate", "fundBalance", "fundLowAccounts",
    "firmCredit",
)
"""Properties read live for each feature (not rolled up): what a street office
colours its map by besides the roll-up."""


def feature(
    place: Place,
    row: Stats | None,
    arrears: int | None = None,
    cases: CaseMetrics | None = None,
    devices: DeviceSummary | None = None,
    funds: FundTotals | None = None,
    credit: CreditScore | None = None,
) -> dict[str, Any]:
    """One Feature whose `id` is the place code; metrics are null when no roll-up exists yet,
    the live ones when they were not counted (a place outside the caller's scope).

    `openCases` are the subtree's cases whose work is not done (every case ever reported, less
    those 办结, 回访 or 归档), `overdueCases` those overdue now, `satisfactionRate` 满意率 over
    every rated case (null without ratings), `activeAlarms` the alarms not yet cleared.
    `fundBalance` is the maintenance fund's balance over the subtree's accounts in integer fen
    (exact; a page shows yuan), `fundLowAccounts` the accounts under 30% of their first deposit
    (续筹 due); both null where no house of the subtree has an account: no fund is not an empty one.
    `firmCredit` is, for an estate, the latest monthly credit score of the firm managing it today
    in hundredths of a point (0..10000, exact; `firmCreditPeriod` its month, `firmCode` the firm);
    null for other levels, an estate without a firm or a score, or a firm you may not see."""
    properties: dict[str, Any] = {"code": place.code, "name": place.name, "level": place.level.name}
    for metric in METRICS:
        if metric == "floor_area":
            properties["floorArea"] = None if row is None else row.floor_area_centi_m2 / 100
            properties["floorAreaCentiM2"] = None if row is None else row.floor_area_centi_m2
        else:
            properties[_PROPERTY.get(metric, metric)] = None if row is None else getattr(row, metric)
    properties["housesInArrears"] = arrears
    properties["openCases"] = None if cases is None else cases.cases - cases.resolved
    properties["overdueCases"] = None if cases is None else cases.overdue
    properties["satisfactionRate"] = None if cases is None else cases.satisfaction_rate
    properties["activeAlarms"] = None if devices is None else devices.active_alarms
    kept = funds if funds is not None and funds.accounts > 0 else None
    properties["fundBalance"] = None if kept is None else kept.balance_fen
    properties["fundLowAccounts"] = None if kept is None else kept.low_accounts
    properties["firmCredit"] = None if credit is None else credit.total_centi
    properties["firmCreditPeriod"] = None if credit is None else credit.period
    properties["firmCode"] = None if credit is None else credit.firm_code
    return {"type": "Feature", "id": place.code, "geometry": place.geometry, "properties": properties}


def feature_collection(
    shapes: Sequence[Place],
    rows: Sequence[Stats],
    arrears: Mapping[str, int | None] | None = None,
    cases: Mapping[str, CaseMetrics | None] | None = None,
    devices: Mapping[str, DeviceSummary | None] | None = None,
    funds: Mapping[str, FundTotals | None] | None = None,
    credit: Mapping[str, CreditScore | None] | None = None,
) -> dict[str, Any]:
    by_code = {row.place.code: row for row in rows}
    owing, figures, summaries, totals, scores = arrears or {}, cases or {}, devices or {}, funds or {}, credit or {}
    return {
        "type": "FeatureCollection",
        "features": [
            feature(
                place, by_code.get(place.code), owing.get(place.code), figures.get(place.code), summaries.get(place.code),
                totals.get(place.code), scores.get(place.code),
            )
            for place in shapes
        ],
    }
