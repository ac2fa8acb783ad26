"""Places (the tree from the city down to the entrance) as a source: a city's division list, its
estates, buildings and entrances with their codes, and their shapes, read from files
(`places-files`, `connectors.places.files`) or a database table (`places-db`,
`connectors.places.database`). Both kinds share the streams, one per level, and the checks a row
passes before it becomes a place (`connectors.places.streams`, `connectors.places.shapes`).
"""
