"""Sources the hub reads: real-estate registration, utilities, city operations and 12345.

One folder per source; each declares its configuration, a `check`, and its streams, and a
shared runner writes what they read through `graph/` (arrives with the connectors issue).
"""
