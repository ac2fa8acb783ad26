"""Tests of graph.staff and the staff role."""
