"""Reports on time: schedules draft each report owed, notify, and flag it overdue (issue 6)."""
