"""case attachments: documents uploaded to a 营转非 / 注销 case for one of its steps — an independent branch

Revision ID: attachments_0001
Revises: 0001 (depends on 0003, which creates `cases`)
"""
import sqlalchemy as sa
from alembic import op

revision = "attachments_0001"
down_revision = "0001"
branch_labels = ("case_attachments",)
depends_on = "0003"


def upgrade():
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("step_key", sa.String(60), nullable=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(50), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("department", sa.String(30), nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("case_attachments")
