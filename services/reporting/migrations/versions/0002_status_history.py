"""status facts ordered by the registry's history sequence; fact versions

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("institution_facts", sa.Column("version", sa.Integer, nullable=False, server_default="0"))
    op.add_column("institution_status_facts", sa.Column("seq", sa.Integer, nullable=False, server_default="0"))
    op.create_index("uq_status_fact_seq", "institution_status_facts", ["institution_id", "seq"], unique=True)


def downgrade():
    op.drop_index("uq_status_fact_seq", "institution_status_facts")
    with op.batch_alter_table("institution_status_facts") as batch:
        batch.drop_column("seq")
    with op.batch_alter_table("institution_facts") as batch:
        batch.drop_column("version")
