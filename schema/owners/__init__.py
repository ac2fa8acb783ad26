"""Owners (业主) and their ownerships of houses over time."""
