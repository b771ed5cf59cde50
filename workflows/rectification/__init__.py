"""Rectification (整改) follow-up of an inspection order: deadline → re-inspection → closed or escalated."""
