"""Histories recorded before a change must replay on the code after it (temporalio's Replayer):
cases already running when a deploy lands go on. Stored histories: tests/workflows/histories/."""
from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.approvals.workflows import ConversionApproval, Deregistration

HISTORIES = Path(__file__).parent / "histories"


@pytest.mark.parametrize("name", ["conversion_before_issue_12", "deregistration_before_issue_12"])
async def test_cases_started_before_issue_12_replay_on_todays_code(name):
    """Recorded with the workflow of commit 9082932 (next step's times computed when it started):
    a decide / return / documents walk of 营转非, and 注销 through its prepaid check."""
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    await Replayer(workflows=[ConversionApproval, Deregistration]).replay_workflow(history)
