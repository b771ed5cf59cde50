"""The registry's institution events applied to the report read models, a batch at a time.

A 10,000-row ledger import sends 10,000 `institution_registered`: each batch (up to 500, one
transaction — services/common/batch_consumer.py) loads what it needs of its institutions in three
queries (`Known`), decides every row in Python, and inserts the new rows in bulk per table
(services/common/bulk_insert.py). A single event goes the same way with a batch of one.

Order: a record's newer version overwrites the fact only if its `version` is higher; status
history rows are keyed by the registry's `seq` and attribute rows by `version`, so a late or
repeated event adds nothing and an earlier status never replaces a later one.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.bulk_insert import insert_rows
from services.common.db import refresh_statistics
from services.common.divisions import validate_code
from services.common.workdays import SHANGHAI

from . import domain
from .facts import attribute_values, local_day
from .models import InstitutionFact, InstitutionStatusFact
from .report_models import InstitutionAttributeFact


TABLES = ("institution_facts", "institution_status_facts", "institution_attribute_facts")


class Known:
    """The batch's institutions as stored: facts, (id, seq) of status rows, (id, version, attribute)."""

    def __init__(self, session: Session, ids: set[int]):
        self.session = session
        # new rows as plain dicts, inserted in bulk per table in done(): building
        # ORM objects for them cost more than the rest of the batch
        self.new_facts: dict[int, dict] = {}
        self.new_statuses: list[dict] = []
        self.new_attributes: list[dict] = []
        ids = sorted(ids)
        self.facts = {f.institution_id: f for f in session.scalars(
            select(InstitutionFact).where(InstitutionFact.institution_id.in_(ids)))}
        self.seqs = {tuple(row) for row in session.execute(
            select(InstitutionStatusFact.institution_id, InstitutionStatusFact.seq)
            .where(InstitutionStatusFact.institution_id.in_(ids)))}
        self.attributes = {tuple(row) for row in session.execute(
            select(InstitutionAttributeFact.institution_id, InstitutionAttributeFact.version,
                   InstitutionAttributeFact.attribute)
            .where(InstitutionAttributeFact.institution_id.in_(ids)))}

    def done(self, changed: int) -> None:
        """Write the batch's rows; after a bulk load, refresh the tables' planner statistics
        (PostgreSQL), so the next report is planned for the rows now there."""
        for model, rows in ((InstitutionFact, list(self.new_facts.values())),
                            (InstitutionStatusFact, self.new_statuses), (InstitutionAttributeFact, self.new_attributes)):
            insert_rows(self.session, model, rows)
        self.session.flush()  # the updated facts
        refresh_statistics(self.session, TABLES, changed)

    def upsert_fact(self, event: dict) -> date:
        """Create the institution's fact, or overwrite it with a newer version of the record.

        `registered_on` is the first day of the record's history (older events lack it: then the
        day the event occurred). Township and category are the record's current values."""
        data = event["data"]
        institution_id = int(data["id"])
        version = int(data.get("version", 0))
        if data.get("registered_on"):
            registered_on = _day(data["registered_on"], "data.registered_on")
        else:
            registered_on = datetime.fromisoformat(event["occurred_at"]).astimezone(SHANGHAI).date()
        values = {
            "division_code": validate_code(data["township_code"], field="data.township_code"),
            "category": str(data["category"]),
            "registered_on": registered_on,
            "version": version,
        }
        fact, new = self.facts.get(institution_id), self.new_facts.get(institution_id)
        if fact is None and new is None:
            new = self.new_facts[institution_id] = {"institution_id": institution_id, **values}
        elif new is not None:
            if version > new["version"]:  # events may arrive out of order: the newest record wins
                new.update(values)
        elif version > fact.version:
            for key, value in values.items():
                setattr(fact, key, value)
        return new["registered_on"] if new is not None else fact.registered_on

    def add_status(self, institution_id: int, status: object, effective_on: date, seq: int) -> None:
        if (institution_id, seq) not in self.seqs:
            self.seqs.add((institution_id, seq))
            self.new_statuses.append({"institution_id": institution_id, "status": _status(status),
                                      "effective_on": effective_on, "seq": seq})

    def add_attributes(self, data: dict, effective_on: date) -> None:
        """The record's category and platform flags at its `version`, effective from `effective_on`."""
        institution_id, version = int(data["id"]), int(data.get("version", 0))
        for attribute, value in attribute_values(data).items():
            if (institution_id, version, attribute) not in self.attributes:
                self.attributes.add((institution_id, version, attribute))
                self.new_attributes.append({"institution_id": institution_id, "attribute": attribute, "value": value,
                                            "effective_on": effective_on, "version": version})


def _day(value: object, field: str) -> date:
    if not isinstance(value, str):
        raise ValueError(f"{field} 应为 YYYY-MM-DD")
    return date.fromisoformat(value)


def _status(value: object) -> str:
    if value not in domain.STATUS_NAMES:
        raise ValueError(f"未知状态 {value}")
    return str(value)


def _ids(events: list[dict]) -> set[int]:
    return {int(event["data"]["id"]) for event in events}


def record_registrations(session: Session, events: list[dict]) -> None:
    known = Known(session, _ids(events))
    for event in events:
        data = event["data"]
        institution_id, registered_on = int(data["id"]), known.upsert_fact(event)
        known.add_attributes(data, registered_on)
        history = data.get("history")
        if history is None:  # an event from before the registry sent its history
            known.add_status(institution_id, data["status"], registered_on, 0)
            continue
        if not isinstance(history, list) or not history:
            raise ValueError("history 应为非空列表")
        for index, entry in enumerate(history):
            known.add_status(institution_id, entry["status"], _day(entry["effective_on"], "history.effective_on"),
                             int(entry.get("seq", index)))
    known.done(len(events))


def record_status_changes(session: Session, events: list[dict]) -> None:
    known = Known(session, _ids(events))
    for event in events:
        data = event["data"]
        known.add_status(int(data["id"]), data["status"], _day(data["effective_on"], "data.effective_on"),
                         int(data["seq"]))
    known.done(len(events))


def record_updates(session: Session, events: list[dict]) -> None:
    known = Known(session, _ids(events))
    for event in events:
        known.upsert_fact(event)
        known.add_attributes(event["data"], local_day(event["occurred_at"]))
    known.done(len(events))
