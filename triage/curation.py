"""Tools around training that annotation work needs: cross-validation, learning curves, audits, active learning.

>>> rows = [{"text": t, "product": p} for t, p in [
...     ("信用卡年费太贵", "card"), ("信用卡分期手续费高", "card"), ("信用卡被盗刷了", "card"),
...     ("房贷提前还款违约金", "loan"), ("贷款提前还款要预约", "loan"), ("贷款催收打给家人", "loan")]]
>>> cfg = TrainConfig(search=False, features=FeatureConfig(char_min_df=1))
>>> result = cross_validate(rows, config=cfg, folds=3)
>>> result["metrics"]["product"]["n"]
6

Multi-label targets (``TrainConfig(multi_label={target: separator})``) are
cross-validated with plain (unstratified) K folds and get micro-, macro- and
samples-F1, exact-match accuracy and Hamming loss (:func:`triage.report.multilabel_metrics`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from .config import FeatureConfig, TrainConfig
from .exceptions import InputError
from .model import check_text_list, is_missing, split_labels
from .normalize import mask_personal_data
from .report import classification_metrics, multilabel_metrics
from .workflows import LabelledData, build_classifier, read_labelled

__all__ = ["cross_validate", "learning_curve", "audit", "suggest", "FeatureConfig"]

logger = logging.getLogger(__name__)


def _labelled(data, config: TrainConfig) -> LabelledData:
    if isinstance(data, LabelledData):
        return data
    return read_labelled(data, text_column=config.text_column, targets=config.targets, id_column=config.id_column)


def _splitter(labelled: LabelledData, folds: int, seed: int, multi_label: dict[str, str] | None = None):
    """Stratified K folds on the first target, or plain K folds when it is multi-label or too small to stratify."""
    if folds < 2 or folds > len(labelled):
        raise InputError(f"--cv needs between 2 and {len(labelled)} folds for {len(labelled)} rows, got {folds}.")
    first = np.array(["" if is_missing(v) else str(v) for v in next(iter(labelled.labels.values()))], dtype=object)
    counts = np.unique(first, return_counts=True)[1]
    from sklearn.model_selection import KFold, StratifiedKFold  # imported here: `import triage` stays light

    if counts.min() >= folds and next(iter(labelled.labels)) not in (multi_label or {}):
        return StratifiedKFold(folds, shuffle=True, random_state=seed).split(first, first)
    return KFold(folds, shuffle=True, random_state=seed).split(first)


def _out_of_fold(labelled: LabelledData, config: TrainConfig, folds: int) -> list:
    """Every row's prediction by a model that did not see it (settings searched once on all rows, then fixed)."""
    model, *_ = build_classifier(config, labelled)
    fixed = replace(config, search=False, features=model.features, classifier=model.classifier)
    predictions: list = [None] * len(labelled)
    for train, test in _splitter(labelled, folds, config.seed, config.multi_label):
        fold_model, *_ = build_classifier(fixed, labelled)
        part = labelled.subset(list(train))
        fold_model.fit(part.texts, part.labels)
        for i, p in zip(test, fold_model.predict([labelled.texts[j] for j in test])):
            predictions[i] = p
    return predictions


def cross_validate(data, *, config: TrainConfig = TrainConfig(), folds: int = 5) -> dict[str, Any]:
    """K-fold cross-validated metrics per target (every row predicted by a model that did not train on it)."""
    labelled = _labelled(data, config)
    predictions = _out_of_fold(labelled, config, folds)
    multi_label = config.multi_label or {}
    metrics = {}
    for target, truth in labelled.labels.items():
        if target in multi_label:
            sets = [split_labels(v, multi_label[target]) for v in truth]
            rows = [i for i, items in enumerate(sets) if items]
            metrics[target] = multilabel_metrics([sets[i] for i in rows],
                                                 [predictions[i].targets[target].labels or () for i in rows])
            continue
        rows = [i for i, v in enumerate(truth) if not is_missing(v)]
        metrics[target] = classification_metrics([str(truth[i]).strip() for i in rows],
                                                 [predictions[i].targets[target].label for i in rows])
    return {"folds": folds, "rows": len(labelled), "metrics": metrics}


def learning_curve(data, *, config: TrainConfig = TrainConfig(), steps: Sequence[float] = (0.2, 0.4, 0.6, 0.8, 1.0),
                   test_size: float = 0.2) -> list[dict[str, Any]]:
    """Held-out accuracy per target when training on growing shares of the training split.

    A multi-label target's figure is its micro-F1. A curve still rising at 100%
    says that labelling more data would help.
    """
    from .workflows import _split

    labelled = _labelled(data, config)
    multi_label = config.multi_label or {}
    train_idx, test_idx = _split(labelled, test_size, config.seed, multi_label)
    rng = np.random.default_rng(config.seed)
    order = list(rng.permutation(train_idx))
    held = labelled.subset(test_idx)
    fixed = None
    points = []
    for share in steps:
        part = labelled.subset(sorted(order[: max(2, int(round(share * len(order))))]))
        if fixed is None:  # search once, on the full training split, then keep settings fixed along the curve
            probe, *_ = build_classifier(config, labelled, labelled.subset(train_idx))
            fixed = replace(config, search=False, features=probe.features, classifier=probe.classifier)
        try:
            model, *_ = build_classifier(fixed, part)
            model.fit(part.texts, part.labels)
        except InputError as e:
            logger.warning("Skipping %.0f%% of the training split: %s", 100 * share, e)
            continue
        predictions = model.predict(held.texts)
        point = {"share": share, "train_rows": len(part)}
        for target, truth in held.labels.items():
            if target in multi_label:
                sets = [split_labels(v, multi_label[target]) for v in truth]
                rows = [i for i, items in enumerate(sets) if items]
                point[target] = multilabel_metrics([sets[i] for i in rows],
                                                   [predictions[i].targets[target].labels or () for i in rows])["micro_f1"]
                continue
            rows = [i for i, v in enumerate(truth) if not is_missing(v)]
            point[target] = float(np.mean([predictions[i].targets[target].label == str(truth[i]).strip() for i in rows]))
        points.append(point)
    return points


