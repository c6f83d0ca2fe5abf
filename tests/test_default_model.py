"""The shipped default model: what a user gets out of the box, and that it is reproducible from the corpus."""

import json
from pathlib import Path

import pytest

import triage
from triage.persist import read_manifest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return triage.load_model()


def test_predict_shows_codes_names_confidence_signals_deadline(model):
    p = model.predict_one("信用卡被自动分期收了手续费，客服不给退，我已经向12378投诉了")
    d = p.to_dict()
    assert d["category"]["label"] == "CAT01" and d["category"]["name"] == "信用卡"
    assert d["severity"]["label"] in ("SEV3", "SEV4")
    assert any(s["rule"] == "regulator_forwarded" for s in d["signals"])
    assert d["deadline"]["decide_within_days"] == 15
    assert d["root_cause"]["name"]


def test_signal_floor_is_never_undercut(model):
    p = model.predict_one("我的钱被人盗刷了，卡一直在我身上")
    assert p["severity"].label in ("SEV3", "SEV4")


def test_label_columns_equal_the_predictions_fields(model):
    """The array-wise columns a labelling job writes are the fields of predict()'s predictions, bad rows included."""
    from triage.model import prediction_fields

    texts = [json.loads(line)["text"] for line in
             (ROOT / "corpora" / "complaints.heldout.jsonl").read_text(encoding="utf-8").splitlines()]
    texts += ["", None, "😡😡", 12345, "   ", "信用卡", "我已经向12378投诉了，信用卡被盗刷5万元，我们二十多个人"]
    columns = model.label_columns(texts)
    rows = [prediction_fields(p, with_names=True) for p in model.predict(texts)]
    assert list(columns) == list(rows[0])
    for field, values in columns.items():
        assert values == [row.get(field) for row in rows], field
    assert sum(columns["needs_review"]) > 10 and any(columns["signals"])
    assert {"SEV3", "SEV4"} & set(columns["severity"])


def test_many_texts_are_labelled_in_model_batches_with_the_same_results(model, monkeypatch):
    """predict, label_columns and predict_proba take any number of texts, labelled a model batch at a time."""
    import numpy as np

    texts = [json.loads(line)["text"] for line in
             (ROOT / "corpora" / "complaints.heldout.jsonl").read_text(encoding="utf-8").splitlines()][:101]
    texts[50] = ""
    whole = ([p.to_dict() for p in model.predict(texts)], model.label_columns(texts), model.predict_proba(texts))
    monkeypatch.setattr("triage.model._MODEL_BATCH", 40)  # 101 texts: three batches of 34, 34 and 33
    assert [p.to_dict() for p in model.predict(texts)] == whole[0]
    batches, decide = [], model._decide
    monkeypatch.setattr(model, "_decide", lambda part: batches.append(len(part)) or decide(part))
    assert model.label_columns(texts) == whole[1] and batches == [34, 34, 33]
    probas = model.predict_proba(texts)
    assert all(np.array_equal(probas[name], whole[2][name]) for name in whole[2])


def test_a_lone_surrogate_is_read_as_a_replacement_character(model):
    """A JSON export may escape half of an emoji ("\\ud83d"); json.loads lets it through and no segmenter can
    encode it: the normaliser reads it as U+FFFD, in a batch and alone."""
    texts = [json.loads('"\\ud83d信用卡年费没通知就扣了，要求退还"')] * 10
    expected = model.predict_one(texts[0].replace("\ud83d", "\ufffd")).to_dict()
    assert [p.to_dict() for p in model.predict(texts)] == [expected] * 10
    assert model.predict_one(texts[0]).to_dict() == expected and expected["category"]["label"] == "CAT01"


def test_a_label_job_with_bad_rows_on_the_default_model(model, tmp_path):
    """Empty, emoji-only and missing texts come back flagged, with empty signal and deadline cells."""
    src = tmp_path / "in.csv"
    src.write_text("id,text\n1,信用卡年费没通知就扣了，要求退还\n2,\n3,😡😡\n", encoding="utf-8")
    summary = triage.label_file(model, src, tmp_path / "out.csv", jobs=1)
    from triage.io import read_rows

    _, rows = read_rows(tmp_path / "out.csv")
    assert [r["category"] for r in rows] == ["CAT01", "", ""]
    assert [r["needs_review"] for r in rows][1:] == ["True", "True"] and rows[1]["signals"] == ""
    assert summary.bad_rows == 2


def test_manifest_records_provenance():
    m = read_manifest()
    assert m["training_data"]["sources"] == ["complaints.train.jsonl"]
    assert m["taxonomy"]["name"] == "triage-default"
    assert "legal_threat" in m["escalation_rules"]["rules"]
    assert set(m["files"]) >= {"model.pickle.gz", "resources/userdict.txt", "resources/escalation_rules.toml",
                              "resources/institutions.tsv", "resources/taxonomy.json"}
    for target in ("category", "severity", "root_cause"):
        assert m["metrics"]["targets"][target]["accuracy"] > 0.5


def test_shipped_resources_match_corpora():
    """The model was built from the current corpora files (rebuild with tools/build_default_model.py)."""
    for name in ("userdict.txt", "stopwords.txt", "taxonomy.json", "escalation_rules.toml", "institutions.tsv"):
        shipped = (ROOT / "models" / "default" / "resources" / name).read_bytes()
        assert shipped == (ROOT / "corpora" / name).read_bytes(), f"{name} changed: rebuild the default model"


def test_retraining_reproduces_the_shipped_model(model):
    config = triage.TrainConfig(targets=("category", "severity", "root_cause"), seed=0, test_size=0)
    again = triage.train(ROOT / "corpora" / "complaints.train.jsonl", config=config).model
    held = [json.loads(line)["text"] for line in
            (ROOT / "corpora" / "complaints.heldout.jsonl").read_text(encoding="utf-8").splitlines()[:300]]
    assert [p.to_dict() for p in again.predict(held)] == [p.to_dict() for p in model.predict(held)]
