"""The SQL adapter of the store port: SQLAlchemy 2 async on SQLite (default) and PostgreSQL."""

from graph.sql.store import SqlStore

__all__ = ["SqlStore"]
