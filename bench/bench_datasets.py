"""Train triage with default settings on the shared public datasets and compare with the reference table.

Usage: python bench/bench_datasets.py [DATASET ...]   (default: all single-label datasets)
Prints a table and writes bench/results/datasets.json. Splits: exactly those of ../shared/data/README.md.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import shared_data  # noqa: E402

import triage  # noqa: E402
from triage.report import classification_metrics  # noqa: E402
from triage.segment import quiet_jieba  # noqa: E402


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(name: str) -> dict:
    train_x, train_y, test_x, test_y = shared_data.LOADERS[name]()
    records = [{"text": t, "label": y} for t, y in zip(train_x, train_y)]
    start = time.perf_counter()
    result = triage.train(records, config=triage.TrainConfig(test_size=0))
    train_seconds = time.perf_counter() - start
    folder = Path(tempfile.mkdtemp())
    triage.save_model(result.model, folder / "m")
    size = dir_size(folder / "m")
    shutil.rmtree(folder)
    start = time.perf_counter()
    predictions = result.model.predict(test_x)
    predict_seconds = time.perf_counter() - start
    m = classification_metrics(test_y, [p.targets["label"].label for p in predictions])
    return {
        "dataset": name,
        "train_rows": len(train_x),
        "test_rows": len(test_x),
        "accuracy": round(m["accuracy"], 4),
        "macro_f1": round(m["macro_f1"], 4),
        "train_seconds": round(train_seconds, 1),
        "predict_rows_per_second": round(len(test_x) / predict_seconds),
        "model_mb": round(size / 1e6, 1),
        "reference": shared_data.REFERENCE.get(name),
    }


def main(names: list[str]) -> None:
    if not shared_data.available():
        print("../shared/data is absent: nothing to benchmark.")
        return
    logging.basicConfig(level=logging.WARNING)
    quiet_jieba()
    names = names or list(shared_data.LOADERS)
    results = []
    print(f"{'dataset':<28} {'acc':>6} {'mF1':>6} {'ref w+c':>7} {'ref best':>8} {'fastText':>8} {'train s':>8} {'rows/s':>7} {'MB':>5}")
    for name in names:
        r = run(name)
        ref = r["reference"] or {}
        print(f"{name:<28} {r['accuracy']:>6.3f} {r['macro_f1']:>6.3f} {ref.get('words+chars', 0):>7.3f} "
              f"{max((v for k, v in ref.items() if k != 'fasttext'), default=0):>8.3f} {ref.get('fasttext', 0):>8.3f} "
              f"{r['train_seconds']:>8.1f} {r['predict_rows_per_second']:>7} {r['model_mb']:>5}", flush=True)
        results.append(r)
    out = Path(__file__).parent / "results" / "datasets.json"
    out.write_text(json.dumps({"command": "python bench/bench_datasets.py " + " ".join(sys.argv[1:]),
                               "triage": triage.__version__, "cores": os.cpu_count(), "results": results},
                              ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
