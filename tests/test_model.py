import math
import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from triage import ComplaintClassifier, FeatureConfig, InputError
from triage.segment import Segmenter
from triage.workflows import read_labelled

from conftest import TINY


@pytest.fixture(scope="module")
def data():
    return read_labelled(TINY)


@pytest.fixture(scope="module")
def model(data):
    return ComplaintClassifier(features=FeatureConfig(char_min_df=1)).fit(data.texts, data.labels)


def test_targets_named_by_columns(model):
    assert model.target_names == ["product", "urgent"]
    assert model.classes["product"] == ["card", "insurance", "loan"]


def test_predict_one_and_batch_agree(model):
    one = model.predict_one("信用卡年费被多扣了")
    batch = model.predict(["信用卡年费被多扣了"])
    assert one == batch[0]
    assert one["product"].label == "card"
    t = one["product"]
    assert 0 <= t.probability <= 1 and t.confidence in ("high", "medium", "low")
    assert t.alternatives[0][0] == t.label and len(t.alternatives) == 3


def test_probabilities_sum_to_one(model):
    proba = model.predict_proba(["车险定损太低", "贷款催收"])
    for p in proba.values():
        assert np.allclose(p.sum(axis=1), 1)


def test_bare_string_refused(model):
    with pytest.raises(InputError, match="single str.*predict_one"):
        model.predict("信用卡年费")
    with pytest.raises(InputError, match="predict_one expects one text"):
        model.predict_one(["a"])


@pytest.mark.parametrize(
    "bad, reason",
    [(None, "missing"), (float("nan"), "missing"), ("", "missing"), ("   \n ", "missing"),
     ("😀😡🙏", "no readable text"), (["list"], "not a text")],
)
def test_bad_rows_are_flagged_not_raised(model, bad, reason):
    results = model.predict(["信用卡年费", bad, "理赔太慢"])
    assert results[0]["product"].label == "card"
    assert results[1].needs_review and reason in results[1].review_reasons[0]
    assert all(t.label is None for t in results[1].targets.values())
    assert results[2]["product"].label == "insurance"


def test_very_long_text_is_truncated(model):
    prediction = model.predict_one("信用卡盗刷" * 200_000)  # 1,000,000 characters
    assert prediction["product"].label == "card"
    assert any("truncated" in r for r in prediction.review_reasons)


def test_numbers_are_read_as_text(model):
    assert model.predict([12378])[0]["product"].label is not None


def test_low_confidence_sets_needs_review(model):
    prediction = model.predict_one("嗯")
    lows = [n for n, t in prediction.targets.items() if t.confidence == "low"]
    assert prediction.needs_review == bool(lows)


def test_explain_lists_terms_that_argue_for_the_label(model):
    explanation = model.explain("信用卡年费被多扣了")
    terms = explanation.terms["product"]
    assert terms and all(w > 0 for _, w in terms)
    assert any("信用卡" in t for t, _ in terms)
    assert explanation.to_dict()["product"]["label"] == "card"


def test_explain_masks_personal_data(model):
    explanation = model.explain("信用卡13812345678年费")
    assert not any("1381234" in t for terms in explanation.terms.values() for t, _ in terms)


def test_single_class_target_refused(data):
    with pytest.raises(InputError, match="'same' has 1 distinct label"):
        ComplaintClassifier().fit(data.texts, {"same": ["x"] * len(data.texts)})


