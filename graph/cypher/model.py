"""The graph model, as the statements and the records see it.

Places are `:Place` nodes with a label per level (`:City` … `:House`) and `:Area` on every
place above the house; each carries its `code`, `level`, `parent` code and `line` — the codes
from its city down to itself — so a scope test is one list test and an `IN` edge points to its
parent. Owners are `:Owner` nodes holding houses by `OWNS {share, since, until, source}`;
firms `:Firm` nodes that `MANAGES {since, until}` estates. Every fact keeps its provenance
(`source`, `source_record`, `fetched_at`, `run_id`). Roll-ups are `:Rollup` nodes keyed by
the place's code. Property names are the SQL columns' names, so both adapters read alike.

Beside the places: utility `:Account`s are `FOR` their house, `:Bill`s `OF` their account,
`:Outage`s `AFFECTS` the places they name (graph.cypher.utilities); the audit log is `:Audit`
entries after an `:AuditHead`, tokens `:Token`s (graph.cypher.audit); the connector ledger is
`:Run`, `:StreamState` and `:DeadLetter` nodes (graph.cypher.ledger); shared queries
`:SharedQuery` versions and `:Safelist` switches (graph.cypher.shared). Numbers handed out
(dead-letter ids, query versions) come from `:Counter {name, value}` nodes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from graph.cypher import values
from graph.levels import Level
from graph.model import Management, Owner, OwnerKind, Ownership, Place, PropertyFirm, Provenance, Usage
from graph.scope import Scope

LABELS = {level: level.name.capitalize() for level in Level}
"""The level labels: City, District, Street, Community, Estate, Building, Entrance, House."""


def seen(node: str) -> str:
    """The scope test on a place node: `$all` (no limit) or a root on its line."""
    return f"($all OR any(c IN {node}.line WHERE c IN $roots))"


def holding(edge: str) -> str:
    """The span test on an OWNS or MANAGES edge: `$as_of` null for every span."""
    return f"($as_of IS NULL OR ({edge}.since <= $as_of AND ({edge}.until IS NULL OR {edge}.until > $as_of)))"


def scope_params(scope: Scope) -> dict[str, Any]:
    return {"all": scope.roots is None, "roots": sorted(scope.roots or ())}


def provenance_props(provenance: Provenance | None) -> dict[str, Any]:
    if provenance is None:
        return {}
    return {
        "source": provenance.source,
        "source_record": provenance.record_id,
        "fetched_at": values.micros(provenance.fetched_at),
        "run_id": provenance.run_id,
    }


def provenance_of(props: dict[str, Any]) -> Provenance | None:
    if props.get("source") is None:
        return None
    fetched = values.from_micros(props["fetched_at"])
    assert fetched is not None
    return Provenance(props["source"], props["source_record"], fetched, props["run_id"])


PLACE_FACTS = ("name", "geometry", "parcel_codes", "floors", "area_centi_m2", "floor", "usage", "parent")
"""What decides whether a write changes a place (provenance is not a fact)."""


def place_props(place: Place, line: list[str]) -> dict[str, Any]:
    """The whole property map of a place node (a node is always set whole: see the preamble
    of graph.cypher on FalkorDB's property removal)."""
    return values.present(
        {
            "code": place.code,
            "level": int(place.level),
            "parent": place.parent_code,
            "line": line,
            "name": place.name,
            "geometry": values.document(place.geometry),
            "parcel_codes": list(place.parcel_codes) or None,
            "floors": place.floors,
            "area_centi_m2": place.area_centi_m2,  # an int: hundredths of a m²
            "floor": place.floor,
            "usage": place.usage.name if place.usage is not None else None,
            **provenance_props(place.provenance),
        }
    )


def place_of(props: dict[str, Any]) -> Place:
    return Place(
        code=props["code"],
        level=Level(props["level"]),
        name=props["name"],
        parent_code=props.get("parent"),
        geometry=values.from_document(props.get("geometry")),
        parcel_codes=tuple(props.get("parcel_codes") or ()),
        floors=props.get("floors"),
        area_centi_m2=int(props["area_centi_m2"]) if props.get("area_centi_m2") is not None else None,
        floor=props.get("floor"),
        usage=Usage[props["usage"]] if props.get("usage") else None,
        provenance=provenance_of(props),
    )


def firm_props(firm: PropertyFirm) -> dict[str, Any]:
    return values.present({"code": firm.code, "name": firm.name, "phone": firm.phone, **provenance_props(firm.provenance)})


def firm_of(props: dict[str, Any]) -> PropertyFirm:
    return PropertyFirm(code=props["code"], name=props["name"], phone=props.get("phone"), provenance=provenance_of(props))


def span_props(since: dt.date, until: dt.date | None, provenance: Provenance | None, **facts: Any) -> dict[str, Any]:
    return values.present({"since": values.day(since), "until": values.day(until), **facts, **provenance_props(provenance)})


def ownership_of(house: str, owner: str, props: dict[str, Any], record: Owner | None = None) -> Ownership:
    since = values.from_day(props["since"])
    assert since is not None
    return Ownership(
        house_code=house,
        owner_id=owner,
        share=props["share"],
        since=since,
        until=values.from_day(props.get("until")),
        source=props.get("origin", "registration"),
        provenance=provenance_of(props),
        owner=record,
    )


def management_of(firm: str, estate: str, props: dict[str, Any]) -> Management:
    since = values.from_day(props["since"])
    assert since is not None
    return Management(
        firm_code=firm, estate_code=estate, since=since, until=values.from_day(props.get("until")),
        provenance=provenance_of(props),
    )


def owner_kind(props: dict[str, Any]) -> OwnerKind:
    return OwnerKind(props["kind"])
