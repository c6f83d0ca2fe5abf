"""Loaders for the public datasets in ../shared/data, with exactly the splits its README prescribes.

Used by benchmarks and evaluation only; nothing here is ever copied into the repository.
Each loader returns ``(train_texts, train_labels, test_texts, test_labels)``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Reference accuracies from ../shared/data/README.md (same machine, same splits).
REFERENCE = {
    "thucnews_titles": {"words": 0.829, "chars": 0.876, "words+chars": 0.879, "fasttext": 0.807},
    "clue_tnews": {"words": 0.439, "chars": 0.483, "words+chars": 0.487, "fasttext": 0.395},
    "waimai_10k": {"words": 0.907, "chars": 0.908, "words+chars": 0.907, "fasttext": 0.890},
    "online_shopping_10_cats": {"words": 0.889, "chars": 0.892, "words+chars": 0.897, "fasttext": 0.871},
    "tipdm2020_citizen_messages": {"words": 0.834, "chars": 0.880, "words+chars": 0.880, "fasttext": 0.788},
    "heimao_fin_complaints": {"words": 0.694, "chars": 0.706, "words+chars": 0.700, "fasttext": 0.698},
}


def available() -> bool:
    return SHARED.is_dir()


def _split(texts, labels):
    from sklearn.model_selection import train_test_split

    a, b, c, d = train_test_split(texts, labels, test_size=0.2, random_state=0, stratify=labels)
    return list(a), list(c), list(b), list(d)


def thucnews_titles():
    def read(name):
        rows = [line.rstrip("\n").rsplit("\t", 1) for line in open(SHARED / "thucnews_titles" / name, encoding="utf-8")]
        return [r[0] for r in rows if len(r) == 2], [r[1] for r in rows if len(r) == 2]

    return (*read("dev.txt"), *read("test.txt"))


def clue_tnews():
    def read(name):
        rows = [json.loads(line) for line in open(SHARED / "clue_tnews" / name, encoding="utf-8")]
        return [r["sentence"] for r in rows], [r["label_desc"] for r in rows]

    return (*read("dev.json"), *read("test.json"))


def waimai_10k():
    with open(SHARED / "waimai_10k" / "waimai_10k.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return _split([r["review"] for r in rows], [r["label"] for r in rows])


def online_shopping_10_cats():
    with open(SHARED / "online_shopping_10_cats" / "online_shopping_10_cats.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] == "0" and r["review"]]
    return _split([r["review"].lstrip("\ufeff") for r in rows], [r["cat"] for r in rows])


def tipdm2020_citizen_messages():
    def read(name):
        texts, labels = [], []
        for line in open(SHARED / "tipdm2020_citizen_messages" / name, encoding="utf-8-sig"):
            parts = line.rstrip("\n").split("\t", 1)
            if len(parts) == 2:
                labels.append(parts[0])
                texts.append(parts[1])
        return texts, labels

    return (*read("val.txt"), *read("test.txt"))


def heimao_fin_complaints():
    def read(name):
        with open(SHARED / "heimao_fin_complaints" / name, encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [r["text"] for r in rows], [r["stage"] for r in rows]

    return (*read("train.csv"), *read("test.csv"))


def fin_complaints_annotated() -> list[dict]:
    """The real annotated complaints (``complaint == true`` rows), evaluation only."""
    rows = [json.loads(line) for line in open(SHARED / "fin_complaints_annotated" / "dev.jsonl", encoding="utf-8")]
    return [r for r in rows if r["complaint"]]


def car_12365auto_complaints() -> tuple[list[str], list[str]]:
    """Complaint titles (``desc``) and their problem-code cells (``problem``, e.g. ``"H93,H15,"``): 600 rows, GBK.

    Multi-label, no fixed split: the README prescribes 5-fold cross-validation
    (``KFold(5, shuffle=True, random_state=0)``), see :data:`MULTI_LABEL`.
    """
    with open(SHARED / "car_12365auto_complaints" / "car_complain.csv", encoding="gbk") as f:
        rows = list(csv.DictReader(f))
    return [r["desc"] for r in rows], [r["problem"] for r in rows]


LOADERS = {
    "thucnews_titles": thucnews_titles,
    "clue_tnews": clue_tnews,
    "waimai_10k": waimai_10k,
    "online_shopping_10_cats": online_shopping_10_cats,
    "tipdm2020_citizen_messages": tipdm2020_citizen_messages,
    "heimao_fin_complaints": heimao_fin_complaints,
}

# Multi-label datasets: loader, separator of the label cells, folds of the prescribed cross-validation.
MULTI_LABEL = {
    "car_12365auto_complaints": (car_12365auto_complaints, ",", 5),
}
