"""report read models (attributes, settings, campaigns, inspections, orders, complaints, schools,
visits, homework checks, after-school plans) and report cycles with frozen submissions

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "institution_attribute_facts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("institution_id", sa.Integer, nullable=False, index=True),
        sa.Column("attribute", sa.String(40), nullable=False),
        sa.Column("value", sa.String(40), nullable=False),
        sa.Column("effective_on", sa.Date, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("uq_attribute_fact", "institution_attribute_facts", ["institution_id", "attribute", "version"],
                    unique=True)
    op.create_table(
        "county_report_settings",
        sa.Column("county_code", sa.String(6), primary_key=True),
        sa.Column("baseline_date", sa.Date, nullable=False),
    )
    op.create_table(
        "campaign_facts",
        sa.Column("campaign_id", sa.Integer, primary_key=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("created_on", sa.Date, nullable=False),
        sa.Column("in_scope", sa.Integer, nullable=False),
    )
    op.create_table(
        "inspection_facts",
        sa.Column("record_id", sa.Integer, primary_key=True),
        sa.Column("institution_id", sa.Integer, nullable=False, index=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("campaign_id", sa.Integer, nullable=True),
        sa.Column("inspected_on", sa.Date, nullable=False, index=True),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("illegal_ad", sa.Boolean, nullable=False),
    )
    op.create_table(
        "order_facts",
        sa.Column("order_id", sa.Integer, primary_key=True),
        sa.Column("institution_id", sa.Integer, nullable=False, index=True),
        sa.Column("division_code", sa.String(12), nullable=True, index=True),
        sa.Column("kind", sa.String(10), nullable=True),
        sa.Column("issued_on", sa.Date, nullable=True),
        sa.Column("closed_on", sa.Date, nullable=True),
        sa.Column("escalated_on", sa.Date, nullable=True),
    )
    op.create_table(
        "complaint_facts",
        sa.Column("complaint_id", sa.Integer, primary_key=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("received_on", sa.Date, nullable=False, index=True),
        sa.Column("verified_on", sa.Date, nullable=True),
        sa.Column("overdue_on", sa.Date, nullable=True),
        sa.Column("closed_on", sa.Date, nullable=True),
    )
    op.create_table(
        "school_facts",
        sa.Column("school_id", sa.Integer, primary_key=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("registered_on", sa.Date, nullable=False),
    )
    op.create_table(
        "school_visit_facts",
        sa.Column("visit_id", sa.Integer, primary_key=True),
        sa.Column("school_id", sa.Integer, nullable=False, index=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("visited_on", sa.Date, nullable=False, index=True),
    )
    op.create_table(
        "homework_check_facts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("school_id", sa.Integer, nullable=False, index=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("class_name", sa.String(30), nullable=False),
        sa.Column("checked_on", sa.Date, nullable=False),
        sa.Column("period_to", sa.Date, nullable=False),
        sa.Column("flagged", sa.Boolean, nullable=False),
    )
    op.create_table(
        "after_school_plan_facts",
        sa.Column("school_id", sa.Integer, primary_key=True),
        sa.Column("school_year", sa.Integer, primary_key=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("filed_on", sa.Date, nullable=False),
        sa.Column("deadline", sa.Date, nullable=True),
        sa.Column("participating", sa.Integer, nullable=True),
        sa.Column("enrolled", sa.Integer, nullable=True),
    )
    op.create_table(
        "report_cycles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_flagged_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("uq_report_cycle", "report_cycles", ["kind", "division_code", "period_end"], unique=True)
    op.create_table(
        "report_submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cycle_id", sa.Integer, nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("submitted_by", sa.JSON, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("uq_report_submission", "report_submissions", ["cycle_id", "version"], unique=True)
    # the report's hot path: status and attribute entries in force on a day
    op.create_index("ix_status_fact_day", "institution_status_facts", ["institution_id", "effective_on", "seq"])


def downgrade():
    op.drop_index("ix_status_fact_day", "institution_status_facts")
    for table in ("report_submissions", "report_cycles", "after_school_plan_facts", "homework_check_facts",
                  "school_visit_facts", "school_facts", "complaint_facts", "order_facts", "inspection_facts",
                  "campaign_facts", "county_report_settings", "institution_attribute_facts"):
        op.drop_table(table)
