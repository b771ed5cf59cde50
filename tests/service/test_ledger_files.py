"""Ledger files through the registry on the real bus (issue 15): a county's own layout imports the
records the clean file stored and changes nothing; the preview shows each row and stores nothing."""
from __future__ import annotations

import base64

import pytest

from services.registry.service import RegistryService
from tests import ledger_samples as samples
from tests.service.support import call


@pytest.fixture
def registry(start_services):
    return start_services(RegistryService)["registry"]


def upload(registry, actor, method, name, content):
    return call(registry, method, actor, name, base64.b64encode(content).decode("ascii"), samples.TOWNSHIPS)


def test_county_ledgers_change_nothing_after_the_clean_file(registry, token):
    education = token("education")
    first = upload(registry, education, "import_ledger_file", "台账.xlsx", samples.clean_xlsx(samples.rows()))
    assert (first["state"], first["created"]) == ("committed", 4)
    for name, build in (("枞阳县台账.xlsx", samples.county_xlsx), ("枞阳县台账.csv", samples.county_csv_gbk)):
        again = upload(registry, education, "import_ledger_file", name, build(samples.rows()))
        assert (again["state"], again["created"], again["updated"], again["unchanged"]) == ("committed", 0, 0, 4)
        assert again["header_row"] == 3 and again["ignored_columns"] == ["序号", "备注"]
        assert [s["row"] for s in again["skipped_rows"]] == [1, 2, 8]  # title, blank, 填表人 line
    listed = call(registry, "list_institutions", education)
    assert listed["total"] == 4
    assert sorted(i["name"] for i in listed["items"]) == [f"枞阳县台账培训学校{n}" for n in range(1, 5)]


def test_the_preview_shows_each_row_and_errors_in_place_and_stores_nothing(registry, token):
    education = token("education")
    records = samples.rows(100)
    records[2]["乡镇"] = "不存在镇"
    refused = upload(registry, education, "preview_ledger_file", "枞阳县台账.xlsx", samples.county_xlsx(records))
    assert refused["state"] == "rejected" and "未导入任何记录" in refused["message"]
    rows = {r["row"]: r for r in refused["preview"]["rows"]}
    assert sorted(rows) == [4, 5, 6, 7] and refused["preview"]["columns"][0] == "机构名称"
    assert list(rows[6]["errors"]) == ["乡镇"] and "未知的乡镇“不存在镇”" in rows[6]["errors"]["乡镇"]
    assert rows[6]["cells"]["乡镇"] == "不存在镇" and rows[4]["errors"] == {} and rows[4]["plan"] == "create"
    assert call(registry, "commit_import", education, refused["id"], samples.TOWNSHIPS)["state"] == "rejected"

    records[2]["乡镇"] = "浮山镇"
    ready = upload(registry, education, "preview_ledger_file", "枞阳县台账.csv", samples.county_csv_gbk(records))
    assert (ready["state"], ready["created"], ready["rows"]) == ("ready", 4, 4)
    assert [r["plan"] for r in ready["preview"]["rows"]] == ["create"] * 4
    assert call(registry, "list_institutions", education)["total"] == 0  # a preview stores nothing
    committed = call(registry, "commit_import", education, ready["id"], samples.TOWNSHIPS)
    assert (committed["state"], committed["created"]) == ("committed", 4)

    records[0]["地址"] = "枞阳镇新址8号"
    changed = upload(registry, education, "preview_ledger_file", "枞阳县台账.xlsx", samples.county_xlsx(records))
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 3)
    assert changed["preview"]["rows"][0]["changed"] == ["地址"]


def test_the_template_lists_the_county_townships(registry, token):
    from io import BytesIO

    from openpyxl import load_workbook

    answer = call(registry, "get_ledger_template", token("education"), samples.TOWNSHIPS)
    assert answer["file_name"] == "台账模板.xlsx"
    workbook = load_workbook(BytesIO(base64.b64decode(answer["content_b64"])))
    assert workbook.sheetnames[0] == "台账"
    assert [r[0] for r in workbook["乡镇"].iter_rows(min_row=2, values_only=True)] == ["枞阳镇", "浮山镇", "金社乡"]
