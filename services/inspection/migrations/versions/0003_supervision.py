"""school supervision (督导): school roster, zones, visits, homework, 一校一案 plans, settings

Revision ID: 0003_supervision
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_supervision"
down_revision = "0002"
branch_labels = ("supervision",)
depends_on = None


def upgrade():
    op.create_table(
        "supervised_schools",
        sa.Column("school_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("code", sa.String(10), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("school_type", sa.String(20), nullable=False),
        sa.Column("grades", sa.JSON, nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("county_code", sa.String(6), nullable=False, index=True),
        sa.Column("zone", sa.String(50), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "supervision_zones",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False, index=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("inspector_name", sa.String(50), nullable=False),
        sa.Column("inspector_user_id", sa.Integer, nullable=True),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("county_code", "name"),
    )
    op.create_table(
        "school_visits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("school_id", sa.Integer, nullable=False, index=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("zone", sa.String(50), nullable=False),
        sa.Column("visited_on", sa.Date, nullable=False, index=True),
        sa.Column("inspector", sa.String(50), nullable=False),
        sa.Column("method", sa.String(30), nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "homework_publications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("school_id", sa.Integer, nullable=False, index=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("grade", sa.Integer, nullable=False),
        sa.Column("class_name", sa.String(30), nullable=False),
        sa.Column("published_on", sa.Date, nullable=False, index=True),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("written_minutes", sa.Integer, nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("school_id", "grade", "class_name", "published_on"),
    )
    op.create_table(
        "after_school_plans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("school_id", sa.Integer, nullable=False, index=True),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("school_year", sa.Integer, nullable=False),
        sa.Column("filed_on", sa.Date, nullable=False),
        sa.Column("participating", sa.Integer, nullable=True),
        sa.Column("enrolled", sa.Integer, nullable=True),
        sa.Column("aware", sa.Integer, nullable=True),
        sa.Column("surveyed", sa.Integer, nullable=True),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("school_id", "school_year"),
    )
    op.create_table(
        "supervision_settings",
        sa.Column("county_code", sa.String(6), primary_key=True),
        sa.Column("plan_deadline", sa.String(5), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    for table in ("supervision_settings", "after_school_plans", "homework_publications", "school_visits",
                  "supervision_zones", "supervised_schools"):
        op.drop_table(table)
