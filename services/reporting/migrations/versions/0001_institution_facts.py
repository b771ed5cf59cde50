"""institution read model and processed events

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
        "institution_facts",
        sa.Column("institution_id", sa.Integer, primary_key=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("registered_on", sa.Date, nullable=False),
    )
    op.create_table(
        "institution_status_facts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("institution_id", sa.Integer, nullable=False, index=True),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("effective_on", sa.Date, nullable=False),
    )


def downgrade():
    op.drop_table("institution_status_facts")
    op.drop_table("institution_facts")
    op.drop_table("processed_events")
