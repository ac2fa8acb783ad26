"""The place tree: the `Place` interface, one type per level, lookups, paging and search."""
