"""Append a new round of authored, adjudicated complaints to the corpus with the fixed split rule.

Usage (from the repository root):  python tools/add_corpus_round.py ROUND.jsonl [ROUND2.jsonl ...]

The texts of all files given form one round. 20% of the round goes to corpora/complaints.heldout.jsonl and the rest to
corpora/complaints.train.jsonl, stratified by root cause (codes with fewer than 5 texts in the round are pooled), with
scikit-learn's train_test_split and random_state=20261123: the same rule as every earlier round. Rows must carry the
corpus fields in order (id, text, category, severity, root_cause, channel, style) and ids not already in the corpus;
nothing is written when a check fails. Rebuild the default model afterwards (tools/build_default_model.py).
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "corpora"
FIELDS = ["id", "text", "category", "severity", "root_cause", "channel", "style"]
SEED = 20261123
HELD_OUT_SHARE = 0.2
POOL_BELOW = 5


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split_round(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(train, held-out) rows of one round, stratified by root cause with rare codes pooled."""
    counts = collections.Counter(r["root_cause"] for r in rows)
    strata = [r["root_cause"] if counts[r["root_cause"]] >= POOL_BELOW else "pooled" for r in rows]
    train, held = train_test_split(rows, test_size=HELD_OUT_SHARE, random_state=SEED, stratify=strata)
    return train, held


def main(paths: list[str]) -> None:
    if not paths:
        sys.exit(__doc__)
    rows = [row for p in paths for row in read_jsonl(Path(p))]
    existing = {r["id"] for name in ("complaints.train.jsonl", "complaints.heldout.jsonl")
                for r in read_jsonl(CORPORA / name)}
    bad = [r.get("id") for r in rows if list(r) != FIELDS]
    if bad:
        sys.exit(f"rows without exactly the fields {FIELDS}: {bad[:10]}")
    taken = sorted({r["id"] for r in rows} & existing)
    if taken:
        sys.exit(f"ids already in the corpus: {taken[:10]}")
    if len({r["id"] for r in rows}) != len(rows):
        sys.exit("duplicate ids inside the new round")
    train, held = split_round(rows)
    for name, part in (("complaints.train.jsonl", train), ("complaints.heldout.jsonl", held)):
        with open(CORPORA / name, "a", encoding="utf-8") as out:
            for r in sorted(part, key=lambda r: r["id"]):
                out.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"added {len(rows)} texts: {len(train)} to training, {len(held)} to held-out")


if __name__ == "__main__":
    main(sys.argv[1:])
