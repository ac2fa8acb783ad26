"""Utilities (water, power, gas, heating) as sources: accounts, bills and outage notices, read
from a utility's HTTP JSON API (`utilities-http`) or from the CSV files it drops in a folder
(`utilities-csv`). `reference` builds a realistic utility from the demo city for tests and demos."""
