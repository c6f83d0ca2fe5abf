import json

import pytest
from click.testing import CliRunner

from triage.cli import main

from conftest import TINY


@pytest.fixture
def runner():
    return CliRunner()


def test_help_for_every_command(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "predict" in result.output and "label" in result.output
    for command in ("predict", "label", "train", "evaluate", "info"):
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage:" in result.output


def test_predict_json_lines(runner, tiny_model_dir):
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir), "信用卡年费", "车险理赔太慢"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [r["product"]["label"] for r in lines] == ["card", "insurance"]
    assert {"probability", "confidence"} <= set(lines[0]["product"])
    assert "needs_review" in lines[0] and "signals" in lines[0]


def test_predict_stdin_one_output_per_line(runner, tiny_model_dir):
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir)], input="信用卡年费\n\n保险理赔被拒\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 3 and lines[1]["needs_review"] is True


def test_predict_masks_personal_data_in_output(runner, tiny_model_dir):
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir), "--explain", "我电话13812345678信用卡年费"])
    assert "13812345678" not in result.output and "[手机号]" in result.output


def test_predict_table(runner, tiny_model_dir):
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir), "--format", "table", "信用卡年费"])
    assert result.exit_code == 0
    assert "product" in result.output.splitlines()[0] and "card" in result.output


def test_label_end_to_end(runner, tiny_model_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,内容\n1,信用卡年费\n2,保险理赔被拒\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(main, ["label", str(src), "-o", str(out), "--text-column", "内容", "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["product"] for r in rows] == ["card", "insurance"]
    assert "Labelled 2 rows" in result.output


def test_user_error_exit_1_with_message(runner, tiny_model_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,内容\n1,信用卡年费\n", encoding="utf-8")
    result = runner.invoke(main, ["label", str(src), "--model", str(tiny_model_dir)])
    assert result.exit_code == 1
    assert "no column 'text'" in result.output and "'内容'" in result.output
    assert "Traceback" not in result.output


def test_verbose_shows_traceback(runner, tmp_path):
    result = runner.invoke(main, ["-v", "info", str(tmp_path)])
    assert result.exit_code == 1 and result.exception is not None


def test_usage_error_exit_2(runner):
    assert runner.invoke(main, ["label"]).exit_code == 2
    assert runner.invoke(main, ["predict", "--format", "xml", "x"]).exit_code == 2


def test_train_evaluate_info(runner, tmp_path):
    out = tmp_path / "m"
    result = runner.invoke(main, ["train", str(TINY), "-o", str(out), "--test-size", "0.25", "--targets", "product"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "held-out 25%" in result.output
    held_out = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["metrics"]["targets"]["product"]["per_class"]
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    for label, c in held_out.items():  # training reports the held-out figures of every class, and the card keeps them
        line = f"{c['precision']:.3f}  {c['recall']:.3f}  {c['f1']:.3f}  {c['support']}"
        assert f"  {label:<12} {line}" in result.output
        assert f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |" in card
    report = tmp_path / "report"
    result = runner.invoke(main, ["evaluate", str(out), str(TINY), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert (report / "metrics.json").is_file() and (report / "report.md").is_file()
    result = runner.invoke(main, ["info", str(out)])
    assert result.exit_code == 0 and "product (3 labels)" in result.output and "model.pickle.gz" in result.output


def test_train_refuses_test_size_with_eval_data(runner, tmp_path):
    result = runner.invoke(main, ["train", str(TINY), "-o", str(tmp_path / "m"), "--test-size", "0.3",
                                  "--eval-data", str(TINY)])
    assert result.exit_code == 2 and "either --test-size or --eval-data" in result.output


def test_unsupported_input_format(runner, tiny_model_dir, tmp_path):
    src = tmp_path / "in.docx"
    src.write_bytes(b"x")
    result = runner.invoke(main, ["label", str(src), "--model", str(tiny_model_dir)])
    assert result.exit_code == 1 and "not a supported table format" in result.output
