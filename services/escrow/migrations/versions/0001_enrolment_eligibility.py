"""enrolment eligibility read model

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
        "enrolment_eligibility",
        sa.Column("institution_id", sa.Integer, primary_key=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("may_enrol", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("enrolment_eligibility")
    op.drop_table("processed_events")
