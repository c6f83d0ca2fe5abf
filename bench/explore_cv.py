"""Training-split cross-validation of candidate feature/model options against triage's current default.

Usage: python bench/explore_cv.py [--datasets a,b] [--candidates x,y] [--out FILE]
       python bench/explore_cv.py --datasets a,b --nested 0,0.5,1   (nested CV of the SVM + Complement NB blend)

For each single-label dataset of ../shared/data, only its training split (loaded as bench/shared_data.py does)
is read; the test splits are never loaded for use. Texts are normalised and segmented as triage does (default
aliases, shipped user dictionary and stop words, HMM off), once per dataset (cached under /tmp). Every candidate is
scored by 3-fold StratifiedKFold(shuffle=True, random_state=0) accuracy for each setting of a grid
(C x word-block weight, as triage/search.py), with the vectorisers fitted on each fold's training part only.
--nested estimates the gain of choosing the blend weight automatically without selection optimism: settings are
chosen by an inner 3-fold CV on each outer training part and scored on the outer held-out part (still all within
the training split). Exploration code: the options that were shipped live in triage/ (model.nb_blends).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from scipy.sparse import hstack

sys.path.insert(0, str(Path(__file__).parent))

import shared_data  # noqa: E402

CACHE = Path("/tmp/explore5_cache")
GRID = [(C, w) for C in (0.25, 0.5) for w in (0.5, 1.0)]
FAST = ["thucnews_titles", "clue_tnews", "heimao_fin_complaints", "waimai_10k"]


def prepared(name: str) -> tuple[list[str], list[list[str]], np.ndarray]:
    """Normalised training texts, their tokens and labels (training split only), cached."""
    path = CACHE / f"{name}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    from triage.normalize import Normalizer, read_aliases
    from triage.resources import corpora_dir
    from triage.segment import Segmenter

    train_x, train_y = shared_data.LOADERS[name]()[:2]  # the test part is dropped here, never used
    normalizer = Normalizer(max_chars=3000, aliases=read_aliases(corpora_dir() / "institutions.tsv"))
    segmenter = Segmenter()
    texts = [normalizer(t) for t in train_x]
    data = (texts, [segmenter.cut(t) for t in texts], np.array([str(y).strip() for y in train_y], dtype=object))
    CACHE.mkdir(exist_ok=True)
    path.write_bytes(pickle.dumps(data))
    return data


def blocks(texts, tokens, train, test, word_ngram=(1, 2), char_ngram=(1, 3), word_min_df=1, char_min_df=2,
           max_df=1.0):
    """Word and character TF-IDF blocks (fitted on ``train``) for the train and test rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    common = dict(lowercase=False, sublinear_tf=True, dtype=np.float32, max_features=400_000, max_df=max_df)
    words = TfidfVectorizer(analyzer=lambda i: _ngrams(tokens[i], word_ngram), min_df=word_min_df, **common)
    chars = TfidfVectorizer(analyzer="char", ngram_range=char_ngram, min_df=char_min_df, **common)
    ids = np.arange(len(texts))
    w_tr, w_te = words.fit_transform(ids[train]), words.transform(ids[test])
    c_tr = chars.fit_transform([texts[i] for i in train])
    c_te = chars.transform([texts[i] for i in test])
    return (w_tr, c_tr), (w_te, c_te)


def _ngrams(tokens, ngram):
    low, high = ngram
    return [" ".join(tokens[i:i + n]) for n in range(low, high + 1) for i in range(len(tokens) - n + 1)]


def svc_predict(X_tr, y_tr, X_te, C, class_weight="balanced", loss="squared_hinge"):
    from sklearn.svm import LinearSVC

    return LinearSVC(C=C, class_weight=class_weight, loss=loss, random_state=0).fit(X_tr, y_tr).predict(X_te)


