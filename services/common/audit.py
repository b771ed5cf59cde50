"""The audit trail: every state-changing action appended to a hash-chained log (issue 7 part 4).

Each service keeps its own `audit_log` (and a one-row `audit_head`) in its own database:

    class AuditEntry(AuditEntryMixin, Base): pass
    class AuditHead(AuditHeadMixin, Base): pass
    audit_trail = AuditTrail("registry", AuditEntry, AuditHead)

and a use case calls `audit_trail.append(session, actor, action, entity, entity_id, before, after)`
right before its commit, so the change and its entry commit together or not at all.

hash = SHA-256(prev_hash + canonical JSON of every other field); the first entry's prev_hash is
64 zeros. Appends are serialised by locking the head row (SELECT … FOR UPDATE on PostgreSQL), so
two workers cannot fork the chain; the head also holds the last seq and hash, so deleting the last
entry is caught too. `before` / `after` are the record's views (what the service shows), never the
raw input: an ID number cannot enter the log because the views hold only its mask.

Framework-free apart from SQLAlchemy.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy import JSON, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .clock import UtcDateTime, iso_utc
from .divisions import scope_prefix
from .identity import Actor

GENESIS = "0" * 64
HEAD_ID = 1


class AuditEntryMixin:
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_username: Mapped[str] = mapped_column(String(100))
    actor_name: Mapped[str] = mapped_column(String(100))
    department_kind: Mapped[str] = mapped_column(String(40))
    department_name: Mapped[str] = mapped_column(String(100))
    division_code: Mapped[str] = mapped_column(String(12), index=True)  # the record's division
    action: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(100))
    before: Mapped[object] = mapped_column(JSON, nullable=True)
    after: Mapped[object] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadMixin:
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


def create_audit_tables(op) -> None:
    """For a service's Alembic migration: both tables and the head row (seq 0, genesis hash)."""
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_username", sa.String(100), nullable=False),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("department_kind", sa.String(40), nullable=False),
        sa.Column("department_name", sa.String(100), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(50), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_division_code", "audit_log", ["division_code"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": HEAD_ID, "last_seq": 0, "last_hash": GENESIS}])


def drop_audit_tables(op) -> None:
    op.drop_table("audit_head")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_index("ix_audit_log_division_code", table_name="audit_log")
    op.drop_table("audit_log")


# -- hashing -------------------------------------------------------------------------------------

HASHED_FIELDS = ("seq", "at", "actor_username", "actor_name", "department_kind", "department_name",
                 "division_code", "action", "entity", "entity_id", "before", "after")


def _plain(value: object) -> object:
    """What a JSON column gives back: dates and other objects as their text, tuples as lists."""
    if value is None:
        return None
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def canonical(fields: dict) -> str:
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_fields(entry) -> dict:
    out = {name: getattr(entry, name) for name in HASHED_FIELDS}
    out["at"] = iso_utc(out["at"])
    return out


