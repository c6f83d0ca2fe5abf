"""Does jieba's HMM (new-word discovery) help or hurt triage's accuracy?

Usage: python bench/bench_hmm.py [DATASET ...]
For every single-label dataset with a training split (the loaders and exact splits of bench/shared_data.py, the same
as bench/bench_side_by_side.py), trains triage twice with the settings a user gets by default
(triage.train, TrainConfig(test_size=0)): once with the segmenter's HMM off (the default) and once with it on, nothing
else changed. The built-in search for C and word weight runs on the training split only, separately for each setting.
Reports test accuracy, macro-F1, their difference (HMM on minus off), a paired McNemar test on the test rows, training
seconds, the segmentation backend used and the chosen search setting; prints a markdown table and writes
bench/results/hmm.json. Requires ../shared/data.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import shared_data  # noqa: E402

import triage  # noqa: E402
from triage.report import classification_metrics  # noqa: E402
from triage.segment import quiet_jieba  # noqa: E402

OUT_PATH = Path(__file__).parent / "results" / "hmm.json"


def _config(hmm: bool) -> triage.TrainConfig:
    cfg = triage.TrainConfig(test_size=0)
    return dataclasses.replace(cfg, segmenter=dataclasses.replace(cfg.segmenter, hmm=hmm))


def run_triage(hmm, train_x, train_y, test_x, test_y):
    """Train with the segmenter's HMM on or off; score on the test split. Returns (figures, predictions)."""
    records = [{"text": t, "label": y} for t, y in zip(train_x, train_y)]
    start = time.perf_counter()
    result = triage.train(records, config=_config(hmm))
    train_s = time.perf_counter() - start
    pred = [p["label"].label for p in result.model.predict(test_x)]
    m = classification_metrics(test_y, pred)
    backend = getattr(result.model.segmenter_, "backend_", None) or "jieba"  # older triage: always jieba
    return {"accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
            "train_seconds": round(train_s, 1), "segmentation_backend": backend,
            "search_chosen": (result.search or {}).get("chosen")}, pred


def mcnemar(test_y, pred_off, pred_on):
    """Paired test on the test rows: rows only one setting gets right, and the exact two-sided McNemar p-value."""
    from scipy.stats import binomtest

    only_off = sum(o == y != n for y, o, n in zip(test_y, pred_off, pred_on))
    only_on = sum(n == y != o for y, o, n in zip(test_y, pred_off, pred_on))
    p = binomtest(only_on, only_off + only_on).pvalue if only_off + only_on else 1.0
    return {"only_off_right": only_off, "only_on_right": only_on, "p_value": round(p, 4)}


def compare(name):
    """Both settings on one dataset, with the difference HMM on minus HMM off."""
    train_x, train_y, test_x, test_y = shared_data.LOADERS[name]()
    off, pred_off = run_triage(False, train_x, train_y, test_x, test_y)
    on, pred_on = run_triage(True, train_x, train_y, test_x, test_y)
    diff = {k: round(on[k] - off[k], 4) for k in ("accuracy", "macro_f1")}
    return {"train_rows": len(train_x), "test_rows": len(test_x), "hmm_off": off, "hmm_on": on, "difference": diff,
            "mcnemar": mcnemar(test_y, pred_off, pred_on)}


def markdown(results):
    lines = ["| dataset | train rows | acc off | acc on | Δ acc | mF1 off | mF1 on | Δ mF1 | only off / only on right "
             "(McNemar p) | train s off | train s on |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        off, on, d, mc = r["hmm_off"], r["hmm_on"], r["difference"], r["mcnemar"]
        lines.append(f"| {name} | {r['train_rows']} | {off['accuracy']:.4f} | {on['accuracy']:.4f} | "
                     f"{d['accuracy']:+.4f} | {off['macro_f1']:.4f} | {on['macro_f1']:.4f} | {d['macro_f1']:+.4f} | "
                     f"{mc['only_off_right']} / {mc['only_on_right']} ({mc['p_value']:.3f}) | "
                     f"{off['train_seconds']:.1f} | {on['train_seconds']:.1f} |")
    return "\n".join(lines)


def _commit() -> str:
    git = ["git", "-C", str(Path(__file__).parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "../triage"], capture_output=True, text=True).stdout
    return head + ("+dirty triage/" if dirty.strip() else "")


def main(names):
    if not shared_data.available():
        print("../shared/data is absent: nothing to benchmark.")
        return
    quiet_jieba()
    meta = {"command": " ".join(["python", "bench/bench_hmm.py", *names]), "date": datetime.date.today().isoformat(),
            "triage": triage.__version__, "commit": _commit(), "cores": os.cpu_count()}
    results = {}
    for name in names or list(shared_data.LOADERS):
        results[name] = compare(name)
        off, on = results[name]["hmm_off"], results[name]["hmm_on"]
        print(f"{name:<28} acc off {off['accuracy']:.4f} on {on['accuracy']:.4f}  "
              f"mF1 off {off['macro_f1']:.4f} on {on['macro_f1']:.4f}  "
              f"train off {off['train_seconds']:.1f}s on {on['train_seconds']:.1f}s", flush=True)
        OUT_PATH.write_text(json.dumps({**meta, "results": results}, ensure_ascii=False, indent=2) + "\n",
                            encoding="utf-8")
    print(markdown(results))


if __name__ == "__main__":
    main(sys.argv[1:])
