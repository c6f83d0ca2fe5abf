import json

import pytest

from triage import FeatureConfig, InputError, TrainConfig, evaluate, load_model, train
from triage.workflows import read_labelled

from conftest import TINY

FAST = FeatureConfig(char_min_df=1)


def test_train_save_load_predict(tmp_path):
    result = train(TINY, config=TrainConfig(test_size=0.25, features=FAST), output=tmp_path / "m")
    assert result.metrics["product"]["n"] == 9
    assert set(result.metrics) == {"product", "urgent"}
    model = load_model(tmp_path / "m")
    assert model.predict_one("信用卡年费太贵").labels["product"] == "card"
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["metrics"]["targets"]["product"]["accuracy"] == result.metrics["product"]["accuracy"]
    assert "held-out 25%" in manifest["metrics"]["split"]


def test_train_from_records_with_any_target_names():
    records = [{"内容": f"信用卡问题{i}", "level1": "卡"} for i in range(4)] + \
              [{"内容": f"贷款问题{i}", "level1": "贷"} for i in range(4)]
    result = train(records, config=TrainConfig(text_column="内容", test_size=0, features=FAST))
    assert result.model.target_names == ["level1"]
    assert result.metrics is None


def test_several_files_are_concatenated(tmp_path):
    extra = tmp_path / "new.csv"
    extra.write_text("text,product,urgent\n外币兑换排队太久,other,no\n零钱兑换被拒,other,no\n", encoding="utf-8")
    result = train([TINY, extra], config=TrainConfig(test_size=0, features=FAST))
    assert "other" in result.model.classes["product"]


def test_eval_data_is_used_instead_of_a_split():
    result = train(TINY, config=TrainConfig(features=FAST), eval_data=TINY)
    assert result.train_rows == 36 and result.eval_rows == 36
    assert "separate evaluation file" in result.split


def test_unknown_extra_columns_become_targets_unless_named(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,text,product,备注\n" + "".join(f"{i},信用卡{i},card,x{i}\n" for i in range(3))
                    + "".join(f"{i+3},贷款{i},loan,y{i}\n" for i in range(3)), encoding="utf-8")
    data = read_labelled(path, targets=["product"])
    assert list(data.labels) == ["product"]
    with pytest.raises(InputError, match="no target column 'severity'"):
        read_labelled(path, targets=["severity"])


def test_no_label_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,text\n1,a\n", encoding="utf-8")
    with pytest.raises(InputError, match="no label columns"):
        read_labelled(path)


def test_test_size_too_small_for_data():
    records = [{"text": "a", "t": "x"}, {"text": "b", "t": "y"}, {"text": "c", "t": "x"}]
    with pytest.raises(InputError, match="test_size"):
        train(records, config=TrainConfig(test_size=0.1, features=FAST))


def test_evaluate_writes_report(tiny_model_dir, tmp_path):
    metrics = evaluate(tiny_model_dir, TINY, report_dir=tmp_path / "r")
    assert 0 <= metrics["product"]["calibration"]["ece"] <= 1
    assert {"precision", "recall", "f1", "support"} <= set(metrics["product"]["per_class"]["card"])
    report = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "Confusion matrix" in report
    pytest.importorskip("matplotlib")
    assert (tmp_path / "r" / "confusion_product.png").stat().st_size > 1000


def test_evaluate_needs_a_known_target(tiny_model_dir, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,other\na,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="none of the model's target columns"):
        evaluate(tiny_model_dir, path)
