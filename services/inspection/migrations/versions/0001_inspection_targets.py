"""inspection roster

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from services.common.idempotency import create_processed_events_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_processed_events_table(op)
    op.create_table(
        "inspection_targets",
        sa.Column("institution_id", sa.Integer, primary_key=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("risk_grade", sa.String(1), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("inspection_targets")
    op.drop_table("processed_events")
