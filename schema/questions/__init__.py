"""Graph questions in GraphQL: `impact`, `path` and a firm's `footprint` (graph.questions)."""
