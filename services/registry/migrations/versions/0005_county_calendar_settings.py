"""county settings: school vacations (寒暑假) and the 压减率 baseline date

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    # nullable: rows saved before this revision read as the defaults ([] and 2021-07-24)
    with op.batch_alter_table("county_settings") as batch:
        batch.add_column(sa.Column("school_vacations", sa.JSON, nullable=True))
        batch.add_column(sa.Column("reduction_baseline_date", sa.Date, nullable=True))


def downgrade():
    with op.batch_alter_table("county_settings") as batch:
        batch.drop_column("reduction_baseline_date")
        batch.drop_column("school_vacations")
