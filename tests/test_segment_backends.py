"""The accelerated backend (rjieba) is used only where it reproduces jieba's tokens exactly."""

import csv
import functools
import itertools
import json
import logging
import pickle
import re

import pytest

from triage import ConfigError
from triage.resources import corpora_dir
from triage.segment import Segmenter

from conftest import SHARED_DATA

rjieba = pytest.importorskip("rjieba")


def _corpus_texts():
    texts = []
    for name in ("complaints.train.jsonl", "complaints.heldout.jsonl"):
        with open(corpora_dir() / name, encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f]
    return texts


@functools.cache
def _segmenters(**settings):
    return [Segmenter(backend=b, **settings).warm_up() for b in ("jieba", "rjieba")]


def _cuts(texts, **settings):
    segmenters = _segmenters(**settings)
    assert [s.backend_ for s in segmenters] == ["jieba", "rjieba"]
    return ([segmenters[0].cut(t) for t in texts], [segmenters[1].cut(t) for t in texts])


def _normalised(texts):
    from triage.normalize import Normalizer

    normalize = Normalizer()
    return [normalize(t) for t in texts]


def test_identical_tokens_on_the_authored_corpus():
    texts = _normalised(_corpus_texts())
    by_jieba, by_rjieba = _cuts(texts)
    differing = [t for t, a, b in zip(texts, by_jieba, by_rjieba) if a != b]
    assert not differing, f"{len(differing)} of {len(texts)} texts cut differently, e.g. {differing[:3]}"


def _shared_samples(per_dataset=2000):
    """Raw texts from every shared dataset: complaints, reviews, news titles, citizen messages, car complaints."""
    def first(rows):
        return [t for t in itertools.islice(rows, per_dataset) if t]

    def csv_column(path, column, encoding="utf-8"):
        with open(path, encoding=encoding, errors="replace", newline="") as f:
            return first(row[column] for row in csv.DictReader(f))

    def lines(path, field):
        with open(path, encoding="utf-8-sig") as f:
            return first(field(line.rstrip("\n")) for line in f)

    d = SHARED_DATA
    return {
        "heimao": csv_column(d / "heimao_fin_complaints" / "train.csv", "text"),
        "waimai": csv_column(d / "waimai_10k" / "waimai_10k.csv", "review"),
        "shopping": csv_column(d / "online_shopping_10_cats" / "online_shopping_10_cats.csv", "review"),
        "car": csv_column(d / "car_12365auto_complaints" / "car_complain.csv", "desc", encoding="gb18030"),
        "tnews": lines(d / "clue_tnews" / "dev.json", lambda line: json.loads(line)["sentence"]),
        "thucnews": lines(d / "thucnews_titles" / "dev.txt", lambda line: line.rsplit("\t", 1)[0]),
        "tipdm": lines(d / "tipdm2020_citizen_messages" / "val.txt", lambda line: line.split("\t", 1)[-1]),
    }


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not present")
@pytest.mark.parametrize("normalise", [True, False], ids=["normalised", "raw"])
def test_identical_tokens_on_real_text(normalise):
    for name, texts in _shared_samples().items():
        if normalise:
            texts = _normalised(texts)
        by_jieba, by_rjieba = _cuts(texts)
        differing = [t for t, a, b in zip(texts, by_jieba, by_rjieba) if a != b]
        assert not differing, f"{name}: {len(differing)} of {len(texts)} texts cut differently, e.g. {differing[:2]}"


def _split_joined(segmenter, texts):
    """cut_joined's tokens as cut would give them: skipped tokens dropped, split at the separators."""
    out, current = [], []
    for token in segmenter.cut_joined(texts):
        if token == "\n":
            out.append(current)
            current = []
        elif token not in segmenter.skipped:
            current.append(token)
    return out + [current] if texts else out


