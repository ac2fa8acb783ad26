"""The owners' money as the hub shows it: statements (收支公示) as text, CSV and an A4 page."""
