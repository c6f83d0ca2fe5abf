"""Train, evaluate and label: the functions the CLI and notebooks call.

>>> import tempfile, os
>>> rows = [{"text": t, "product": p} for t, p in [
...     ("信用卡年费太贵", "card"), ("信用卡分期手续费高", "card"), ("信用卡被盗刷了", "card"),
...     ("房贷提前还款违约金", "loan"), ("贷款提前还款要预约", "loan"), ("贷款催收打给家人", "loan")]]
>>> result = train(rows, config=TrainConfig(test_size=0, features=FeatureConfig(char_min_df=1)))
>>> result.model.predict_one("信用卡年费").labels
{'product': 'card'}

A target whose cells hold several labels is declared with its separator:

>>> rows = [{"text": t, "problem": p} for t, p in [
...     ("刹车异响", "brake"), ("刹车异响很大", "brake"), ("刹车片异响", "brake"), ("发动机漏油", "engine"),
...     ("发动机漏油严重", "engine"), ("发动机机油渗漏", "engine"), ("刹车异响而且发动机漏油", "brake,engine"),
...     ("发动机漏油刹车也异响", "engine,brake")]]
>>> config = TrainConfig(test_size=0, multi_label={"problem": ","}, features=FeatureConfig(char_min_df=1))
>>> train(rows, config=config).model.predict_one("发动机漏油").labels
{'problem': 'engine'}
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .config import FeatureConfig, TrainConfig  # noqa: F401  (FeatureConfig: used by the doctest)
from .exceptions import InputError
from .io import check_columns, read_rows
from .model import ComplaintClassifier, is_missing, split_labels
from .normalize import read_aliases
from .persist import load_model, save_model
from .report import (calibration_metrics, classification_metrics, confidence_shares, format_metrics, is_multilabel,
                     label_set_confidence_shares, multilabel_calibration, multilabel_metrics, per_class_markdown,
                     write_report)
from .search import search
from .segment import Segmenter
from .signals import EscalationRules
from .taxonomy import Taxonomy

CARD_CLASS_ROWS = 40  # per target in a model card; a multi-label target's rarer labels are left to `triage evaluate`

__all__ = ["train", "evaluate", "evaluate_model", "read_labelled", "build_classifier", "TrainResult", "LabelledData",
           "model_card"]

logger = logging.getLogger(__name__)


@dataclass
class LabelledData:
    """Texts and their labels per target, as read from one or more files or records."""

    texts: list[str]
    labels: dict[str, list[Any]]
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def fingerprint(self) -> str:
        """SHA-256 over texts and labels in order: identical data, identical fingerprint."""
        digest = hashlib.sha256()
        for i, text in enumerate(self.texts):
            row = [text] + [None if is_missing(self.labels[t][i]) else str(self.labels[t][i]) for t in self.labels]
            digest.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
            digest.update(b"\n")
        return digest.hexdigest()

    def subset(self, index: Sequence[int]) -> "LabelledData":
        return LabelledData(
            texts=[self.texts[i] for i in index],
            labels={t: [v[i] for i in index] for t, v in self.labels.items()},
            sources=self.sources,
        )


def _rows_from(data) -> tuple[list[str], list[dict], list[str]]:
    """(columns, rows, sources) from a path, a list of paths, or in-memory records."""
    if isinstance(data, (str, os.PathLike)):
        data = [data]
    data = list(data)
    if not data:
        raise InputError("No training data given: pass a file path, a list of paths, or a list of records (dicts).")
    if all(isinstance(d, Mapping) for d in data):
        columns = list(dict.fromkeys(k for d in data for k in d))
        return columns, [dict(d) for d in data], ["(records)"]
    if not all(isinstance(d, (str, os.PathLike)) for d in data):
        raise InputError("Training data must be file paths or records (dicts), not a mix of both or other objects.")
    columns, rows = [], []
    for path in data:
        cols, part = read_rows(path)
        if columns and cols != columns and set(cols) != set(columns):
            logger.warning("%s has columns %s, unlike the first file's %s; missing values count as unlabelled.",
                           path, cols, columns)
        columns += [c for c in cols if c not in columns]
        rows += part
    return columns, rows, [str(p) for p in data]


def read_labelled(data, *, text_column: str = "text", targets: Sequence[str] | None = None,
                  id_column: str | None = "id") -> LabelledData:
    """Read labelled complaints from files or records.

    Targets default to every column except the text column and the id column.
    Rows whose text is missing are dropped with a warning.
    """
    columns, rows, sources = _rows_from(data)
    where = sources[0] if len(sources) == 1 else ", ".join(sources)
    check_columns(columns, [text_column], where)
    if targets is None:
        targets = [c for c in columns if c not in (text_column, id_column)]
        if not targets:
            raise InputError(
                f"{where} has no label columns besides the text column {text_column!r}; "
                "add at least one label column (e.g. category) or name them with --targets."
            )
    else:
        check_columns(columns, list(targets), where, role="target column")
    texts, labels, dropped = [], {t: [] for t in targets}, 0
    for row in rows:
        text = row.get(text_column)
        if is_missing(text) or not isinstance(text, (str, int, float)):
            dropped += 1
            continue
        texts.append(str(text))
        for t in targets:
            labels[t].append(row.get(t))
    if dropped:
        logger.warning("Dropped %d row(s) of %s with no text in column %r.", dropped, where, text_column)
    if not texts:
        raise InputError(f"{where} has no rows with text in column {text_column!r}.")
    return LabelledData(texts=texts, labels=labels, sources=sources)


def _split(data: LabelledData, test_size: float, seed: int,
           multi_label: Mapping[str, str] | None = None) -> tuple[list[int], list[int]]:
    """Train and test row indices; stratified on the first target unless it is multi-label."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(data))
    name = next(iter(data.labels))
    first = data.labels[name]
    strata = np.array(["" if is_missing(v) else str(v) for v in first], dtype=object)
    values, counts = np.unique(strata, return_counts=True)
    stratify = strata if counts.min() >= 2 and len(values) > 1 and name not in (multi_label or {}) else None
    n_test = int(round(test_size * len(data)))
    if stratify is not None and n_test < len(values):
        stratify = None
    if n_test < 1 or len(data) - n_test < 2:
        raise InputError(
            f"test_size {test_size} leaves {n_test} evaluation and {len(data) - n_test} training rows out of {len(data)}; "
            "use more data, a different --test-size, or --test-size 0 to train on everything."
        )
    train_idx, test_idx = train_test_split(index, test_size=n_test, random_state=seed, stratify=stratify)
    return sorted(train_idx.tolist()), sorted(test_idx.tolist())