@pytest.mark.parametrize("raw", [False, True], ids=["normalised", "raw"])
def test_a_batch_cut_in_one_piece_gives_each_text_its_own_tokens(raw):
    """cut_joined cuts texts joined (rjieba: one call); split back, every text has what cut gives it, including
    texts with newlines and other whitespace, texts rjieba hands to jieba, and empty texts."""
    texts = _corpus_texts()[:3000]
    if SHARED_DATA.is_dir():
        texts += [t for sample in _shared_samples(300).values() for t in sample]
    texts += ["", "滴滴滴", "哈哈哈哈", "很多很多很多", "a\nb", "年费\r\n退还", " 前后空格 ", "两个  空格", "\t", ""]
    if not raw:
        texts = _normalised(texts)
    for segmenter in _segmenters():
        assert _split_joined(segmenter, texts) == [segmenter.cut(t) for t in texts]
        assert _split_joined(segmenter, texts[:1]) == [segmenter.cut(texts[0])]
    fast = _segmenters()[1]
    assert fast._apart(texts, fast._fast[1]) == {i for i, t in enumerate(texts)
                                                if fast._fast[1](t) or re.search(r"[^\S ]|  ", t)}


def test_identical_with_a_dictionary_that_repeats_words_and_omits_frequencies(tmp_path):
    # jieba counts a re-added word twice in its total and derives missing frequencies from running totals
    d = tmp_path / "dict.txt"
    d.write_text("的 400000\n同学们\n征信修复 50\n征信修复\n还款 90000 v\nabc123\n学们 3\n", encoding="utf-8")
    texts = ["同学们注意征信修复不是还款abc123的事", *_normalised(_corpus_texts()[:500])]
    by_jieba, by_rjieba = _cuts(texts, user_dict=d, stop_words=None)
    assert by_jieba == by_rjieba


def test_falls_back_to_jieba_when_the_probe_differs(caplog):
    seg = Segmenter().warm_up()
    assert seg.backend_ == "rjieba"
    tampered = pickle.loads(pickle.dumps(seg))
    tampered._probe = (tampered._probe[0], "0" * 64)
    with caplog.at_level(logging.INFO, logger="triage.segment"):
        assert tampered.cut("信用卡被盗刷") == seg.cut("信用卡被盗刷")
    assert tampered.backend_ == "jieba"
    assert "differ" in caplog.text
    insisting = pickle.loads(pickle.dumps(tampered))
    insisting.backend = "rjieba"
    with pytest.raises(ConfigError, match="differ from jieba"):
        insisting.warm_up()


def test_falls_back_to_jieba_without_rjieba(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "rjieba", None)  # import rjieba → ImportError
    seg = Segmenter().warm_up()
    assert seg.backend_ == "jieba"
    assert seg.cut("信用卡被盗刷了急急急") == _segmenters()[0].cut("信用卡被盗刷了急急急")


def test_hmm_always_uses_jieba():
    assert Segmenter(hmm=True).warm_up().backend_ == "jieba"


def test_unknown_backend_is_refused():
    with pytest.raises(ConfigError, match="choose one of auto, jieba, rjieba"):
        Segmenter(backend="fast")


def test_resolution_is_kept_when_pickled_so_loading_needs_no_jieba():
    seg = Segmenter().warm_up()
    again = pickle.loads(pickle.dumps(seg))
    assert again._resolved == seg._resolved and again._probe == seg._probe
    again.warm_up()
    assert again.backend_ == "rjieba"


def test_warm_up_with_fallback_loads_jieba_before_the_first_text_that_needs_it():
    seg = pickle.loads(pickle.dumps(Segmenter().warm_up()))  # as a loaded model holds it
    seg.warm_up()
    assert seg.backend_ == "rjieba" and seg._jieba is None  # a one-off command does not pay for jieba
    seg.warm_up(fallback=True)
    loaded = seg._jieba
    assert loaded is not None
    handed_back = "客服一直不回复急急急"  # repeated words: the fast backend hands it to jieba
    assert seg.cut(handed_back) == _segmenters()[0].cut(handed_back)
    assert seg._jieba is loaded


def test_a_warmed_up_model_has_jieba_ready_for_the_texts_handed_back():
    import triage

    model = triage.load_model()
    assert model.segmenter_._jieba is None
    model.warm_up()
    assert model.segmenter_._jieba is not None
