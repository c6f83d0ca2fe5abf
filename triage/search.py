"""A small, bounded hyperparameter search by cross-validation on the training data only.

The grid is fixed (``C`` × word-feature weight × Naive Bayes blend weight, 4 × 3
settings) so that its cost is a bounded multiple of one training run and its
result is reproducible. Word weights are searched without re-vectorising: the
word block of the fitted features is scaled in place; blend weights reuse the
SVM fitted for their ``C`` and word weight (only a Complement NB is added).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np

from .config import ClassifierConfig, FeatureConfig
from .features import build_vectorizer
from .model import is_missing, nb_blends, split_labels
from .normalize import Normalizer
from .segment import Segmenter

__all__ = ["search", "GRID"]

logger = logging.getLogger(__name__)

SVM_GRID = [(C, w) for C in (0.25, 0.5) for w in (0.5, 1.0)]
NB_WEIGHTS = (0.0, 0.5, 1.0)
GRID = [(C, w, nb) for C, w in SVM_GRID for nb in NB_WEIGHTS]
MIN_ROWS = 60


class _CachedCut:
    """Segment each distinct text once across folds."""

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter
        self.cache: dict[str, list[str]] = {}

    def __call__(self, text: str) -> list[str]:
        tokens = self.cache.get(text)
        if tokens is None:
            tokens = self.cache[text] = self.segmenter.cut(text)
        return tokens


def _micro_f1(X_train, X_test, sets: list[tuple[str, ...]], train, test, C: float, class_weight,
              seed: int) -> float | None:
    """Micro-F1 on the test rows of one-vs-rest SVMs fitted on the train rows (None when it cannot be measured)."""
    from sklearn.svm import LinearSVC

    tr = [i for i in range(len(train)) if sets[train[i]]]
    te = [i for i in range(len(test)) if sets[test[i]]]
    counts: dict[str, int] = {}
    for i in tr:
        for label in sets[train[i]]:
            counts[label] = counts.get(label, 0) + 1
    labels = sorted(label for label, n in counts.items() if 2 <= n < len(tr))
    if len(labels) < 2 or not te:
        return None
    scores = np.empty((len(te), len(labels)))
    for j, label in enumerate(labels):
        y = np.array([label in sets[train[i]] for i in tr], dtype=int)
        svc = LinearSVC(C=C, class_weight=class_weight, random_state=seed).fit(X_train[tr], y)
        scores[:, j] = svc.decision_function(X_test[te])
    chosen = scores > 0
    none = ~chosen.any(axis=1)
    chosen[none, scores[none].argmax(axis=1)] = True
    hits = sum(len({labels[j] for j in np.flatnonzero(row)} & set(sets[test[i]])) for row, i in zip(chosen, te))
    predicted, true = int(chosen.sum()), sum(len(sets[test[i]]) for i in te)
    return 2 * hits / (predicted + true)


def _accuracies(X_train, X_test, y: np.ndarray, train, test, C: float, class_weight,
                seed: int) -> dict[float, float] | None:
    """``{nb_weight: accuracy}`` on the test rows of an SVM fitted on the train rows, blended with each NB weight."""
    from sklearn.svm import LinearSVC

    tr = [i for i in range(len(train)) if y[train[i]]]
    te = [i for i in range(len(test)) if y[test[i]]]
    if len({y[train[i]] for i in tr}) < 2 or not te:
        return None
    y_train, y_test = y[train][tr], y[test][te]
    svc = LinearSVC(C=C, class_weight=class_weight, random_state=seed).fit(X_train[tr], y_train)
    out = {}
    for nb, (coef, intercept) in nb_blends(svc, X_train[tr], y_train, NB_WEIGHTS).items():
        predicted = svc.classes_[np.asarray(X_test[te] @ coef.T + intercept).argmax(axis=1)]
        out[nb] = float(np.mean(predicted == y_test))
    return out


def search(
    texts: Sequence[str],
    targets: Mapping[str, Sequence[Any]],
    *,
    features: FeatureConfig,
    classifier: ClassifierConfig,
    segmenter: Segmenter,
    aliases: dict[str, str] | None = None,
    folds: int = 3,
    seed: int = 0,
    multi_label: Mapping[str, str] | None = None,
) -> tuple[FeatureConfig, ClassifierConfig, dict[str, Any]]:
    """Return the feature and classifier settings with the best mean cross-validated accuracy over targets.

    Settings are ``C``, the word-feature weight and the Naive Bayes blend
    weight (``ClassifierConfig.nb_weight``); ties keep the given settings. A
    multi-label target (``multi_label={target: separator}``) counts with its
    micro-F1 instead of accuracy: one-vs-rest SVMs, every label with a positive
    score, or the best-scoring one when none has. Data too small to
    cross-validate (fewer than 60 rows) keeps the given settings.
    """
    if len(texts) < MIN_ROWS:
        return features, classifier, {"skipped": f"fewer than {MIN_ROWS} rows"}
    from sklearn.model_selection import KFold, StratifiedKFold  # imported here: `import triage` stays light
    from scipy.sparse import hstack

    normalizer = Normalizer(max_chars=features.max_chars, aliases=aliases)
    prepared = [normalizer(t) for t in texts]
    multi_label = multi_label or {}
    first = np.array(["" if is_missing(v) else str(v) for v in next(iter(targets.values()))], dtype=object)
    counts = np.unique(first, return_counts=True)[1]
    splitter = (StratifiedKFold(folds, shuffle=True, random_state=seed)
                if counts.min() >= folds and next(iter(targets)) not in multi_label
                else KFold(folds, shuffle=True, random_state=seed))
    sets = {name: [split_labels(v, multi_label[name]) for v in labels]
            for name, labels in targets.items() if name in multi_label}
    single = {name: np.array(["" if is_missing(v) else str(v).strip() for v in labels], dtype=object)
              for name, labels in targets.items() if name not in multi_label}
    cut = _CachedCut(segmenter)
    unit = replace(features, word_weight=1.0)
    scores = {setting: [] for setting in GRID}
    for train, test in splitter.split(prepared, first):
        vectorizer = build_vectorizer(unit, segmenter)
        vectorizer.transformer_list[0][1].tokenizer = cut
        vectorizer.fit([prepared[i] for i in train])
        word_parts = [vectorizer.transformer_list[0][1].transform([prepared[i] for i in idx]) for idx in (train, test)]
        char_parts = [vectorizer.transformer_list[1][1].transform([prepared[i] for i in idx]) for idx in (train, test)]
        for C, weight in SVM_GRID:
            X_train = hstack([word_parts[0] * weight, char_parts[0]]).tocsr()
            X_test = hstack([word_parts[1] * weight, char_parts[1]]).tocsr()
            accuracies = {nb: [] for nb in NB_WEIGHTS}
            for name in targets:
                if name in sets:  # the NB blend does not apply: the same score for every blend weight
                    score = _micro_f1(X_train, X_test, sets[name], train, test, C, classifier.class_weight, seed)
                    measured = None if score is None else dict.fromkeys(NB_WEIGHTS, score)
                else:
                    measured = _accuracies(X_train, X_test, single[name], train, test, C, classifier.class_weight, seed)
                for nb, value in (measured or {}).items():
                    accuracies[nb].append(value)
            for nb, values in accuracies.items():
                if values:
                    scores[(C, weight, nb)].append(float(np.mean(values)))
    means = {setting: float(np.mean(v)) for setting, v in scores.items() if v}
    if not means:
        return features, classifier, {"skipped": "no target could be cross-validated"}
    given = (classifier.C, features.word_weight, classifier.nb_weight)
    best = max(GRID, key=lambda s: (means.get(s, -1.0), s == given))
    logger.info("Hyperparameter search: %s",
                {f"C={c}, word_weight={w}, nb_weight={nb}": round(m, 4) for (c, w, nb), m in means.items()})
    report = {"folds": folds,
              "grid": [{"C": c, "word_weight": w, "nb_weight": nb,
                        "cv_accuracy": round(means.get((c, w, nb), float("nan")), 4)} for c, w, nb in GRID],
              "chosen": {"C": best[0], "word_weight": best[1], "nb_weight": best[2]}}
    return replace(features, word_weight=best[1]), replace(classifier, C=best[0], nb_weight=best[2]), report
