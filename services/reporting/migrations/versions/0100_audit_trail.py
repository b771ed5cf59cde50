"""the audit trail: hash-chained audit_log and its one-row audit_head — an independent branch

Revision ID: audit_0001
Revises: 0001
"""
from alembic import op

from services.common.audit import create_audit_tables, drop_audit_tables

revision = "audit_0001"
down_revision = "0001"
branch_labels = ("audit",)
depends_on = None


def upgrade():
    create_audit_tables(op)


def downgrade():
    drop_audit_tables(op)
