"""The approval rules, on plain data: who may decide the current step, and what a decision does.

Pure and deterministic, so the workflow's update validator and handler use it directly and
unit tests run it without Temporal.
"""
from __future__ import annotations

from services.common.divisions import is_within
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.identity import DEPARTMENT_NAMES, Actor, DepartmentKind, Role

from .contracts import (
    ACTIONS,
    AWAITING_DOCUMENTS,
    COMPLETED,
    IN_PROGRESS,
    REJECTED,
    CaseState,
    Decision,
    HistoryEntry,
    StepTimes,
)

REASON_REQUIRED = {"reject", "return", "request_documents"}
REASON_MAX = 500


def actor_label(actor: Actor) -> str:
    return f"{actor.department_label}/{actor.display_name}"


def department_name(kind: str) -> str:
    try:
        return DEPARTMENT_NAMES[DepartmentKind(kind)]
    except ValueError:
        return kind


def parse_actor(data: object) -> Actor:
    try:
        return Actor.from_dict(data)  # type: ignore[arg-type]
    except (KeyError, ValueError, TypeError, AttributeError):
        raise ValidationFailed("操作人信息不完整", field="actor") from None


def validate(state: CaseState, decision: Decision, busy: bool = False) -> Actor:
    """Raise Forbidden / Conflict / ValidationFailed unless `decision` may be taken now."""
    actor = parse_actor(decision.actor)
    step = state.current_step
    if step is None:
        raise Conflict("该流程已结束，不能再作决定")
    if step["kind"] != "decision":
        raise Conflict(f"当前步骤“{step['title']}”由平台自动核查，无需人工决定")
    if actor.department_kind.value != step["department"]:
        raise Forbidden(
            f"当前步骤“{step['title']}”由{department_name(step['department'])}办理，"
            f"{actor.department_label}无权决定"
        )
    if not actor.has_role(Role.leader):
        raise Forbidden("作出决定需要部门负责人（leader）角色")
    if not is_within(state.division_code, actor.division_code):
        raise Forbidden("该机构不在您所属行政区划范围内", field="division_code")
    if busy:
        raise Conflict("上一项决定正在处理，请稍后刷新")
    if decision.action not in ACTIONS:
        raise ValidationFailed(f"未知操作“{decision.action}”，可选：{'、'.join(ACTIONS)}", field="action")
    reason = decision.reason
    if reason is not None and (not isinstance(reason, str) or len(reason) > REASON_MAX):
        raise ValidationFailed(f"理由应为不超过{REASON_MAX}字的文字", field="reason")
    if decision.action in REASON_REQUIRED and not (reason or "").strip():
        raise ValidationFailed(f"{ACTIONS[decision.action]}须填写理由", field="reason")
    if decision.action == "return":
        earlier = [s["key"] for s in state.steps[: state.current] if s["kind"] == "decision"]
        if not earlier:
            raise ValidationFailed("这是第一个办理步骤，没有可退回的步骤", field="return_to")
        if decision.return_to not in earlier:
            raise ValidationFailed(f"只能退回到之前的步骤：{'、'.join(earlier)}", field="return_to")
    if decision.action == "request_documents" and state.status == AWAITING_DOCUMENTS:
        raise Conflict("已在等待补充材料")
    if decision.action == "documents_received" and state.status != AWAITING_DOCUMENTS:
        raise Conflict("当前没有待补充的材料")
    return actor


def next_seq(state: CaseState) -> int:
    return len(state.history) + 1


def record(state: CaseState, action: str, actor: str, department: str, at: str, **extra) -> HistoryEntry:
    step = state.steps[min(state.current, len(state.steps) - 1)]
    entry = HistoryEntry(
        seq=next_seq(state), step=step["key"], step_title=step["title"], action=action,
        department=department, actor=actor, at=at, **extra,
    )
    state.history.append(entry)
    return entry


def apply(state: CaseState, decision: Decision, at: str) -> tuple[HistoryEntry, bool]:
    """Apply an already validated decision. Returns (history entry, whether the step changed)."""
    actor = parse_actor(decision.actor)
    step = state.current_step
    entry = record(
        state, decision.action, actor_label(actor), step["department"], at,
        reason=(decision.reason or None), return_to=decision.return_to, note=decision.note,
    )
    if decision.action == "approve":
        state.current += 1
        state.status = COMPLETED if state.current >= len(state.steps) else IN_PROGRESS
        return entry, True
    if decision.action == "reject":
        state.status = REJECTED
        return entry, True
    if decision.action == "return":
        state.current = next(i for i, s in enumerate(state.steps) if s["key"] == decision.return_to)
        state.status = IN_PROGRESS
        return entry, True
    if decision.action == "request_documents":
        state.status = AWAITING_DOCUMENTS
        return entry, False
    state.status = IN_PROGRESS  # documents_received
    return entry, False


def step_after(state: CaseState, decision: Decision) -> int | None:
    """Index of the step `decision` leads to when it changes the step and the case goes on; else None."""
    if decision.action == "approve" and state.current + 1 < len(state.steps):
        return state.current + 1
    if decision.action == "return":
        return next((i for i, s in enumerate(state.steps) if s["key"] == decision.return_to), None)
    return None


def enter_step(state: CaseState, times: StepTimes | None) -> None:
    """The step just changed: its own times replace the previous step's (None for a check step or
    the end), so no reader sees the new step with the old step's deadline or alarms."""
    state.step_started_at = times.started_at if times else None
    state.reminder_at = times.reminder_at if times else None
    state.deadline = times.deadline if times else None
    state.reminded = state.escalated = False


def approve_check(state: CaseState, detail: str, at: str) -> HistoryEntry:
    """An automatic check step passed: the platform approves it."""
    step = state.current_step
    entry = record(state, "checked", "系统", step["department"], at, note=detail)
    state.current += 1
    state.status = COMPLETED if state.current >= len(state.steps) else IN_PROGRESS
    return entry


def finished(state: CaseState) -> bool:
    return state.status in (COMPLETED, REJECTED)
