"""owner ids keyed with the hub's key (HMAC-SM3) instead of a plain hash of the ID number

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21

An owner's id was a plain SHA-256 of its ID number: roles that see owners masked still see ids,
and an 18-character resident ID number has few enough values to find by trying them all. Each
stored owner gets the id its number has under the hub's key (graph.identity, `Sealer.owner_ids`);
its personal data, sealed with the id in the cipher's context, is sealed again under the new id.
Ownerships point at owners by row, so they follow. Tokens issued to owners name the old id in
their scope: issue them again after this upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_PERSONAL = ("name", "id_number", "phone")


def upgrade() -> None:
    bind = op.get_bind()
    owners = sa.table(
        "owner",
        sa.column("id", sa.Integer),
        sa.column("key", sa.String),
        *(sa.column(f"{field}_sealed", sa.LargeBinary) for field in _PERSONAL),
    )
    rows = bind.execute(sa.select(owners.c.id, owners.c.key, *(owners.c[f"{f}_sealed"] for f in _PERSONAL))).all()
    if not rows:
        return
    sealer = context.config.attributes.get("sealer")
    if sealer is None:
        raise RuntimeError(
            f"the database holds {len(rows)} owners whose ids are re-keyed by this upgrade: open it "
            "with the hub's keys (any hub command with --keys)"
        )
    ids = sealer.owner_ids()
    updates = []
    for row in rows:
        opened = {
            field: None if getattr(row, f"{field}_sealed") is None else sealer.open(getattr(row, f"{field}_sealed"), field=field, owner=row.key)
            for field in _PERSONAL
        }
        key = ids(str(opened["id_number"]))
        values: dict[str, object] = {"row_id": row.id, "new_key": key}
        for field in _PERSONAL:
            value = opened[field]
            values[f"{field}_sealed"] = None if value is None else sealer.seal(value, field=field, owner=key)
        updates.append(values)
    # two steps, so that no new id collides on the unique index with an old one not yet moved
    bind.execute(owners.update().where(owners.c.id == sa.bindparam("row_id")).values(key=sa.literal("#") + owners.c.key), [
        {"row_id": item["row_id"]} for item in updates
    ])
    bind.execute(
        owners.update()
        .where(owners.c.id == sa.bindparam("row_id"))
        .values({"key": sa.bindparam("new_key"), **{f"{f}_sealed": sa.bindparam(f"{f}_sealed") for f in _PERSONAL}}),
        updates,
    )


def downgrade() -> None:
    raise RuntimeError("keyed owner ids are not turned back into plain hashes by a downgrade; restore a backup instead")