def _multilabel_evaluation(model: ComplaintClassifier, target: str, truth: list, predictions: list,
                           proba: np.ndarray) -> dict[str, Any] | None:
    """Metrics of one multi-label target: label sets split with the model's separator."""
    separator = model.separators[target]
    sets = [split_labels(v, separator) for v in truth]
    rows = [i for i, items in enumerate(sets) if items]
    if not rows:
        return None
    y_true = [sets[i] for i in rows]
    y_pred = [predictions[i].targets[target].labels or () for i in rows]
    metrics = multilabel_metrics(y_true, y_pred)
    metrics["calibration"] = multilabel_calibration(proba[rows], model.classes[target], y_true)
    metrics["confidence"] = label_set_confidence_shares(
        [predictions[i].targets[target].confidence for i in rows],
        [len(set(p) & set(t)) for p, t in zip(y_pred, y_true)], [len(p) for p in y_pred])
    return metrics


def evaluate_model(model: ComplaintClassifier, data: LabelledData) -> dict[str, Any]:
    """Per-target metrics of ``model`` on labelled data (rows with a missing label are skipped per target).

    Multi-label targets get :func:`~triage.report.multilabel_metrics`, with the
    cells split on the separator stored in the model.
    """
    predictions = model.predict(data.texts)
    probas = model.predict_proba(data.texts)
    separators = model.separators
    out = {}
    for target, truth in data.labels.items():
        if target not in model.targets_:
            logger.warning("The model does not predict %r; skipping it.", target)
            continue
        if target in separators:
            metrics = _multilabel_evaluation(model, target, truth, predictions, probas[target])
            if metrics is not None:
                out[target] = metrics
            continue
        rows = [i for i, v in enumerate(truth) if not is_missing(v)]
        if not rows:
            continue
        y_true = [str(truth[i]).strip() for i in rows]
        y_pred = [predictions[i].targets[target].label for i in rows]
        metrics = classification_metrics(y_true, y_pred)
        metrics["calibration"] = calibration_metrics(probas[target][rows], model.classes[target], y_true)
        levels = [predictions[i].targets[target].confidence for i in rows]
        metrics["confidence"] = confidence_shares(levels, [a == b for a, b in zip(y_true, y_pred)])
        out[target] = metrics
    if not out:
        raise InputError(
            f"The evaluation data has none of the model's targets ({', '.join(model.target_names)}) with labels."
        )
    return out


