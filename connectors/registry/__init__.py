"""Real-estate registration (不动产登记): units, rights holders and registrations, read from the
registry's exchange database (`registry-db`, `connectors.registry.database`) or from its CSV /
JSON-lines exports (`registry-files`, `connectors.registry.files`). Both kinds share the streams
and their linking to houses, owners and ownerships (`connectors.registry.streams`);
`connectors.registry.reference` builds a reference exchange database from the demo city.
"""
