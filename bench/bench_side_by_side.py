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

The multi-label dataset (car_12365auto_complaints: problem-code lists such as "H93,H15,") follows its README protocol,
5-fold cross-validation with KFold(shuffle=True, random_state=0), and compares in every fold:
  * triage defaults with the target declared multi-label (TrainConfig(multi_label={"label": ","}));
  * references "words", "chars" and "words+chars" (both TF-IDF blocks side by side): one-vs-rest LinearSVC(C=0.5),
    every label with a positive decision value, or the highest-scoring one when none has;
  * fastText with -loss ova (one-vs-all), same tokens and settings: every label with probability >= 0.5, or the most
    probable one when none reaches it.
Reports micro-F1 and macro-F1 (means over the folds; macro over the labels present in a fold's truth), training time
per fold, prediction throughput and model size (means over folds). Run it alone with
  python bench/bench_side_by_side.py car_12365auto_complaints
"""

from __future__ import annotations

import json
import logging
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
from triage.model import split_labels  # noqa: E402
from triage.report import classification_metrics, multilabel_metrics  # noqa: E402
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


# -- multi-label ------------------------------------------------------------------------
def _reference_vectorizer(kind, cut):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    words = TfidfVectorizer(tokenizer=cut, token_pattern=None, lowercase=False, ngram_range=(1, 2))
    chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
    return {"words": words, "chars": chars, "words+chars": FeatureUnion([("words", words), ("chars", chars)])}[kind]


def _at_least_one(scores, threshold):
    import numpy as np

    chosen = scores >= threshold if threshold is not None else scores > 0
    none = ~chosen.any(axis=1)
    chosen[none, np.asarray(scores)[none].argmax(axis=1)] = True
    return chosen


def ml_triage(train_x, train_sets, test_x, folder, sep):
    records = [{"text": t, "label": sep.join(s)} for t, s in zip(train_x, train_sets)]
    start = time.perf_counter()
    model = triage.train(records, config=triage.TrainConfig(test_size=0, multi_label={"label": sep})).model
    train_s = time.perf_counter() - start
    triage.save_model(model, folder / "triage")
    start = time.perf_counter()
    pred = [p["label"].labels for p in model.predict(test_x)]
    return pred, train_s, time.perf_counter() - start, _size(folder / "triage")


def ml_reference(kind, train_x, train_sets, test_x, folder, cut):
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MultiLabelBinarizer
    from sklearn.svm import LinearSVC

    binarizer = MultiLabelBinarizer()
    Y = binarizer.fit_transform(train_sets)
    # random_state: liblinear shuffles its coordinates; fixed so that the figures repeat exactly
    pipe = make_pipeline(_reference_vectorizer(kind, cut), OneVsRestClassifier(LinearSVC(C=0.5, random_state=0)))
    start = time.perf_counter()
    pipe.fit(train_x, Y)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    chosen = _at_least_one(pipe.decision_function(test_x), None)
    pred = [tuple(binarizer.classes_[row]) for row in chosen]
    predict_s = time.perf_counter() - start
    vec = pipe.steps[0][1]
    for part in [vec] + [v for _, v in getattr(vec, "transformer_list", [])]:
        if getattr(part, "tokenizer", None) is not None:
            part.tokenizer = None  # a jieba closure does not pickle; measure the fitted state
    path = folder / f"{kind}.pkl"
    path.write_bytes(pickle.dumps((pipe, binarizer)))
    return pred, train_s, predict_s, _size(path)


def ml_fasttext(train_x, train_sets, test_x, folder, cut):
    import fasttext
    import numpy as np

    path = folder / "ft.txt"
    with open(path, "w", encoding="utf-8") as f:
        for t, labels in zip(train_x, train_sets):
            prefix = " ".join(f"__label__{y.replace(' ', '_')}" for y in labels)
            f.write(f"{prefix} {' '.join(cut(t.replace(chr(10), ' ')))}\n")
    start = time.perf_counter()
    model = fasttext.train_supervised(str(path), epoch=25, wordNgrams=2, lr=0.5, verbose=0, seed=0, thread=1,
                                      loss="ova")
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    labels = [lab.replace("__label__", "") for lab in model.get_labels()]
    index = {lab: j for j, lab in enumerate(labels)}
    found, probs = model.predict([" ".join(cut(t.replace("\n", " "))) for t in test_x], k=-1, threshold=0.0)
    scores = np.zeros((len(test_x), len(labels)))
    for i, (row_labels, row_probs) in enumerate(zip(found, probs)):
        for lab, p in zip(row_labels, row_probs):
            scores[i, index[lab.replace("__label__", "")]] = p
    chosen = _at_least_one(scores, 0.5)
    pred = [tuple(labels[j] for j in np.flatnonzero(row)) for row in chosen]
    predict_s = time.perf_counter() - start
    model.save_model(str(folder / "ft.bin"))
    return pred, train_s, predict_s, _size(folder / "ft.bin")


def run_multilabel(name, cut):
    """Cross-validate every system on a multi-label dataset; one result row per system (means over folds)."""
    import numpy as np
    from sklearn.model_selection import KFold

    loader, sep, folds = shared_data.MULTI_LABEL[name]
    texts, cells = loader()
    sets = [split_labels(c, sep) for c in cells]
    systems = {"triage": lambda *a: ml_triage(*a, sep),
               "reference words + LinearSVC (one-vs-rest)": lambda *a: ml_reference("words", *a, cut),
               "reference chars + LinearSVC (one-vs-rest)": lambda *a: ml_reference("chars", *a, cut),
               "reference words+chars + LinearSVC (one-vs-rest)": lambda *a: ml_reference("words+chars", *a, cut)}
    try:
        import fasttext  # noqa: F401

        systems["fastText -loss ova (jieba tokens)"] = lambda *a: ml_fasttext(*a, cut)
    except ImportError:
        pass
    figures = {system: [] for system in systems}
    for train, test in KFold(folds, shuffle=True, random_state=0).split(texts):
        train_x, train_sets = [texts[i] for i in train], [sets[i] for i in train]
        test_x, test_sets = [texts[i] for i in test], [sets[i] for i in test]
        for system, run in systems.items():
            folder = Path(tempfile.mkdtemp())
            pred, train_s, predict_s, size = run(train_x, train_sets, test_x, folder)
            shutil.rmtree(folder)
            m = multilabel_metrics(test_sets, pred)
            figures[system].append([m["micro_f1"], m["macro_f1"], m["samples_f1"], m["subset_accuracy"], train_s,
                                    len(test_x) / predict_s, size])
    rows = []
    for system, values in figures.items():
        mean = np.mean(values, axis=0)
        rows.append({"system": system, "micro_f1": round(mean[0], 4), "macro_f1": round(mean[1], 4),
                     "samples_f1": round(mean[2], 4), "subset_accuracy": round(mean[3], 4),
                     "micro_f1_per_fold": [round(v[0], 4) for v in values],
                     "train_seconds": round(mean[4], 1), "predict_rows_per_s": round(mean[5]),
                     "size_mb": round(mean[6] / 1e6, 2)})
    return {"protocol": f"{folds}-fold cross-validation, KFold(shuffle=True, random_state=0); means over folds",
            "command": f"python bench/bench_side_by_side.py {name}", "rows": len(texts),
            "labels": len({lab for s in sets for lab in s}), "systems": rows}


def main(names):
    if not shared_data.available():
        print("../shared/data is absent: nothing to benchmark.")
        return
    quiet_jieba()
    logging.getLogger("triage").setLevel(logging.ERROR)  # e.g. the per-fold lists of labels too rare to learn
    cut = _jieba_cut()
    names = names or [*shared_data.LOADERS, *shared_data.MULTI_LABEL]
    unknown = [n for n in names if n not in shared_data.LOADERS and n not in shared_data.MULTI_LABEL]
    if unknown:
        sys.exit(f"Unknown dataset(s) {unknown}; known: {', '.join([*shared_data.LOADERS, *shared_data.MULTI_LABEL])}")
    out_path = Path(__file__).parent / "results" / "side_by_side.json"
    saved = json.loads(out_path.read_text(encoding="utf-8")) if out_path.exists() else {}
    results = saved.get("results", {})
    for name in names:
        if name in shared_data.MULTI_LABEL:
            results[name] = run_multilabel(name, cut)
            for r in results[name]["systems"]:
                print(f"{name:<28} {r['system']:<48} micro-F1 {r['micro_f1']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
                      f"train {r['train_seconds']:>6.1f}s  {r['predict_rows_per_s']:>7} rows/s  {r['size_mb']:>6.2f} MB",
                      flush=True)
            out_path.write_text(json.dumps({**saved, "triage": triage.__version__, "cores": os.cpu_count(),
                                            "results": results}, ensure_ascii=False, indent=2) + "\n",
                                encoding="utf-8")
            continue
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
