"""calendar_years: loaded holiday schedules (issue 13) — an independent branch

Revision ID: i13_calendar_0001
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from services.common.calendar_copy import create_table

revision = "i13_calendar_0001"
down_revision = "0001"
branch_labels = ("calendar_years",)
depends_on = None


def upgrade():
    create_table(op, sa)


def downgrade():
    op.drop_table("calendar_years")
