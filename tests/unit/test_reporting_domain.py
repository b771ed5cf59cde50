from datetime import date

from services.reporting.domain import InstitutionFact, count_institutions


def test_counts_by_status_in_chinese_and_academic_total():
    facts = [
        InstitutionFact(1, "academic", date(2021, 7, 1), "operating"),
        InstitutionFact(2, "academic", date(2021, 7, 1), "suspended_for_rectification"),
        InstitutionFact(3, "non_academic", date(2021, 7, 1), "deregistering"),
    ]
    result = count_institutions(facts)
    assert result["institutions_total"] == 3
    assert result["institutions_academic"] == 2
    assert result["status_counts"] == {"正常营业": 1, "暂停营业": 0, "停业整顿": 1, "注销中": 1, "已注销": 0}
