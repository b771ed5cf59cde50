"""家长端 (issue 14): each contract's code for the parent, and a parent's dispute of a lesson

Revision ID: i14b_contract_codes
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

from services.common.contract_codes import new_code

revision = "i14b_contract_codes"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("contracts", sa.Column("access_code", sa.String(16), nullable=True))
    contracts = sa.table("contracts", sa.column("id", sa.Integer), sa.column("access_code", sa.String))
    conn = op.get_bind()
    for (contract_id,) in conn.execute(sa.select(contracts.c.id)).all():  # contracts signed before codes
        conn.execute(contracts.update().where(contracts.c.id == contract_id).values(access_code=new_code()))
    op.create_index("ix_contracts_access_code", "contracts", ["access_code"], unique=True)
    op.add_column("lessons", sa.Column("dispute_reason", sa.Text(), nullable=True))
    op.add_column("lessons", sa.Column("disputed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column("lessons", "disputed_at")
    op.drop_column("lessons", "dispute_reason")
    op.drop_index("ix_contracts_access_code", table_name="contracts")
    op.drop_column("contracts", "access_code")
