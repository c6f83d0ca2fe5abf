import json

import pytest
from click.testing import CliRunner

from triage import FeatureConfig, InputError, TrainConfig
from triage.cli import main
from triage.curation import audit, cross_validate, learning_curve, suggest
from triage.workflows import read_labelled

from conftest import TINY

FAST = TrainConfig(search=False, features=FeatureConfig(char_min_df=1))


def test_cross_validation_predicts_every_row_out_of_fold():
    result = cross_validate(TINY, config=FAST, folds=3)
    assert result["metrics"]["product"]["n"] == 36 and result["folds"] == 3
    assert 0 <= result["metrics"]["product"]["accuracy"] <= 1


def test_cross_validation_folds_checked():
    with pytest.raises(InputError, match="folds"):
        cross_validate(TINY, config=FAST, folds=100)


def test_audit_finds_a_planted_labelling_mistake(tmp_path):
    data = read_labelled(TINY)
    rows = [{"text": t, "product": p} for t, p in zip(data.texts, data.labels["product"])]
    rows += [{"text": f"信用卡年费又被扣了第{i}次", "product": "card"} for i in range(12)]
    rows[0]["product"] = "insurance"  # "信用卡年费没有提前通知就扣了三百元" is clearly a card complaint
    findings = audit(rows, config=FAST, folds=3, only_high=False)
    assert findings and findings == sorted(findings, key=lambda f: -f["probability"])
    planted = [f for f in findings if f["row"] == 1]
    assert planted and planted[0]["given"] == "insurance" and planted[0]["suggested"] == "card"


def test_suggest_prefers_uncertain_and_diverse(tiny_model):
    texts = ["信用卡年费"] * 5 + ["保险理赔太慢", "嗯", "这个东西到底算什么问题", "", "贷款催收"]
    picks = suggest(tiny_model, texts, n=3)
    assert len(picks) == 3
    chosen = [p["row"] for p in picks]
    assert len({texts[r - 1] for r in chosen}) == 3  # never the same text twice
    assert 9 not in chosen  # the empty row is never suggested
    with pytest.raises(InputError, match="at least 1"):
        suggest(tiny_model, texts, n=0)


def test_learning_curve_has_one_point_per_share():
    points = learning_curve(TINY, config=FAST, steps=(0.5, 1.0), test_size=0.25)
    assert [p["share"] for p in points] == [0.5, 1.0]
    assert points[0]["train_rows"] < points[1]["train_rows"]
    assert set(points[0]) >= {"product", "urgent"}


def test_cli_audit_suggest_and_cv(tiny_model_dir, tmp_path):
    runner = CliRunner()
    out = tmp_path / "audit.csv"
    result = runner.invoke(main, ["audit", str(TINY), "--folds", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("row") or "0 likely" in result.output
    src = tmp_path / "new.csv"
    src.write_text("text\n信用卡年费\n保险理赔\n嗯\n", encoding="utf-8")
    result = runner.invoke(main, ["suggest", str(tiny_model_dir), str(src), "-n", "2"])
    assert result.exit_code == 0, result.output
    assert len([json.loads(line) for line in result.output.splitlines() if line.startswith("{")]) == 2
    result = runner.invoke(main, ["train", str(TINY), "-o", str(tmp_path / "m"), "--cv", "3"])
    assert result.exit_code == 0, result.output
    assert "3-fold cross-validation" in result.output
    result = runner.invoke(main, ["train", str(TINY), "-o", str(tmp_path / "m2"), "--cv", "3", "--test-size", "0.3"])
    assert result.exit_code == 2
