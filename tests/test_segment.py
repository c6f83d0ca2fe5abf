import pickle
import re

import pytest

from triage.exceptions import DictionaryError, InputError
from triage.segment import Segmenter, read_user_dict


def test_default_dictionary_keeps_financial_terms():
    words = Segmenter().cut("提前还款要交违约金，暴力催收爆通讯录，年化利率太高，打12378")
    for term in ("提前还款", "违约金", "暴力催收", "爆通讯录", "12378"):
        assert term in words


def test_entries_with_digits_and_latin_letters(tmp_path):
    d = tmp_path / "dict.txt"
    d.write_text("GPS费 1000 n\nX卡Pro 1000\n", encoding="utf-8")
    words = Segmenter(user_dict=d, stop_words=None).cut("收了gps费还办了x卡pro")
    assert "gps费" in words and "x卡pro" in words


def test_stop_words_and_whitespace_dropped(tmp_path):
    s = tmp_path / "stop.txt"
    s.write_text("的\n", encoding="utf-8")
    words = Segmenter(user_dict=None, stop_words=s).cut("我 的 卡")
    assert words == ["我", "卡"]


@pytest.mark.parametrize("text", ["信用卡 年费 太贵", "信用卡  年费", "信用卡\t年费\n太贵", "信用卡\u3000年费", " 的 ",
                                  "客户来电反映，信用卡年费被扣了", "a b  c\r\nd", ""])
def test_whitespace_and_stop_words_dropped_on_the_fast_path_too(text):
    seg = Segmenter()
    raw = list(seg.warm_up()._cut(text))
    assert seg.cut(text) == [w for w in raw if not w.isspace() and w not in seg._stop]


def test_private_tokenizer_leaves_jieba_global_state_alone(tmp_path):
    import jieba
    import jieba.finalseg

    force_split = set(jieba.finalseg.Force_Split_Words)
    d = tmp_path / "dict.txt"
    d.write_text("奇怪新词汇 5000\n零频词 0\n", encoding="utf-8")
    Segmenter(user_dict=d, stop_words=None).cut("奇怪新词汇")
    assert "奇怪新词汇" not in jieba.dt.FREQ
    assert set(jieba.finalseg.Force_Split_Words) == force_split


def test_pickle_drops_and_rebuilds_tokenizer():
    seg = Segmenter().warm_up()
    again = pickle.loads(pickle.dumps(seg))
    assert again._cut is None and again._jieba is None
    assert again.cut("信用卡盗刷") == seg.cut("信用卡盗刷")


def test_missing_dictionary_is_a_clear_error(tmp_path):
    with pytest.raises(DictionaryError, match="does not exist"):
        Segmenter(user_dict=tmp_path / "nope.txt").cut("文本")


def test_non_utf8_dictionary(tmp_path):
    d = tmp_path / "gbk.txt"
    d.write_bytes("征信异议 100\n".encode("gbk"))
    with pytest.raises(DictionaryError, match="not UTF-8"):
        read_user_dict(d)


def test_malformed_dictionary_line(tmp_path):
    d = tmp_path / "bad.txt"
    d.write_text("two words 5 n x\n", encoding="utf-8")
    with pytest.raises(DictionaryError, match=r"bad.txt:1"):
        read_user_dict(d)


def test_refuses_non_text():
    with pytest.raises(InputError, match="expects a str"):
        Segmenter().cut(None)


def test_cache_file_goes_to_triage_cache(_isolated_cache):
    Segmenter().warm_up()
    assert any(p.name.startswith("jieba") for p in _isolated_cache.iterdir())


def test_tie_shortcut_agrees_with_the_full_pattern():
    """The cheap check before the tie-prone regex changes no decision, on the shipped dictionary's pattern."""
    import json

    from triage.resources import corpora_dir
    from triage.segment import _TieCheck

    seg = Segmenter().warm_up()
    pattern = seg._resolved[3]
    full, check = re.compile(pattern).search, _TieCheck(pattern)
    texts = [json.loads(line)["text"] for line in
             (corpora_dir() / "complaints.train.jsonl").read_text(encoding="utf-8").splitlines()]
    texts += ["滴滴滴", "急急急急", "哈哈哈", "很多很多很多", "嗯嗯嗯嗯嗯", "aaa", "\n\n\n", "一阵一阵一阵"]
    decisions = [check(t) for t in texts]
    assert decisions == [full(t) is not None for t in texts]
    assert any(decisions)
