"""The `hub` subcommands, one module per group; each module's `add(commands)` registers its parsers
and sets `handler` (a function of the parsed arguments returning an exit status)."""
