"""机构端 (issue 14): a user may be an institution's account, bound to that one institution

Revision ID: i14b_institution_accounts
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "i14b_institution_accounts"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("institution_id", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("institution_name", sa.String(100), nullable=True))
    op.create_index("ix_users_institution_id", "users", ["institution_id"])


def downgrade():
    op.drop_index("ix_users_institution_id", table_name="users")
    op.drop_column("users", "institution_name")
    op.drop_column("users", "institution_id")
