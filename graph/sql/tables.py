"""The SQL tables of the graph (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Places are one table: each row carries the ids of its ancestors by level (`city_id` …
`entrance_id`), so a subtree, a scope check or a roll-up grouped by any level is one indexed
predicate instead of a recursive walk. Codes use the C collation on PostgreSQL so that they
sort byte-wise there as on SQLite, which keeps cursors and prefix searches identical.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

from graph.levels import Level

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def code_type(length: int) -> TypeEngine[str]:
    """A code column: byte-wise ordering on every backend."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


ANCESTOR_LEVELS = tuple(level for level in Level if level < Level.HOUSE)
"""Levels that can be ancestors; each has an `<level>_id` column on `place`."""


ANCESTOR_COLUMNS = tuple(f"{level.name.lower()}_id" for level in ANCESTOR_LEVELS)
"""The ancestor id columns of `place`, in level order (index = level - 1)."""


def ancestor_column(level: Level) -> str:
    return ANCESTOR_COLUMNS[level - 1]


def _provenance() -> list[Column[object]]:
    return [
        Column("source", String(64), nullable=True),
        Column("source_record", String(128), nullable=True),
        Column("fetched_at", DateTime(timezone=True), nullable=True),
        Column("run_id", String(64), nullable=True),
    ]


place = Table(
    "place",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", code_type(28), nullable=False, unique=True),
    Column("level", SmallInteger, nullable=False),
    Column("name", String(200), nullable=False),
    Column("parent_id", Integer, ForeignKey("place.id"), nullable=True),
    *(Column(ancestor_column(level), Integer, nullable=True) for level in ANCESTOR_LEVELS),
    Column("geometry", Text, nullable=True),
    Column("min_lon", Float, nullable=True),
    Column("min_lat", Float, nullable=True),
    Column("max_lon", Float, nullable=True),
    Column("max_lat", Float, nullable=True),
    Column("parcel_codes", String(400), nullable=True),
    Column("floors", SmallInteger, nullable=True),
    Column("area", Float, nullable=True),
    Column("floor", SmallInteger, nullable=True),
    Column("usage", String(16), nullable=True),
    *_provenance(),
    Index("ix_place_level_code", "level", "code"),
    Index("ix_place_parent_id", "parent_id", "code"),
    *(
        Index(f"ix_place_{ancestor_column(level)}", ancestor_column(level), "level", "code")
        for level in ANCESTOR_LEVELS
    ),
)

owner = Table(
    "owner",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    # personal data: SM4-GCM sealed values, found through keyed SM3 blind indexes (hex)
    Column("name_sealed", LargeBinary, nullable=False),
    Column("id_number_sealed", LargeBinary, nullable=False),
    Column("phone_sealed", LargeBinary, nullable=True),
    Column("name_index", String(64), nullable=False),
    Column("id_number_index", String(64), nullable=False),
    Column("phone_index", String(64), nullable=True),
    *_provenance(),
    Index("ix_owner_name_index", "name_index"),
    Index("ix_owner_id_number_index", "id_number_index"),
    Index("ix_owner_phone_index", "phone_index"),
)

ownership = Table(
    "ownership",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("house_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("owner_id", Integer, ForeignKey("owner.id"), nullable=False),
    Column("share", Float, nullable=False),
    Column("since", Date, nullable=False),
    Column("until", Date, nullable=True),
    Column("origin", String(32), nullable=False),
    *_provenance(),
    UniqueConstraint("house_id", "owner_id", "since"),
    Index("ix_ownership_owner_id", "owner_id"),
)

firm = Table(
    "firm",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", code_type(18), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("phone", String(32), nullable=True),
    *_provenance(),
)

management = Table(
    "management",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("estate_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("firm_id", Integer, ForeignKey("firm.id"), nullable=False),
    Column("since", Date, nullable=False),
    Column("until", Date, nullable=True),
    *_provenance(),
    UniqueConstraint("estate_id", "firm_id", "since"),
    Index("ix_management_firm_id", "firm_id"),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(400), nullable=False),
    Column("detail", Text, nullable=False),
    Column("reason", String(400), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

token = Table(
    "token",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoke_reason", String(200), nullable=True),
)

place_stats = Table(
    "place_stats",
    metadata,
    Column("place_id", Integer, ForeignKey("place.id"), primary_key=True),
    Column("houses", Integer, nullable=False),
    Column("floor_area", Float, nullable=False),
    Column("owners", Integer, nullable=False),
    Column("estates", Integer, nullable=False),
    Column("buildings", Integer, nullable=False),
    Column("refreshed_at", DateTime(timezone=True), nullable=False),
)
