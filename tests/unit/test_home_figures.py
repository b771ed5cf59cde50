"""Each department's home figures: what it answers for, read with its own actor; a figure it may not
read is left out (never shown as 0)."""
from types import SimpleNamespace

from services.common.errors import Forbidden
from services.common.identity import DepartmentKind as K
from services.gateway.pages.home_figures import HomeFigures

TODAY_CAMPAIGN = {"start_date": "2000-01-01", "end_date": "2999-12-31"}


class Refusing:
    """A service proxy that refuses every call, as a service refuses a department without the right."""

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise Forbidden("无权执行此操作")
        return refuse


class Answering:
    def __init__(self, **answers):
        self.answers = answers

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.answers[name]


def _desk(**services):
    desk = HomeFigures()
    for name in ("registry", "escrow", "inspection", "reporting"):
        setattr(desk, name, services.get(name, Refusing()))
    return desk


def _labels(figures):
    return {f["label"]: f["value"] for f in figures}


INSPECTION = Answering(
    list_leads={"items": [{"id": 1}, {"id": 2}]},
    list_campaigns={"items": [{**TODAY_CAMPAIGN, "team": [{"department_kind": "public_security"}]},
                              {**TODAY_CAMPAIGN, "team": [{"department_kind": "education"}]}]},
    list_complaints={"total": 3, "items": []},
    supervision_coverage={"overall": {"rate": 50.0, "complete": False, "visited": 1, "schools": 2}},
    after_school_report={"participation_rate": 83.1, "flagged": 1})


def test_the_education_bureau_sees_the_reduction_rate_with_its_inputs_and_what_is_open():
    reporting = Answering(
        get_report={"reduction": {"rate_text": "61.11%", "baseline_dates": ["2021-07-24"]}, "academic_baseline": 18,
                    "academic_operating": 7},
        list_reports={"items": [{"status": "overdue"}, {"status": "drafted"}, {"status": "submitted"}]})
    escrow = Answering(list_alerts={"total": 4, "items": []})
    inbox = [{"overdue": True}, {"overdue": False}]
    figures = _desk(reporting=reporting, escrow=escrow, inspection=INSPECTION)._home_figures(
        SimpleNamespace(department_kind=K.education), "signed", inbox)
    shown = _labels(figures)
    assert shown["学科类机构压减率"] == "61.11%"
    assert "基数 18 家，仍正常营业 7 家" in next(f["note"] for f in figures if f["label"] == "学科类机构压减率")
    assert (shown["待报送报表"], shown["待办步骤"], shown["超期步骤"]) == (2, 2, 1)
    assert (shown["未处置资金预警"], shown["待核查线索"], shown["超期举报"]) == (4, 2, 3)
    assert (shown["进行中的检查计划"], shown["本月督导覆盖率"]) == (2, "50.0%")


def test_a_joint_team_member_counts_only_the_campaigns_its_people_sit_on():
    shown = _labels(_desk(inspection=INSPECTION)._home_figures(
        SimpleNamespace(department_kind=K.public_security), "signed", []))
    assert shown["本部门参加的检查计划"] == 1 and "待核查线索" not in shown and "学科类机构压减率" not in shown


def test_a_figure_the_department_may_not_read_is_left_out_not_zero():
    shown = _labels(_desk()._home_figures(SimpleNamespace(department_kind=K.civil_affairs), "signed",
                                          [{"overdue": False}]))
    assert shown == {"待办步骤": 1, "超期步骤": 0}


def test_the_supervision_office_sees_its_coverage_and_after_school_service():
    shown = _labels(_desk(inspection=INSPECTION)._home_figures(
        SimpleNamespace(department_kind=K.supervision_office), "signed", []))
    assert (shown["本月督导覆盖率"], shown["课后服务参与率"], shown["超期举报"]) == ("50.0%", "83.1%", 3)
