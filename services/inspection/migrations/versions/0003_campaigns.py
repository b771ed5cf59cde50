"""campaigns (专项检查, 双随机), inspection records, evidence, orders and re-inspections — an independent branch

Revision ID: 0003_campaigns
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_campaigns"
down_revision = "0002"
branch_labels = ("campaigns",)
depends_on = None


def upgrade():
    op.create_table(
        "inspection_campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("townships", sa.JSON, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("team", sa.JSON, nullable=False),
        sa.Column("scope_ids", sa.JSON, nullable=False),
        sa.Column("scope_townships", sa.JSON, nullable=False),
        sa.Column("draw_roster", sa.JSON, nullable=True),
        sa.Column("rates", sa.JSON, nullable=True),
        sa.Column("seed", sa.BigInteger, nullable=True),
        sa.Column("drawn_ids", sa.JSON, nullable=True),
        sa.Column("created_by", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "inspection_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("inspection_campaigns.id"), nullable=True, index=True),
        sa.Column("institution_id", sa.Integer, nullable=False, index=True),
        sa.Column("institution_name", sa.String(100), nullable=False),
        sa.Column("township_code", sa.String(12), nullable=False, index=True),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inspectors", sa.JSON, nullable=False),
        sa.Column("checklist", sa.JSON, nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("order_id", sa.Integer, nullable=True),
        sa.Column("recorded_by", sa.JSON, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "inspection_evidence",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("record_id", sa.Integer, sa.ForeignKey("inspection_records.id"), nullable=False, index=True),
        sa.Column("filename", sa.String(200), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("uploaded_by", sa.JSON, nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "inspection_orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("record_id", sa.Integer, sa.ForeignKey("inspection_records.id"), nullable=False, index=True),
        sa.Column("institution_id", sa.Integer, nullable=False, index=True),
        sa.Column("institution_name", sa.String(100), nullable=False),
        sa.Column("township_code", sa.String(12), nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("deadline_workdays", sa.Integer, nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("referred_to", sa.String(40), nullable=True),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("reinspection_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("history", sa.JSON, nullable=False),
    )
    op.create_table(
        "inspection_reinspections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("inspection_orders.id"), nullable=False, index=True),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("recorded_by", sa.JSON, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    for table in ("inspection_reinspections", "inspection_orders", "inspection_evidence",
                  "inspection_records", "inspection_campaigns"):
        op.drop_table(table)
