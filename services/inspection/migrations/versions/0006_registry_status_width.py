"""the roster's registry status holds the longest status key (suspended_for_rectification)

Revision ID: 0006_status_width
Revises: 0004_roster
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_status_width"
down_revision = "0004_roster"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("inspection_targets") as batch:
        batch.alter_column("registry_status", type_=sa.String(40), existing_type=sa.String(20), existing_nullable=True)


def downgrade():
    with op.batch_alter_table("inspection_targets") as batch:
        batch.alter_column("registry_status", type_=sa.String(20), existing_type=sa.String(40), existing_nullable=True)