def test_class_with_one_example_is_kept(data, caplog):
    labels = ["rare"] + ["a", "b"] * ((len(data.texts) - 1) // 2) + ["a"] * ((len(data.texts) - 1) % 2)
    model = ComplaintClassifier(features=FeatureConfig(char_min_df=1)).fit(data.texts, {"t": labels})
    assert "rare" in model.classes["t"]
    assert model.small_classes_["t"] == {"rare": 1}
    assert "too small to learn" in caplog.text


def test_missing_labels_leave_rows_out_of_that_target(data):
    labels = list(data.labels["product"])
    labels[0] = None
    labels[1] = math.nan
    model = ComplaintClassifier(features=FeatureConfig(char_min_df=1)).fit(data.texts, {"product": labels})
    assert model.classes["product"] == ["card", "insurance", "loan"]


def test_mismatched_lengths(data):
    with pytest.raises(InputError, match="has 2 labels for 36 texts"):
        ComplaintClassifier().fit(data.texts, {"t": ["a", "b"]})


def test_not_fitted():
    with pytest.raises(NotFittedError):
        ComplaintClassifier().predict(["x"])


def test_constructor_only_stores_arguments():
    seg = Segmenter()
    model = ComplaintClassifier(segmenter=seg, seed=3)
    assert model.get_params()["segmenter"] is seg and model.get_params()["seed"] == 3


def test_pickle_round_trip_predicts_the_same(model):
    again = pickle.loads(pickle.dumps(model))
    texts = ["信用卡年费", "保险理赔被拒", "催收电话太多"]
    assert [p.to_dict() for p in again.predict(texts)] == [p.to_dict() for p in model.predict(texts)]


def test_calibration_temperature_and_thresholds_are_learned(model):
    for t in model.targets_.values():
        assert t.temperature_ > 0
        assert set(t.thresholds_) == {"high", "medium"}


def test_same_data_same_seed_same_model(data):
    a = ComplaintClassifier(features=FeatureConfig(char_min_df=1)).fit(data.texts, data.labels)
    b = ComplaintClassifier(features=FeatureConfig(char_min_df=1)).fit(data.texts, data.labels)
    texts = ["信用卡年费", "保险理赔被拒"]
    assert [p.to_dict() for p in a.predict(texts)] == [p.to_dict() for p in b.predict(texts)]


def test_predictions_table_is_columnar(model):
    from triage import predictions_table

    table = predictions_table(model.predict(["信用卡年费", None]))
    assert table["product"][0] == "card" and table["product"][1] is None
    assert table["needs_review"][1] is True
    assert all(len(v) == 2 for v in table.values())
    with pytest.raises(InputError, match="must be a list"):
        predictions_table("x")


def test_compiled_inference_equals_scikit_learn(model, data):
    # the fitted model keeps only the compiled vectoriser (tests/test_features.py: equal to scikit-learn's);
    # its sparse-free scoring equals the plain matrix product with each target's weights
    from triage.features import CompiledVectorizer

    assert isinstance(model.vectorizer_, CompiledVectorizer)
    texts = [model.normalizer_(t) for t in data.texts] + ["", "  空 格  ", "a"]
    X = model._transform(texts)
    for name, t in model.targets_.items():
        assert np.allclose(model._probabilities(texts)[name], t.predict_proba(X), atol=1e-6)


def test_refitting_forgets_what_was_derived_from_the_previous_fit(data):
    model = ComplaintClassifier(features=FeatureConfig(char_min_df=1)).fit(data.texts, data.labels)
    model.predict(data.texts[:3])  # builds the inference weights and label lists
    renamed = {name: [f"new_{v}" for v in labels] for name, labels in data.labels.items()}
    model.fit(data.texts, renamed)
    prediction = model.predict_one(data.texts[0])
    assert all(t.label.startswith("new_") for t in prediction.targets.values())
    assert all(label.startswith("new_") for label, _ in prediction["product"].alternatives)
    swapped = {"card": "loan", "loan": "card"}
    model.fit(data.texts, {"product": [swapped.get(v, v) for v in data.labels["product"]]})
    assert model.predict_one("信用卡年费被多扣了")["product"].label == "loan"  # not the previous fit's weights


def test_few_rows_are_ranked_as_a_large_batch_is(model, data):
    """Rankings, probabilities and levels are the same whether a batch is ranked in Python or array-wise."""
    texts = data.texts[:12]
    for batch, one in zip(model.predict(texts), [model.predict_one(t) for t in texts]):
        for name, t in batch.targets.items():  # scores agree to rounding (summed in another order)
            u = one[name]
            assert (t.label, t.confidence, [a for a, _ in t.alternatives]) == \
                (u.label, u.confidence, [a for a, _ in u.alternatives])
            assert np.allclose([p for _, p in t.alternatives], [p for _, p in u.alternatives], rtol=0, atol=1e-12)
    tied = np.array([[0.4, 0.2, 0.4], [0.2, 0.4, 0.4], [1 / 3, 1 / 3, 1 / 3]])  # ties keep the class order
    few = model._target_predictions("product", tied)
    many = model._target_predictions("product", np.vstack([tied] * 4))
    assert few == many[:3]
    assert [p.label for p in few] == ["card", "insurance", "card"]


def test_warm_up_builds_what_predictions_need_and_changes_no_prediction(model, data):
    before = model.predict(data.texts[:40])
    fresh = pickle.loads(pickle.dumps(model))  # nothing built yet
    assert fresh.warm_up() is fresh
    compiled = fresh._fast()[0]
    assert "_table_" in compiled._lookup().__dict__
    assert fresh.predict(data.texts[:40]) == before
