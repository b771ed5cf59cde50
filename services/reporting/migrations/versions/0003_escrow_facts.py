"""escrow read models: supervised accounts, alerts and booked balances, dated for "as of" reports

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "escrow_account_facts",
        sa.Column("account_id", sa.Integer, primary_key=True),
        sa.Column("institution_id", sa.Integer, nullable=False, index=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("opened_on", sa.Date, nullable=True),
        sa.Column("closed_on", sa.Date, nullable=True),
    )
    op.create_table(
        "escrow_alert_facts",
        sa.Column("alert_id", sa.Integer, primary_key=True),
        sa.Column("institution_id", sa.Integer, nullable=False, index=True),
        sa.Column("division_code", sa.String(12), nullable=True, index=True),
        sa.Column("kind", sa.String(40), nullable=True),
        sa.Column("raised_on", sa.Date, nullable=True),
        sa.Column("closed_on", sa.Date, nullable=True),
    )
    op.create_table(
        "escrow_balance_facts",
        sa.Column("institution_id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("balance_fen", sa.BigInteger, nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("escrow_balance_facts")
    op.drop_table("escrow_alert_facts")
    op.drop_table("escrow_account_facts")
