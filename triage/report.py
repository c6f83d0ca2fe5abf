"""Evaluation metrics and report files.

>>> m = classification_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
>>> m["accuracy"], round(m["macro_f1"], 3), m["majority_baseline"]["accuracy"]
(0.75, 0.733, 0.5)
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .normalize import mask_personal_data

__all__ = ["classification_metrics", "calibration_metrics", "write_report", "format_metrics", "confidence_shares"]

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


def format_metrics(metrics: dict[str, Any], *, split: str) -> str:
    """A short plain-text summary of ``{target: metrics}`` for the terminal."""
    lines = [f"Metrics on {split}:"]
    for target, m in metrics.items():
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


def _markdown(metrics: dict[str, Any], title: str, split: str, images: dict[str, str]) -> str:
    out = [f"# {mask_personal_data(title)}", "", f"Split: {split}", ""]
    out.append("| target | n | accuracy | macro-F1 | majority baseline | Brier | ECE |")
    out.append("|---|---|---|---|---|---|---|")
    for target, m in metrics.items():
        cal = m.get("calibration", {})
        out.append(
            f"| {target} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
            f"{m['majority_baseline']['accuracy']:.3f} ({m['majority_baseline']['label']}) | "
            f"{cal.get('brier', float('nan')):.3f} | {cal.get('ece', float('nan')):.3f} |"
        )
    for target, m in metrics.items():
        out += ["", f"## {target}", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for lab, c in m["per_class"].items():
            out.append(f"| {lab} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
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


def write_report(metrics: dict[str, Any], directory: str | os.PathLike, *, title: str, split: str) -> list[Path]:
    """Write ``metrics.json``, ``report.md`` and (with matplotlib) ``confusion_<target>.png``; return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    images = {}
    for target, m in metrics.items():
        name = f"confusion_{target}.png"
        if _plot_confusion(m, target, directory / name):
            images[target] = name
            written.append(directory / name)
    if not images:
        logger.info("matplotlib is not installed: the report has no confusion-matrix pictures (pip install triage[plot]).")
    (directory / "metrics.json").write_text(
        json.dumps({"split": split, "metrics": metrics}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (directory / "report.md").write_text(_markdown(metrics, title, split, images), encoding="utf-8")
    return [directory / "metrics.json", directory / "report.md", *written]