@dataclass
class TrainResult:
    """A trained model, its held-out metrics (if any) and where it was saved."""

    model: ComplaintClassifier
    metrics: dict[str, Any] | None
    split: str
    train_rows: int
    eval_rows: int
    seconds: float
    data_fingerprint: str
    model_dir: Path | None = None
    sources: list[str] = field(default_factory=list)
    search: dict | None = None

    def summary(self) -> str:
        head = f"Trained on {self.train_rows} rows in {self.seconds:.1f} s."
        if self.metrics is None:
            return head + " No held-out evaluation (test_size 0)."
        return head + "\n" + format_metrics(self.metrics, split=self.split)


def _resource_path(name: str, path: str) -> Path:
    from .resources import corpora_dir

    return corpora_dir() / name if path == "default" else Path(path)


def model_card(result: TrainResult, config: TrainConfig, *, title: str = "triage model", notes: str = "") -> str:
    """The text of ``MODEL_CARD.md`` for a trained model."""
    model = result.model
    lines = [
        f"# {title}",
        "",
        "## Intended use",
        "",
        "Triage of Chinese consumer complaints: one label per target with a calibrated probability and a",
        "confidence level; low-confidence predictions are flagged `needs_review` for a human.",
        *_multilabel_card_lines(model),
        "It supports, and does not replace, the analyst who decides how a complaint is handled.",
        "",
        "## Data",
        "",
        f"- Sources: {', '.join(os.path.basename(s) for s in result.sources) or 'in-memory records'}",
        f"- Training rows: {result.train_rows}; held-out evaluation rows: {result.eval_rows} ({result.split}).",
        f"- Training data fingerprint (SHA-256): `{result.data_fingerprint}`",
        f"- Text column: `{config.text_column}`; targets: {', '.join(f'`{t}`' for t in model.target_names)}",
        "",
        "## Metrics",
        "",
    ]
    single = {t: m for t, m in (result.metrics or {}).items() if not is_multilabel(m)}
    multi = {t: m for t, m in (result.metrics or {}).items() if is_multilabel(m)}
    if result.metrics is None:
        lines.append("No held-out evaluation was run (trained on all data).")
    else:
        lines += [f"Split: **{result.split}** (never seen in training).", ""]
        if single:
            lines += ["| target | n | accuracy | macro-F1 | majority baseline | Brier | ECE |",
                      "|---|---|---|---|---|---|---|"]
        for target, m in single.items():
            cal = m["calibration"]
            lines.append(
                f"| {target} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
                f"{m['majority_baseline']['accuracy']:.3f} | {cal['brier']:.3f} | {cal['ece']:.3f} |"
            )
        if multi:
            lines += [""] if single else []
            lines += ["| multi-label target | n | micro-F1 | macro-F1 | samples-F1 | exact match | Hamming loss | "
                      "baseline micro-F1 / macro-F1 | Brier | ECE |", "|---|---|---|---|---|---|---|---|---|---|"]
        for target, m in multi.items():
            base, cal = m["majority_baseline"], m["calibration"]
            lines.append(
                f"| {target} | {m['n']} | {m['micro_f1']:.3f} | {m['macro_f1']:.3f} | {m['samples_f1']:.3f} | "
                f"{m['subset_accuracy']:.3f} | {m['hamming_loss']:.4f} | {base['micro_f1']:.3f} / "
                f"{base['macro_f1']:.3f} (always {base['label']}) | {cal['brier']:.4f} | {cal['ece']:.4f} |"
            )
        lines += ["", "Share of held-out predictions per confidence level (accuracy within the level):", ""]
        for target, m in single.items():
            parts = [
                f"{lvl} {c['share']:.0%}" + ("" if c["accuracy"] is None else f" (acc {c['accuracy']:.2f})")
                for lvl, c in m["confidence"].items()
            ]
            lines.append(f"- {target}: " + ", ".join(parts))
        for target, m in multi.items():
            parts = [
                f"{lvl} {c['share']:.0%}" + ("" if c["precision"] is None else f" (precision of its labels "
                                                                             f"{c['precision']:.2f})")
                for lvl, c in m["confidence"].items()
            ]
            lines.append(f"- {target}: " + ", ".join(parts))
        for target, m in (result.metrics or {}).items():
            kind = "per label, most frequent first" if is_multilabel(m) else "per class"
            lines += ["", f"Held-out figures of `{target}`, {kind}:", "", *per_class_markdown(m, CARD_CLASS_ROWS)]
    lines += [
        "",
        "## Known limits",
        "",
        "- Trained on the data above only: other products, channels or writing styles may be labelled worse.",
        "- Probabilities are calibrated on out-of-fold training predictions; re-check calibration on your own data.",
        "- Loading a model directory unpickles `model.pickle.gz`: load only model directories you trust.",
    ]
    if notes:
        lines += ["", notes.strip()]
    return "\n".join(lines) + "\n"


