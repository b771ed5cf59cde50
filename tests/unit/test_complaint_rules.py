"""举报 rules: receipt numbers, phone masking, SLA deadlines on the working-day calendar, the
transitions and who may answer."""
from datetime import date, datetime, timedelta, timezone

import pytest

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.workdays import SHANGHAI
from services.inspection import complaint_rules as rules


def test_receipt_number_is_dated_random_and_checkable():
    now = datetime(2026, 9, 30, 17, 0, tzinfo=timezone.utc)  # already 10-01 in Shanghai
    receipt = rules.make_receipt_no(now)
    assert receipt.startswith("JB20261001") and len(receipt) == 22
    assert rules.is_receipt_no(receipt)
    assert rules.make_receipt_no(now, b"\x00" * 8) == "JB20261001" + "0" * 12
    assert len({rules.make_receipt_no(now) for _ in range(2000)}) == 2000
    for bad in ("JB20261001" + "I" * 12, "JB2026100", "jb20261001AAAAAAAAAAAA", None, 7):
        assert not rules.is_receipt_no(bad)


def test_phone_is_validated_and_masked():
    assert rules.validate_phone("138 0013 8000") == "13800138000"
    assert rules.validate_phone("") is None and rules.validate_phone(None) is None
    for bad in ("12800138000", "1380013800", "0556-1234567", "abc"):
        with pytest.raises(ValidationFailed) as info:
            rules.validate_phone(bad)
        assert info.value.field == "contact_phone"
    assert rules.mask_phone("13800138000") == "138****8000"
    assert rules.mask_phone(None) is None


def test_content_is_required_and_limited():
    with pytest.raises(ValidationFailed) as info:
        rules.validate_content("   ")
    assert info.value.field == "content"
    with pytest.raises(ValidationFailed):
        rules.validate_content("举" * 2001)
    assert rules.validate_content(" 周末补课 ") == "周末补课"


def test_sla_deadline_skips_the_national_day_holiday():
    received = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    due = rules.deadline_for(received, None, "education")  # 10 working days
    assert due.date() == date(2026, 10, 20) and due.tzinfo == SHANGHAI
    plain_weekdays = received.date() + timedelta(days=14)  # what Mon–Fri counting would give
    assert due.date() > plain_weekdays
    assert rules.deadline_for(received, None, "public_security").date() < due.date()
    # 10-01…10-07 off; 10-08, 10-09 and the make-up Saturday 10-10 are the three working days
    assert rules.deadline_for(received, {"education": 3}, None).date() == date(2026, 10, 10)


def test_overdue_only_while_no_reply():
    deadline = datetime(2026, 10, 20, 23, 59, tzinfo=SHANGHAI)
    later = deadline + timedelta(minutes=1)
    assert rules.is_overdue("assigned", deadline, later)
    assert rules.is_overdue("received", deadline, later)
    assert not rules.is_overdue("assigned", deadline, deadline - timedelta(minutes=1))
    for done in ("replied", "closed", "not_a_case", "duplicate"):
        assert not rules.is_overdue(done, deadline, later)


def test_transitions():
    rules.check_transition("received", "triage")
    rules.check_transition("verified", "assign")
    rules.check_transition("assigned", "assign")
    rules.check_transition("assigned", "reply")
    rules.check_transition("replied", "close")
    for status, action in (("received", "assign"), ("verified", "reply"), ("assigned", "close"),
                           ("closed", "reply"), ("not_a_case", "assign")):
        with pytest.raises(Conflict):
            rules.check_transition(status, action)


def test_only_the_assigned_department_or_education_may_answer():
    rules.check_handler("market_regulation", "market_regulation")
    rules.check_handler("education", "market_regulation")
    with pytest.raises(Forbidden):
        rules.check_handler("public_security", "market_regulation")
    with pytest.raises(Forbidden):
        rules.check_handler("township", None)


def test_sla_settings_are_checked():
    assert rules.validate_sla_settings({"township": 5}) == {"township": 5}
    with pytest.raises(ValidationFailed) as info:
        rules.validate_sla_settings({"township": 0})
    assert info.value.field == "sla_days.township"
    with pytest.raises(ValidationFailed):
        rules.validate_sla_settings({"civil_affairs": 5})


def test_received_time_formats():
    assert rules.parse_received_at("2026/09/30 10:15") == datetime(2026, 9, 30, 10, 15, tzinfo=SHANGHAI)
    assert rules.parse_received_at("2026-09-30").date() == date(2026, 9, 30)
    with pytest.raises(ValidationFailed):
        rules.parse_received_at("昨天")