def audit(data, *, config: TrainConfig = TrainConfig(), folds: int = 5, min_probability: float = 0.0,
          only_high: bool = True) -> list[dict[str, Any]]:
    """Rows whose given label disagrees with a confident out-of-fold prediction: likely labelling mistakes.

    Ranked by the probability of the suggested label, highest first. Texts in the
    result are masked (phone, ID and card numbers, e-mail, URLs). For a
    multi-label target a row is listed when its given label set differs (as a
    set) from a confident predicted set; ``given`` and ``suggested`` are the
    sets joined by the target's separator, ``probability`` is the lowest
    probability among the suggested labels, and ``missing`` / ``extra`` say which
    suggested labels the row lacks and which given labels were not suggested.
    """
    labelled = _labelled(data, config)
    predictions = _out_of_fold(labelled, config, folds)
    multi_label = config.multi_label or {}
    findings = []
    for target, truth in labelled.labels.items():
        for i, given in enumerate(truth):
            if is_missing(given):
                continue
            t = predictions[i].targets[target]
            if target in multi_label:
                items = split_labels(given, multi_label[target])
                if not items or not t.labels or set(t.labels) == set(items):
                    continue
                if (only_high and t.confidence != "high") or t.probability < min_probability:
                    continue
                findings.append({"row": i + 1, "target": target, "given": multi_label[target].join(items),
                                 "suggested": t.label, "probability": round(t.probability, 4),
                                 "missing": multi_label[target].join(x for x in t.labels if x not in items),
                                 "extra": multi_label[target].join(x for x in items if x not in t.labels),
                                 "text": mask_personal_data(labelled.texts[i])[:120]})
                continue
            if t.label is None or t.label == str(given).strip():
                continue
            if (only_high and t.confidence != "high") or t.probability < min_probability:
                continue
            findings.append({"row": i + 1, "target": target, "given": str(given).strip(), "suggested": t.label,
                             "probability": round(t.probability, 4),
                             "text": mask_personal_data(labelled.texts[i])[:120]})
    findings.sort(key=lambda f: -f["probability"])
    return findings


def suggest(model, texts: Sequence[str], *, n: int = 50, pool: int = 10) -> list[dict[str, Any]]:
    """The ``n`` rows most worth labelling next: uncertain, and not near-copies of each other.

    Uncertainty is the mean over targets of one minus the top probability; for a
    multi-label target, of how close its label nearest to its decision
    threshold is to it (1 on the threshold, 0 at a probability of 0 or 1).
    Among the ``pool × n`` most uncertain rows, rows are chosen greedily by
    uncertainty × (1 − highest cosine similarity to rows already chosen).
    """
    texts = check_text_list(texts)
    if n < 1:
        raise InputError(f"-n must be at least 1, got {n}.")
    prepared, _ = model._prepare(texts)
    readable = [i for i, t in enumerate(prepared) if t]
    if not readable:
        return []
    X = model._transform([prepared[i] for i in readable])
    probas = model._probabilities([prepared[i] for i in readable])
    separators = model.separators
    per_target = []
    for name, p in probas.items():
        if name in separators:
            t = model.targets_[name].label_thresholds_
            per_target.append((1.0 - np.abs(p - t) / np.maximum(t, 1.0 - t)).max(axis=1))
        else:
            per_target.append(1.0 - p.max(axis=1))
    uncertainty = np.mean(per_target, axis=0)
    candidates = np.argsort(-uncertainty, kind="stable")[: pool * n]
    Xc = X[candidates]
    norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    similarity = (Xc @ Xc.T).toarray() / np.outer(norms, norms)
    chosen: list[int] = []
    closest = np.zeros(len(candidates))
    for _ in range(min(n, len(candidates))):
        score = uncertainty[candidates] * (1.0 - closest)
        score[chosen] = -np.inf
        k = int(np.argmax(score))
        chosen.append(k)
        closest = np.maximum(closest, similarity[k])
    out = []
    for k in chosen:
        i = readable[int(candidates[k])]
        out.append({"row": i + 1, "uncertainty": round(float(uncertainty[candidates[k]]), 4),
                    "text": mask_personal_data(str(texts[i]))[:120]})
    return out
