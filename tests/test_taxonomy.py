import json

import pytest

from triage import TaxonomyError, TrainConfig, FeatureConfig, train
from triage.taxonomy import Taxonomy


def test_default_taxonomy_is_complete():
    tax = Taxonomy.load()
    assert tax.codes("category") == [f"CAT0{i}" for i in range(1, 10)] + ["CAT99"]
    assert tax.codes("severity") == ["SEV1", "SEV2", "SEV3", "SEV4"]
    assert tax.codes("root_cause") == [f"R{i:02d}" for i in range(1, 14)] + ["R99"]
    for axis in tax.axes.values():
        for label in axis.labels:
            assert label.name_zh and label.name_en and label.definition and label.signals and label.boundaries
            if axis.target != "severity":
                assert label.jrt0169


def test_unknown_label_refused_with_allowed_codes():
    tax = Taxonomy.load()
    with pytest.raises(TaxonomyError, match=r"'CAT10' \(2 rows\).*Allowed codes: CAT01"):
        tax.check_labels("category", ["CAT01", "CAT10", "CAT10"], where="x.csv")
    tax.check_labels("level1", ["anything"])  # targets outside the taxonomy are free


def test_training_refuses_labels_outside_the_taxonomy(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,severity\n" + "".join(f"投诉{i},{'高' if i % 2 else 'SEV1'}\n" for i in range(6)),
                    encoding="utf-8")
    with pytest.raises(TaxonomyError, match="'高'.*--taxonomy none"):
        train(path, config=TrainConfig(test_size=0, features=FeatureConfig(char_min_df=1)))
    result = train(path, config=TrainConfig(test_size=0, taxonomy=None, rules=None,
                                            features=FeatureConfig(char_min_df=1)))
    assert set(result.model.classes["severity"]) == {"高", "SEV1"}


def test_user_taxonomy_replaces_default(tmp_path):
    tax = {"name": "mine", "axes": [{"target": "urgent", "labels": [{"code": "y", "name_zh": "紧急"},
                                                                    {"code": "n", "name_zh": "不急"}]}]}
    tpath = tmp_path / "tax.json"
    tpath.write_text(json.dumps(tax, ensure_ascii=False), encoding="utf-8")
    data = tmp_path / "d.csv"
    data.write_text("text,urgent\n" + "".join(f"{'报警了' if i % 2 else '咨询'}{i},{'y' if i % 2 else 'n'}\n"
                                              for i in range(8)), encoding="utf-8")
    result = train(data, config=TrainConfig(test_size=0, taxonomy=str(tpath), features=FeatureConfig(char_min_df=1)))
    prediction = result.model.predict_one("报警了")
    assert prediction["urgent"].name in ("紧急", "不急")


def test_malformed_taxonomy(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"axes": [{"labels": []}]}', encoding="utf-8")
    with pytest.raises(TaxonomyError, match="taxonomy shape"):
        Taxonomy.load(path)
