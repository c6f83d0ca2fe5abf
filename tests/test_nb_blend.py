"""The Naive Bayes blend (ClassifierConfig.nb_weight): weights, config, search, save/load and inference path."""

import random

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from triage import ComplaintClassifier, load_model, save_model
from triage.config import ClassifierConfig, ConfidenceConfig, FeatureConfig, TrainConfig
from triage.exceptions import ConfigError
from triage.model import NB_ALPHA, _LinearScores, _TargetClassifier
from triage.search import GRID, NB_WEIGHTS, search
from triage.segment import Segmenter

WORDS = {"card": "信用卡 年费 额度 盗刷 账单",
         "loan": "贷款 利息 还款 逾期 催收",
         "app": "软件 闪退 登录 验证码 更新"}


def _corpus(n: int = 90, seed: int = 0) -> tuple[list[str], list[str]]:
    """Synthetic texts: three words of their class and one of another, so the classes overlap a little."""
    rng = random.Random(seed)
    vocab = {label: words.split() for label, words in WORDS.items()}
    texts, labels = [], []
    for i in range(n):
        label = list(WORDS)[i % 3]
        other = rng.choice([v for k, v in vocab.items() if k != label])
        texts.append("".join(rng.sample(vocab[label], 3) + [rng.choice(other)]))
        labels.append(label)
    return texts, labels


def _matrix(seed: int = 0) -> tuple[csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.array(["a", "b", "c"] * 20)
    X = rng.random((60, 30)) * (rng.random((60, 30)) < 0.3)
    X[np.arange(60), np.searchsorted(["a", "b", "c"], y)] += 1.0  # one informative feature per class
    return csr_matrix(X.astype(np.float32)), y


def _expected_blend(X, y, nb_weight: float) -> np.ndarray:
    """The blend computed independently: centred SVM and NB weights, each divided by its score spread."""
    svc = LinearSVC(C=0.5, class_weight="balanced", random_state=0).fit(X, y)
    w, b = svc.coef_, svc.intercept_
    if len(w) == 1:  # binary: the row scores the second class against 0 for the first
        w, b = np.vstack([np.zeros_like(w), w]), np.array([0.0, b[0]])
    w, b = w - w.mean(axis=0), b - b.mean()
    nb = ComplementNB(alpha=NB_ALPHA).fit(X, y).feature_log_prob_
    nb = nb - nb.mean(axis=0)
    return w / np.std(X @ w.T + b) + nb_weight * nb / np.std(X @ nb.T)


def _fit(X, y, nb_weight: float) -> _TargetClassifier:
    return _TargetClassifier(ClassifierConfig(nb_weight=nb_weight), ConfidenceConfig(), seed=0).fit(X, y)


def test_blend_weights_match_an_independent_computation():
    X, y = _matrix()
    fitted = _fit(X, y, 1.0)
    assert np.allclose(fitted.svc_.coef_, _expected_blend(X, y, 1.0), atol=1e-5)
    assert type(fitted.svc_) is _LinearScores and fitted.svc_.coef_.dtype == np.float32  # nothing new at inference


def test_zero_weight_is_the_plain_svm_and_a_positive_one_changes_it():
    X, y = _matrix()
    plain = LinearSVC(C=0.5, class_weight="balanced", random_state=0).fit(X, y).coef_
    assert np.allclose(_fit(X, y, 0.0).svc_.coef_, plain, atol=1e-6)
    assert not np.allclose(_fit(X, y, 1.0).svc_.coef_ * np.std(plain), plain, atol=1e-3)


def test_binary_target_keeps_one_row_scoring_the_second_class():
    X, y = _matrix()
    keep = y != "c"
    X, y = X[np.flatnonzero(keep)], y[keep]
    fitted = _fit(X, y, 0.5)
    assert fitted.svc_.coef_.shape == (1, X.shape[1])
    expected = _expected_blend(X, y, 0.5)
    assert np.allclose(fitted.svc_.coef_[0], expected[1] - expected[0], atol=1e-5)


def test_config_round_trips_and_bad_values_are_refused():
    cfg = TrainConfig(classifier=ClassifierConfig(nb_weight=0.5))
    assert TrainConfig.from_dict(cfg.to_dict()).classifier.nb_weight == 0.5
    for bad in (-0.5, "1", True, float("nan"), float("inf"), None):
        with pytest.raises(ConfigError, match="nb_weight must be a number >= 0"):
            ClassifierConfig(nb_weight=bad)


def test_blended_model_saves_loads_and_predicts_the_same(tmp_path):
    texts, labels = _corpus()
    model = ComplaintClassifier(segmenter=Segmenter(user_dict=None, stop_words=None),
                                features=FeatureConfig(char_min_df=1),
                                classifier=ClassifierConfig(nb_weight=1.0)).fit(texts, {"product": labels})
    save_model(model, tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.classifier.nb_weight == 1.0
    assert np.allclose(again.predict_proba(texts)["product"], model.predict_proba(texts)["product"])
    assert np.mean([p["product"].label == y for p, y in zip(again.predict(texts), labels)]) > 0.9


def test_search_covers_the_blend_weights_and_returns_its_choice():
    texts, labels = _corpus()
    features, classifier, report = search(texts, {"product": labels}, features=FeatureConfig(char_min_df=1),
                                          classifier=ClassifierConfig(),
                                          segmenter=Segmenter(user_dict=None, stop_words=None))
    assert len(report["grid"]) == len(GRID) == 12
    assert {row["nb_weight"] for row in report["grid"]} == set(NB_WEIGHTS)
    assert classifier.nb_weight == report["chosen"]["nb_weight"] in NB_WEIGHTS
    assert (classifier.C, features.word_weight) == (report["chosen"]["C"], report["chosen"]["word_weight"])


def test_multi_label_target_ignores_the_blend():
    texts, labels = _corpus()
    cells = [f"{y},{'urgent' if i % 4 == 0 else ''}" for i, y in enumerate(labels)]
    fitted = {}
    for weight in (0.0, 1.0):
        model = ComplaintClassifier(segmenter=Segmenter(user_dict=None, stop_words=None),
                                    features=FeatureConfig(char_min_df=1),
                                    classifier=ClassifierConfig(nb_weight=weight),
                                    multi_label={"problem": ","}).fit(texts, {"problem": cells})
        fitted[weight] = model.targets_["problem"].svc_.coef_
    assert np.array_equal(fitted[0.0], fitted[1.0])
