"""Settings of a hub process, from the command line first and then the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DB = "sqlite:///hub.sqlite"
"""The embedded default store: a SQLite file in the working directory."""


@dataclass(frozen=True, slots=True)
class Settings:
    db: str = DEFAULT_DB
    host: str = "127.0.0.1"
    port: int = 8000

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """`HUB_DB`, `HUB_HOST`, `HUB_PORT`, overridden by non-None keyword arguments."""
        values: dict[str, object] = {
            "db": os.environ.get("HUB_DB", DEFAULT_DB),
            "host": os.environ.get("HUB_HOST", "127.0.0.1"),
            "port": int(os.environ.get("HUB_PORT", "8000")),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]
