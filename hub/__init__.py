"""Assembly of the hub: settings, the Starlette app, the CLI, loading, benchmarks."""
