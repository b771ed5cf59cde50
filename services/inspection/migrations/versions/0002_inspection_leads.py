"""inspection leads (线索) from other services' signals, first of all escrow alerts

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inspection_leads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("dedup_key", sa.String(160), nullable=False, unique=True),
        sa.Column("institution_id", sa.Integer, nullable=False, index=True),
        sa.Column("institution_name", sa.String(100), nullable=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("reason_kind", sa.String(40), nullable=False),
        sa.Column("reason_name", sa.String(60), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("source_refs", sa.JSON, nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("inspection_leads")
