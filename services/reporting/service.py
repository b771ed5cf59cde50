"""Reporting service: event handlers feed read models; RPC answers from them alone."""
from __future__ import annotations

import base64
from pathlib import Path

from services.common.batch_consumer import batch_event_handler, batch_fields  # batches, one transaction each; dead-lettering
from services.common.outbox import OutboxDispatcher
from services.common.read_model_lag import ReadModelLag

from services.common.db import Database
from services.common.errors import ValidationFailed
from services.common import service_kit  # the module, so `nameko run` sees one service class here
from services.common.service_kit import rpc

from . import handlers
from .models import OutboxRow, audit_trail
from . import escrow  # issue 4: escrow figures
from . import charts, cycles, export, facts  # issue 6: reports
from . import freshness  # issue 12: how far behind the reports are


def _fact_handler(source: str, event_type: str):
    """A batch event handler feeding the report read models (facts.APPLIERS)."""

    @batch_event_handler(source, event_type)
    def handle(self, events):
        applied = facts.apply_fact_events(self.db, event_type, events)
        _log_batch(self, event_type, events, applied)

    handle.__name__ = f"on_{event_type}"
    return handle


def _log_batch(service, event_type: str, events: list, applied: int) -> None:
    service.ctx.log.info("read_model_updated", event_type=event_type, **batch_fields(events, applied))


class ReportingService(service_kit.ServiceBase):
    name = "reporting"
    audit_trail = audit_trail  # verify_audit / list_audit (services/common/service_kit.py)
    audit_read_actions = ("reporting.read",)
    metric_gauges = {"report_cycles_overdue": ("Report cycles past their deadline, not submitted",
                                               lambda session: cycles.overdue_cycle_count(session))}  # /metrics

    db = Database(Path(__file__).parent / "migrations")

    @batch_event_handler("registry", "institution_registered")
    def on_institution_registered(self, events):
        _log_batch(self, "institution_registered", events, handlers.apply_institution_registered(self.db, events))

    @batch_event_handler("registry", "institution_status_changed")
    def on_institution_status_changed(self, events):
        _log_batch(self, "institution_status_changed", events,
                   handlers.apply_institution_status_changed(self.db, events))

    @batch_event_handler("registry", "institution_updated")
    def on_institution_updated(self, events):
        _log_batch(self, "institution_updated", events, handlers.apply_institution_updated(self.db, events))

    @rpc
    def get_institution_counts(self, actor, division_code=None, as_of=None):
        return handlers.institution_counts(self.db, self.actors.verify(actor), division_code, as_of)

    # -- escrow (issue 4): accounts, funds under supervision, open alerts --------------------------

    def _escrow(self, event_type, events):
        _log_batch(self, event_type, events, escrow.apply_escrow_events(self.db, event_type, events))

    @batch_event_handler("escrow", "escrow_account_opened")
    def on_escrow_account_opened(self, events):
        self._escrow("escrow_account_opened", events)

    @batch_event_handler("escrow", "escrow_account_closed")
    def on_escrow_account_closed(self, events):
        self._escrow("escrow_account_closed", events)

    @batch_event_handler("escrow", "escrow_alert_raised")
    def on_escrow_alert_raised(self, events):
        self._escrow("escrow_alert_raised", events)

    @batch_event_handler("escrow", "escrow_alert_closed")
    def on_escrow_alert_closed(self, events):
        self._escrow("escrow_alert_closed", events)

    # each event books up to 500 bank transactions over many institutions (a row per institution and
    # day): 500 of them were one 12–14 s transaction on SQLite that kept the process from answering RPCs
    # and its broker heartbeats (seen when a bench left 400 in the queue). Applied in bulk now, 20
    # events of 500 institutions each take 0.2 s on SQLite, 0.4 s on PostgreSQL
    @batch_event_handler("escrow", "bank_transactions_booked", size=20)
    def on_bank_transactions_booked(self, events):
        self._escrow("bank_transactions_booked", events)

    @rpc
    def get_escrow_summary(self, actor, division_code=None, as_of=None):
        return escrow.escrow_summary(self.db, self.actors.verify(actor), division_code, as_of)

    # -- reports (issue 6): read models of inspections, complaints and schools; cycles; exports --

    report_events = OutboxDispatcher(OutboxRow)  # the transactional outbox

    # one handler per fact event, named on_<event type> (nameko finds entrypoints by attribute)
    for _event_type in facts.APPLIERS:
        locals()[f"on_{_event_type}"] = _fact_handler(facts.SOURCES.get(_event_type, "inspection"), _event_type)
    del _event_type

    read_model = ReadModelLag()  # issue 12: the events this service consumes and its queue depths

    @rpc
    def get_read_model_sources(self, actor):
        return freshness.sources(self.actors.verify(actor), self.read_model.subscriptions(),
                                 self.read_model.tail_size())

    @rpc
    def get_read_model_lag(self, actor, tails):
        return freshness.read_model_lag(self.db, self.actors.verify(actor), tails, self.read_model.queued())

    @rpc
    def get_report(self, actor, kind, division_code=None, as_of=None):
        return cycles.get_report(self.db, self.actors.verify(actor), kind, division_code, as_of)

    @rpc
    def export_report(self, actor, kind, division_code=None, as_of=None, file_format="xlsx", division_name=None,
                      submission_id=None):
        """The report (or a frozen submission) as a file: {filename, content_type, content_b64}."""
        actor = self.actors.verify(actor)
        return export_file(self.db, actor, kind, division_code, as_of, file_format, division_name, submission_id)

    @rpc
    def get_chart_data(self, actor, division_code=None, date_from=None, date_to=None):
        return charts.chart_data(self.db, self.actors.verify(actor), division_code, date_from, date_to)

    @rpc
    def draft_due_reports(self, actor, kind, division_code, today=None):
        return cycles.draft_due_reports(self.db, self.report_events, self.actors.verify(actor), kind,
                                        division_code, today)

    @rpc
    def flag_overdue_reports(self, actor, kind, period_end, at=None):
        return cycles.flag_overdue_reports(self.db, self.report_events, self.actors.verify(actor), kind, period_end,
                                           at)

    @rpc
    def submit_report(self, actor, kind, division_code, as_of, note=None):
        return cycles.submit_report(self.db, self.report_events, self.actors.verify(actor), kind, division_code,
                                    as_of, note)

    @rpc
    def list_reports(self, actor, division_code=None, kind=None):
        return cycles.list_reports(self.db, self.actors.verify(actor), division_code, kind)

    @rpc
    def list_report_submissions(self, actor, cycle_id):
        return cycles.list_submissions(self.db, self.actors.verify(actor), cycle_id)

    @rpc
    def get_report_submission(self, actor, submission_id):
        return cycles.get_submission(self.db, self.actors.verify(actor), submission_id)


def export_file(session, actor, kind, division_code, as_of, file_format, division_name, submission_id) -> dict:
    if file_format not in export.FORMATS:
        raise ValidationFailed("导出格式应为 xlsx 或 csv", field="format")
    content_type, render = export.FORMATS[file_format]
    submission = None
    if submission_id is not None:
        submission = cycles.get_submission(session, actor, submission_id)
        report = submission["content"]
    else:
        report = cycles.get_report(session, actor, kind, division_code, as_of)
    name = f"{report['kind_name']}_{report['division_code']}_{report['period_end']}"
    if submission:
        name += f"_第{submission['version']}版"
    content = render(report, division_name, submission)
    return {"filename": f"{name}.{file_format}", "content_type": content_type,
            "content_b64": base64.b64encode(content).decode("ascii")}
