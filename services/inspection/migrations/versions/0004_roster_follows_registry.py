"""the roster follows the registry (active flag, status, version) and county school vacations

Revision ID: 0004_roster
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_roster"
down_revision = "0002"
branch_labels = ("roster",)
depends_on = None


def upgrade():
    with op.batch_alter_table("inspection_targets") as batch:
        batch.add_column(sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("registry_status", sa.String(20), nullable=True))
        batch.add_column(sa.Column("registry_version", sa.Integer, nullable=True))
    op.create_table(
        "county_calendars",
        sa.Column("county_code", sa.String(6), primary_key=True),
        sa.Column("school_vacations", sa.JSON, nullable=False),
        sa.Column("settings_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("county_calendars")
    with op.batch_alter_table("inspection_targets") as batch:
        batch.drop_column("registry_version")
        batch.drop_column("registry_status")
        batch.drop_column("active")
