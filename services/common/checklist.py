"""The inspection checklist (domain.md "Inspections and enforcement"): item key → Chinese name.
Shared so the pages can lay out the phone checklist without importing the inspection service."""

CHECKLIST = {
    "licences_and_scope": "证照齐全、经营范围相符",
    "address_and_branches": "办学地址与分支机构",
    "signs_and_ads": "招牌与宣传与许可一致",
    "operator_matches": "举办者与登记一致",
    "staff_qualifications": "从业人员资质",
    "content": "培训内容（无超标超前、无境外课程）",
    "model_contract_and_fees": "示范合同、收费公示与退费",
    "advertising": "广告",
    "fire_safety": "消防安全（九项规定）",
    "epidemic_prevention": "疫情防控",
    "academic_on_rest_days": "节假日、休息日及寒暑假无学科类培训",
    "class_end_times": "结束时间（线下20:30、线上21:00）",
}
