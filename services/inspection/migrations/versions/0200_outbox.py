"""the transactional outbox: events committed with their change, published by the relay — an independent branch

Revision ID: outbox_0001
Revises: 0001
"""
from alembic import op

from services.common.outbox import create_outbox_table, drop_outbox_table

revision = "outbox_0001"
down_revision = "0001"
branch_labels = ("outbox",)
depends_on = None


def upgrade():
    create_outbox_table(op)


def downgrade():
    drop_outbox_table(op)
