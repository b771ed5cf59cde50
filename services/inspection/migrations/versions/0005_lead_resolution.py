"""leads are closed: by the inspection that checked them or by an official with a resolution

Revision ID: 0005_leads
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_leads"
down_revision = "0002"
branch_labels = ("leads",)
depends_on = None


def upgrade():
    with op.batch_alter_table("inspection_leads") as batch:
        batch.add_column(sa.Column("resolution", sa.String(20), nullable=True))
        batch.add_column(sa.Column("resolution_note", sa.Text, nullable=True))
        batch.add_column(sa.Column("record_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("closed_by", sa.JSON, nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("inspection_leads") as batch:
        for column in ("closed_at", "closed_by", "record_id", "resolution_note", "resolution"):
            batch.drop_column(column)
