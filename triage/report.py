"""Evaluation metrics and report files.

>>> m = classification_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
>>> m["accuracy"], round(m["macro_f1"], 3), m["majority_baseline"]["accuracy"]
(0.75, 0.733, 0.5)

Multi-label targets (several labels per row) have their own metrics:

>>> m = multilabel_metrics([("a", "b"), ("a",), ("c",)], [("a",), ("a", "c"), ("c",)])
>>> [round(m[k], 3) for k in ("micro_f1", "macro_f1", "samples_f1", "subset_accuracy", "hamming_loss")]
[0.75, 0.556, 0.778, 0.333, 0.222]
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .normalize import mask_personal_data

__all__ = ["classification_metrics", "calibration_metrics", "write_report", "format_metrics", "format_per_class",
           "per_class_markdown", "confidence_shares",
           "multilabel_metrics", "multilabel_calibration", "label_set_confidence_shares", "is_multilabel"]

logger = logging.getLogger(__name__)


def calibration_metrics(proba: np.ndarray, classes: Sequence[str], y_true: Sequence[str], bins: int = 10) -> dict:
    """Multi-class Brier score and expected calibration error (ECE, on the top probability)."""
    classes = list(classes)
    index = {c: i for i, c in enumerate(classes)}
    onehot = np.zeros_like(proba)
    for row, label in enumerate(y_true):
        if label in index:
            onehot[row, index[label]] = 1.0
    brier = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    top = proba.max(axis=1)
    correct = np.array([classes[i] == t for i, t in zip(proba.argmax(axis=1), y_true)])
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (top > low) & (top <= high)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - top[inside].mean())
    return {"brier": brier, "ece": float(ece)}


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str | None]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix, majority baseline."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    y_true = [str(y) for y in y_true]
    y_pred = ["(none)" if y is None else str(y) for y in y_pred]
    labels = sorted(set(y_true) | set(y_pred))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    values, counts = np.unique(y_true, return_counts=True)
    majority = str(values[counts.argmax()])
    true_labels = sorted(set(y_true))
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=true_labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=true_labels, average="weighted", zero_division=0)),
        "majority_baseline": {"label": majority, "accuracy": float(counts.max() / len(y_true))},
        "per_class": {
            lab: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for lab, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion": {"labels": labels, "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()},
    }


def is_multilabel(metrics: dict[str, Any]) -> bool:
    """Whether one target's metrics are those of a multi-label target."""
    return metrics.get("kind") == "multi-label"


