"""The compiled (vectorised) transform equals scikit-learn's on any text."""

import json

import numpy as np
import pytest

from triage import FeatureConfig
from triage.features import CompiledVectorizer, build_vectorizer
from triage.resources import corpora_dir
from triage.segment import Segmenter

EDGE_CASES = [
    "", "a", "ab", " ", "  x  y ", "信用卡\t\t年费\n\n太贵", "😡😡😡 垃圾平台", "𠀀𠀁𠀂生僻字", "哈哈哈哈哈哈",
    "客户来电反映信用卡年费被扣300元", "[手机号]打了十几个电话", "\x00\x01控制字符", "abc abc abc",
]


def _texts(n=400):
    with open(corpora_dir() / "complaints.train.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line, _ in zip(f, range(n))]


@pytest.mark.parametrize("config", [
    FeatureConfig(),
    FeatureConfig(word_ngram=(1, 1), char_ngram=(2, 3), sublinear_tf=False, char_min_df=1, word_weight=0.5),
    FeatureConfig(word_ngram=(2, 2), char_ngram=(1, 1), max_char_features=50, max_word_features=300),
], ids=["default", "unigrams-plain-tf", "bigrams-only-small"])
def test_compiled_transform_equals_scikit_learn(config):
    texts = _texts()
    vectorizer = build_vectorizer(config, Segmenter(stop_words=None)).fit(texts[:300])
    # words and characters the vocabulary has never seen; empty texts first and last (batch boundaries)
    unseen = EDGE_CASES + texts[300:] + EDGE_CASES
    expected = vectorizer.transform(unseen).tocsr()
    compiled = CompiledVectorizer(vectorizer)
    for start, stop in ((0, len(unseen)), (0, 3), (len(unseen) - 3, len(unseen))):
        got = compiled.transform(unseen[start:stop])  # large batches use hash tables, small ones binary search
        want = expected[start:stop]
        assert got.shape == want.shape and got.dtype == np.float32
        assert abs(got - want).max() < 1e-6
        assert np.array_equal(got.indptr, want.indptr)


def test_settings_it_does_not_cover_are_refused_so_the_model_falls_back():
    vectorizer = build_vectorizer(FeatureConfig(char_ngram=(1, 4), char_min_df=1), Segmenter()).fit(_texts(50))
    with pytest.raises(ValueError, match="up to 3"):
        CompiledVectorizer(vectorizer)


def test_small_batches_score_without_scipy_as_large_batches_do():
    vectorizer = build_vectorizer(FeatureConfig(), Segmenter()).fit(_texts(300))
    compiled = CompiledVectorizer(vectorizer)
    weights = np.random.default_rng(0).normal(size=(compiled.n_features, 5)).astype(np.float32)
    texts = _texts(340)[300:] + EDGE_CASES
    batch = compiled.scores(texts, weights)  # sparse product
    one_by_one = np.vstack([compiled.scores([t], weights) for t in texts])  # numpy alone
    assert len(texts) > 32 and np.allclose(batch, one_by_one, rtol=0, atol=1e-12)
    import pickle  # the tables built on first use are not saved, and are built again after loading

    copy = pickle.loads(pickle.dumps(compiled))
    assert not {"_lookup_", "_float64_"} & set(vars(copy))
    assert all({"_unigrams_", "_batch_ids_"} & set(vars(p["grams"])) for p in compiled.parts)  # built, and
    assert not any({"_unigrams_", "_batch_ids_"} & set(vars(p["grams"])) for p in copy.parts)  # not saved
    assert np.array_equal(copy.scores(texts, weights), batch)


def test_the_hash_table_finds_every_key_and_no_other():
    from triage.features import _SortedLookup

    rng = np.random.default_rng(7)
    keys = rng.choice(2**62, size=20_000, replace=False).astype(np.uint64)
    lookup = _SortedLookup(keys[:10_000], np.arange(10_000))
    spilled = len(lookup._table().spilled_keys)
    assert 0 < spilled < 10_000 // 20  # a few keys find their two slots taken and go to the binary search
    found = lookup.find(keys)
    assert found[:10_000].tolist() == list(range(10_000))  # every key of the table, with its value
    assert (found[10_000:] == -1).all()  # and none of the others
