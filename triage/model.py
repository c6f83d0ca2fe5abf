"""The multi-target complaint classifier.

One shared vectoriser (word + character TF-IDF), one linear classifier per
target, probabilities calibrated by temperature scaling on out-of-fold scores,
and confidence thresholds learned from those out-of-fold predictions.

A target declared multi-label (``multi_label={"problem": ","}``) holds several
labels per cell; it gets one-vs-rest linear SVMs, a sigmoid calibrated on
out-of-fold scores, a decision threshold per label, and at least one label per
prediction (see :class:`ComplaintClassifier`).

>>> texts = ["信用卡年费太贵要求退", "信用卡分期手续费高", "房贷提前还款违约金",
...          "贷款提前还款要预约", "信用卡被盗刷", "贷款催收打给我家人"]
>>> labels = {"product": ["card", "card", "loan", "loan", "card", "loan"]}
>>> model = ComplaintClassifier(segmenter=Segmenter(user_dict=None, stop_words=None),
...                             features=FeatureConfig(char_min_df=1)).fit(texts, labels)
>>> model.predict_one("信用卡年费").targets["product"].label
'card'
>>> [p.targets["product"].label for p in model.predict(["提前还款", "盗刷"])]
['loan', 'card']
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .config import ClassifierConfig, ConfidenceConfig, FeatureConfig, check_multi_label
from .exceptions import ConfigError, InputError
from .features import CompiledVectorizer, build_vectorizer, feature_names
from .normalize import Normalizer
from .segment import Segmenter
from .signals import EscalationRules, Signal
from .taxonomy import Taxonomy

__all__ = [
    "ComplaintClassifier",
    "Prediction",
    "TargetPrediction",
    "Explanation",
    "check_text_list",
    "is_missing",
    "split_labels",
    "predictions_table",
    "prediction_columns",
    "prediction_fields",
]

logger = logging.getLogger(__name__)

CONFIDENCE_LEVELS = ("high", "medium", "low")
_READABLE = re.compile(r"[0-9a-z\u3400-\u9fff\uf900-\ufaff]")
_MEANINGFUL = re.compile(r"[0-9a-z\u3400-\u9fff\uf900-\ufaff\[\]]")


def is_missing(value: Any) -> bool:
    """True for None, NaN and empty or whitespace-only strings (a missing label or text)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def split_labels(cell: Any, separator: str) -> tuple[str, ...]:
    """The labels of one multi-label cell: split on ``separator``, stripped, empty items and repeats dropped.

    A missing cell, or one with no label left (``","``), gives ``()``.

    >>> split_labels("H93,H15,", ",")
    ('H93', 'H15')
    >>> split_labels(" a ; b ;a", ";"), split_labels(None, ","), split_labels(" , ", ",")
    (('a', 'b'), (), ())
    """
    if is_missing(cell):
        return ()
    items = (item.strip() for item in str(cell).split(separator))
    return tuple(dict.fromkeys(item for item in items if item))


