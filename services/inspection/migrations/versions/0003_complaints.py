"""complaints (举报) and the per-county SLA settings — an independent branch

Revision ID: 0003_complaints
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_complaints"
down_revision = "0002"
branch_labels = ("complaints",)
depends_on = None


def upgrade():
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("receipt_no", sa.String(32), nullable=False, unique=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("channel_ref", sa.String(64), nullable=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("institution_id", sa.Integer, nullable=True, index=True),
        sa.Column("institution_name", sa.String(100), nullable=True),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("contact_phone", sa.String(20), nullable=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("duplicate_of", sa.String(32), nullable=True),
        sa.Column("department", sa.String(40), nullable=True, index=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("reply", sa.Text, nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lead_id", sa.Integer, nullable=True),
        sa.Column("history", sa.JSON, nullable=False),
        sa.UniqueConstraint("channel", "channel_ref", name="uq_complaints_channel_ref"),
    )
    op.create_table(
        "complaint_settings",
        sa.Column("county_code", sa.String(12), primary_key=True),
        sa.Column("sla_days", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
    )


def downgrade():
    op.drop_table("complaint_settings")
    op.drop_table("complaints")
