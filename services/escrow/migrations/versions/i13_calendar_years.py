"""calendar_years: loaded holiday schedules (issue 13) — an independent branch

Revision ID: i13_calendar_0001
Revises: 0001
"""
from services.common.calendar_copy import downgrade, upgrade  # noqa: F401  (one table shape for every service)

revision = "i13_calendar_0001"
down_revision = "0001"
branch_labels = ("calendar_years",)
depends_on = None
