"""The authored corpus: valid codes, coverage minimums, diversity, a fixed held-out split."""

import collections
import json
import re
from pathlib import Path

import pytest

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
FILES = ("complaints.train.jsonl", "complaints.heldout.jsonl")
FIELDS = ["id", "text", "category", "severity", "root_cause", "channel", "style"]
CODES = {
    "category": {f"CAT0{i}" for i in range(1, 10)} | {"CAT99"},
    "severity": {"SEV1", "SEV2", "SEV3", "SEV4"},
    "root_cause": {f"R{i:02d}" for i in range(1, 14)} | {"R99"},
}


@pytest.fixture(scope="module")
def corpus():
    rows = {}
    for name in FILES:
        rows[name] = [json.loads(line) for line in (CORPORA / name).read_text(encoding="utf-8").splitlines() if line]
    return rows


@pytest.fixture(scope="module")
def everything(corpus):
    return [r for part in corpus.values() for r in part]


def test_schema_and_codes(everything):
    ids = collections.Counter(r["id"] for r in everything)
    assert not [i for i, n in ids.items() if n > 1]
    for r in everything:
        assert list(r) == FIELDS
        for axis, codes in CODES.items():
            assert r[axis] in codes, (r["id"], axis, r[axis])
        assert 8 <= len(r["text"]) <= 850


def test_size_and_coverage_minimums(everything):
    assert len(everything) >= 3000
    counts = {axis: collections.Counter(r[axis] for r in everything) for axis in CODES}
    assert min(counts["category"][c] for c in CODES["category"]) >= 150
    assert min(counts["root_cause"][c] for c in CODES["root_cause"]) >= 100
    assert counts["severity"]["SEV4"] >= 120
    assert min(counts["severity"][c] for c in ("SEV1", "SEV2", "SEV3")) >= 200
    cells = collections.Counter((r["category"], r["root_cause"]) for r in everything)
    assert cells[("CAT01", "R07")] >= 60  # credit card × fees
    assert cells[("CAT03", "R12")] >= 60  # loans × debt collection
    assert cells[("CAT07", "R13")] + cells[("CAT08", "R13")] >= 60  # insurance × claims


def test_lengths_look_like_real_complaints(everything):
    lengths = sorted(len(r["text"]) for r in everything)
    median = lengths[len(lengths) // 2]
    assert 70 <= median <= 130
    assert lengths[0] <= 15 and lengths[-1] >= 500


def test_no_shared_runs_of_20_characters(everything):
    owner = {}
    clashes = []
    for r in everything:
        text = r["text"]
        for i in range(len(text) - 19):
            window = text[i:i + 20]
            other = owner.setdefault(window, r["id"])
            if other != r["id"]:
                clashes.append((other, r["id"], window))
                break
    assert not clashes, clashes[:5]


def test_near_duplicates_under_one_percent(everything):
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [re.sub(r"\s+", "", r["text"]) for r in everything]
    X = CountVectorizer(analyzer="char", ngram_range=(5, 5), binary=True, lowercase=False).fit_transform(texts)
    X = X.astype("float32").tocsr()
    sizes = X.sum(axis=1).A1
    inter = (X @ X.T).tocoo()
    mask = inter.row < inter.col
    rows, cols, shared = inter.row[mask], inter.col[mask], inter.data[mask]
    jaccard = shared / (sizes[rows] + sizes[cols] - shared)
    near = int((jaccard >= 0.5).sum())
    assert near < 0.01 * len(texts), f"{near} near-duplicate pairs"


def test_heldout_split_is_fixed_and_stratified(corpus):
    train, held = corpus["complaints.train.jsonl"], corpus["complaints.heldout.jsonl"]
    assert not {r["id"] for r in train} & {r["id"] for r in held}
    share = len(held) / (len(train) + len(held))
    assert 0.18 <= share <= 0.22
    train_counts = collections.Counter(r["root_cause"] for r in train)
    held_counts = collections.Counter(r["root_cause"] for r in held)
    for code in CODES["root_cause"]:
        assert abs(held_counts[code] / len(held) - train_counts[code] / len(train)) < 0.01


def test_shipped_model_never_trained_on_heldout():
    manifest = json.loads((CORPORA.parent / "models" / "default" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["training_data"]["sources"] == ["complaints.train.jsonl"]


def test_no_complaint_text_copied_from_the_shared_real_data(everything):
    """No 14-character passage of any authored text occurs in the real complaint datasets (text fields only)."""
    import csv

    shared = CORPORA.parents[1] / "shared" / "data"
    if not shared.is_dir():
        pytest.skip("../shared/data is absent")
    windows = {}
    for r in everything:
        text = re.sub(r"\s+", "", r["text"])
        for i in range(len(text) - 13):
            windows.setdefault(text[i:i + 14], r["id"])
    real = [json.loads(line)["text"] for line in
            (shared / "fin_complaints_annotated" / "dev.jsonl").read_text(encoding="utf-8").splitlines()]
    for name in ("train.csv", "dev.csv", "test.csv"):
        with open(shared / "heimao_fin_complaints" / name, encoding="utf-8") as f:
            real += [row["text"] for row in csv.DictReader(f)]
    copied = set()
    for text in real:
        text = re.sub(r"\s+", "", text)
        for i in range(len(text) - 13):
            owner = windows.get(text[i:i + 14])
            if owner:
                copied.add(owner)
    assert not copied, sorted(copied)[:10]