def nb_ratios(X_bin, positive, alpha=1.0):
    """Smoothed log-count ratio r of binarised features for positive vs other rows."""
    p = alpha + np.asarray(X_bin[positive].sum(axis=0)).ravel()
    q = alpha + np.asarray(X_bin[~positive].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def nb_scores(X_tr, y_tr, X_te, C, beta=0.25, class_weight="balanced"):
    """One-vs-rest LinearSVC on NB-scaled features, weights interpolated to their mean magnitude by ``beta``.

    The test scores use the folded weights (w' * r) on the unscaled features, as inference would.
    """
    from sklearn.svm import LinearSVC
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(y_tr)
    weights = compute_class_weight("balanced", classes=classes, y=y_tr) if class_weight else np.ones(len(classes))
    X_bin = X_tr.copy()
    X_bin.data[:] = 1.0
    columns = classes[1:] if len(classes) == 2 else classes
    scores = np.zeros((X_te.shape[0], len(columns)))
    for j, c in enumerate(columns):
        positive = y_tr == c
        r = nb_ratios(X_bin, positive).astype(np.float32)
        k = list(classes).index(c)
        svc = LinearSVC(C=C, class_weight={1: weights[k], 0: 1.0}, random_state=0)
        svc.fit(X_tr.multiply(r).tocsr(), positive.astype(int))
        w = svc.coef_.ravel()
        w = (1 - beta) * np.abs(w).mean() + beta * w
        scores[:, j] = X_te @ (w * r) + svc.intercept_[0]
    if len(classes) == 2:
        return classes[(scores[:, 0] > 0).astype(int)]
    return classes[scores.argmax(axis=1)]


def _scaled(scores):
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = np.column_stack([-scores, scores])
    return scores / scores.std()


def _svc_scores(X_tr, y_tr, X_te, C, **kw):
    from sklearn.svm import LinearSVC

    return LinearSVC(C=C, class_weight="balanced", random_state=0, **kw).fit(X_tr, y_tr).decision_function(X_te)


def lr_scores(X_tr, y_tr, X_te, C):
    from sklearn.linear_model import LogisticRegression

    from sklearn.multiclass import OneVsRestClassifier

    lr = LogisticRegression(C=20 * C, solver="liblinear", class_weight="balanced", max_iter=200)
    lr = lr if len(np.unique(y_tr)) == 2 else OneVsRestClassifier(lr)
    return lr.fit(X_tr, y_tr).decision_function(X_te)


def ensemble_predict(X_tr, y_tr, X_te, C, members):
    """Argmax of the sum of each member's scores divided by their standard deviation."""
    classes = np.unique(y_tr)
    total = sum(_scaled(m(X_tr, y_tr, X_te, C)) for m in members)
    return classes[total.argmax(axis=1)]


def cnb_scores(X_tr, y_tr, X_te, C):
    from sklearn.naive_bayes import ComplementNB

    scores = ComplementNB(alpha=0.3).fit(X_tr, y_tr).predict_log_proba(X_te)
    return scores - scores.mean(axis=1, keepdims=True)


def sgd_predict(X_tr, y_tr, X_te, C):
    from sklearn.linear_model import SGDClassifier

    sgd = SGDClassifier(loss="modified_huber", alpha=1 / (C * 2 * X_tr.shape[0]), average=True, max_iter=30,
                        tol=None, class_weight="balanced", random_state=0)
    return sgd.fit(X_tr, y_tr).predict(X_te)


def _centred(scores):
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = np.column_stack([np.zeros_like(scores), scores])
    return scores - scores.mean(axis=1, keepdims=True)


BLENDS = [(lam, alpha) for lam in (0.25, 0.5, 1.0) for alpha in (0.01, 0.03, 0.1)]


def blend_predict(X_tr, y_tr, X_te, C):
    """SVC scores plus lam x ComplementNB scores, each centred per row and divided by its std on the training rows.

    Both are linear in the features, so the blend is one linear model. Returns {variant: predictions}.
    """
    from sklearn.naive_bayes import ComplementNB
    from sklearn.svm import LinearSVC

    classes = np.unique(y_tr)
    svc = LinearSVC(C=C, class_weight="balanced", random_state=0).fit(X_tr, y_tr)
    s_tr, s_te = _centred(svc.decision_function(X_tr)), _centred(svc.decision_function(X_te))
    s_te = s_te / s_tr.std()
    out = {}
    for alpha in sorted({a for _, a in BLENDS}):
        nb = ComplementNB(alpha=alpha).fit(X_tr, y_tr)
        n_tr = _centred(X_tr @ nb.feature_log_prob_.T)
        n_te = _centred(X_te @ nb.feature_log_prob_.T) / n_tr.std()
        for lam, a in BLENDS:
            if a == alpha:
                out[f"blend_l{lam}_a{alpha}"] = classes[(s_te + lam * n_te).argmax(axis=1)]
    return out


def blend_scores(X_tr, y_tr, X_te, C, lambdas, alpha=0.01):
    """{lam: test scores} of the SVC + lam x ComplementNB blend (centred, each divided by its training-row std)."""
    from sklearn.naive_bayes import ComplementNB
    from sklearn.svm import LinearSVC

    svc = LinearSVC(C=C, class_weight="balanced", random_state=0).fit(X_tr, y_tr)
    s_tr, s_te = _centred(svc.decision_function(X_tr)), _centred(svc.decision_function(X_te))
    nb = ComplementNB(alpha=alpha).fit(X_tr, y_tr)
    n_tr, n_te = _centred(X_tr @ nb.feature_log_prob_.T), _centred(X_te @ nb.feature_log_prob_.T)
    return {lam: s_te / s_tr.std() + lam * n_te / n_tr.std() for lam in lambdas}


def nested(name, lambdas, alpha=0.01):
    """Outer 3-fold accuracy of settings chosen by inner 3-fold CV: base grid (lam 0) vs grid x lambdas."""
    from sklearn.model_selection import StratifiedKFold

    texts, tokens, y = prepared(name)
    split = lambda idx: StratifiedKFold(3, shuffle=True, random_state=0).split(idx, y[idx])  # noqa: E731
    ids = np.arange(len(y))
    result = {"base": [], "blend": [], "chosen": [], "base_s": 0.0, "blend_s": 0.0}
    for tr, te in split(ids):
        scores = {}
        for a, b in split(tr):
            parts_a, parts_b = blocks(texts, tokens, tr[a], tr[b])
            for C, w in GRID:
                classes = np.unique(y[tr[a]])
                for lam, sc in blend_scores(combine(parts_a, w), y[tr[a]], combine(parts_b, w), C, lambdas,
                                            alpha).items():
                    scores.setdefault((lam, C, w), []).append(float(np.mean(classes[sc.argmax(1)] == y[tr[b]])))
        means = {k: np.mean(v) for k, v in scores.items()}
        best_base = max((k for k in means if k[0] == 0), key=means.get)
        best = max(means, key=means.get)
        parts_tr, parts_te = blocks(texts, tokens, tr, te)
        classes = np.unique(y[tr])
        for key, setting in (("base", best_base), ("blend", best)):
            lam, C, w = setting
            start = time.perf_counter()
            sc = blend_scores(combine(parts_tr, w), y[tr], combine(parts_te, w), C, [lam], alpha)[lam]
            result[key + "_s"] += time.perf_counter() - start
            result[key].append(float(np.mean(classes[sc.argmax(1)] == y[te])))
        result["chosen"].append(best)
    out = {"base": float(np.mean(result["base"])), "blend": float(np.mean(result["blend"])),
           "chosen": [list(c) for c in result["chosen"]], "base_fit_s": round(result["base_s"], 1),
           "blend_fit_s": round(result["blend_s"], 1)}
    gain = 100 * (out["blend"] - out["base"])
    print(f"{name:28s} nested base {out['base']:.4f}  blend {out['blend']:.4f}  gain {gain:+.2f}"
          f"  chosen {out['chosen']}  fit s {out['base_fit_s']} / {out['blend_fit_s']}", flush=True)
    return out


def combine(parts, weight):
    (w, c) = parts
    return hstack([w * weight, c]).tocsr()


CANDIDATES = {
    # name: (feature kwargs, predictor(X_tr, y_tr, X_te, C))
    "base": ({}, svc_predict),
    "nb_b0.25": ({}, lambda a, b, c, C: nb_scores(a, b, c, C, beta=0.25)),
    "nb_b0.5": ({}, lambda a, b, c, C: nb_scores(a, b, c, C, beta=0.5)),
    "nb_b1": ({}, lambda a, b, c, C: nb_scores(a, b, c, C, beta=1.0)),
    "char1-4": ({"char_ngram": (1, 4)}, svc_predict),
    "char2-4": ({"char_ngram": (2, 4)}, svc_predict),
    "word1-3": ({"word_ngram": (1, 3)}, svc_predict),
    "wmindf2": ({"word_min_df": 2}, svc_predict),
    "cmindf1": ({"char_min_df": 1}, svc_predict),
    "maxdf0.5": ({"max_df": 0.5}, svc_predict),
    "noweight": ({}, lambda a, b, c, C: svc_predict(a, b, c, C, class_weight=None)),
    "hinge": ({}, lambda a, b, c, C: svc_predict(a, b, c, C, loss="hinge")),
    "crammer": ({}, lambda a, b, c, C: ensemble_predict(a, b, c, C, [
        lambda *x: _svc_scores(*x, multi_class="crammer_singer")])),
    "lr": ({}, lambda a, b, c, C: ensemble_predict(a, b, c, C, [lr_scores])),
    "svc+lr": ({}, lambda a, b, c, C: ensemble_predict(a, b, c, C, [_svc_scores, lr_scores])),
    "svc+cnb": ({}, lambda a, b, c, C: ensemble_predict(a, b, c, C, [_svc_scores, cnb_scores])),
    "sgd_mh": ({}, sgd_predict),
    "blend": ({}, blend_predict),
}


def run(name, candidates):
    texts, tokens, y = prepared(name)
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(texts, y))
    by_features: dict[str, list[str]] = {}
    for cand in candidates:
        by_features.setdefault(json.dumps(CANDIDATES[cand][0], sort_keys=True), []).append(cand)
    out = {}
    for key, names in by_features.items():
        kwargs = json.loads(key)
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
        acc: dict = {}
        parent: dict = {}
        secs = {cand: 0.0 for cand in names}
        for train, test in folds:
            start = time.perf_counter()
            tr, te = blocks(texts, tokens, train, test, **kwargs)
            vec_s = time.perf_counter() - start
            for cand in names:
                secs[cand] += vec_s
                for C, weight in GRID:
                    start = time.perf_counter()
                    pred = CANDIDATES[cand][1](combine(tr, weight), y[train], combine(te, weight), C)
                    secs[cand] += time.perf_counter() - start
                    preds = pred if isinstance(pred, dict) else {cand: pred}
                    for variant, p in preds.items():
                        acc.setdefault(variant, {}).setdefault((C, weight), []).append(float(np.mean(p == y[test])))
                        parent[variant] = cand
        for cand in acc:
            grid = {f"C={C},w={w}": float(np.mean(acc[cand][(C, w)])) for C, w in GRID}
            best = max(grid, key=grid.get)
            out[cand] = {"grid": grid, "best": best, "cv": grid[best], "seconds": round(secs[parent[cand]], 1)}
            print(f"{name:28s} {cand:10s} best {out[cand]['cv']:.4f} ({best}) {secs[parent[cand]]:.0f}s  "
                  + " ".join(f"{v:.4f}" for v in grid.values()), flush=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(FAST))
    parser.add_argument("--candidates", default="base")
    parser.add_argument("--out", default="/tmp/explore5_results.json")
    parser.add_argument("--grid", default="", help="C values x word weights to score, e.g. 0.1,0.25,0.5,1x0.25,0.5,1 "
                        "(default: triage's search grid)")
    parser.add_argument("--nested", default="", help="lambdas, e.g. 0,0.5,1: nested CV of the SVC + CNB blend")
    args = parser.parse_args()
    if args.grid:
        global GRID
        cs, ws = args.grid.split("x")
        GRID = [(float(C), float(w)) for C in cs.split(",") for w in ws.split(",")]
    if args.nested:
        lambdas = [float(v) for v in args.nested.split(",")]
        results = {name: nested(name, lambdas) for name in args.datasets.split(",")}
        Path(args.out).write_text(json.dumps(results, indent=1))
        return
    results = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    for name in args.datasets.split(","):
        results.setdefault(name, {}).update(run(name, args.candidates.split(",")))
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
