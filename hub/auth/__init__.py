"""Who is calling: bearer tokens MAC'd with keyed SM3, principals, and the scope each may read."""
