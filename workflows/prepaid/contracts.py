"""What crosses the boundary of the PrepaidContract workflow. JSON in histories: add fields with
defaults only."""
from __future__ import annotations

from dataclasses import dataclass, field

from workflows.calendar_contract import CalendarSchedule

WORKFLOW_NAME = "PrepaidContract"
QUERY_STATE = "state"
SIGNAL_LESSON_DELIVERED = "lesson_delivered"
SIGNAL_LESSON_CONFIRMED = "lesson_confirmed"
SIGNAL_REFUND_REQUESTED = "refund_requested"
SIGNAL_REFUND_ANSWERED = "refund_answered"

ACTIVITY_DEADLINE = "compute_workday_deadline"
ACTIVITY_DEEM_LESSON = "deem_lesson_confirmed"
ACTIVITY_DEEM_REFUND = "deem_refund_accepted"

DEFAULT_CONFIRM_WORKDAYS = 15  # 一课一消: no answer within 15 working days counts as confirmed
DEFAULT_REFUND_WORKDAYS = 5  # a refund request unanswered for 5 working days is accepted


def workflow_id(contract_id: int) -> str:
    return f"contract-{int(contract_id)}"


@dataclass
class ContractRef:
    contract_id: int
    contract_no: str
    institution_id: int
    division_code: str  # the institution's township


@dataclass
class LessonDelivered:
    lesson_no: int
    delivered_at: str  # ISO 8601 with offset
    workdays: int = DEFAULT_CONFIRM_WORKDAYS


@dataclass
class RefundRequested:
    refund_id: int
    requested_at: str
    workdays: int = DEFAULT_REFUND_WORKDAYS


@dataclass
class Pending:
    key: int  # lesson number or refund id
    since: str
    deadline: str | None = None  # filled by the workflow (working-day calendar)
    workdays: int = 0


@dataclass
class Deemed:
    kind: str  # "lesson" | "refund"
    key: int
    deadline: str
    at: str


@dataclass
class ContractState:
    contract: ContractRef
    lessons: list[Pending] = field(default_factory=list)
    refunds: list[Pending] = field(default_factory=list)
    deemed: list[Deemed] = field(default_factory=list)
    schedules: list[CalendarSchedule] = field(default_factory=list)  # loaded holiday schedules told (issue 13)


@dataclass
class DeadlineRequest:
    start: str
    workdays: int
    schedules: list[CalendarSchedule] = field(default_factory=list)  # loaded schedules the workflow was told


@dataclass
class DeemLesson:
    contract: ContractRef
    lesson_no: int


@dataclass
class DeemRefund:
    contract: ContractRef
    refund_id: int
