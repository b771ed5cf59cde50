import pytest

from services.common.errors import ValidationFailed
from services.common.events import bundle_size, check_envelope, is_bundle, make_bundle, make_event, unbundle
from services.escrow.domain import enrolment_decision


def test_envelope_carries_id_type_time_and_place():
    event = make_event("registry", "institution_registered", {"id": 1}, "340722100")
    assert check_envelope(event) is event
    assert len(event["event_id"]) == 32 and event["occurred_at"].endswith("+00:00")


@pytest.mark.parametrize("payload", [None, [], {"type": "x"}, {**make_event("a", "b", {}, "340722"), "data": 3}])
def test_malformed_events_are_refused_with_a_reason(payload):
    with pytest.raises(ValidationFailed) as info:
        check_envelope(payload)
    assert info.value.field


def test_error_text_says_which_row_and_field():
    err = ValidationFailed("校验位错误", field="统一社会信用代码", row=7)
    assert str(err) == "第7行，字段 统一社会信用代码：校验位错误"
    assert err.as_dict() == {"code": "validation_failed", "message": "校验位错误", "field": "统一社会信用代码", "row": 7}


def test_suspended_institutions_may_not_take_charges():
    assert enrolment_decision("operating") == (True, None)
    ok, reason = enrolment_decision("suspended_for_rectification")
    assert not ok and "停业整顿" in reason


def test_conversion_suspends_enrolment_until_lifted():
    ok, reason = enrolment_decision("operating", conversion_suspended=True)
    assert not ok and "营转非办理中" in reason
    # a status stop wins: its reason is the one shown
    ok, reason = enrolment_decision("deregistering", conversion_suspended=True)
    assert not ok and "注销中" in reason


def test_timestamps_round_trip_through_sqlite_as_utc(tmp_path):
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

    from services.common.clock import UtcDateTime

    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime))
    engine = create_engine(f"sqlite:///{tmp_path / 't.db'}")
    table.metadata.create_all(engine)
    beijing = timezone(timedelta(hours=8))
    end_of_day = datetime(2026, 12, 4, 23, 59, 59, tzinfo=beijing)
    with engine.begin() as conn:
        conn.execute(insert(table).values(id=1, at=end_of_day))
        back = conn.execute(select(table.c.at)).scalar_one()
    assert back == end_of_day and back.tzinfo is not None
    with pytest.raises(Exception):
        with engine.begin() as conn:
            conn.execute(insert(table).values(id=2, at=datetime(2026, 12, 4, 23, 59)))


def test_an_envelope_with_a_numeric_id_or_an_unreadable_time_is_refused_naming_the_field():
    import pytest

    from services.common.errors import ValidationFailed
    from services.common.events import bundle_size, check_envelope, is_bundle, make_bundle, make_event, unbundle

    good = make_event("registry", "institution_registered", {"id": 1}, "340722")
    assert check_envelope(dict(good)) == good
    for field, value in (("event_id", 5), ("event_id", ""), ("occurred_at", "yesterday"), ("type", ["x"])):
        with pytest.raises(ValidationFailed) as refused:
            check_envelope({**good, field: value})
        assert refused.value.field == field


def test_a_bundle_unbundles_to_its_envelopes_and_a_plain_event_to_itself():
    events = [make_event("registry", "institution_registered", {"id": n}, "340722100") for n in (1, 2)]
    bundle = make_bundle("registry", "institution_registered", events)
    assert is_bundle(bundle) and unbundle(bundle) == events
    assert not is_bundle(events[0]) and unbundle(events[0]) == [events[0]]
    # a plain event with a field named "events" is not a bundle
    assert not is_bundle({**events[0], "events": []})
    assert [bundle_size(h) for h in ({"x-bundle-size": 500}, {}, None, {"x-bundle-size": "500"},
                                     {"x-bundle-size": 0}, {"x-bundle-size": True})] == [500, 1, 1, 1, 1, 1]
