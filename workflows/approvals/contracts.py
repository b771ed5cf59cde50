"""What crosses the boundary of the approval workflows (营转非 ConversionApproval, 注销
Deregistration, and the county's ConversionDeadline). Plain dataclasses stored as JSON in
workflow histories: add fields with defaults only."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from services.common.errors import ValidationFailed
from services.common.workdays import SHANGHAI, deadline_provisional

CONVERSION_WORKFLOW = "ConversionApproval"
DEREGISTRATION_WORKFLOW = "Deregistration"
DEADLINE_WORKFLOW = "ConversionDeadline"

UPDATE_DECIDE = "decide"
QUERY_STATE = "state"
SIGNAL_RESCHEDULE = "reschedule"

ACTIVITY_STEP_TIMES = "compute_step_times"
ACTIVITY_RECORD = "record_case_progress"
ACTIVITY_CHECK = "run_step_check"
ACTIVITY_LAPSE = "lapse_academic_scope"

# statuses of a case
IN_PROGRESS = "in_progress"  # 办理中
AWAITING_DOCUMENTS = "awaiting_documents"  # 待补充材料
COMPLETED = "completed"  # 已办结
REJECTED = "rejected"  # 未通过

ACTIONS = {
    "approve": "通过",
    "reject": "不予通过",
    "return": "退回（驳回）",
    "request_documents": "要求补充材料",
    "documents_received": "材料已补齐",
}


def deadline_workflow_id(county_code: str) -> str:
    return f"conversion-deadline-{county_code}"


@dataclass
class CaseInput:
    workflow_id: str  # from the registry's case: f"{process}-{institution id}-{case id}"
    process: str  # services.common.processes.CONVERSION | DEREGISTRATION
    institution_id: int
    institution_name: str
    division_code: str  # the institution's township: who may decide is scoped by it
    steps: list[dict]  # StepSpec.as_dict() of each step, in order
    opened_by: str = ""
    opened_at: str | None = None  # ISO 8601 with offset; the first step's SLA runs from here
    correlation_id: str | None = None
    county_deadline: str | None = None  # ISO date, conversion only (shown as time left)


@dataclass
class Decision:
    """Payload of the `decide` update."""

    actor: dict  # Actor.to_dict(): must equal the signed actor in `actor_token`
    action: str  # one of ACTIONS
    reason: str | None = None  # required for reject / return / request_documents
    return_to: str | None = None  # step key, for return (驳回到任一之前的步骤)
    note: str | None = None  # e.g. the new permit number
    correlation_id: str | None = None
    actor_token: str = ""  # the gateway-signed actor, verified by the validator (workflows/actor_tokens.py)


@dataclass
class HistoryEntry:
    seq: int
    step: str
    step_title: str
    action: str  # an ACTIONS key, or started / reminded / escalated / rescheduled / checked / waiting / completed
    department: str
    actor: str  # "部门/姓名", or "系统"
    at: str  # ISO 8601
    reason: str | None = None
    return_to: str | None = None
    note: str | None = None


@dataclass
class StepTimes:
    started_at: str
    reminder_at: str
    deadline: str


@dataclass
class CaseState:
    workflow_id: str
    process: str
    institution_id: int
    institution_name: str
    division_code: str
    status: str = IN_PROGRESS
    current: int = 0  # index into steps
    steps: list[dict] = field(default_factory=list)
    step_started_at: str | None = None
    reminder_at: str | None = None
    deadline: str | None = None
    reminded: bool = False
    escalated: bool = False
    county_deadline: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)

    @property
    def current_step(self) -> dict | None:
        if self.status in (COMPLETED, REJECTED) or self.current >= len(self.steps):
            return None
        return self.steps[self.current]


@dataclass
class ProgressRecord:
    """What the registry is told after every change (its case read model and events)."""

    workflow_id: str
    process: str
    institution_id: int
    division_code: str
    seq: int  # the history entry this record reports; idempotency key with workflow_id
    entry: HistoryEntry
    status: str
    current_step: str | None
    current_department: str | None
    deadline: str | None
    resumes_enrolment: bool = False
    correlation_id: str | None = None


@dataclass
class CheckRequest:
    check: str
    institution_id: int
    division_code: str
    correlation_id: str | None = None


@dataclass
class CheckResult:
    passed: bool
    detail: str


@dataclass
class DeadlineInput:
    county_code: str
    deadline: str  # ISO date: institutions not converted by the end of it lose 学科类 scope


@dataclass
class LapseRequest:
    county_code: str
    deadline: str


def case_state_as_dict(state: CaseState, now: datetime | None = None) -> dict:
    """JSON-ready state for the RPC reply: the current step spelled out, and the time left on the
    step's deadline and on the county's 营转非 deadline (negative once passed)."""
    now = now or datetime.now(timezone.utc)
    data = asdict(state)
    data["current_step"] = state.current_step
    step_open = state.current_step is not None and state.deadline
    data["step_seconds_left"] = _seconds(datetime.fromisoformat(state.deadline) - now) if step_open else None
    # counted over a year without an official holiday schedule (this process's calendar, issue 13)
    data["deadline_provisional"] = bool(step_open) and deadline_provisional(
        datetime.fromisoformat(state.step_started_at or state.deadline), datetime.fromisoformat(state.deadline))
    data["county_seconds_left"] = None
    if state.county_deadline:
        end = datetime.combine(date.fromisoformat(state.county_deadline) + timedelta(days=1), time.min,
                               tzinfo=SHANGHAI)
        data["county_seconds_left"] = _seconds(end - now)
    return data


def _seconds(delta: timedelta) -> int:
    return int(delta / timedelta(seconds=1))


def case_decision(actor, body: object, correlation_id: str | None, actor_token: str = "") -> Decision:
    """The update payload from an API body; shapes only (the workflow's validator owns the rules)."""
    if not isinstance(body, dict):
        raise ValidationFailed("决定应为对象：{action, reason, return_to, note}", field="decision")
    fields = {}
    for name in ("action", "reason", "return_to", "note"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ValidationFailed("应为文字", field=name)
        fields[name] = value
    if not fields["action"]:
        raise ValidationFailed("请选择操作：approve、reject、return、request_documents、documents_received",
                               field="action")
    return Decision(actor=actor.to_dict(), correlation_id=correlation_id, actor_token=actor_token, **fields)