def _multilabel_card_lines(model: ComplaintClassifier) -> list[str]:
    separators = model.separators
    if not separators:
        return []
    lines = ["", "Multi-label targets (a complaint may get several labels, joined by the separator): "
             + ", ".join(f"`{t}` (separator `{sep}`)" for t, sep in separators.items()) + ".",
             "Each label has its own one-vs-rest SVM and decision threshold; at least one label is always given.",
             "Confidence of a label set: `high` / `medium` where, on out-of-fold training predictions, at least 95% /",
             "80% of the labels of the sets scored that high were right (score: the set's lowest label probability)."]
    for target in separators:
        untrained = getattr(model, "untrained_labels_", {}).get(target) or {}
        if untrained:
            lines.append(f"Labels of `{target}` seen in only one training row, never predicted: {len(untrained)} "
                         f"({', '.join(list(untrained)[:20])}{' …' if len(untrained) > 20 else ''}).")
    return lines


def build_classifier(config: TrainConfig, labelled: LabelledData, train_data: LabelledData | None = None):
    """An unfitted classifier for ``config``: taxonomy checked, rules and aliases loaded, settings searched.

    Returns ``(model, taxonomy, rules, aliases, search_report)``; the search (if on) runs on ``train_data``
    (default: all of ``labelled``) only.
    """
    train_data = train_data if train_data is not None else labelled
    seg = config.segmenter
    taxonomy = Taxonomy.load(config.taxonomy) if config.taxonomy is not None else None
    if taxonomy is not None and not set(taxonomy.axes) & set(labelled.labels):
        taxonomy = None  # none of its targets is being trained: nothing to check or name
    rules = EscalationRules.load(config.rules) if config.rules is not None else None
    if rules is not None and rules.target not in labelled.labels:
        rules = None
    multi_label = config.multi_label or {}
    if rules is not None and rules.target in multi_label:
        raise InputError(
            f"Target {rules.target!r} carries the escalation rules, which need one label per complaint; it cannot be "
            "multi-label. Train without rules (--rules none) or keep it single-label."
        )
    unknown = sorted(set(multi_label) - set(labelled.labels))
    if unknown:
        raise InputError(
            f"Multi-label target(s) {unknown} are not label columns of {', '.join(labelled.sources)} "
            f"(its targets: {', '.join(labelled.labels)}); fix the names given to --multi-label."
        )
    if taxonomy is not None:
        for target, labels in labelled.labels.items():
            if target in multi_label:
                values = [item for v in labels for item in split_labels(v, multi_label[target])]
            else:
                values = [None if is_missing(v) else str(v).strip() for v in labels]
            taxonomy.check_labels(target, values, where=", ".join(labelled.sources))
    aliases = read_aliases(_resource_path("institutions.tsv", config.aliases)) if config.aliases is not None else None
    segmenter = Segmenter(user_dict=seg.user_dict, stop_words=seg.stop_words, hmm=seg.hmm, backend=seg.backend)
    features, classifier, search_report = config.features, config.classifier, None
    if config.search:
        features, classifier, search_report = search(
            train_data.texts, train_data.labels, features=features, classifier=classifier, segmenter=segmenter,
            aliases=aliases, seed=config.seed, multi_label=multi_label)
    model = ComplaintClassifier(
        aliases=aliases,
        segmenter=segmenter,
        features=features,
        classifier=classifier,
        confidence=config.confidence,
        taxonomy=taxonomy,
        rules=rules,
        seed=config.seed,
        multi_label=dict(multi_label) or None,
    )
    return model, taxonomy, rules, aliases, search_report


