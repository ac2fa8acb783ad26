"""Utilities in the API: a house's accounts and arrears, outage notices, arrears on roll-ups."""
