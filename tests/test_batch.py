import csv
import json

import pytest

from triage import InputError, label_file
from triage.io import read_rows


def write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerows(rows)


def test_keeps_every_column_and_row_in_order(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    write_csv(src, [["编号", "text", "备注"], ["1", "信用卡年费", "甲"], ["2", "", "乙"], ["3", "车险理赔太慢", "丙"]])
    summary = label_file(tiny_model, src, tmp_path / "out.csv")
    columns, rows = read_rows(tmp_path / "out.csv")
    assert columns[:3] == ["编号", "text", "备注"]
    assert "product" in columns and "product_confidence" in columns and "needs_review" in columns
    assert [r["编号"] for r in rows] == ["1", "2", "3"]
    assert [r["备注"] for r in rows] == ["甲", "乙", "丙"]
    assert rows[0]["product"] == "card" and rows[2]["product"] == "insurance"
    assert rows[1]["needs_review"] == "True" and "missing" in rows[1]["review_reason"]
    assert summary.rows == 3 and summary.bad_rows == 1
    assert summary.distribution["product"]["(none)"] == 1


def test_input_text_is_written_back_unchanged(tiny_model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "我的电话13812345678，信用卡年费", "n": 1}, ensure_ascii=False) + "\n", encoding="utf-8")
    label_file(tiny_model, src, tmp_path / "out.jsonl")
    out = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert out["text"] == "我的电话13812345678，信用卡年费" and out["n"] == 1


def test_prediction_never_overwrites_input_columns(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    write_csv(src, [["text", "product", "needs_review"], ["信用卡年费", "人工标签", "x"]])
    label_file(tiny_model, src, tmp_path / "out.csv")
    columns, rows = read_rows(tmp_path / "out.csv")
    assert rows[0]["product"] == "人工标签" and rows[0]["needs_review"] == "x"
    assert rows[0]["product_pred"] == "card"
    assert "product_pred_confidence" in columns and "needs_review_pred" in columns


def test_gb18030_input_and_format_by_extension(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    write_csv(src, [["text"], ["信用卡年费"]], encoding="gb18030")
    label_file(tiny_model, src, tmp_path / "out.xlsx")
    columns, rows = read_rows(tmp_path / "out.xlsx")
    assert rows[0]["text"] == "信用卡年费" and rows[0]["product"] == "card"


def test_xlsx_in_xlsx_out_default_name(tiny_model, tmp_path):
    from triage.io import open_writer

    src = tmp_path / "book.xlsx"
    with open_writer(src, ["id", "内容"]) as w:
        w.write([{"id": 1, "内容": "保险理赔被拒"}, {"id": 2, "内容": None}])
    summary = label_file(tiny_model, src, text_column="内容")
    assert summary.output.endswith("book.labelled.xlsx")
    _, rows = read_rows(summary.output)
    assert rows[0]["product"] == "insurance" and rows[1]["product"] in (None, "")


def test_missing_text_column_lists_columns(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    write_csv(src, [["id", "内容"], ["1", "信用卡年费"]])
    with pytest.raises(InputError, match=r"no column 'text'.*'id', '内容'"):
        label_file(tiny_model, src, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.csv.partial").exists()


def test_refuses_to_overwrite(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    write_csv(src, [["text"], ["信用卡年费"]])
    (tmp_path / "out.csv").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="already exists"):
        label_file(tiny_model, src, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == "mine"
    with pytest.raises(InputError, match="is the input file"):
        label_file(tiny_model, src, src, overwrite=True)


def test_error_mid_file_keeps_the_work_but_no_output(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("text\n" + "信用卡年费\n" * 50 + "a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="fields but the header has 1"):
        label_file(tiny_model, src, tmp_path / "out.csv", chunk_size=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv.partial", "out.csv.partial.json"]
    with pytest.raises(InputError, match="pass --resume to continue it, or --force to start over"):
        label_file(tiny_model, src, tmp_path / "out.csv")
    src.write_text("text\n" + "信用卡年费\n" * 51, encoding="utf-8")  # the input, fixed
    with pytest.raises(InputError, match="the input file changed"):
        label_file(tiny_model, src, tmp_path / "out.csv", resume=True)
    label_file(tiny_model, src, tmp_path / "out.csv", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_progress_callback(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("text\n" + "信用卡年费\n" * 25, encoding="utf-8")
    seen = []
    label_file(tiny_model, src, tmp_path / "out.tsv", chunk_size=10, progress=lambda rows, read: seen.append(rows))
    assert seen == [10, 20, 25]
