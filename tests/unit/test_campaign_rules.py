"""Campaign rules: the 双随机 draw (reproducible by seed, rounded up per grade), township coverage
(100% only when every institution was visited), the checklist and the outcome rules."""
import pytest

from services.common.errors import ValidationFailed
from services.inspection import campaign_rules as rules

ROSTER = [(i, "ABCD"[i % 4]) for i in range(1, 201)]  # 50 institutions of each grade


def test_draw_is_reproduced_by_its_seed_and_changes_with_it():
    first = rules.draw(ROSTER, rules.DEFAULT_RATES, 20261001)
    assert rules.draw(list(reversed(ROSTER)), rules.DEFAULT_RATES, 20261001) == first  # order does not matter
    assert rules.draw(ROSTER, rules.DEFAULT_RATES, 20261002) != first
    grades = dict(ROSTER)
    counts = {g: sum(1 for i in first if grades[i] == g) for g in "ABCD"}
    assert counts == {"A": 3, "B": 5, "C": 10, "D": 20}  # 5% of 50 = 2.5 → 3 (rounded up)
    assert first == sorted(set(first))


def test_a_non_empty_grade_gives_at_least_one_and_zero_rate_none():
    roster = [(1, "A"), (2, "B"), (3, "D"), (4, "D")]
    drawn = rules.draw(roster, {"A": 5, "B": 10, "C": 20, "D": 40}, 7)
    assert 1 in drawn and 2 in drawn and len(drawn) == 3
    assert rules.draw(roster, {"A": 0, "B": 0, "C": 0, "D": 100}, 7) == [3, 4]
    # integer arithmetic: 10% of 30 is exactly 3, not 4
    assert len(rules.draw([(i, "B") for i in range(30)], {"B": 10}, 1)) == 3


def test_rates_and_seed_validation():
    assert rules.validate_rates(None) == {"A": 5, "B": 10, "C": 20, "D": 40}
    assert rules.validate_rates({"D": 50}) == {"A": 5, "B": 10, "C": 20, "D": 50}
    for bad in ({"E": 5}, {"A": 101}, {"A": 0.5}, [5]):
        with pytest.raises(ValidationFailed):
            rules.validate_rates(bad)
    for bad in (-1, 2**53, "7", True):
        with pytest.raises(ValidationFailed):
            rules.validate_seed(bad)


def test_coverage_is_100_only_when_every_institution_was_visited():
    assert rules.coverage_percent(1999, 2000) == 99.9  # not rounded up to 100
    assert rules.coverage_percent(2000, 2000) == 100.0
    assert rules.coverage_percent(0, 3) == 0.0 and rules.coverage_percent(0, 0) is None
    scope = {1: "340722100", 2: "340722100", 3: "340722101"}
    rows = rules.township_coverage(scope, {1, 3})
    assert [(r["township_code"], r["coverage"], r["complete"], r["not_visited"]) for r in rows] == [
        ("340722100", 50.0, False, [2]), ("340722101", 100.0, True, [])]
    assert all(r["complete"] for r in rules.township_coverage(scope, {1, 2, 3}))


def all_items(result="pass", **overrides):
    items = {k: {"result": result} for k in rules.CHECKLIST}
    items.update(overrides)
    return items


def test_checklist_needs_every_item_and_a_note_for_a_failure():
    with pytest.raises(ValidationFailed) as info:
        rules.validate_checklist({"fire_safety": "pass"})
    assert info.value.field.startswith("checklist.")
    with pytest.raises(ValidationFailed) as info:
        rules.validate_checklist(all_items(fire_safety={"result": "fail"}))
    assert info.value.field == "checklist.fire_safety.notes"
    checklist = rules.validate_checklist(all_items(fire_safety={"result": "fail", "notes": "无疏散指示"},
                                                   content={"result": "fail", "notes": "超前教学"}))
    assert rules.failed_items(checklist) == ["content", "fire_safety"]


def test_outcome_rules():
    clean = rules.validate_checklist(all_items())
    failed = rules.validate_checklist(all_items(fire_safety={"result": "fail", "notes": "灭火器过期"}))
    assert rules.validate_outcome({"kind": "pass"}, clean)["kind"] == "pass"
    with pytest.raises(ValidationFailed):  # a failed item is not a pass
        rules.validate_outcome({"kind": "pass"}, failed)
    with pytest.raises(ValidationFailed):  # nothing failed: nothing to order
        rules.validate_outcome({"kind": "rectify"}, clean)
    assert rules.validate_outcome({"kind": "rectify"}, failed)["deadline_workdays"] == 10
    with pytest.raises(ValidationFailed) as info:  # 停业整顿 states its deadline
        rules.validate_outcome({"kind": "suspend"}, failed)
    assert info.value.field == "outcome.deadline_workdays"
    assert rules.validate_outcome({"kind": "suspend", "deadline_workdays": 20}, failed)["deadline_workdays"] == 20
    with pytest.raises(ValidationFailed):
        rules.validate_outcome({"kind": "refer"}, failed)
    assert rules.validate_outcome({"kind": "refer", "referred_to": "market_regulation"}, failed)["referred_to"] == \
        "market_regulation"
    for days in (0, 61, "5"):
        with pytest.raises(ValidationFailed):
            rules.validate_outcome({"kind": "rectify", "deadline_workdays": days}, failed)


def test_team_and_evidence_types():
    assert rules.validate_team([{"department_kind": "public_security", "name": " 张警官 "}]) == [
        {"department_kind": "public_security", "name": "张警官"}]
    for bad in ([], [{"department_kind": "civil_affairs", "name": "李"}], [{"department_kind": "township"}]):
        with pytest.raises(ValidationFailed):
            rules.validate_team(bad)
    assert rules.sniff_evidence(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert rules.sniff_evidence(b"\x89PNG\r\n\x1a\nrest") == "image/png"
    assert rules.sniff_evidence(b"%PDF-1.7") == "application/pdf"
    assert rules.sniff_evidence(b"GIF89a") is None and rules.sniff_evidence(b"") is None


@pytest.mark.parametrize("current, outcome, expected", [
    ("C", "pass", "B"), ("B", "pass", "A"), ("A", "pass", "A"),          # one grade better, floor A
    ("B", "rectify", "C"), ("C", "rectify", "D"), ("D", "rectify", "D"),  # one grade worse, ceiling D
    ("A", "suspend", "D"), ("B", "refer", "D"), ("D", "suspend", "D"),     # straight to D
])
def test_the_risk_grade_moves_after_each_inspection(current, outcome, expected):
    assert rules.next_risk_grade(current, outcome) == expected


def test_unknown_grades_and_outcomes_are_errors_not_guesses():
    with pytest.raises(ValueError):
        rules.next_risk_grade("E", "pass")
    with pytest.raises(ValueError):
        rules.next_risk_grade("B", "waived")
