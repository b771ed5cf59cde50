"""Scheduled platform scans (escrow's time-based alerts, overdue complaints) on Temporal schedules."""
