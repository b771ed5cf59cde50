"""division names unique among a parent's children — an independent branch (issue 15)

Existing duplicates (possible before this revision: `division add` accepted a second 城关镇 under one
county) are renamed to `名称（代码）`, every member of the group, so none keeps the bare name and a
ledger row naming it is refused as unknown rather than put under the wrong township; the admin then
sees which codes need their real names. The renames are logged as warnings.

Revision ID: i15_division_names
Revises: 0001
"""
import logging
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from services.common.textfiles import fold

revision = "i15_division_names"
down_revision = "0001"
branch_labels = ("division_names",)
depends_on = None

NAME_LENGTH = 50


def upgrade():
    bind = op.get_bind()
    divisions = sa.table("divisions", sa.column("code", sa.String), sa.column("name", sa.String),
                         sa.column("parent_code", sa.String))
    groups = defaultdict(list)
    for code, name, parent in bind.execute(sa.select(divisions.c.code, divisions.c.name, divisions.c.parent_code)):
        groups[(parent, fold(name))].append((code, name))
    for members in groups.values():
        if len(members) < 2:
            continue
        for code, name in members:
            renamed = f"{name[:NAME_LENGTH - len(code) - 2]}（{code}）"
            bind.execute(divisions.update().where(divisions.c.code == code).values(name=renamed))
            logging.getLogger("alembic").warning("division %s renamed %r -> %r (same name under one parent)",
                                                 code, name, renamed)
    # a unique index, not a constraint: SQLite would have to rebuild the table other tables point at
    op.create_index("uq_division_parent_name", "divisions", ["parent_code", "name"], unique=True)


def downgrade():
    op.drop_index("uq_division_parent_name", table_name="divisions")
