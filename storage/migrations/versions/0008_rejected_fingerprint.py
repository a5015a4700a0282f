"""A refused payload is kept once: `rejected_event.fingerprint` identifies it (its source and kept payload,
and for a payload kept only as its shape also its position and reason; see storage.ingest.fingerprint),
unique, so a re-imported file or a resent event is not kept again. NULL (never equal to another) on rows a
webhook's adapter keeps.

Rows kept before this revision get their fingerprint from their own columns, as ingestion computes it,
so re-importing a file imported before the upgrade keeps nothing new either. Where such rows already hold
one payload several times, the oldest gets the fingerprint and the others keep NULL: every row stays.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 21:00:00
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_PAGE = 1000  # rows read at a time (a payload may be 1 MB)
_ROWS = sa.table(
    "rejected_event",
    *(sa.column(name) for name in ("id", "source", "position", "reason", "payload", "pseudonymised")),
    sa.column("fingerprint"),
)


def upgrade() -> None:
    with op.batch_alter_table("rejected_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    _fill_fingerprints(op.get_bind())
    with op.batch_alter_table("rejected_event", schema=None) as batch_op:
        batch_op.create_index("uq_rejected_event_fingerprint", ["fingerprint"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("rejected_event", schema=None) as batch_op:
        batch_op.drop_index("uq_rejected_event_fingerprint")
        batch_op.drop_column("fingerprint")


def _fill_fingerprints(conn: sa.Connection) -> None:
    """Sets the fingerprint of every row, page by page in id order; a fingerprint met before stays NULL."""
    seen: set[str] = set()
    last = 0
    while True:
        page = conn.execute(sa.select(_ROWS).where(_ROWS.c.id > last).order_by(_ROWS.c.id).limit(_PAGE)).all()
        if not page:
            return
        last = page[-1].id
        found = []
        for row in page:
            value = _fingerprint(
                row.source, row.payload, row.position, row.reason, whole=bool(row.pseudonymised)
            )
            if value not in seen:
                seen.add(value)
                found.append({"row_id": row.id, "value": value})
        if found:
            conn.execute(
                sa.update(_ROWS)
                .where(_ROWS.c.id == sa.bindparam("row_id"))
                .values(fingerprint=sa.bindparam("value")),
                found,
            )


def _fingerprint(source: str, payload: str, position: int | None, reason: str, *, whole: bool) -> str:
    """storage.ingest.fingerprint as of this revision (written out: a migration must not change with the
    code)."""
    parts = [source, payload] if whole else [source, payload, position, reason]
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
