"""What crosses the boundary of the licence-verification workflow (办学许可核验).

Plain dataclasses only: the workflow, its activities, the bridge and the RPC endpoint share
them, and Temporal's default converter stores them as JSON in the workflow history. Add new
fields with defaults only, so histories recorded before the change still decode.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from workflows.calendar_contract import CalendarSchedule

WORKFLOW_NAME = "LicenceVerification"
WORKFLOW_ID_PREFIX = "licence-verification-"
UPDATE_DECIDE = "decide"
QUERY_STATE = "state"

# activity names (the workflow refers to them by name, so it imports no activity code)
ACTIVITY_COMPUTE_DEADLINE = "compute_licence_verification_deadline"
ACTIVITY_RECORD = "record_licence_verification"

# the action the deciding user must be allowed (services.common.policy)
DECIDE_ACTION = "registry.decide_licence_verification"
READ_ACTION = "registry.read"

OUTCOMES = ("verified", "rejected")  # 已核验 / 核验不通过
REASON_MAX_LENGTH = 500

# status shown by the `state` query
PENDING = "pending"  # 待核验
OVERDUE = "overdue"  # 已超期 (past the SLA, still waiting for the decision)
DECIDED = "decided"  # 已决定


def workflow_id(institution_id: int) -> str:
    """Business key: one verification per institution, whoever starts it and however often."""
    return f"{WORKFLOW_ID_PREFIX}{int(institution_id)}"


@dataclass
class VerificationInput:
    institution_id: int
    institution_name: str
    division_code: str  # the institution's township (or county) code: scope of who may decide
    correlation_id: str | None = None
    sla_workdays: int = 5
    # when the institution was registered (ISO 8601 with offset); the SLA runs from here.
    # None: from the start of the workflow.
    registered_at: str | None = None


@dataclass
class DecisionInput:
    """Payload of the `decide` update."""

    actor: dict  # Actor.to_dict() of the deciding user: must equal the signed one in `actor_token`
    outcome: str  # "verified" | "rejected"
    reason: str | None = None  # required when rejected
    correlation_id: str | None = None  # of the request carrying the decision (gateway → RPC)
    actor_token: str = ""  # the gateway-signed actor, verified by the validator (workflows/actor_tokens.py)


@dataclass
class DecisionRecord:
    outcome: str
    reason: str | None
    decided_by: str  # "教体局/张科长": the registry's verified_by format
    decided_at: str  # ISO 8601, UTC (workflow time)
    user_id: int
    username: str
    correlation_id: str | None = None


@dataclass
class VerificationState:
    """Result of the `state` query and of the `decide` update."""

    institution_id: int
    institution_name: str
    division_code: str
    status: str  # pending | overdue | decided
    overdue: bool  # stays True after a late decision: the SLA was missed
    deadline: str | None  # end of the last working day (Asia/Shanghai), ISO 8601
    decision: DecisionRecord | None = None
    decided_by: str | None = None
    recorded: bool = False  # the registry has stored the decision
    verification: str | None = None  # the registry's verification value once recorded


@dataclass
class DeadlineRequest:
    start: str  # ISO 8601 with offset
    workdays: int
    schedules: list[CalendarSchedule] = field(default_factory=list)  # loaded schedules the workflow was told


@dataclass
class RecordRequest:
    """Input of the `record_licence_verification` activity."""

    institution_id: int
    division_code: str
    outcome: str
    reason: str | None
    decided_by: str
    decided_at: str
    correlation_id: str | None = None
    workflow_id: str | None = None

    def registry_decision(self) -> dict:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
        }


def state_as_dict(state: VerificationState) -> dict:
    """JSON-ready form for the RPC reply."""
    return asdict(state)

