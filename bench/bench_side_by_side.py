"""Side-by-side: triage (default settings) vs the reference pipelines of ../shared/data/README.md vs fastText.

Usage: python bench/bench_side_by_side.py [DATASET ...]
For every single-label dataset with a training split, with exactly the splits given there, trains and evaluates in
the same run:
  * triage with the settings a user gets by default (triage.train, default TrainConfig);
  * reference "words": TF-IDF over jieba words 1-2 + LinearSVC(C=0.5);
  * reference "chars": TF-IDF over characters 1-3 + LinearSVC(C=0.5);
  * fastText (fasttext-numpy2-wheel) supervised on jieba tokens: 25 epochs, word bigrams, lr 0.5.
Reports accuracy, macro-F1, training time, prediction throughput (rows/s) and model size on disk; writes
bench/results/side_by_side.json. Requires ../shared/data; fastText is skipped if not installed.
"""

from __future__ import annotations

import json
import os
import pickle
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


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _score(name, y_true, y_pred, train_s, predict_s, n_test, size):
    m = classification_metrics(y_true, y_pred)
    return {"system": name, "accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
            "train_seconds": round(train_s, 1), "predict_rows_per_s": round(n_test / predict_s),
            "size_mb": round(size / 1e6, 2)}


def run_triage(train_x, train_y, test_x, test_y, folder):
    records = [{"text": t, "label": y} for t, y in zip(train_x, train_y)]
    start = time.perf_counter()
    model = triage.train(records, config=triage.TrainConfig(test_size=0)).model
    train_s = time.perf_counter() - start
    triage.save_model(model, folder / "triage")
    start = time.perf_counter()
    pred = [p["label"].label for p in model.predict(test_x)]
    return _score("triage", test_y, pred, train_s, time.perf_counter() - start, len(test_x), _size(folder / "triage"))


def _jieba_cut():
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return lambda text: [w for w in tokenizer.cut(text) if w.strip()]


def run_reference(kind, train_x, train_y, test_x, test_y, folder, cut):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    if kind == "words":
        vec = TfidfVectorizer(tokenizer=cut, token_pattern=None, lowercase=False, ngram_range=(1, 2))
    else:
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
    pipe = make_pipeline(vec, LinearSVC(C=0.5))
    start = time.perf_counter()
    pipe.fit(train_x, train_y)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    pred = list(pipe.predict(test_x))
    predict_s = time.perf_counter() - start
    path = folder / f"{kind}.pkl"
    if kind == "words":
        pipe.steps[0][1].tokenizer = None  # a jieba closure does not pickle; measure the fitted state
    path.write_bytes(pickle.dumps(pipe))
    return _score(f"reference {kind} + LinearSVC", test_y, pred, train_s, predict_s, len(test_x), _size(path))


def run_fasttext(train_x, train_y, test_x, test_y, folder, cut):
    try:
        import fasttext
    except ImportError:
        return None
    path = folder / "ft.txt"
    with open(path, "w", encoding="utf-8") as f:
        for t, y in zip(train_x, train_y):
            f.write(f"__label__{y.replace(' ', '_')} {' '.join(cut(t.replace(chr(10), ' ')))}\n")
    start = time.perf_counter()
    model = fasttext.train_supervised(str(path), epoch=25, wordNgrams=2, lr=0.5, verbose=0, seed=0, thread=1)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    labels, _ = model.predict([" ".join(cut(t.replace("\n", " "))) for t in test_x])
    predict_s = time.perf_counter() - start
    pred = [lab[0].replace("__label__", "") for lab in labels]
    model.save_model(str(folder / "ft.bin"))
    truth = [y.replace(" ", "_") for y in test_y]
    return _score("fastText (jieba tokens)", truth, pred, train_s, predict_s, len(test_x), _size(folder / "ft.bin"))


def main(names):
    if not shared_data.available():
        print("../shared/data is absent: nothing to benchmark.")
        return
    quiet_jieba()
    cut = _jieba_cut()
    names = names or list(shared_data.LOADERS)
    out_path = Path(__file__).parent / "results" / "side_by_side.json"
    results = json.loads(out_path.read_text(encoding="utf-8")).get("results", {}) if out_path.exists() else {}
    for name in names:
        train_x, train_y, test_x, test_y = shared_data.LOADERS[name]()
        folder = Path(tempfile.mkdtemp())
        rows = [run_triage(train_x, train_y, test_x, test_y, folder),
                run_reference("words", train_x, train_y, test_x, test_y, folder, cut),
                run_reference("chars", train_x, train_y, test_x, test_y, folder, cut)]
        ft = run_fasttext(train_x, train_y, test_x, test_y, folder, cut)
        if ft:
            rows.append(ft)
        shutil.rmtree(folder)
        results[name] = {"train_rows": len(train_x), "test_rows": len(test_x), "systems": rows}
        for r in rows:
            print(f"{name:<28} {r['system']:<32} acc {r['accuracy']:.4f}  mF1 {r['macro_f1']:.4f}  "
                  f"train {r['train_seconds']:>6.1f}s  {r['predict_rows_per_s']:>7} rows/s  {r['size_mb']:>6.2f} MB",
                  flush=True)
        out_path.write_text(json.dumps({"command": "python bench/bench_side_by_side.py", "triage": triage.__version__,
                                        "cores": os.cpu_count(), "results": results}, ensure_ascii=False, indent=2)
                            + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