def train(
    data,
    *,
    config: TrainConfig = TrainConfig(),
    eval_data=None,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
    card_title: str = "triage model",
    card_notes: str = "",
) -> TrainResult:
    """Train a model from files or records, evaluate it on held-out data, and optionally save it.

    Parameters
    ----------
    data : path, list of paths, or list of dicts
        Labelled complaints: a text column and one column per target.
    config : TrainConfig
        Columns, targets, split and model settings.
    eval_data : path, list of paths, or list of dicts, optional
        A separate evaluation set; when given, all of ``data`` is used for training.
    output : path, optional
        Save the model directory here.
    """
    start = time.perf_counter()
    labelled = read_labelled(data, text_column=config.text_column, targets=config.targets, id_column=config.id_column)
    if eval_data is not None:
        train_data = labelled
        eval_set = read_labelled(eval_data, text_column=config.text_column, targets=list(labelled.labels),
                                 id_column=config.id_column)
        split = f"separate evaluation file ({', '.join(eval_set.sources)})"
    elif config.test_size > 0:
        train_idx, test_idx = _split(labelled, config.test_size, config.seed, config.multi_label)
        train_data, eval_set = labelled.subset(train_idx), labelled.subset(test_idx)
        stratified = "random" if next(iter(labelled.labels)) in (config.multi_label or {}) else "stratified"
        split = f"held-out {config.test_size:.0%} {stratified} split (seed {config.seed})"
    else:
        train_data, eval_set, split = labelled, None, "none"
    model, taxonomy, rules, aliases, search_report = build_classifier(config, labelled, train_data)
    model.fit(train_data.texts, train_data.labels)
    features, classifier = model.features, model.classifier
    metrics = evaluate_model(model, eval_set) if eval_set is not None else None
    result = TrainResult(
        model=model,
        metrics=metrics,
        split=split,
        train_rows=len(train_data),
        eval_rows=len(eval_set) if eval_set is not None else 0,
        seconds=time.perf_counter() - start,
        data_fingerprint=train_data.fingerprint(),
        sources=labelled.sources,
        search=search_report,
    )
    if output is not None:
        extra = {
            "training_data": {
                "sources": [os.path.basename(s) for s in labelled.sources],
                "rows": len(train_data),
                "fingerprint_sha256": result.data_fingerprint,
                "evaluation_rows": result.eval_rows,
                "split": split,
            },
            "config": config.to_dict(),
            "search": search_report,
            "chosen": {"features": features.to_dict(), "classifier": classifier.to_dict()},
            "metrics": {"split": split, "targets": metrics} if metrics else None,
            "small_classes": model.small_classes_,
            **({"untrained_labels": model.untrained_labels_} if model.separators else {}),
            "taxonomy": taxonomy.to_dict() if taxonomy is not None else None,
            "escalation_rules": rules.to_dict() if rules is not None else None,
        }
        resources = {}
        if aliases is not None:
            resources["institutions.tsv"] = config.aliases
        if taxonomy is not None:
            resources["taxonomy.json"] = config.taxonomy
        if extra["escalation_rules"] is not None:
            resources["escalation_rules.toml"] = config.rules
        card = model_card(result, config, title=card_title, notes=card_notes)
        result.model_dir = save_model(model, output, manifest_extra=extra, card=card, overwrite=overwrite,
                                      extra_resources={name: _resource_path(name, path) for name, path in resources.items()})
    return result


def evaluate(model, data, *, text_column: str | None = None, report_dir: str | os.PathLike | None = None) -> dict:
    """Evaluate a model (object or directory) on labelled data; optionally write a report folder."""
    if not isinstance(model, ComplaintClassifier):
        model = load_model(model)
    if text_column is None:
        text_column = (getattr(model, "manifest_", {}).get("config") or {}).get("text_column", "text")
    labelled = read_labelled(data, text_column=text_column, targets=None, id_column="id")
    known = {t: v for t, v in labelled.labels.items() if t in model.targets_}
    if not known:
        raise InputError(
            f"The evaluation data has none of the model's target columns ({', '.join(model.target_names)}); "
            f"its label columns are {', '.join(labelled.labels) or '(none)'}."
        )
    labelled.labels = known
    metrics = evaluate_model(model, labelled)
    if report_dir is not None:
        write_report(metrics, report_dir, title="triage evaluation report",
                     split=f"evaluation file {', '.join(labelled.sources)}")
    return metrics
