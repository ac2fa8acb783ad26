"""The connector kinds the hub knows, by the name a configuration gives as `kind`.

Kinds are imported only when a configuration uses them, so a hub that syncs nothing never loads
an HTTP client or a second database driver.
"""

from __future__ import annotations

import importlib

from connectors.base import Source
from graph.errors import InvalidInput

KINDS: dict[str, str] = {
    "registry-db": "connectors.registry.database:RegistryDatabase",
    "registry-files": "connectors.registry.files:RegistryFiles",
    "utilities-http": "connectors.utilities.http:UtilitiesHttp",
    "utilities-csv": "connectors.utilities.drop:UtilitiesDrop",
    "cityops-feed": "connectors.cityops.feed:CityOpsFeed",
    "open311": "connectors.open311.client:Open311Source",
    "places-files": "connectors.places.files:PlacesFiles",
    "places-db": "connectors.places.database:PlacesDatabase",
    "custodian": "connectors.custodian.files:CustodianStatements",
    "maintenance": "connectors.maintenance.files:MaintenanceRecords",
}
"""kind → 'module:class' of a `connectors.base.Source`."""


def kind(name: str, *, field: str = "kind") -> type[Source]:
    """The Source class of a kind, or InvalidInput listing the kinds there are."""
    target = KINDS.get(name)
    if target is None:
        raise InvalidInput(field, name, f"is not a connector kind; use one of {', '.join(sorted(KINDS))}")
    module, _, attribute = target.partition(":")
    cls: type[Source] = getattr(importlib.import_module(module), attribute)
    return cls
