"""The 运维 page's recent errors: a structlog processor keeps error lines, newest first."""
from __future__ import annotations

from services.common import logging as sj_logging


def test_error_lines_are_kept_newest_first_and_others_are_not():
    sj_logging.RECENT_ERRORS.clear()
    for n in range(3):
        sj_logging.remember_errors(None, "error", {"level": "error", "event": f"failed_{n}", "service": "registry",
                                                   "secret_field": "not kept"})
    sj_logging.remember_errors(None, "info", {"level": "info", "event": "fine"})
    kept = sj_logging.recent_errors()
    assert [e["event"] for e in kept] == ["failed_2", "failed_1", "failed_0"]
    assert "secret_field" not in kept[0] and kept[0]["service"] == "registry"


def test_only_the_latest_fifty_are_kept():
    sj_logging.RECENT_ERRORS.clear()
    for n in range(60):
        sj_logging.remember_errors(None, "error", {"level": "error", "event": f"e{n}"})
    assert len(sj_logging.RECENT_ERRORS) == 50 and sj_logging.recent_errors(1)[0]["event"] == "e59"