def multilabel_metrics(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Metrics of predicted label sets against true label sets (one set per row).

    Micro-F1 pools every (row, label) decision; macro-F1 averages the F1 of the
    labels that occur in ``y_true`` (as for single-label targets); samples-F1
    averages each row's F1; subset accuracy counts rows whose set is exactly
    right; Hamming loss is the share of wrong (row, label) decisions over every
    label seen in truth or prediction. The baseline predicts the most frequent
    true label for every row.
    """
    from sklearn.metrics import f1_score, hamming_loss, precision_recall_fscore_support

    y_true = [tuple(str(v) for v in row) for row in y_true]
    y_pred = [() if row is None else tuple(str(v) for v in row) for row in y_pred]
    if len(y_true) != len(y_pred) or not y_true:
        raise ValueError(f"need as many predicted as true label sets (and at least one), got {len(y_pred)} and "
                         f"{len(y_true)}")
    counts: dict[str, int] = {}
    for row in y_true:
        for label in set(row):
            counts[label] = counts.get(label, 0) + 1
    labels = sorted(set(counts) | {v for row in y_pred for v in row})
    true_labels = sorted(counts)
    truth, pred = _indicator(y_true, labels), _indicator(y_pred, labels)

    def scores(pred: np.ndarray) -> dict[str, float]:
        true_columns = [labels.index(lab) for lab in true_labels]
        return {
            "micro_f1": float(f1_score(truth, pred, average="micro", zero_division=0)),
            "macro_f1": float(f1_score(truth[:, true_columns], pred[:, true_columns], average="macro",
                                       zero_division=0)),
            "samples_f1": float(f1_score(truth, pred, average="samples", zero_division=0)),
            "subset_accuracy": float(np.mean((truth == pred).all(axis=1))),
            "hamming_loss": float(hamming_loss(truth, pred)),
        }

    precision, recall, f1, support = precision_recall_fscore_support(truth, pred, average=None, zero_division=0)
    majority = max(true_labels, key=lambda lab: (counts[lab], -true_labels.index(lab)))
    baseline = np.zeros_like(pred)
    baseline[:, labels.index(majority)] = 1
    return {
        "kind": "multi-label",
        "n": len(y_true),
        **scores(pred),
        "mean_true_labels": float(truth.sum(axis=1).mean()),
        "mean_predicted_labels": float(pred.sum(axis=1).mean()),
        "majority_baseline": {"label": majority, **scores(baseline)},
        "per_label": {
            lab: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
            for lab, p, r, f, n in zip(labels, precision, recall, f1, support)
        },
    }


def _indicator(rows: Sequence[Sequence[str]], labels: list[str]) -> np.ndarray:
    index = {lab: j for j, lab in enumerate(labels)}
    out = np.zeros((len(rows), len(labels)), dtype=int)
    for i, row in enumerate(rows):
        for lab in row:
            out[i, index[lab]] = 1
    return out


def multilabel_calibration(proba: np.ndarray, classes: Sequence[str], y_true: Sequence[Sequence[str]],
                           bins: int = 10) -> dict:
    """Brier score (per label, averaged) and ECE of per-label probabilities, over every (row, label) pair.

    Only the model's labels count (a true label it cannot predict has no probability).
    """
    truth = _indicator([[lab for lab in row if lab in set(classes)] for row in y_true], list(classes))
    brier = float(np.mean((proba - truth) ** 2))
    p, y = proba.ravel(), truth.ravel()
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (p > low) & (p <= high) if low > 0 else (p >= low) & (p <= high)
        if inside.any():
            ece += inside.mean() * abs(y[inside].mean() - p[inside].mean())
    return {"brier": brier, "ece": float(ece)}


def label_set_confidence_shares(levels: Sequence[str], hits: Sequence[int],
                                sizes: Sequence[int]) -> dict[str, dict[str, float]]:
    """Share of predictions per confidence level and the precision of their labels within each level.

    ``hits`` counts the right labels of each predicted set, ``sizes`` its labels.
    """
    levels = np.asarray(levels)
    hits, sizes = np.asarray(hits, dtype=float), np.asarray(sizes, dtype=float)
    out = {}
    for level in ("high", "medium", "low"):
        inside = levels == level
        out[level] = {
            "share": float(inside.mean()) if len(levels) else 0.0,
            "precision": float(hits[inside].sum() / sizes[inside].sum()) if sizes[inside].sum() else None,
        }
    return out


def confidence_shares(levels: Sequence[str], correct: Sequence[bool]) -> dict[str, dict[str, float]]:
    """Share of predictions per confidence level and the accuracy measured within each level."""
    levels = np.asarray(levels)
    correct = np.asarray(correct, dtype=bool)
    out = {}
    for level in ("high", "medium", "low"):
        inside = levels == level
        out[level] = {
            "share": float(inside.mean()) if len(levels) else 0.0,
            "accuracy": float(correct[inside].mean()) if inside.any() else None,
        }
    return out


def _classes_by_support(m: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A target's (label, figures) pairs: per class in label order, or per label (multi-label) most frequent first."""
    if "per_label" in m:
        return sorted(m["per_label"].items(), key=lambda item: (-item[1]["support"], item[0]))
    return list(m["per_class"].items())


def format_per_class(metrics: dict[str, Any], *, limit: int | None = None, more: str = "") -> str:
    """Per-class (multi-label: per-label) precision, recall, F1 and support of every target, for the terminal.

    ``limit`` caps the lines per target (the most frequent labels first for a
    multi-label target); ``more`` says where the rest can be read.

    >>> m = {"product": {"per_class": {"card": {"precision": 0.9, "recall": 0.8, "f1": 0.847, "support": 10}}}}
    >>> print(format_per_class(m))
    product: per class (precision / recall / F1 / support)
      card         0.900  0.800  0.847  10
    """
    blocks = []
    for target, m in metrics.items():
        kind = "per label, most frequent first" if "per_label" in m else "per class"
        rows = _classes_by_support(m)
        lines = [f"{target}: {kind} (precision / recall / F1 / support)"]
        for lab, c in rows[:limit]:
            lines.append(f"  {lab:<12} {c['precision']:.3f}  {c['recall']:.3f}  {c['f1']:.3f}  {c['support']}")
        if limit is not None and len(rows) > limit:
            lines.append(f"  … {len(rows) - limit} more{' ' + more if more else ''}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def per_class_markdown(m: dict[str, Any], limit: int | None = None) -> list[str]:
    """A markdown table of one target's per-class (multi-label: per-label) precision, recall, F1 and support.

    ``limit`` keeps that many rows (a multi-label target's most frequent labels) and says how many were left out.
    """
    rows = _classes_by_support(m)
    out = ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for lab, c in rows[:limit]:
        out.append(f"| {lab} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    if limit is not None and len(rows) > limit:
        out += ["", f"({len(rows) - limit} more labels, each rarer; `triage evaluate` lists them all.)"]
    return out


def format_metrics(metrics: dict[str, Any], *, split: str) -> str:
    """A short plain-text summary of ``{target: metrics}`` for the terminal."""
    lines = [f"Metrics on {split}:"]
    for target, m in metrics.items():
        if is_multilabel(m):
            lines += _format_multilabel(target, m)
            continue
        base = m["majority_baseline"]
        line = (
            f"  {target:<14} accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  "
            f"(majority baseline {base['accuracy']:.3f}, n={m['n']})"
        )
        if "calibration" in m:
            line += f"  Brier {m['calibration']['brier']:.3f}  ECE {m['calibration']['ece']:.3f}"
        lines.append(line)
        small = [lab for lab, c in m["per_class"].items() if 0 < c["support"] < 5]
        if small:
            lines.append(f"    classes with under 5 evaluation rows (figures unreliable): {', '.join(small)}")
    return "\n".join(lines)


def _format_multilabel(target: str, m: dict[str, Any]) -> list[str]:
    base = m["majority_baseline"]
    line = (
        f"  {target:<14} micro-F1 {m['micro_f1']:.3f}  macro-F1 {m['macro_f1']:.3f}  samples-F1 {m['samples_f1']:.3f}  "
        f"exact match {m['subset_accuracy']:.3f}  Hamming loss {m['hamming_loss']:.4f}  (multi-label, n={m['n']})"
    )
    if "calibration" in m:
        line += f"  Brier {m['calibration']['brier']:.4f}  ECE {m['calibration']['ece']:.4f}"
    lines = [line, f"    baseline (always {base['label']}): micro-F1 {base['micro_f1']:.3f}  macro-F1 {base['macro_f1']:.3f}  "
                   f"samples-F1 {base['samples_f1']:.3f}  exact match {base['subset_accuracy']:.3f}"]
    small = [lab for lab, c in m["per_label"].items() if 0 < c["support"] < 5]
    if small:
        lines.append(f"    {len(small)} label(s) with under 5 evaluation rows (figures unreliable): "
                     + ", ".join(small[:20]) + (" …" if len(small) > 20 else ""))
    return lines


def _markdown_multilabel(target: str, m: dict[str, Any], image: str | None) -> list[str]:
    base = m["majority_baseline"]
    out = ["", f"## {target} (multi-label)", "",
           "| | micro-F1 | macro-F1 | samples-F1 | exact match | Hamming loss |", "|---|---|---|---|---|---|"]
    for name, row in (("model", m), (f"baseline: always {base['label']}", base)):
        out.append(f"| {name} | {row['micro_f1']:.3f} | {row['macro_f1']:.3f} | {row['samples_f1']:.3f} | "
                   f"{row['subset_accuracy']:.3f} | {row['hamming_loss']:.4f} |")
    out += ["", f"Labels per row: {m['mean_true_labels']:.2f} true, {m['mean_predicted_labels']:.2f} predicted. "
            "No confusion matrix: a row may hold several labels; the per-label figures below take its place.", ""]
    if image:
        out += [f"![per-label F1 for {target}]({image})", ""]
    out += per_class_markdown(m)
    if "confidence" in m:
        out += ["", "| confidence | share | precision of its labels |", "|---|---|---|"]
        for level, c in m["confidence"].items():
            value = "–" if c["precision"] is None else f"{c['precision']:.3f}"
            out.append(f"| {level} | {c['share']:.3f} | {value} |")
    return out


def _markdown(metrics: dict[str, Any], title: str, split: str, images: dict[str, str]) -> str:
    out = [f"# {mask_personal_data(title)}", "", f"Split: {split}", ""]
    single = {target: m for target, m in metrics.items() if not is_multilabel(m)}
    if len(single) < len(metrics):
        out += ["Multi-label targets: " + ", ".join(t for t in metrics if t not in single) + " (see their sections).",
                ""]
    if not single:
        out = out[:-1]
    else:
        out.append("| target | n | accuracy | macro-F1 | majority baseline | Brier | ECE |")
        out.append("|---|---|---|---|---|---|---|")
    for target, m in single.items():
        cal = m.get("calibration", {})
        out.append(
            f"| {target} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
            f"{m['majority_baseline']['accuracy']:.3f} ({m['majority_baseline']['label']}) | "
            f"{cal.get('brier', float('nan')):.3f} | {cal.get('ece', float('nan')):.3f} |"
        )
    for target, m in metrics.items():
        if is_multilabel(m):
            out += _markdown_multilabel(target, m, images.get(target))
            continue
        out += ["", f"## {target}", "", *per_class_markdown(m)]
        labels, matrix = m["confusion"]["labels"], m["confusion"]["matrix"]
        out += ["", "Confusion matrix (rows: true label, columns: predicted):", ""]
        out.append("| true \\ pred | " + " | ".join(labels) + " |")
        out.append("|---" * (len(labels) + 1) + "|")
        for lab, row in zip(labels, matrix):
            out.append(f"| {lab} | " + " | ".join(str(v) for v in row) + " |")
        if target in images:
            out += ["", f"![confusion matrix for {target}]({images[target]})"]
            if not all(lab.isascii() for lab in labels):
                key = ", ".join(f"{i} = {lab}" for i, lab in enumerate(labels))
                out += ["", f"Picture labels by index (when no CJK font is installed): {key}"]
        if "confidence" in m:
            out += ["", "| confidence | share | accuracy |", "|---|---|---|"]
            for level, c in m["confidence"].items():
                acc = "–" if c["accuracy"] is None else f"{c['accuracy']:.3f}"
                out.append(f"| {level} | {c['share']:.3f} | {acc} |")
    return "\n".join(out) + "\n"


def _cjk_font() -> bool:
    """Whether matplotlib has a font that can draw Chinese labels (it is then made the default)."""
    import matplotlib
    from matplotlib import font_manager

    wanted = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
              "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC"]
    available = {f.name for f in font_manager.fontManager.ttflist}
    for name in wanted:
        if name in available:
            matplotlib.rcParams["font.sans-serif"] = [name, *matplotlib.rcParams["font.sans-serif"]]
            return True
    return False


def _plot_confusion(m: dict[str, Any], target: str, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels, matrix = m["confusion"]["labels"], np.array(m["confusion"]["matrix"], dtype=float)
    ticks = labels if all(label.isascii() for label in labels) or _cjk_font() else [str(i) for i in range(len(labels))]
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = max(4.0, 0.55 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), ticks, rotation=90)
    ax.set_yticks(range(len(labels)), ticks)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center",
                        color="white" if share[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    title = f"{target}\naccuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} (colour: share of the true row)"
    if ticks is not labels:
        title += "\nlabels by index (no CJK font installed): " + ", ".join(f"{i}" for i in range(len(labels)))
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _plot_label_f1(m: dict[str, Any], target: str, path: Path, most: int = 30) -> bool:
    """Bars of F1 per label for a multi-label target's ``most`` most frequent labels."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = sorted(m["per_label"].items(), key=lambda item: (-item[1]["support"], item[0]))
    rows = [(lab, c) for lab, c in rows if c["support"] > 0][:most][::-1]
    labels = [lab for lab, _ in rows]
    ticks = labels if all(lab.isascii() for lab in labels) or _cjk_font() else [str(i) for i in range(len(labels))]
    fig, ax = plt.subplots(figsize=(6, max(3.0, 0.28 * len(rows) + 1.5)))
    ax.barh(range(len(rows)), [c["f1"] for _, c in rows], color="tab:blue")
    ax.set_yticks(range(len(rows)), [f"{t} (n={c['support']})" for t, (_, c) in zip(ticks, rows)], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1")
    ax.set_title(f"{target}: F1 of the {len(rows)} most frequent labels\nmicro-F1 {m['micro_f1']:.3f}, "
                 f"macro-F1 {m['macro_f1']:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(metrics: dict[str, Any], directory: str | os.PathLike, *, title: str, split: str) -> list[Path]:
    """Write ``metrics.json``, ``report.md`` and (with matplotlib) pictures; return the paths.

    The pictures are ``confusion_<target>.png`` for single-label targets and
    ``labels_<target>.png`` (F1 per label) for multi-label ones.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    images = {}
    for target, m in metrics.items():
        multi = is_multilabel(m)
        name = f"labels_{target}.png" if multi else f"confusion_{target}.png"
        if (_plot_label_f1 if multi else _plot_confusion)(m, target, directory / name):
            images[target] = name
            written.append(directory / name)
    if not images:
        logger.info("matplotlib is not installed: the report has no confusion-matrix pictures (pip install triage[plot]).")
    (directory / "metrics.json").write_text(
        json.dumps({"split": split, "metrics": metrics}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (directory / "report.md").write_text(_markdown(metrics, title, split, images), encoding="utf-8")
    return [directory / "metrics.json", directory / "report.md", *written]
