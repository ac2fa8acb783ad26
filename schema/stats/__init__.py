"""Roll-ups of the place tree for dashboards and maps: `stats` and `geo`."""
