"""The Cypher store: one adapter, the same statements and graph model, over two transports —
the official `neo4j` async driver (`bolt://`, `neo4j://`) and the `falkordb` async client
(`falkordb://host:port/graph`). `graph.open_store(url)` picks it from the URL."""
