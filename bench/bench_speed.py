"""Speed of the default model on real complaint text, as ratios to jieba in the same run.

Usage: python bench/bench_speed.py [--model DIR] [--rows N] [--rounds R]
Measures, on real financial complaints from ../shared/data/heimao_fin_complaints (repeated to reach N rows), in R
interleaved rounds (default 3; each figure is the best of its rounds, since interference from other work on the
machine only ever slows a run down; the per-round figures are recorded too):
  * jieba 0.42.1's own segmentation speed (default mode with HMM, and HMM off), characters per second, one core;
  * triage batch labelling in process (model.predict, 2,000-row chunks), characters per second;
  * triage label on a CSV file end to end (read, predict, write) with 1 and 2 worker processes, deduplication off
    (--cache-size 0) so that every row is classified: characters per second, per core, and the 2-vs-1 scaling;
  * single-complaint latency (warm, in process) for 150-character complaints, median and 99th percentile of every
    round's 1,000 complaints together, measured two ways: back to back (one complaint after another, as an intake
    process labels a stream of them) and each right after jieba segments the same complaint (jieba's own time on
    it, default mode with HMM, is the same-run reference that tells a slow spell of the machine from a slow triage;
    its work in between also leaves triage's tables colder in the caches, so this is the harsher figure), with the
    median of triage's time over jieba's, complaint by complaint;
  * the model's labelling (label_columns, what a job's worker runs) on the first 20,000 texts in batches of 500,
    1,000 and 2,000 texts, characters per second (how triage.model._MODEL_BATCH was chosen);
  * cold start of `triage predict TEXT` (a new process: import, load the model, label, print), median of 5.
Writes bench/results/speed.json.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import shared_data  # noqa: E402

import triage  # noqa: E402
from triage.segment import quiet_jieba  # noqa: E402

BATCH_SIZES = (500, 1000, 2000)  # texts per model batch, timed against each other in every round


def jieba_tokenizer():
    """A fresh jieba tokenizer with its default dictionary, loaded."""
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def jieba_speed(texts: list[str], hmm: bool) -> float:
    tokenizer = jieba_tokenizer()
    start = time.perf_counter()
    for t in texts:
        tokenizer.lcut(t, HMM=hmm)
    return sum(map(len, texts)) / (time.perf_counter() - start)


def percentile99(sorted_values: list[float]) -> float:
    return round(sorted_values[int(0.99 * (len(sorted_values) - 1))], 3)


def cold_start_seconds(model_dir: str | None, runs: int = 5) -> dict[str, float]:
    """Wall time of `triage predict TEXT` in a fresh process (median and best of ``runs``)."""
    command = [sys.executable, "-m", "triage", "predict", "信用卡年费没通知就扣了，要求退还"]
    if model_dir:
        command += ["--model", model_dir]
    subprocess.run(command, check=True, capture_output=True)  # caches warm (jieba's, the OS's), as a user has
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return {"median": round(statistics.median(times), 3), "best": round(min(times), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each figure is the best")
    args = parser.parse_args()
    if not shared_data.available():
        print("../shared/data is absent: nothing to benchmark.")
        return
    quiet_jieba()
    base = [t for t in shared_data.heimao_fin_complaints()[0] if t.strip()]
    texts = (base * (args.rows // len(base) + 1))[: args.rows]
    chars = sum(map(len, texts))
    model = triage.load_model(args.model)
    model.warm_up()  # as a long-running intake process does: dictionaries (jieba's fallback too) and tables built
    model.predict(texts[:50])

    folder = Path(tempfile.mkdtemp())
    src = folder / "in.csv"
    with open(src, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        w.writerows([i, t] for i, t in enumerate(texts))

    def predict_speed() -> float:
        start = time.perf_counter()
        for i in range(0, len(texts), 2000):
            model.predict(texts[i:i + 2000])
        return chars / (time.perf_counter() - start)

    def label_speed(jobs: int) -> float:
        start = time.perf_counter()
        triage.label_file(model, src, folder / f"out{jobs}.csv", jobs=jobs, cache_size=0, overwrite=True)
        return chars / (time.perf_counter() - start)

    # Every measure once per round, interleaved, so that a slow spell of this shared machine slows all of them
    # alike; each figure is the best of its rounds (interference only ever slows a run down).
    def batch_speed(size: int) -> float:
        """label_columns (what a labelling job's worker runs) on the first 20,000 texts, ``size`` at a time: how
        the model's batch size (triage.model._MODEL_BATCH, set to ``size`` for this measure) was chosen."""
        sample = texts[:20_000]
        shipped, triage.model._MODEL_BATCH = triage.model._MODEL_BATCH, size
        try:
            start = time.perf_counter()
            for i in range(0, len(sample), size):
                model.label_columns(sample[i:i + size])
            return sum(map(len, sample)) / (time.perf_counter() - start)
        finally:
            triage.model._MODEL_BATCH = shipped

    measures = {"jieba_hmm": lambda: jieba_speed(texts, hmm=True),
                "jieba_no_hmm": lambda: jieba_speed(texts, hmm=False),
                "predict": predict_speed, "label_1": lambda: label_speed(1), "label_2": lambda: label_speed(2),
                **{f"model_batch_{size}": functools.partial(batch_speed, size) for size in BATCH_SIZES}}
    rounds = {name: [] for name in measures}
    singles = [t[:150] for t in base if len(t) >= 150][:1000]
    reference = jieba_tokenizer()
    back_to_back, latencies, jieba_latencies, latency_ratios = [], [], [], []
    for r in range(args.rounds):
        for name, measure in measures.items():
            rounds[name].append(measure())
        for t in singles:
            s = time.perf_counter()
            model.predict_one(t)
            back_to_back.append((time.perf_counter() - s) * 1000)
        for t in singles:
            s = time.perf_counter()
            model.predict_one(t)
            m = time.perf_counter()
            reference.lcut(t, HMM=True)
            e = time.perf_counter()
            latencies.append((m - s) * 1000)
            jieba_latencies.append((e - m) * 1000)
            latency_ratios.append((m - s) / (e - m))
        print(f"round {r + 1}: " + ", ".join(f"{name} {values[-1]:,.0f} chars/s" for name, values in rounds.items()),
              flush=True)
    best = {name: max(values) for name, values in rounds.items()}
    jieba_hmm, jieba_no_hmm, predict_cps = best["jieba_hmm"], best["jieba_no_hmm"], best["predict"]
    label_cps = {1: best["label_1"], 2: best["label_2"]}
    back_to_back.sort()
    latencies.sort()
    jieba_latencies.sort()
    cold = cold_start_seconds(args.model)
    result = {
        "command": "python bench/bench_speed.py " + " ".join(sys.argv[1:]),
        "rows": len(texts),
        "rounds": args.rounds,
        "per_round_chars_per_s": {name: [round(v) for v in values] for name, values in rounds.items()},
        "per_round_label_1_process_ratio_to_jieba_default": [
            round(a / b, 3) for a, b in zip(rounds["label_1"], rounds["jieba_hmm"])],
        "characters": chars,
        "cores": os.cpu_count(),
        "segmentation_backend": model.segmenter_.backend_,
        "jieba_default_hmm_chars_per_s": round(jieba_hmm),
        "jieba_no_hmm_chars_per_s": round(jieba_no_hmm),
        "triage_predict_chars_per_s": round(predict_cps),
        "ratio_predict_to_jieba_default": round(predict_cps / jieba_hmm, 3),
        "ratio_predict_to_jieba_no_hmm": round(predict_cps / jieba_no_hmm, 3),
        "label_file_1_process_chars_per_s": round(label_cps[1]),
        "label_file_2_processes_chars_per_s": round(label_cps[2]),
        "label_file_per_core_ratio_to_jieba_default": round(label_cps[1] / jieba_hmm, 3),
        "label_file_per_core_ratio_to_jieba_no_hmm": round(label_cps[1] / jieba_no_hmm, 3),
        "label_file_2_vs_1_process_scaling": round(label_cps[2] / label_cps[1], 3),
        "model_batch_chars_per_s": {size: round(best[f"model_batch_{size}"]) for size in BATCH_SIZES},
        "cold_start_triage_predict_s": cold,
        "single_150_char_latency_ms": {
            "n": len(latencies),
            "back_to_back": {"median": round(statistics.median(back_to_back), 3), "p99": percentile99(back_to_back)},
            "each_after_a_jieba_cut": {"median": round(statistics.median(latencies), 3), "p99": percentile99(latencies)},
            "jieba_default_median": round(statistics.median(jieba_latencies), 3),
            "median_ratio_to_jieba_default": round(statistics.median(latency_ratios), 3),
        },
    }
    for key, value in result.items():
        print(f"{key}: {value}")
    out = Path(__file__).parent / "results" / "speed.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
