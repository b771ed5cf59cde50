"""enrolment eligibility keeps the status and the 营转非 suspension it was derived from

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
    with op.batch_alter_table("enrolment_eligibility") as batch:
        batch.add_column(sa.Column("status", sa.String(40), nullable=False, server_default="operating"))
        batch.add_column(sa.Column("status_as_of", sa.String(40), nullable=True))
        batch.add_column(sa.Column("conversion_suspended", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("conversion_as_of", sa.String(40), nullable=True))


def downgrade():
    with op.batch_alter_table("enrolment_eligibility") as batch:
        batch.drop_column("conversion_as_of")
        batch.drop_column("conversion_suspended")
        batch.drop_column("status_as_of")
        batch.drop_column("status")
