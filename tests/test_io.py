import json

import pytest

from triage.exceptions import InputError
from triage.io import check_columns, detect_format, open_table, open_writer, read_rows

ROWS = "id,text\n1,信用卡年费\n2,提前还款违约金\n"


@pytest.mark.parametrize("encoding, expected", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030")])
def test_encodings_are_detected(tmp_path, encoding, expected):
    path = tmp_path / "c.csv"
    path.write_text(ROWS, encoding=encoding)
    columns, rows = read_rows(path)
    assert columns == ["id", "text"]
    assert [r["text"] for r in rows] == ["信用卡年费", "提前还款违约金"]
    with open_table(path) as table:
        assert table.encoding == expected


def test_undecodable_bytes(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,text\n1,\xff\xfe\xfd\x80\x80\x81\n")
    with pytest.raises(InputError, match="neither UTF-8 nor GB18030"):
        read_rows(path)


def test_undecodable_bytes_after_the_sample(tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes("id,text\n".encode() + "1,正常文本\n".encode() * 120_000 + b"2,\xff\xfe\n")
    with pytest.raises(InputError, match="Cannot decode"):
        read_rows(path, encoding="utf-8")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        read_rows(path)


def test_header_only(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("id,text\n", encoding="utf-8")
    with pytest.raises(InputError, match="no rows"):
        read_rows(path)


def test_unsupported_format(tmp_path):
    path = tmp_path / "c.docx"
    path.write_bytes(b"x")
    with pytest.raises(InputError, match=r"not a supported table format.*\.xlsx"):
        read_rows(path)
    assert detect_format("a.TSV") == "tsv"


def test_missing_column_lists_existing_columns():
    with pytest.raises(InputError, match=r"no column 'content'.*'id', 'text'"):
        check_columns(["id", "text"], ["content"], "c.csv")


def test_duplicate_header(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("text,text\na,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate column names"):
        read_rows(path)


def test_row_with_too_many_fields(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("id,text\n1,a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="3 fields but the header has 2"):
        read_rows(path)


def test_short_rows_are_padded(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("id,text,extra\n1,a\n", encoding="utf-8")
    assert read_rows(path)[1] == [{"id": "1", "text": "a", "extra": ""}]


def test_jsonl_reading_and_bad_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"text": "甲", "n": null}\n\n{"text": "乙", "more": 1}\n', encoding="utf-8")
    columns, rows = read_rows(path)
    assert columns == ["text", "n", "more"] and rows[1]["more"] == 1
    path.write_text('{"text": "甲"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(InputError, match="c.jsonl:2: expected a JSON object"):
        read_rows(path)


def test_tsv_and_xlsx_round_trip(tmp_path):
    rows = [{"id": 1, "text": "甲\t乙"}, {"id": 2, "text": "丙"}]
    for name in ("out.tsv", "out.xlsx", "out.jsonl", "out.csv"):
        path = tmp_path / name
        with open_writer(path, ["id", "text"]) as w:
            w.write(rows)
        columns, back = read_rows(path)
        assert columns == ["id", "text"]
        assert [str(r["text"]) for r in back] == ["甲\t乙", "丙"]


def test_excel_bom(tmp_path):
    path = tmp_path / "bom.csv"
    with open_writer(path, ["text"], excel_bom=True) as w:
        w.write([{"text": "甲"}])
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_chunks_stream_in_order(tmp_path):
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps({"text": str(i)}) + "\n" for i in range(25)), encoding="utf-8")
    with open_table(path) as t:
        sizes = [len(c) for c in t.chunks(10)]
    assert sizes == [10, 10, 5]


@pytest.mark.parametrize("out", ["out.csv", "out.jsonl", "out.xlsx"])
def test_jsonl_with_half_an_emoji_escaped_is_read_and_written(tmp_path, out):
    """json.loads lets a lone surrogate escape ("\\ud83d") through; it has no UTF-8 form, so it is read as U+FFFD
    and the row can be written anywhere (a pair of escapes is one character and stays)."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "\\ud83d\\ude00好\\uD83D", "tags": ["\\udc00"]}\n{"id": 2, "text": "ok"}\n',
                   encoding="utf-8")
    _, rows = read_rows(src)
    assert rows[0] == {"id": 1, "text": "\U0001F600好\ufffd", "tags": ["\ufffd"]} and rows[1]["text"] == "ok"
    with open_writer(tmp_path / out, ["id", "text"]) as writer:
        writer.write(rows)
    assert [r["text"] for r in read_rows(tmp_path / out)[1]] == ["\U0001F600好\ufffd", "ok"]
