"""cases (营转非, 注销), their history, and county settings

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("workflow_id", sa.String(80), nullable=False, unique=True),
        sa.Column("process", sa.String(30), nullable=False),
        sa.Column("variant", sa.String(30), nullable=False),
        sa.Column("institution_id", sa.Integer, sa.ForeignKey("institutions.id"), nullable=False, index=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("current_step", sa.String(60), nullable=True),
        sa.Column("current_department", sa.String(30), nullable=True, index=True),
        sa.Column("step_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded", sa.Boolean, nullable=False),
        sa.Column("escalated", sa.Boolean, nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(100), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "case_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("step", sa.String(60), nullable=False),
        sa.Column("step_title", sa.String(100), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("department", sa.String(30), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("return_to", sa.String(60), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.UniqueConstraint("case_id", "seq", name="uq_case_entry_seq"),
    )
    op.create_table(
        "county_settings",
        sa.Column("county_code", sa.String(6), primary_key=True),
        sa.Column("conversion_deadline", sa.Date, nullable=False),
        sa.Column("conversion_variant", sa.String(30), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
    )


def downgrade():
    op.drop_table("county_settings")
    op.drop_table("case_entries")
    op.drop_table("cases")
