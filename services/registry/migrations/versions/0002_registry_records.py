"""registry records: institution details and platform flags, staff, courses, schools, ledger imports

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # plain ADD COLUMNs (no table rebuild: SQLite could not drop a table other tables refer to)
    add = op.add_column
    add("institutions", sa.Column("subjects", sa.JSON, nullable=False, server_default=sa.text("'[]'")))
    add("institutions", sa.Column("stages", sa.JSON, nullable=False, server_default=sa.text("'[]'")))
    add("institutions", sa.Column("registered_on", sa.Date, nullable=True))  # filled below, always set after
    add("institutions", sa.Column("origin", sa.String(20), nullable=False, server_default="api"))
    for flag in ("platform_basic_info", "platform_staff", "platform_fund_supervision"):
        add("institutions", sa.Column(flag, sa.Boolean, nullable=False, server_default=sa.false()))
    add("institutions", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    add("institutions", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    add("institutions", sa.Column("updated_by", sa.String(100), nullable=True))

    # registered_on: the first day of each institution's status history (or its licence date)
    conn = op.get_bind()
    institutions = sa.table(
        "institutions",
        sa.column("id", sa.Integer),
        sa.column("licence_issued_on", sa.Date),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("registered_on", sa.Date),
    )
    history = sa.table("institution_status_history", sa.column("institution_id", sa.Integer),
                       sa.column("effective_on", sa.Date))
    first = dict(conn.execute(
        sa.select(history.c.institution_id, sa.func.min(history.c.effective_on)).group_by(history.c.institution_id)
    ).all())
    for iid, issued, created in conn.execute(
        sa.select(institutions.c.id, institutions.c.licence_issued_on, institutions.c.created_at)
    ).all():
        day = first.get(iid) or issued or (created.date() if hasattr(created, "date") else None)
        conn.execute(institutions.update().where(institutions.c.id == iid).values(registered_on=day))
    op.create_index("ix_institutions_category_status", "institutions", ["category", "status"])

    op.create_table(
        "staff_members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("institution_id", sa.Integer, sa.ForeignKey("institutions.id"), nullable=False, index=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("id_number_masked", sa.String(18), nullable=False),
        sa.Column("id_number_digest", sa.String(64), nullable=False, index=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("qualification_cert_no", sa.String(30), nullable=True),
        sa.Column("subjects", sa.JSON, nullable=False),
        sa.Column("hired_on", sa.Date, nullable=True),
        sa.Column("left_on", sa.Date, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.UniqueConstraint("institution_id", "id_number_digest", name="uq_staff_person"),
    )
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("institution_id", sa.Integer, sa.ForeignKey("institutions.id"), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(20), nullable=False),
        sa.Column("price_fen", sa.BigInteger, nullable=False),
        sa.Column("class_hours", sa.Integer, nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("schedule", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(100), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "schools",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(10), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("school_type", sa.String(20), nullable=False),
        sa.Column("grades", sa.JSON, nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("zone", sa.String(50), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
    )
    op.create_table(
        "import_batches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_by_user_id", sa.Integer, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "import_rows",
        sa.Column("batch_id", sa.String(32), sa.ForeignKey("import_batches.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("row_no", sa.Integer, primary_key=True),
        sa.Column("cells", sa.JSON, nullable=False),
    )


def downgrade():
    op.drop_table("import_rows")
    op.drop_table("import_batches")
    op.drop_table("schools")
    op.drop_table("courses")
    op.drop_table("staff_members")
    op.drop_index("ix_institutions_category_status", "institutions")
    with op.batch_alter_table("institutions") as batch:
        for column in ("updated_by", "updated_at", "version", "platform_fund_supervision", "platform_staff",
                       "platform_basic_info", "origin", "registered_on", "stages", "subjects"):
            batch.drop_column(column)