def compute_hash(prev_hash: str, fields: dict) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def entry_view(entry) -> dict:
    return {
        "seq": entry.seq,
        "at": iso_utc(entry.at),
        "actor_username": entry.actor_username,
        "actor_name": entry.actor_name,
        "department_kind": entry.department_kind,
        "department_name": entry.department_name,
        "division_code": entry.division_code,
        "action": entry.action,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


class AuditTrail:
    """One service's chain: its entry and head models and the service's name."""

    def __init__(self, service: str, entry_model, head_model):
        self.service = service
        self.entry_model = entry_model
        self.head_model = head_model

    # -- writing -----------------------------------------------------------------------------

    def _locked_head(self, session: Session):
        head = session.execute(
            select(self.head_model).where(self.head_model.id == HEAD_ID).with_for_update()
        ).scalar_one_or_none()
        if head is None:  # a database made from the models (tests) rather than the migration
            head = self.head_model(id=HEAD_ID, last_seq=0, last_hash=GENESIS)
            session.add(head)
        return head

    def append(self, session: Session, actor: Actor, action: str, entity: str, entity_id: object,
               before: object, after: object, division_code: str | None = None,
               at: datetime | None = None):
        """Add one entry to the caller's transaction (not committed here). Call it last, right
        before the commit: it locks the head row until then. `division_code` is the record's
        (default: the actor's), which decides who may read the entry."""
        session.flush()  # the caller's own writes take their row locks before the head's
        head = self._locked_head(session)
        kind = actor.department_kind
        entry = self.entry_model(
            seq=head.last_seq + 1,
            at=(at or datetime.now(timezone.utc)).astimezone(timezone.utc),
            actor_username=actor.username[:100],
            actor_name=(actor.display_name or actor.username)[:100],
            department_kind=getattr(kind, "value", kind),
            department_name=(actor.department_label or "")[:100],
            division_code=str(division_code or actor.division_code),
            action=action,
            entity=entity,
            entity_id=str(entity_id)[:100],
            before=_plain(before),
            after=_plain(after),
            prev_hash=head.last_hash,
        )
        entry.hash = compute_hash(entry.prev_hash, entry_fields(entry))
        session.add(entry)
        head.last_seq, head.last_hash = entry.seq, entry.hash
        return entry  # written by the caller's commit (or the next append's flush): one flush fewer per call

    # -- checking ----------------------------------------------------------------------------

    def head(self, session: Session, at_seq: int | None = None) -> dict:
        """The chain's head as recorded (last seq and hash): what an anchor keeps (issue 16); with
        `at_seq`, also that entry's stored hash (`hash_at`, None when it is gone): one row read."""
        head = session.get(self.head_model, HEAD_ID)
        out = {"service": self.service, "last_seq": head.last_seq if head else 0,
               "last_hash": head.last_hash if head else GENESIS}
        if at_seq is not None:
            entry = session.get(self.entry_model, at_seq) if at_seq > 0 else None
            out["hash_at"] = GENESIS if at_seq == 0 else (entry.hash if entry is not None else None)
        return out

    def verify(self, session: Session, at_seq: int | None = None) -> dict:
        """Walk the chain in seq order: seq without gaps, each prev link, each hash, and the head
        row against the last entry. The first broken entry is reported (`first_bad_seq`).
        `at_seq`: also report that entry's hash (`hash_at`), to compare with an anchor."""
        model = self.entry_model
        result = {"service": self.service, "entries": 0, "ok": True, "first_bad_seq": None, "reason": None,
                  "last_hash": GENESIS}
        if at_seq is not None:
            result["hash_at"] = GENESIS if at_seq == 0 else None

        def broken(seq: int, reason: str) -> dict:
            result.update(ok=False, first_bad_seq=seq, reason=reason)
            return result

        expected, prev = 1, GENESIS
        rows = session.execute(select(model).order_by(model.seq).execution_options(yield_per=500)).scalars()
        for entry in rows:
            if entry.seq != expected:
                return broken(expected, f"第{expected}条缺失（已被删除）" if entry.seq > expected
                              else f"序号异常：{entry.seq}")
            if entry.prev_hash != prev:
                return broken(entry.seq, "前一条哈希与链不符")
            if compute_hash(entry.prev_hash, entry_fields(entry)) != entry.hash:
                return broken(entry.seq, "内容与哈希不符（条目被修改）")
            result["entries"] = entry.seq
            if entry.seq == at_seq:
                result["hash_at"] = entry.hash
            expected, prev = entry.seq + 1, entry.hash
        result["last_hash"] = prev
        last = expected - 1
        head = session.get(self.head_model, HEAD_ID)
        if head is None:
            return broken(1, "链头记录缺失") if last else result
        if head.last_seq > last:
            return broken(last + 1, f"第{last + 1}条起缺失（链头记为第{head.last_seq}条）")
        if head.last_seq < last:
            return broken(head.last_seq + 1, f"链头只记到第{head.last_seq}条，其后条目来历不明")
        if head.last_hash != prev:
            return broken(last or 1, "链头哈希与最后一条不符")
        return result

    # -- reading -----------------------------------------------------------------------------

    def list(self, session: Session, division_code: str, entity: str | None, entity_id: object,
             limit: int, offset: int) -> dict:
        """A record's trail (oldest first) among the entries of `division_code` and below."""
        model = self.entry_model
        query = select(model).where(model.division_code.startswith(scope_prefix(division_code)))
        if entity:
            query = query.where(model.entity == entity)
        if entity_id not in (None, ""):
            query = query.where(model.entity_id == str(entity_id))
        total = session.scalar(select(sa.func.count()).select_from(query.subquery()))
        rows = session.scalars(query.order_by(model.seq).limit(limit).offset(offset)).all()
        return {"service": self.service, "items": [entry_view(r) for r in rows], "total": total,
                "limit": limit, "offset": offset}


# -- the two RPCs every service answers (services/common/service_kit.ServiceBase) ----------------

VERIFY_ACTION = "audit.verify"


def verify_for(session: Session, actor: Actor, trail: AuditTrail, at_seq: object = None) -> dict:
    from .errors import ValidationFailed
    from .policy import authorize

    authorize(actor, VERIFY_ACTION)
    if at_seq is not None and (not isinstance(at_seq, int) or isinstance(at_seq, bool) or at_seq < 0):
        raise ValidationFailed("锚点序号应为非负整数", field="at_seq")
    return trail.verify(session, at_seq)


def list_for(session: Session, actor: Actor, trail: AuditTrail, read_actions: tuple[str, ...],
             entity: object, entity_id: object, limit: int, offset: int) -> dict:
    """A record's trail for readers of the service's records (any of `read_actions`) or auditors,
    limited to entries of the actor's division and below."""
    from .errors import Forbidden, ValidationFailed
    from .policy import authorize, can

    if not any(can(actor, action) for action in (VERIFY_ACTION, *read_actions)):
        authorize(actor, read_actions[0] if read_actions else VERIFY_ACTION)  # raises with the usual text
        raise Forbidden("无权查看审计记录")
    if entity is not None and (not isinstance(entity, str) or len(entity) > 50):
        raise ValidationFailed("对象类型应为不超过50个字符的文本", field="entity")
    if entity_id is not None and len(str(entity_id)) > 100:
        raise ValidationFailed("对象编号过长", field="entity_id")
    return trail.list(session, actor.division_code, entity or None, entity_id, limit, offset)