def _model_batches(texts: list) -> list[list]:
    """``texts`` in consecutive parts of nearly equal size, none over :data:`_MODEL_BATCH` (no tiny last part).

    >>> [len(part) for part in _model_batches(list(range(2001)))]
    [667, 667, 667]
    """
    parts = -(-len(texts) // _MODEL_BATCH)
    size = -(-len(texts) // parts)
    return [texts[start:start + size] for start in range(0, len(texts), size)]


def check_text_list(texts: Any, what: str = "texts") -> list:
    """Refuse a bare string (or a non-sequence) where a list of texts is expected."""
    if isinstance(texts, (str, bytes)):
        raise InputError(
            f"{what} must be a list of texts, got a single {type(texts).__name__}; "
            "wrap it in a list, or use predict_one() for one complaint."
        )
    try:
        return list(texts)
    except TypeError:
        raise InputError(f"{what} must be a list of texts, got {type(texts).__name__}.") from None


@dataclass(frozen=True)
class TargetPrediction:
    """The prediction for one target of one complaint.

    For a multi-label target, ``labels`` holds the chosen labels (most probable
    first) and ``label`` the same labels joined by the target's separator;
    ``probability`` is the lowest probability among them, and ``alternatives``
    lists the chosen labels with their probabilities, then the most probable
    others. ``labels`` is None for a single-label target.

    >>> t = TargetPrediction("H93,H15", 0.7, "medium", (("H93", 0.9), ("H15", 0.7), ("B19", 0.2)),
    ...                      labels=("H93", "H15"))
    >>> t.label_probabilities
    {'H93': 0.9, 'H15': 0.7}
    >>> t.to_dict()["labels"]
    [{'label': 'H93', 'probability': 0.9}, {'label': 'H15', 'probability': 0.7}]
    """

    label: str | None
    probability: float
    confidence: str
    alternatives: tuple[tuple[str, float], ...] = ()
    name: str | None = None
    raised_by_signals: bool = False
    labels: tuple[str, ...] | None = None

    @property
    def label_probabilities(self) -> dict[str, float]:
        """``{label: probability}`` of the chosen label(s)."""
        chosen = self.labels if self.labels is not None else (() if self.label is None else (self.label,))
        found = dict(self.alternatives)
        return {lab: found.get(lab, self.probability) for lab in chosen}

    def to_dict(self) -> dict[str, Any]:
        out = {"label": self.label, "probability": round(self.probability, 4), "confidence": self.confidence}
        if self.name is not None:
            out["name"] = self.name
        if self.raised_by_signals:
            out["raised_by_signals"] = True
        if self.labels is not None:
            out["labels"] = [{"label": lab, "probability": round(p, 4)} for lab, p in self.label_probabilities.items()]
        out["alternatives"] = [{"label": lab, "probability": round(p, 4)} for lab, p in self.alternatives]
        return out


@dataclass(frozen=True)
class Prediction:
    """Everything triage says about one complaint.

    ``needs_review`` is True when any target's confidence is low or the text
    itself was a problem (``review_reasons`` says why).
    """

    targets: dict[str, TargetPrediction]
    needs_review: bool
    review_reasons: tuple[str, ...] = ()
    signals: tuple[Signal, ...] = ()
    deadline: dict[str, Any] | None = None

    def __getitem__(self, target: str) -> TargetPrediction:
        return self.targets[target]

    @property
    def labels(self) -> dict[str, str | None]:
        """``{target: label}``."""
        return {name: t.label for name, t in self.targets.items()}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: t.to_dict() for name, t in self.targets.items()}
        out["signals"] = [s.to_dict() for s in self.signals]
        if self.deadline is not None:
            out["deadline"] = self.deadline
        out["needs_review"] = self.needs_review
        out["review_reasons"] = list(self.review_reasons)
        return out


@dataclass(frozen=True)
class Explanation:
    """The terms that pushed each target's decision most, with their weights."""

    labels: dict[str, str | None]
    terms: dict[str, list[tuple[str, float]]]

    def to_dict(self) -> dict[str, Any]:
        return {
            target: {"label": self.labels[target], "terms": [{"term": t, "weight": round(w, 4)} for t, w in terms]}
            for target, terms in self.terms.items()
        }


def predictions_table(predictions: Sequence[Prediction]) -> dict[str, list]:
    """Columnar view of a batch: ``{column: [value per prediction]}``, no pandas needed.

    Columns: ``<target>``, ``<target>_probability``, ``<target>_confidence`` (and
    ``<target>_name`` with a taxonomy) per target, then ``signals`` and the
    deadline when the model has escalation rules, ``needs_review`` and
    ``review_reason``. ``pandas.DataFrame(table)`` turns it into a data frame
    when pandas is installed. A multi-label target's column holds its labels
    joined by the target's separator (``"H93,H15"``), its probability the
    lowest probability among them.

    >>> p = Prediction(targets={"t": TargetPrediction("a", 0.9, "high")}, needs_review=False)
    >>> predictions_table([p])
    {'t': ['a'], 't_probability': [0.9], 't_confidence': ['high'], 'needs_review': [False], 'review_reason': ['']}
    """
    predictions = check_text_list(predictions, "predictions")
    table: dict[str, list] = {}
    for i, prediction in enumerate(predictions):
        row: dict[str, Any] = {}
        for name, t in prediction.targets.items():
            row[name], row[f"{name}_probability"], row[f"{name}_confidence"] = t.label, t.probability, t.confidence
            if t.name is not None:
                row[f"{name}_name"] = t.name
        row.update(prediction_columns(prediction))
        row["review_reason"] = "; ".join(prediction.review_reasons)
        for key, value in row.items():
            table.setdefault(key, [None] * i).append(value)
        for key in table.keys() - row.keys():
            table[key].append(None)
    return table


def prediction_fields(prediction: Prediction, with_names: bool) -> dict[str, Any]:
    """The label fields of one prediction, as a labelling job writes them: per target ``<target>``,
    ``<target>_name`` (``with_names``), ``<target>_probability`` (4 places) and ``<target>_confidence`` (both
    None without a label), then :func:`prediction_columns`."""
    row: dict[str, Any] = {}
    for target, t in prediction.targets.items():
        row[target] = t.label
        if with_names:
            row[f"{target}_name"] = t.name
        row[f"{target}_probability"] = round(t.probability, 4) if t.label is not None else None
        row[f"{target}_confidence"] = t.confidence if t.label is not None else None
    row.update(prediction_columns(prediction))
    return row


def prediction_columns(prediction: Prediction) -> dict[str, Any]:
    """The flat columns after the per-target ones: signals, deadline, review flag and reasons."""
    row: dict[str, Any] = {}
    if prediction.deadline is not None:
        row["signals"] = "; ".join(s.describe() for s in prediction.signals)
        row["respond_within_hours"] = prediction.deadline.get("respond_within_hours")
        row["decide_within_days"] = prediction.deadline.get("decide_within_days")
    row["needs_review"] = prediction.needs_review
    row["review_reason"] = "; ".join(prediction.review_reasons)
    return row


def _compiled(vectorizer):
    """The fitted vectoriser in compiled form (which needs no scikit-learn to load or run), where it covers it."""
    if isinstance(vectorizer, CompiledVectorizer):
        return vectorizer
    try:
        return CompiledVectorizer(vectorizer)
    except ValueError as e:  # settings the compiled path does not cover: scikit-learn's own transform
        logger.info("Using scikit-learn's transform: %s", e)
        return vectorizer


def _spread(values: list, rows: list[int], n: int) -> list:
    """``values`` of the readable ``rows`` placed in a column of ``n`` rows, None elsewhere."""
    if len(rows) == n:
        return values
    column = [None] * n
    for row, value in zip(rows, values):
        column[row] = value
    return column


_FEW_ROWS = 8  # up to this many rows, a prediction's ranking is done in Python (see _target_predictions)
# Texts labelled at a time: memory stays bounded however many texts come in, and a batch's arrays stay in a
# core's caches (1 MiB of L2 here): on real complaints (about 140 characters) batches of 1,000-1,750 ran 5%
# faster than 2,000, and 500 no faster than 2,000 (bench/bench_speed.py times 500, 1,000 and 2,000 every round).
_MODEL_BATCH = 1000


def _level(probability: float, high: float | None, medium: float | None) -> str:
    """The confidence level of a probability, given the learned thresholds (None: level never reached)."""
    if high is not None and probability >= high:
        return "high"
    return "medium" if medium is not None and probability >= medium else "low"


def _levels(probabilities: np.ndarray, high: float | None, medium: float | None) -> list[str]:
    """:func:`_level` of every probability.

    >>> _levels(np.array([0.9, 0.6, 0.2]), 0.8, 0.5)
    ['high', 'medium', 'low']
    """
    out = np.full(len(probabilities), "low", dtype=object)
    if medium is not None:
        out[probabilities >= medium] = "medium"
    if high is not None:
        out[probabilities >= high] = "high"
    return out.tolist()


@dataclass
class _SignalDecisions:
    """How the escalation signals change the rules' target, row by row (see ``_signal_decisions``)."""

    changed: list[bool]  # the label differs from the model's
    labels: list[str | None]  # the label after the signals (the model's where unchanged)
    probabilities: list[float]  # the model's probability of that label (0.0 for a label it does not know)
    raised: list[bool]  # raised to the signals' floor
    gated: list[str | None]  # the review reason when the model's label was capped for want of a signal


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _sigmoid(scores: np.ndarray, slope: float, offset: float) -> np.ndarray:
    """``1 / (1 + exp(-(slope * scores + offset)))``, without overflow."""
    return np.exp(-np.logaddexp(0.0, -(slope * scores + offset)))


def _precision_thresholds(score: np.ndarray, hits: np.ndarray, sizes: np.ndarray, n: int,
                          confidence: ConfidenceConfig) -> dict[str, float | None]:
    """Lowest score at and above which the pooled precision ``sum(hits) / sum(sizes)`` reaches each level.

    One entry per prediction: its score, how many of its labels were right
    (``hits``) out of how many it gave (``sizes``; 1 for a single-label target).
    A level needs at least ``max(5, 1% of n)`` predictions at or above it.
    """
    out: dict[str, float | None] = {"high": None, "medium": None}
    if len(score) == 0:
        return out
    order = np.argsort(-score, kind="stable")
    score, hits, sizes = score[order], hits[order], sizes[order]
    precision = np.cumsum(hits) / np.cumsum(sizes)
    min_support = max(5, int(0.01 * n))
    for level, wanted in (("high", confidence.high_precision), ("medium", confidence.medium_precision)):
        ok = np.flatnonzero(precision >= wanted)
        ok = ok[ok + 1 >= min_support]
        if len(ok):
            out[level] = float(score[ok.max()])
    if out["high"] is not None and out["medium"] is not None:
        out["medium"] = min(out["medium"], out["high"])
    elif out["high"] is not None:
        out["medium"] = out["high"]
    return out


class _LinearScores:
    """A fitted linear model's weights and decision function, kept without scikit-learn's estimator object.

    ``decision_function`` matches ``LinearSVC.decision_function``: one column per
    class, or a single column (for ``classes[1]``) with two classes.
    """

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray):
        self.coef_, self.intercept_, self.classes_ = coef, np.asarray(intercept), classes

    def decision_function(self, X) -> np.ndarray:
        scores = np.asarray(X @ self.coef_.T, dtype=np.float64) + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores


# Smoothing of the Complement Naive Bayes blended in by ``ClassifierConfig.nb_weight`` (picked by 3-fold
# cross-validation on the training splits of the benchmark datasets: 0.01 did better than 0.03, 0.1, 0.3 and 1).
NB_ALPHA = 0.01


def _centred(coef: np.ndarray, intercept: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One row of weights per class, centred over the classes (a binary model's single row ``w`` becomes ``±w/2``)."""
    coef, intercept = np.asarray(coef, dtype=np.float64), np.asarray(intercept, dtype=np.float64).ravel()
    if coef.shape[0] == 1 and n_classes == 2:
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
    return coef - coef.mean(axis=0), intercept - intercept.mean()


def nb_blends(svc, X, y: np.ndarray, nb_weights) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """``{w: (coef, intercept)}``: a fitted SVM's scores plus ``w`` × those of a Complement NB fitted on ``X, y``.

    Both scores are centred over the classes and divided by their standard
    deviation on the training rows ``X``, so ``w`` does not depend on their
    scales. One row of weights per class (two for a binary target), in
    ``svc.classes_`` order.
    """
    from sklearn.naive_bayes import ComplementNB  # training only

    coef, intercept = _centred(svc.coef_, svc.intercept_, len(svc.classes_))
    svc_spread = float(np.std(X @ coef.T + intercept)) or 1.0
    nb = ComplementNB(alpha=NB_ALPHA).fit(X, y)
    nb_coef = nb.feature_log_prob_ - nb.feature_log_prob_.mean(axis=0)
    nb_spread = float(np.std(X @ nb_coef.T)) or 1.0
    return {w: (coef / svc_spread + w * nb_coef / nb_spread, intercept / svc_spread) for w in nb_weights}


class _NBBlendedSVC(_LinearScores):
    """A LinearSVC blended with a Complement NB (``ClassifierConfig.nb_weight``), kept as one linear model."""

    def __init__(self, svc, nb_weight: float):
        self.svc, self.nb_weight = svc, nb_weight

    def fit(self, X, y: np.ndarray) -> "_NBBlendedSVC":
        svc = self.svc.fit(X, y)
        coef, intercept = nb_blends(svc, X, y, [self.nb_weight])[self.nb_weight]
        if len(svc.classes_) == 2:  # one row scoring classes_[1], as LinearSVC's
            coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
        self.coef_, self.intercept_, self.classes_ = coef, intercept, svc.classes_
        return self


class _TargetClassifier:
    """A linear SVM for one target (optionally NB-blended), with a temperature and confidence thresholds."""

    def __init__(self, config: ClassifierConfig, confidence: ConfidenceConfig, seed: int):
        self.config = config
        self.confidence = confidence
        self.seed = seed

    def _new_svc(self):
        from sklearn.svm import LinearSVC  # training only: loading and predicting never import scikit-learn

        svc = LinearSVC(C=self.config.C, class_weight=self.config.class_weight, random_state=self.seed)
        return _NBBlendedSVC(svc, self.config.nb_weight) if self.config.nb_weight > 0 else svc

    def _scores(self, svc, X, classes: np.ndarray) -> np.ndarray:
        raw = svc.decision_function(X)
        if raw.ndim == 1:
            raw = np.column_stack([np.zeros_like(raw), raw])
        if len(svc.classes_) == len(classes):
            return raw
        full = np.full((raw.shape[0], len(classes)), raw.min() - 1.0, dtype=raw.dtype)
        full[:, np.searchsorted(classes, svc.classes_)] = raw
        return full

    def _out_of_fold(self, X, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.model_selection import KFold, StratifiedKFold

        counts = np.unique(y, return_counts=True)[1]
        folds = self.config.calibration_folds
        if counts.min() >= folds:
            splitter = StratifiedKFold(folds, shuffle=True, random_state=self.seed)
        else:
            splitter = KFold(min(folds, len(y)), shuffle=True, random_state=self.seed)
        scores = np.zeros((len(y), len(self.classes_)))
        covered = np.zeros(len(y), dtype=bool)
        for train, test in splitter.split(X, y):
            if len(np.unique(y[train])) < 2:
                continue
            svc = self._new_svc().fit(X[train], y[train])
            scores[test] = self._scores(svc, X[test], self.classes_)
            covered[test] = True
        return scores[covered], y[covered]

    def fit(self, X, y: np.ndarray) -> "_TargetClassifier":
        self.classes_ = np.unique(y)
        oof_scores, oof_y = self._out_of_fold(X, y)
        self.temperature_ = self._fit_temperature(oof_scores, oof_y)
        proba = _softmax(oof_scores, self.temperature_) if len(oof_y) else np.empty((0, len(self.classes_)))
        self.thresholds_ = self._learn_thresholds(proba, oof_y)
        svc = self._new_svc().fit(X, y)
        # float32 weights halve the model's size and memory; predictions are unaffected at this precision
        self.svc_ = _LinearScores(svc.coef_.astype(np.float32), svc.intercept_, svc.classes_)
        return self

    def _fit_temperature(self, scores: np.ndarray, y: np.ndarray) -> float:
        if len(y) < 2:
            return 1.0
        from scipy.optimize import minimize_scalar

        index = np.searchsorted(self.classes_, y)

        def nll(log_t: float) -> float:
            p = _softmax(scores.copy(), math.exp(log_t))
            return -np.mean(np.log(np.clip(p[np.arange(len(y)), index], 1e-12, None)))

        result = minimize_scalar(nll, bounds=(-6.0, 4.0), method="bounded")
        return float(math.exp(result.x))

    def _learn_thresholds(self, proba: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
        """Lowest probability above which out-of-fold precision reaches each target precision."""
        if len(y) == 0:
            return {"high": None, "medium": None}
        correct = self.classes_[proba.argmax(axis=1)] == y
        return _precision_thresholds(proba.max(axis=1), correct, np.ones(len(y), dtype=np.int64), len(y),
                                     self.confidence)

    def calibrate(self, scores: np.ndarray) -> np.ndarray:
        """Probabilities from decision scores (one column per class)."""
        return _softmax(scores, self.temperature_)

    def predict_proba(self, X) -> np.ndarray:
        return self.calibrate(self._scores(self.svc_, X, self.classes_))

    def coef_for(self, label_index: int) -> np.ndarray:
        coef = self.svc_.coef_
        if coef.shape[0] == 1:  # binary: the row scores classes_[1]
            return coef[0] if label_index == 1 else -coef[0]
        return coef[label_index]


# Per-label decision thresholds are tuned within these bounds, on labels with at least this many out-of-fold positives.
THRESHOLD_BOUNDS = (0.1, 0.9)
MIN_POSITIVES_TO_TUNE = 5
DEFAULT_THRESHOLD = 0.5


def _best_f1_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The probability threshold within :data:`THRESHOLD_BOUNDS` that maximises F1 of ``p >= t`` against ``y``.

    Candidates are the bounds and the midpoints between neighbouring distinct
    probabilities (so no threshold sits exactly on a training example); ties go
    to the candidate nearest 0.5.

    >>> float(_best_f1_threshold(np.array([0.9, 0.7, 0.4, 0.3, 0.1]), np.array([1, 1, 1, 0, 0])))
    0.35
    """
    low, high = THRESHOLD_BOUNDS
    values = np.unique(p)
    candidates = np.unique(np.clip(np.concatenate([(values[:-1] + values[1:]) / 2, [low, high]]), low, high))
    positives, negatives = np.sort(p[y == 1]), np.sort(p[y == 0])
    tp = len(positives) - np.searchsorted(positives, candidates, side="left")
    fp = len(negatives) - np.searchsorted(negatives, candidates, side="left")
    f1 = 2 * tp / (tp + fp + len(positives))
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def _choose(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Labels at or above their threshold, or the most probable one when none is: a boolean ``(n, labels)`` array."""
    chosen = proba >= thresholds
    none = np.flatnonzero(~chosen.any(axis=1))
    chosen[none, proba[none].argmax(axis=1)] = True
    return chosen


class _MultiLabelClassifier:
    """One-vs-rest linear SVMs for a multi-label target.

    Probabilities come from one sigmoid ``1 / (1 + exp(-(a s + b)))`` shared by
    all labels and fitted (Platt's method, with his smoothed targets) on the
    out-of-fold scores of every label pooled: most labels of a real code list
    have too few positives for a sigmoid of their own, and the labels' SVMs
    share features and ``C``, so their scores are on one scale. Each label then
    gets the decision threshold that maximises its out-of-fold F1 (within
    :data:`THRESHOLD_BOUNDS`; :data:`DEFAULT_THRESHOLD` for labels with fewer
    than :data:`MIN_POSITIVES_TO_TUNE` out-of-fold positives). A prediction is
    every label at or above its threshold, or the most probable label when none
    is. Its score is the lowest probability among its labels; the confidence
    thresholds are the lowest scores at and above which the out-of-fold
    predictions' labels were right 95% (``high``) and 80% (``medium``) of the time.
    """

    def __init__(self, config: ClassifierConfig, confidence: ConfidenceConfig, seed: int, separator: str):
        self.config = config
        self.confidence = confidence
        self.seed = seed
        self.separator = separator

    def _fit_labels(self, X, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weights, intercepts and a mask of the labels that could be fitted (both classes present)."""
        from sklearn.svm import LinearSVC  # training only: loading and predicting never import scikit-learn

        coef = np.zeros((Y.shape[1], X.shape[1]), dtype=np.float32)
        intercept = np.zeros(Y.shape[1])
        fitted = np.zeros(Y.shape[1], dtype=bool)
        for j in range(Y.shape[1]):
            y = Y[:, j]
            if 0 < y.sum() < len(y):
                svc = LinearSVC(C=self.config.C, class_weight=self.config.class_weight, random_state=self.seed)
                svc.fit(X, y)
                coef[j], intercept[j], fitted[j] = svc.coef_[0], svc.intercept_[0], True
        return coef, intercept, fitted

    def _out_of_fold(self, X, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold scores and where they exist (a label absent from a fold's training rows gets none)."""
        from sklearn.model_selection import KFold

        scores = np.zeros(Y.shape)
        covered = np.zeros(Y.shape, dtype=bool)
        splitter = KFold(min(self.config.calibration_folds, len(Y)), shuffle=True, random_state=self.seed)
        for train, test in splitter.split(Y):
            coef, intercept, fitted = self._fit_labels(X[train], Y[train])
            scores[test] = np.asarray(X[test] @ coef.T) + intercept
            covered[test] = fitted
        return scores, covered

    def _fit_sigmoid(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        positives = int(y.sum())
        if positives == 0 or positives == len(y):
            return 1.0, 0.0
        from scipy.optimize import minimize

        target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (len(y) - positives + 2))

        def loss(params):
            z = params[0] * scores + params[1]
            p = np.exp(-np.logaddexp(0.0, -z))
            return np.sum(np.logaddexp(0.0, z) - target * z), np.array([np.sum((p - target) * scores),
                                                                          np.sum(p - target)])

        result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        return float(result.x[0]), float(result.x[1])

    def fit(self, X, Y: np.ndarray, classes: np.ndarray) -> "_MultiLabelClassifier":
        """Fit on features ``X`` and a boolean label matrix ``Y`` (one column per label of ``classes``)."""
        self.classes_ = np.asarray(classes)
        Y = np.asarray(Y, dtype=np.int8)
        scores, covered = self._out_of_fold(X, Y)
        self.sigmoid_ = self._fit_sigmoid(scores[covered], Y[covered])
        proba = np.where(covered, self.calibrate(scores), 0.0)
        thresholds = np.full(len(self.classes_), DEFAULT_THRESHOLD)
        for j in range(len(self.classes_)):
            rows = covered[:, j]
            if Y[rows, j].sum() >= MIN_POSITIVES_TO_TUNE:
                thresholds[j] = _best_f1_threshold(proba[rows, j], Y[rows, j])
        self.label_thresholds_ = thresholds
        chosen = _choose(proba, thresholds)
        score = np.where(chosen, proba, np.inf).min(axis=1)
        self.thresholds_ = _precision_thresholds(score, (chosen & (Y == 1)).sum(axis=1), chosen.sum(axis=1),
                                                 len(Y), self.confidence)
        coef, intercept, _ = self._fit_labels(X, Y)
        # float32 weights halve the model's size and memory; predictions are unaffected at this precision
        self.svc_ = _LinearScores(coef, intercept, self.classes_)
        return self

    def calibrate(self, scores: np.ndarray) -> np.ndarray:
        """Per-label probabilities from decision scores (they do not sum to one)."""
        return _sigmoid(scores, *self.sigmoid_)

    def predict_proba(self, X) -> np.ndarray:
        return self.calibrate(self.svc_.decision_function(X))

    def choose(self, proba: np.ndarray) -> np.ndarray:
        """The predicted labels of each row as a boolean array (at least one per row)."""
        return _choose(proba, self.label_thresholds_)

    def coef_for(self, label_index: int) -> np.ndarray:
        return self.svc_.coef_[label_index]


class ComplaintClassifier:
    """Multi-target text classifier for complaints.

    Parameters
    ----------
    segmenter : Segmenter or None
        Word segmenter; None means ``Segmenter()`` with the shipped dictionary.
    features, classifier, confidence : config dataclasses
        See :mod:`triage.config`.
    taxonomy : Taxonomy or None
        Training labels of the taxonomy's targets must be its codes; predictions
        carry the codes' names.
    rules : EscalationRules or None
        Escalation signals that set a floor under the rules' target (severity)
        and the handling deadline that follows from it.
    aliases : dict or None
        Names (e.g. of institutions) replaced by a generic name before anything
        else reads the text; see :class:`~triage.normalize.Normalizer`.
    seed : int
        Seed for the calibration folds and the solver.
    multi_label : dict or None
        ``{target: separator}`` for targets whose cells hold several labels
        (``{"problem": ","}``: the cell ``"H93,H15,"`` means H93 and H15). Cells
        are split on the separator, items stripped, empty items and repeats
        dropped; an empty cell leaves the row out of that target. Such a target
        gets one-vs-rest SVMs, a decision threshold per label and at least one
        label per prediction; labels in fewer than 2 rows cannot be learned and
        are left out with a warning. Its predictions have ``labels`` (a tuple)
        and ``label`` (the labels joined by the separator).

    Examples
    --------
    >>> texts = ["刹车异响", "刹车异响很大", "发动机漏油", "发动机漏油严重", "刹车异响而且发动机漏油",
    ...          "发动机漏油刹车也异响", "刹车片异响", "发动机机油渗漏"]
    >>> problems = ["brake", "brake", "engine", "engine", "brake,engine", "engine,brake", "brake", "engine"]
    >>> model = ComplaintClassifier(segmenter=Segmenter(user_dict=None, stop_words=None),
    ...                             features=FeatureConfig(char_min_df=1),
    ...                             multi_label={"problem": ","}).fit(texts, {"problem": problems})
    >>> model.predict_one("发动机漏油").targets["problem"].labels
    ('engine',)
    >>> model.predict_one("刹车异响，发动机漏油")["problem"].label in ("brake,engine", "engine,brake")
    True
    """

    def __init__(
        self,
        *,
        segmenter: Segmenter | None = None,
        features: FeatureConfig = FeatureConfig(),
        classifier: ClassifierConfig = ClassifierConfig(),
        confidence: ConfidenceConfig = ConfidenceConfig(),
        taxonomy: Taxonomy | None = None,
        rules: EscalationRules | None = None,
        aliases: dict[str, str] | None = None,
        seed: int = 0,
        multi_label: Mapping[str, str] | None = None,
    ):
        self.segmenter = segmenter
        self.features = features
        self.classifier = classifier
        self.confidence = confidence
        self.taxonomy = taxonomy
        self.rules = rules
        self.aliases = aliases
        self.seed = seed
        self.multi_label = multi_label

    _PARAMETERS = ("segmenter", "features", "classifier", "confidence", "taxonomy", "rules", "aliases", "seed",
                   "multi_label")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters (scikit-learn's estimator protocol, so ``sklearn.clone`` works)."""
        return {name: getattr(self, name, None) for name in self._PARAMETERS}

    def set_params(self, **params) -> "ComplaintClassifier":
        unknown = set(params) - set(self._PARAMETERS)
        if unknown:
            raise InputError(f"Unknown parameter(s) {sorted(unknown)}; valid: {', '.join(self._PARAMETERS)}.")
        for name, value in params.items():
            setattr(self, name, value)
        self._forget_derived()
        return self

    _DERIVED = ("_fast_", "_label_names_", "_feature_names_")  # built on first use from the fitted state

    def _forget_derived(self) -> None:
        for name in self._DERIVED:
            self.__dict__.pop(name, None)

    def __repr__(self) -> str:
        fitted = f"targets={list(self.targets_)}" if hasattr(self, "targets_") else "not fitted"
        return f"ComplaintClassifier({fitted}, seed={self.seed})"

    # -- fitting ---------------------------------------------------------------
    def fit(self, texts: Sequence[str], targets: Mapping[str, Sequence[Any]]) -> "ComplaintClassifier":
        """Fit on texts and a mapping ``{target: labels}``; a missing label leaves that row out of that target."""
        texts = check_text_list(texts)
        self._forget_derived()
        if not isinstance(targets, Mapping) or not targets:
            raise InputError("targets must be a non-empty mapping {target name: list of labels}.")
        for name, labels in targets.items():
            if len(labels) != len(texts):
                raise InputError(f"Target {name!r} has {len(labels)} labels for {len(texts)} texts; give one per text.")
        separators = self._separators(targets)
        label_sets = {name: [split_labels(v, sep) for v in targets[name]] for name, sep in separators.items()}
        if self.taxonomy is not None:
            for name, labels in targets.items():
                if name in label_sets:
                    self.taxonomy.check_labels(name, [item for items in label_sets[name] for item in items])
                else:
                    self.taxonomy.check_labels(name, [None if is_missing(v) else str(v).strip() for v in labels])
        indicators = {name: self._indicator(name, sets, separators[name]) for name, sets in label_sets.items()}
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or is_missing(t)]
        if bad:
            raise InputError(
                f"{len(bad)} training text(s) are empty or not text (first at row {bad[0]}); "
                "remove those rows or fill them in."
            )
        self.normalizer_ = Normalizer(max_chars=self.features.max_chars, aliases=getattr(self, "aliases", None))
        segmenter = self.segmenter if self.segmenter is not None else Segmenter()
        self.segmenter_ = segmenter
        self.vectorizer_ = build_vectorizer(self.features, segmenter)
        X = self.vectorizer_.fit_transform([self.normalizer_(t) for t in texts]).tocsr()
        self.targets_: dict[str, _TargetClassifier | _MultiLabelClassifier] = {}
        self.small_classes_: dict[str, dict[str, int]] = {}
        self.untrained_labels_: dict[str, dict[str, int]] = {}
        for name, labels in targets.items():
            if name in indicators:
                rows, Y, classes, small, untrained = indicators[name]
                self.small_classes_[name], self.untrained_labels_[name] = small, untrained
                model = _MultiLabelClassifier(self.classifier, self.confidence, self.seed, separators[name])
                self.targets_[name] = model.fit(X[rows], Y, classes)
                continue
            keep = np.array([not is_missing(v) for v in labels])
            y = np.array([str(v).strip() for v, k in zip(labels, keep) if k], dtype=object)
            classes, counts = np.unique(y, return_counts=True) if len(y) else (np.array([]), np.array([]))
            if len(classes) < 2:
                raise InputError(
                    f"Target {name!r} has {len(classes)} distinct label(s) ({', '.join(map(str, classes)) or 'none'}); "
                    "a classifier needs at least two. Drop this target or add examples of other labels."
                )
            small = {str(c): int(n) for c, n in zip(classes, counts) if n < self.classifier.calibration_folds}
            if small:
                logger.warning(
                    "Target %r: classes with fewer than %d examples are too small to learn well: %s",
                    name, self.classifier.calibration_folds, small,
                )
            self.small_classes_[name] = small
            model = _TargetClassifier(self.classifier, self.confidence, self.seed)
            self.targets_[name] = model.fit(X[np.flatnonzero(keep)], y.astype(str))
        self.vectorizer_ = _compiled(self.vectorizer_)
        return self

    def _separators(self, targets: Mapping[str, Sequence[Any]]) -> dict[str, str]:
        """The checked ``multi_label`` setting: ``{target: separator}`` for targets being fitted."""
        spec = getattr(self, "multi_label", None)
        if spec is None:
            return {}
        try:
            spec = check_multi_label(dict(spec) if isinstance(spec, Mapping) else spec)
        except ConfigError as e:
            raise InputError(str(e)) from None
        unknown = sorted(set(spec) - set(targets))
        if unknown:
            raise InputError(
                f"multi_label names {unknown}, which are not among the targets being fitted ({', '.join(targets)}); "
                "fix the target names or drop them from multi_label."
            )
        rules = getattr(self, "rules", None)
        if rules is not None and rules.target in spec:
            raise InputError(
                f"Target {rules.target!r} carries the escalation rules, which need one label per complaint; "
                "it cannot be multi-label. Train without rules (--rules none) or keep it single-label."
            )
        return spec

    def _indicator(self, name: str, sets: list[tuple[str, ...]], separator: str):
        """Rows with labels, their label matrix, the learnable labels, the small and the unlearnable ones."""
        rows = np.flatnonzero([bool(items) for items in sets])
        counts: dict[str, int] = {}
        for i in rows:
            for item in sets[i]:
                counts[item] = counts.get(item, 0) + 1
        if len(counts) < 2:
            raise InputError(
                f"Multi-label target {name!r} has {len(counts)} distinct label(s) "
                f"({', '.join(sorted(counts)) or 'none'}) after splitting on {separator!r}; a classifier needs at "
                "least two. Check the separator, drop this target, or add examples of other labels."
            )
        everywhere = sorted(label for label, n in counts.items() if n == len(rows))
        if everywhere:
            raise InputError(
                f"Multi-label target {name!r}: label(s) {', '.join(everywhere)} occur in every one of its "
                f"{len(rows)} labelled rows, so there is nothing to tell them from; remove them from the cells "
                "(they carry no information) or add rows without them."
            )
        untrained = {label: n for label, n in sorted(counts.items()) if n < 2}
        classes = np.array(sorted(label for label, n in counts.items() if n >= 2), dtype=str)
        if untrained:
            logger.warning("Multi-label target %r: %d label(s) occur in only one row and cannot be learned; they are "
                           "left out of training (never predicted): %s", name, len(untrained), ", ".join(untrained))
        if len(classes) < 2:
            raise InputError(
                f"Multi-label target {name!r} has {len(classes)} label(s) that occur in at least 2 rows "
                f"({', '.join(classes) or 'none'}); a classifier needs at least two. Add examples of other labels."
            )
        small = {label: n for label, n in sorted(counts.items()) if n < self.classifier.calibration_folds}
        learnt_small = [label for label in small if label not in untrained]
        if learnt_small:
            logger.warning("Multi-label target %r: %d label(s) with fewer than %d examples are too small to learn "
                           "well: %s", name, len(learnt_small), self.classifier.calibration_folds, ", ".join(learnt_small))
        index = {label: j for j, label in enumerate(classes)}
        Y = np.zeros((len(rows), len(classes)), dtype=bool)
        for k, i in enumerate(rows):
            for item in sets[i]:
                if item in index:
                    Y[k, index[item]] = True
        return rows, Y, classes, small, untrained

    def _check_fitted(self):
        if not hasattr(self, "targets_"):
            from sklearn.exceptions import NotFittedError  # the error scikit-learn users catch

            raise NotFittedError("This ComplaintClassifier is not fitted yet; call fit() or load a model directory.")

    @property
    def target_names(self) -> list[str]:
        """The names of the targets this model predicts."""
        self._check_fitted()
        return list(self.targets_)

    @property
    def has_label_names(self) -> bool:
        """Whether predictions carry label names (the model has a taxonomy)."""
        return getattr(self, "taxonomy", None) is not None

    @property
    def extra_fields(self) -> tuple[str, ...]:
        """Flat output columns beyond the per-target ones (escalation signals and deadlines)."""
        return ("signals", "respond_within_hours", "decide_within_days") if self._active_rules() else ()

    def _active_rules(self) -> EscalationRules | None:
        rules = getattr(self, "rules", None)
        return rules if rules is not None and rules.target in self.targets_ else None

    @property
    def separators(self) -> dict[str, str]:
        """``{target: separator}`` of the multi-label targets (empty when there are none)."""
        self._check_fitted()
        return {name: t.separator for name, t in self.targets_.items() if isinstance(t, _MultiLabelClassifier)}

    @property
    def classes(self) -> dict[str, list[str]]:
        """``{target: [labels]}``."""
        self._check_fitted()
        return {name: [str(c) for c in t.classes_] for name, t in self.targets_.items()}

    # -- predicting ------------------------------------------------------------
    def _prepare(self, texts: list) -> tuple[list[str], list[tuple[str, ...]]]:
        """Normalised texts and, per text, the reasons it needs review before any model runs."""
        prepared, reasons = [""] * len(texts), [()] * len(texts)
        readable, raws = [], []  # the texts to normalise: each str, and each number read as one
        for i, raw in enumerate(texts):
            if is_missing(raw):
                reasons[i] = ("missing or empty text",)
            elif isinstance(raw, (str, int, float, np.integer, np.floating)):
                readable.append(i)
                raws.append(raw if isinstance(raw, str) else str(raw))
            else:
                reasons[i] = (f"not a text ({type(raw).__name__})",)
        limit = self.normalizer_.max_chars
        for i, raw, text in zip(readable, raws, self.normalizer_.normalize_many(raws)):
            if not _READABLE.search(text):
                reasons[i] = ("no readable text (only symbols, emoji or whitespace)",)
                continue
            if len(raw) > limit and len(text) >= limit:
                reasons[i] = (f"text truncated to {limit} characters",)
            prepared[i] = text
        return prepared, reasons

    def _fast(self):
        """The inference path: a compiled vectoriser and every target's weights in one matrix (built lazily)."""
        fast = self.__dict__.get("_fast_")
        if fast is None:
            blocks, intercepts, slices, start = [], [], {}, 0
            for name, t in self.targets_.items():
                coef, intercept = t.svc_.coef_, np.asarray(t.svc_.intercept_, dtype=np.float64)
                if coef.shape[0] == 1 and not isinstance(t, _MultiLabelClassifier):  # binary: scores are [0, decision] as in _TargetClassifier._scores
                    coef = np.vstack([np.zeros_like(coef), coef])
                    intercept = np.array([0.0, intercept[0]])
                blocks.append(np.asarray(coef, dtype=np.float32))
                intercepts.append(intercept)
                slices[name] = slice(start, start + coef.shape[0])
                start += coef.shape[0]
            # kept in float32 (the weights' own precision: half the memory and the set-up time of a cold start);
            # products are summed in float64, see CompiledVectorizer.scores
            weights = np.ascontiguousarray(np.vstack(blocks).T)
            fast = self._fast_ = (_compiled(self.vectorizer_), weights, np.concatenate(intercepts), slices)
        return fast

    def warm_up(self) -> "ComplaintClassifier":
        """Build the inference structures now rather than on the first predictions (worker processes forked
        afterwards share them), jieba's fallback included: an intake system that warms up never waits for it."""
        self._check_fitted()
        vectorizer = self._fast()[0]
        self.segmenter_.warm_up(fallback=True)
        if isinstance(vectorizer, CompiledVectorizer):
            vectorizer.warm_up()
        return self

    def _transform(self, prepared: list[str]):
        return self._fast()[0].transform(prepared).tocsr()

    def _probabilities(self, prepared: list[str]) -> dict[str, np.ndarray]:
        vectorizer, weights, intercepts, slices = self._fast()
        if isinstance(vectorizer, CompiledVectorizer):
            scores = vectorizer.scores(prepared, weights) + intercepts
        else:
            scores = np.asarray(vectorizer.transform(prepared) @ weights.astype(np.float64)) + intercepts
        return {name: t.calibrate(scores[:, slices[name]]) for name, t in self.targets_.items()}

    def predict_proba(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """``{target: array (n_texts, n_classes)}`` of calibrated probabilities, columns in ``classes`` order.

        Rows sum to one for a single-label target; for a multi-label target each
        column is the probability of that label on its own.
        """
        self._check_fitted()
        texts = check_text_list(texts)
        if len(texts) > _MODEL_BATCH:
            parts = [self.predict_proba(part) for part in _model_batches(texts)]
            return {name: np.vstack([part[name] for part in parts]) for name in parts[0]}
        prepared, _ = self._prepare(texts)
        return self._probabilities(prepared)

    def _decide(self, texts: list) -> tuple[list[tuple[str, ...]], list[int], dict[str, np.ndarray], list,
                                             _SignalDecisions | None]:
        """What every output of a batch is made from: the review reasons of each text, the readable texts,
        every target's probabilities and the signals of each readable text, and the signals' decisions."""
        prepared, reasons = self._prepare(texts)
        readable = [i for i, t in enumerate(prepared) if t]
        probas = self._probabilities([prepared[i] for i in readable]) if readable else {}
        rules = self._active_rules()
        found = rules.find_many([prepared[i] for i in readable]) if rules is not None else [[] for _ in readable]
        decisions = None  # the rules' target is single-label (fit refuses a multi-label one)
        if rules is not None and readable:
            decisions = self._signal_decisions(rules, probas[rules.target], found)
        return reasons, readable, probas, found, decisions

    def _signal_decisions(self, rules: EscalationRules, proba: np.ndarray, found: list) -> _SignalDecisions:
        """Gate and floor the rules' (single-label) target by the escalation signals, for every row at once.

        Above ``rules.model_alone_max`` the model's label needs a signal of that
        level or a probability of at least ``rules.model_alone_min_probability``;
        otherwise it is capped (and a review reason given). Then the label is
        raised to the floor the signals set; it is never lowered below it.
        """
        classes = self.targets_[rules.target].classes_
        if len(proba) <= _FEW_ROWS:  # a complaint at an intake desk: array set-up would cost more than the rows
            rows = proba.tolist()
            best = [max(range(len(row)), key=row.__getitem__) for row in rows]  # the first of equal maxima
            probabilities = [row[j] for row, j in zip(rows, best)]
        else:
            best = np.argmax(proba, axis=1).tolist()
            probabilities = proba[np.arange(len(proba)), best].tolist()
        class_rank = [rules.rank(str(c)) for c in classes]
        labels = [str(classes[j]) for j in best]
        cap = rules.rank(rules.model_alone_max) if rules.model_alone_max is not None else None
        n = len(proba)
        changed, raised, reasons = [False] * n, [False] * n, [None] * n
        for k, signals in enumerate(found):
            label_rank = class_rank[best[k]]
            floor_rank = max(map(rules.rank, (s.level for s in signals)), default=-1)
            rank = label_rank
            if (cap is not None and label_rank > cap and floor_rank < label_rank
                    and probabilities[k] < rules.model_alone_min_probability):
                reasons[k] = f"{rules.target}: model suggested {labels[k]} without an escalation signal"
                rank = max(cap, floor_rank)  # the cap, or the floor above it
            if floor_rank > rank:
                raised[k] = True
                rank = floor_rank
            if rank != label_rank:
                changed[k] = True
                labels[k] = rules.levels[rank]
                index = int(np.searchsorted(classes, labels[k]))
                known = index < len(classes) and classes[index] == labels[k]
                probabilities[k] = float(proba[k, index]) if known else 0.0
        return _SignalDecisions(changed, labels, probabilities, raised, reasons)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Label a batch: a list of texts in, a list of :class:`Prediction` out (same order).

        A bad row (missing, empty, emoji-only) never raises: it comes back with
        no labels, ``needs_review=True`` and the reason.
        """
        self._check_fitted()
        texts = check_text_list(texts)
        if len(texts) > _MODEL_BATCH:
            return [p for part in _model_batches(texts) for p in self.predict(part)]
        reasons, readable, probas, found, decisions = self._decide(texts)
        row_of = {i: k for k, i in enumerate(readable)}
        per_target = {name: self._target_predictions(name, probas[name]) if readable else []
                      for name in self.targets_}
        rules = self._active_rules()
        if decisions is not None:
            per_target[rules.target] = self._with_signals(per_target[rules.target], decisions)
        missing = TargetPrediction(label=None, probability=0.0, confidence="low")
        missing_set = TargetPrediction(label=None, probability=0.0, confidence="low", labels=())
        results = []
        for i in range(len(texts)):
            why = list(reasons[i])
            k = row_of.get(i)
            if k is None:
                targets = {name: missing_set if isinstance(t, _MultiLabelClassifier) else missing
                           for name, t in self.targets_.items()}
            else:
                targets = {name: found_[k] for name, found_ in per_target.items()}
            signals: tuple[Signal, ...] = ()
            deadline = None
            if rules is not None and k is not None:
                signals = tuple(found[k])
                deadline = rules.deadline(targets[rules.target].label)
                if decisions.gated[k]:
                    why.append(decisions.gated[k])
            why += [f"{name}: low confidence" for name, t in targets.items() if k is not None and t.confidence == "low"]
            results.append(Prediction(targets=targets, needs_review=bool(why), review_reasons=tuple(why),
                                      signals=signals, deadline=deadline))
        return results

    def _with_signals(self, predictions: list[TargetPrediction], decisions: _SignalDecisions) -> list[TargetPrediction]:
        """The rules' target predictions with the signals' decisions applied."""
        rules = self._active_rules()
        taxonomy = getattr(self, "taxonomy", None)
        out = list(predictions)
        for k, changed in enumerate(decisions.changed):
            if changed:
                before = predictions[k]
                label = decisions.labels[k]
                out[k] = TargetPrediction(
                    label=label,
                    probability=decisions.probabilities[k],
                    confidence="medium" if before.confidence == "low" else before.confidence,
                    alternatives=before.alternatives,
                    name=taxonomy.name_of(rules.target, label) if taxonomy is not None else None,
                    raised_by_signals=decisions.raised[k],
                )
        return out

    def label_columns(self, texts: Sequence[str]) -> dict[str, list]:
        """The label columns of a batch, ``{field: [value per text]}``, made without a :class:`Prediction` per text.

        The same values as :func:`prediction_fields` gives for
        :meth:`predict`'s predictions (fields ``<target>``, ``<target>_name``
        with a taxonomy, ``<target>_probability`` rounded to 4 places and
        ``<target>_confidence``, both None without a label, then the signals and
        deadline columns when the model has escalation rules, ``needs_review``
        and ``review_reason``), computed array-wise: what a labelling job writes.

        >>> from triage import load_model
        >>> columns = load_model().label_columns(["信用卡年费没通知就扣了", ""])
        >>> columns["category"], columns["needs_review"]
        (['CAT01', None], [False, True])
        """
        self._check_fitted()
        texts = check_text_list(texts)
        if any(isinstance(t, _MultiLabelClassifier) for t in self.targets_.values()):
            return self._columns_of(self.predict(texts))
        if len(texts) > _MODEL_BATCH:
            parts = [self.label_columns(part) for part in _model_batches(texts)]
            return {field: [value for part in parts for value in part[field]] for field in parts[0]}
        reasons, readable, probas, found, decisions = self._decide(texts)
        rules = self._active_rules()
        taxonomy = getattr(self, "taxonomy", None)
        n = len(texts)
        gated = [None] * n
        low: list[list[str]] = [[] for _ in range(n)]
        columns: dict[str, list] = {}
        final: dict[str, list] = {}  # the readable rows' labels, per target
        for name, model in self.targets_.items():
            classes, label_names = self._label_names(name)
            best = np.argmax(probas[name], axis=1) if readable else np.zeros(0, dtype=np.int64)
            top = probas[name][np.arange(len(best)), best] if readable else np.zeros(0)
            labels = [classes[j] for j in best.tolist()]
            names = [label_names[j] for j in best.tolist()]
            probability = top.tolist()
            confidence = _levels(top, model.thresholds_["high"], model.thresholds_["medium"])
            if decisions is not None and name == rules.target:
                for k in (k for k, changed in enumerate(decisions.changed) if changed):
                    labels[k], probability[k] = decisions.labels[k], decisions.probabilities[k]
                    names[k] = taxonomy.name_of(name, labels[k]) if taxonomy is not None else None
                    confidence[k] = "medium" if confidence[k] == "low" else confidence[k]
                    gated[readable[k]] = decisions.gated[k]
            final[name] = labels
            columns[name] = _spread(labels, readable, n)
            if taxonomy is not None:
                columns[f"{name}_name"] = _spread(names, readable, n)
            columns[f"{name}_probability"] = _spread([round(p, 4) for p in probability], readable, n)
            columns[f"{name}_confidence"] = _spread(confidence, readable, n)
            for k in (k for k, c in enumerate(confidence) if c == "low"):
                low[readable[k]].append(f"{name}: low confidence")
        if rules is not None:
            deadlines = {level: rules.deadline(level) or {} for level in set(final[rules.target])}
            columns["signals"] = _spread(["; ".join(s.describe() for s in signals) for signals in found], readable, n)
            for field in ("respond_within_hours", "decide_within_days"):
                columns[field] = _spread([deadlines[label].get(field) for label in final[rules.target]], readable, n)
        review = [[*why, *([g] if g else []), *lows] for why, g, lows in zip(reasons, gated, low)]
        columns["needs_review"] = [bool(why) for why in review]
        columns["review_reason"] = ["; ".join(why) for why in review]
        return columns

    def _columns_of(self, predictions: list[Prediction]) -> dict[str, list]:
        """:meth:`label_columns` made from predictions, one by one (for models with a multi-label target)."""
        with_names = getattr(self, "taxonomy", None) is not None
        fields = []
        for name in self.targets_:
            fields += [name, *([f"{name}_name"] if with_names else []), f"{name}_probability", f"{name}_confidence"]
        fields += [*self.extra_fields, "needs_review", "review_reason"]
        columns: dict[str, list] = {field: [] for field in fields}
        for prediction in predictions:
            row = prediction_fields(prediction, with_names)
            for field in fields:
                columns[field].append(row.get(field))
        return columns

    def _target_predictions(self, name: str, proba: np.ndarray) -> list[TargetPrediction]:
        """One target's predictions for a batch of probability rows (ranked array-wise, a few rows in Python)."""
        model = self.targets_[name]
        if isinstance(model, _MultiLabelClassifier):
            return self._label_set_predictions(name, model, proba)
        classes, names = self._label_names(name)
        high, medium = model.thresholds_["high"], model.thresholds_["medium"]
        top_k = self.classifier.top_k
        if len(proba) <= _FEW_ROWS:  # a complaint at an intake desk: array set-up would cost more than sorting
            rows = proba.tolist()
            orders = [sorted(range(len(row)), key=lambda j, row=row: -row[j])[:top_k] for row in rows]
            tops = [[row[j] for j in order] for row, order in zip(rows, orders)]
        else:
            order = np.argsort(-proba, axis=1, kind="stable")[:, :top_k]
            orders, tops = order.tolist(), proba[np.arange(len(proba))[:, None], order].tolist()
        out = []
        for row, values in zip(orders, tops):
            best = row[0]
            out.append(TargetPrediction(
                label=classes[best],
                probability=values[0],
                confidence=_level(values[0], high, medium),
                alternatives=tuple(zip([classes[j] for j in row], values)),
                name=names[best],
            ))
        return out

    def _label_names(self, name: str) -> tuple[list[str], list[str | None]]:
        """A target's labels and their taxonomy names (None without a taxonomy), looked up once per model."""
        cached = self.__dict__.setdefault("_label_names_", {})
        if name not in cached:
            taxonomy = getattr(self, "taxonomy", None)
            classes = [str(c) for c in self.targets_[name].classes_]
            cached[name] = (classes, [taxonomy.name_of(name, c) if taxonomy is not None else None for c in classes])
        return cached[name]

    def _label_set_predictions(self, name: str, model: _MultiLabelClassifier,
                               proba: np.ndarray) -> list[TargetPrediction]:
        """A multi-label target's predictions: the chosen labels, most probable first, then the runners-up."""
        classes, names = self._label_names(name)
        chosen = model.choose(proba)
        order = np.argsort(-proba, axis=1, kind="stable")
        high, medium = model.thresholds_["high"], model.thresholds_["medium"]
        out = []
        for row, ranked, picked in zip(proba.tolist(), order.tolist(), chosen.tolist()):
            labels = [j for j in ranked if picked[j]]
            shown = labels + [j for j in ranked[: self.classifier.top_k + len(labels)] if not picked[j]]
            shown = shown[: max(self.classifier.top_k, len(labels))]
            probability = row[labels[-1]]
            level = _level(probability, high, medium)
            label_names = [names[j] for j in labels]
            out.append(TargetPrediction(
                label=model.separator.join(classes[j] for j in labels),
                probability=probability,
                confidence=level,
                alternatives=tuple((classes[j], row[j]) for j in shown),
                name=model.separator.join(label_names) if all(n is not None for n in label_names) else None,
                labels=tuple(classes[j] for j in labels),
            ))
        return out

    def predict_one(self, text: str) -> Prediction:
        """Label one complaint."""
        if not isinstance(text, str) and not is_missing(text):
            raise InputError(f"predict_one expects one text (str), got {type(text).__name__}; use predict() for a list.")
        return self.predict([text])[0]

    # -- explaining ------------------------------------------------------------
    def explain(self, text: str, *, top_n: int = 8) -> Explanation:
        """The terms of ``text`` that pushed each target's predicted label most, with their weights.

        Weights are the term's TF-IDF value times the classifier's coefficient
        for the predicted label: positive weights argue for it. For a
        multi-label target, the terms are those of its most probable label.
        """
        self._check_fitted()
        prediction = self.predict_one(text)
        prepared, _ = self._prepare([text])
        x = self._transform(prepared)
        if not hasattr(self, "_feature_names_"):
            self._feature_names_ = np.array(feature_names(self.vectorizer_), dtype=object)
        terms = {}
        for name, model in self.targets_.items():
            label = prediction.targets[name].label
            if isinstance(model, _MultiLabelClassifier) and label is not None:
                label = prediction.targets[name].labels[0]  # the most probable of the chosen labels
            if label is None or x.nnz == 0:
                terms[name] = []
                continue
            index = int(np.searchsorted(model.classes_, label))
            contributions = x.data * model.coef_for(index)[x.indices]
            order = np.argsort(-contributions)
            chosen = []
            for j in order:
                if contributions[j] <= 0 or len(chosen) == top_n:
                    break
                term = str(self._feature_names_[x.indices[j]])
                if _MEANINGFUL.search(term[2:]):  # skip n-grams of only spaces or punctuation
                    chosen.append((term, float(contributions[j])))
            terms[name] = chosen
        return Explanation(labels=prediction.labels, terms=terms)

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in self._DERIVED:
            state.pop(name, None)
        return state
