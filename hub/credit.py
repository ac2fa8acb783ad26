"""The hub's firms' credit service: its weights (the `[credit]` table of the file
`HUB_CREDIT_WEIGHTS` names) and the readers plugged into it. The one place where the
facilities' compliance and the staff certificates readers are plugged in (graph.credit.inputs):
`hub serve`, its monthly sweep, the `computeCredit` mutation and `hub credit compute` all take
their service from here."""

from __future__ import annotations

from pathlib import Path

from graph.credit.service import Credit
from graph.credit.weights import Weights
from graph.facilities.compliance import facility_compliance
from graph.staff.certificates import certificate_standing
from graph.store import Store


def credit_service(store: Store, weights: str | Path | None = None) -> Credit:
    """The credit service over `store` with the weights of the TOML file `weights` (the defaults
    when None or absent). Facilities: `graph.facilities.compliance.facility_compliance` (the
    maintenance and inspection parts, from the recorded life events of the facilities under the
    estates each firm managed in the period, at the default intervals). Certificates: the staff's
    held and lapsed on the period's last day (`graph.staff.certificates.certificate_standing`)."""
    return Credit(store, Weights.load(weights), facility=facility_compliance, certificates=certificate_standing)
