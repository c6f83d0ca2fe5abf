"""Speed of the default model on real complaint text, as ratios to jieba in the same run.

Usage: python bench/bench_speed.py [--model DIR] [--rows N]
Measures, on real financial complaints from ../shared/data/heimao_fin_complaints (repeated to reach N rows):
  * jieba 0.42.1's own segmentation speed (default mode, HMM on, and HMM off), characters per second;
  * triage batch labelling speed in process (model.predict, 2,000-row chunks), characters per second;
  * triage label on a CSV file end to end (read, predict, write), characters per second;
  * single-complaint latency (warm, in process) for ~150-character complaints: median and 99th percentile.
Writes bench/results/speed.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import shared_data  # noqa: E402

import triage  # noqa: E402
from triage.segment import quiet_jieba  # noqa: E402


def jieba_speed(texts: list[str], hmm: bool) -> float:
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    start = time.perf_counter()
    for t in texts:
        tokenizer.lcut(t, HMM=hmm)
    return sum(map(len, texts)) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    if not shared_data.available():
        print("../shared/data is absent: nothing to benchmark.")
        return
    quiet_jieba()
    base = [t for t in shared_data.heimao_fin_complaints()[0] if t.strip()]
    texts = (base * (args.rows // len(base) + 1))[: args.rows]
    chars = sum(map(len, texts))
    model = triage.load_model(args.model)
    model.predict(texts[:50])  # warm up: dictionary loaded, caches built

    jieba_hmm = jieba_speed(texts, hmm=True)
    jieba_no_hmm = jieba_speed(texts, hmm=False)

    start = time.perf_counter()
    for i in range(0, len(texts), 2000):
        model.predict(texts[i:i + 2000])
    predict_cps = chars / (time.perf_counter() - start)

    folder = Path(tempfile.mkdtemp())
    src = folder / "in.csv"
    with open(src, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        w.writerows([i, t] for i, t in enumerate(texts))
    start = time.perf_counter()
    triage.label_file(model, src, folder / "out.csv")
    label_cps = chars / (time.perf_counter() - start)

    singles = [t[:150] for t in base if len(t) >= 150][:1000]
    latencies = []
    for t in singles:
        s = time.perf_counter()
        model.predict_one(t)
        latencies.append((time.perf_counter() - s) * 1000)
    latencies.sort()
    result = {
        "command": "python bench/bench_speed.py " + " ".join(sys.argv[1:]),
        "rows": len(texts),
        "characters": chars,
        "cores_used": 1,
        "jieba_default_hmm_chars_per_s": round(jieba_hmm),
        "jieba_no_hmm_chars_per_s": round(jieba_no_hmm),
        "triage_predict_chars_per_s": round(predict_cps),
        "triage_label_file_chars_per_s": round(label_cps),
        "ratio_predict_to_jieba_default": round(predict_cps / jieba_hmm, 3),
        "ratio_label_file_to_jieba_default": round(label_cps / jieba_hmm, 3),
        "single_150_char_latency_ms": {
            "n": len(latencies),
            "median": round(statistics.median(latencies), 3),
            "p99": round(latencies[int(0.99 * (len(latencies) - 1))], 3),
        },
    }
    for key, value in result.items():
        print(f"{key}: {value}")
    out = Path(__file__).parent / "results" / "speed.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
