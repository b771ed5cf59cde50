"""A published course whose schedule breaks the 双减 time rules becomes an inspection lead."""
from __future__ import annotations

from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.events import make_event
from services.inspection.service import InspectionService
from tests.service.support import call


def course_event(course_id: int, category: str, schedule: list, published_at: str) -> dict:
    data = {"id": course_id, "institution_id": 88, "institution_name": "枞阳县测试学科培训学校", "name": "初二数学",
            "subject": "数学", "price_fen": 8000, "class_hours": 40, "mode": "offline", "schedule": schedule,
            "state": "published", "published_at": published_at, "township_code": "340722100", "category": category}
    return make_event("registry", "course_published", data, "340722100")


def test_a_friday_academic_class_published_before_national_day_becomes_a_lead(start_services, config, token):
    inspection = start_services(InspectionService)["inspection"]
    dispatch = event_dispatcher(config)
    friday = [{"weekday": 5, "start": "18:30", "end": "20:00"}]
    event = course_event(7001, "academic", friday, "2021-09-20T02:00:00+00:00")
    for _ in range(2):  # a redelivery changes nothing
        with entrypoint_waiter(inspection, "on_course_published"):
            dispatch("registry", "course_published", event)
    with entrypoint_waiter(inspection, "on_course_published"):
        dispatch("registry", "course_published", course_event(7002, "non_academic", friday,
                                                              "2021-09-20T02:00:00+00:00"))
    # (other tests' course events may still be queued for the inspection service: look at ours)
    leads = [l for l in call(inspection, "list_leads", token("education"))["items"] if l["institution_id"] == 88]
    assert [(l["source"], l["reason_kind"], l["occurrences"]) for l in leads] == [
        ("course_schedule", "holiday_academic", 1)]
    dates = leads[0]["evidence"]["dates"]
    assert dates[0] == {"date": "2021-10-01", "label": "国庆节", "weekday": 5, "start": "18:30", "end": "20:00"}
    assert leads[0]["reason_name"] == "法定节假日开展学科类培训" and leads[0]["evidence"]["course_id"] == 7001
