"""processed events: the registry consumes inspection orders (停业整顿) once each

Revision ID: 0004
Revises: 0003
"""
from alembic import op

from services.common.idempotency import create_processed_events_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    create_processed_events_table(op)


def downgrade():
    op.drop_table("processed_events")
