import json
import shutil

import pytest

import triage
from triage import ModelFormatError, ModelIntegrityError, load_model, save_model
from triage.exceptions import TriageVersionWarning
from triage.persist import read_manifest, sha256_file

TEXTS = ["信用卡年费", "保险理赔被拒", "催收电话太多", "😀", None]


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target)
    return target


def test_directory_contents(tiny_model_dir):
    names = {p.relative_to(tiny_model_dir).as_posix() for p in tiny_model_dir.rglob("*") if p.is_file()}
    assert names == {"manifest.json", "model.pickle.gz", "MODEL_CARD.md", "resources/userdict.txt", "resources/stopwords.txt",
                     "resources/institutions.tsv"}


def test_manifest_records_what_a_user_needs(tiny_model_dir):
    m = read_manifest(tiny_model_dir)
    assert m["format_version"] == 2
    assert {"triage", "scikit-learn", "jieba", "numpy", "python"} <= set(m["versions"])
    assert m["targets"]["product"] == ["card", "insurance", "loan"]
    assert m["config"]["text_column"] == "text"
    assert len(m["training_data"]["fingerprint_sha256"]) == 64
    for name, digest in m["files"].items():
        assert sha256_file(tiny_model_dir / name) == digest


def test_save_load_predicts_identically(tiny_model_dir, tiny_model, tmp_path):
    again = load_model(tiny_model_dir)
    assert [p.to_dict() for p in again.predict(TEXTS)] == [p.to_dict() for p in tiny_model.predict(TEXTS)]
    # and saving the loaded model again gives a model that predicts the same
    save_model(again, tmp_path / "resaved")
    third = load_model(tmp_path / "resaved")
    assert [p.to_dict() for p in third.predict(TEXTS)] == [p.to_dict() for p in tiny_model.predict(TEXTS)]


def test_tampered_artifact_refused_before_unpickling(model_copy, monkeypatch):
    with open(model_copy / "model.pickle.gz", "ab") as f:
        f.write(b"tampered")
    import triage.persist

    def never(*a, **k):
        raise AssertionError("unpickled a file whose hash did not match")

    monkeypatch.setattr(triage.persist, "_unpickle", never)
    with pytest.raises(ModelIntegrityError, match="does not match the SHA-256"):
        load_model(model_copy)


def test_changed_dictionary_refused(model_copy):
    path = model_copy / "resources" / "userdict.txt"
    path.write_text(path.read_text(encoding="utf-8") + "新词 100\n", encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="userdict.txt does not match"):
        load_model(model_copy)


def test_missing_file_refused(model_copy):
    (model_copy / "resources" / "stopwords.txt").unlink()
    with pytest.raises(ModelFormatError, match="stopwords.txt is missing"):
        load_model(model_copy)


def test_unknown_format_version_refused(model_copy):
    path = model_copy / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    m["format_version"] = 99
    path.write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(ModelFormatError, match="format version 99"):
        load_model(model_copy)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelFormatError, match="has no manifest.json"):
        load_model(tmp_path)
    with pytest.raises(ModelFormatError, match="No model directory"):
        load_model(tmp_path / "missing")


def test_library_version_drift_warns(model_copy):
    path = model_copy / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    m["versions"]["scikit-learn"] = "0.0.1"
    path.write_text(json.dumps(m), encoding="utf-8")
    with pytest.warns(TriageVersionWarning, match="scikit-learn 0.0.1"):
        load_model(model_copy)


def test_save_refuses_to_clobber(tiny_model, tiny_model_dir, tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ModelFormatError, match="not a triage model"):
        save_model(tiny_model, other)
    assert (other / "notes.txt").read_text(encoding="utf-8") == "keep me"
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    with pytest.raises(ModelFormatError, match="already holds a model"):
        save_model(tiny_model, copy)
    save_model(tiny_model, copy, overwrite=True)


def test_model_card_states_split(tiny_model_dir):
    card = (tiny_model_dir / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Intended use" in card and "## Known limits" in card and "trusted" in card or "trust" in card


def test_load_default_model_without_arguments():
    model = triage.load_model()
    assert set(model.target_names) >= {"category", "severity", "root_cause"}
    assert model.predict_one("信用卡被自动分期收了手续费").targets["category"].label


def test_format_1_directories_written_with_joblib_still_load(model_copy, tiny_model):
    import joblib

    (model_copy / "model.pickle.gz").unlink()
    joblib.dump(tiny_model, model_copy / "model.joblib", compress=3)
    m = json.loads((model_copy / "manifest.json").read_text(encoding="utf-8"))
    m["format_version"] = 1
    del m["files"]["model.pickle.gz"]
    m["files"]["model.joblib"] = sha256_file(model_copy / "model.joblib")
    (model_copy / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    old = load_model(model_copy)
    assert [p.to_dict() for p in old.predict(TEXTS)] == [p.to_dict() for p in tiny_model.predict(TEXTS)]
