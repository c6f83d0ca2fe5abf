import json
import pickle
import unicodedata

import pytest

from triage.normalize import Normalizer, mask_personal_data
from triage.resources import corpora_dir


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("手机13812345678", "手机[手机号]"),
        ("手机+86 138-1234-5678", "手机[手机号]"),
        ("手机138****5678", "手机[手机号]"),
        ("座机010-87654321", "座机[电话]"),
        ("身份证11010119900307123X", "身份证[身份证号]"),
        ("卡号6222021234567890123", "卡号[卡号]"),
        ("卡号 6222 0212 3456 7890", "卡号 [卡号]"),
        ("邮件 someone@bank.com.cn", "邮件 [邮箱]"),
        ("见https://example.cn/a?b=1，谢谢", "见[网址]，谢谢"),
        ("借了50000元，年化24%", "借了50000元，年化24%"),
        ("2023年5月12日还款", "2023年5月12日还款"),
    ],
)
def test_masking(raw, expected):
    assert mask_personal_data(raw) == expected


def test_nfkc_lowercase_whitespace():
    n = Normalizer()
    assert n("ＡＰＰ　还款\n\n失败  ！") == "app 还款 失败 !"


def test_masks_after_nfkc_full_width_digits():
    assert Normalizer()("电话１３８１２３４５６７８") == "电话[手机号]"


def test_truncation_is_bounded():
    n = Normalizer(max_chars=100)
    text = "投诉" * 500_000  # 1 MB of text
    out = n(text)
    assert len(out) == 100
    assert n.was_truncated(text)
    assert not n.was_truncated("短")


def test_picklable():
    n = Normalizer(max_chars=50)
    assert pickle.loads(pickle.dumps(n))("ＡＢ") == "ab"


def test_aliases_replace_longest_name_first():
    n = Normalizer(aliases={"江汇银行": "某银行", "江汇银行信用卡": "某银行信用卡"})
    assert n("江汇银行信用卡扣了年费，江汇银行不退") == "某银行信用卡扣了年费,某银行不退"


def test_read_aliases(tmp_path):
    from triage.exceptions import DictionaryError
    from triage.normalize import read_aliases

    path = tmp_path / "a.tsv"
    path.write_text("# comment\nＡＢ银行\t某银行\n", encoding="utf-8")
    assert read_aliases(path) == {"ab银行": "某银行"}
    path.write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(DictionaryError, match="a.tsv:1"):
        read_aliases(path)


def test_shipped_institution_list_is_readable():
    from triage.normalize import read_aliases
    from triage.resources import corpora_dir

    aliases = read_aliases(corpora_dir() / "institutions.tsv")
    assert len(aliases) > 300 and set(aliases.values()) >= {"某银行", "某消费金融公司", "某借款平台"}


def test_mask_prefilter_skips_only_texts_no_mask_can_match():
    """Substituting every mask unconditionally gives the same text as the prefiltered mask_personal_data."""
    from triage.normalize import _MASKS

    texts = [json.loads(line)["text"] for line in
             (corpora_dir() / "complaints.train.jsonl").read_text(encoding="utf-8").splitlines()]
    texts += ["电话13812345678", "138 1234 5678", "138-****-5678", "+86 13812345678", "0755-1234567",
              "010 12345678", "6222 0212 3456 7890 123", "6222-0212-3456-7890", "622202123456789",
              "110101199003071234", "11010119900307123x", "123456789", "1234 5678 9", "２０２３年５月"]
    for text in texts:
        text = unicodedata.normalize("NFKC", text)
        every = text
        for pattern, placeholder in _MASKS:
            every = pattern.sub(placeholder, every)
        assert mask_personal_data(text) == every, text


def test_grouped_alias_pattern_replaces_as_a_plain_longest_first_alternation():
    import re

    from triage.normalize import read_aliases

    aliases = read_aliases(corpora_dir() / "institutions.tsv")
    plain = re.compile("|".join(re.escape(n) for n in sorted(aliases, key=len, reverse=True)))
    texts = [json.loads(line)["text"] for line in
             (corpora_dir() / "complaints.train.jsonl").read_text(encoding="utf-8").splitlines()]
    texts += ["".join(aliases), "和".join(aliases), "".join(sorted(aliases))]  # names side by side and nested
    normalizer = Normalizer(aliases=aliases)
    for text in texts:
        text = unicodedata.normalize("NFKC", text).lower()
        assert normalizer._alias_pattern.sub(lambda m: aliases[m.group(0)], text) == \
            plain.sub(lambda m: aliases[m.group(0)], text)


def test_fast_nfkc_equals_unicodedata_nfkc():
    """nfkc replaces ASCII compatibility forms first; the result must be NFKC itself, on every kind of text."""
    from conftest import SHARED_DATA

    from triage.normalize import _ASCII_FORMS, nfkc

    texts = [json.loads(line)["text"] for line in
             (corpora_dir() / "complaints.train.jsonl").read_text(encoding="utf-8").splitlines()]
    for csv_file in sorted(SHARED_DATA.glob("*/train.csv"))[:4]:  # real text, when ../shared is present
        texts += csv_file.read_text(encoding="utf-8").splitlines()[:3000]
    texts += [
        "".join(_ASCII_FORMS), "Ａ\u0301ｅ\u0308", "ｶﾞｷﾞ①㈱ｱ", "ﬁ ﬀ ㎡ ℃ ½ ²", "\u1100\u1161\u11a8", "e\u0301\u0327",
        "（２０２３．５．１２）：ｏｋ！", "。、「」『』〜", "\u3000前\u2003后\u2026", "😀 emoji ❤️",
    ]
    assert sum(map(len, texts)) > 200_000
    for text in texts:
        assert nfkc(text) == unicodedata.normalize("NFKC", text), text


def _corpus_texts():
    return [json.loads(line)["text"] for line in
            (corpora_dir() / "complaints.train.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("aliases", ["shipped", {"江汇银行": "某银行", "江汇": "某平台", "汇通": "某平台"},
                                     {"江": "某", "江汇银行": "某银行"}, None])
def test_batch_normalisation_equals_text_by_text(aliases, monkeypatch):
    """normalize_many runs the alias regex only where the array index finds a name's first two characters."""
    from triage.normalize import read_aliases

    if aliases == "shipped":
        aliases = read_aliases(corpora_dir() / "institutions.tsv")
    names = sorted(aliases or {"某": ""}, key=len)
    texts = _corpus_texts()[:1500] + [
        "".join(names), "和".join(names), names[-1] + names[-1], names[-1][:-1], names[-1][-1:] + names[-1],
        "", " ", "Ｈｔｔｐｓ://Ｘ.ＣＮ", "\ud83d半个表情", "a\udc00b", names[-1] * 3 + "x" * 4000,
    ]
    normalizer = Normalizer(aliases=aliases)
    expected = [normalizer.normalize(t) for t in texts]
    for size in (1, 7, 8, 100, len(texts)):  # one by one, and batches with texts ending inside a name
        got = [x for i in range(0, len(texts), size) for x in normalizer.normalize_many(texts[i:i + size])]
        assert got == expected
    monkeypatch.setattr("triage.normalize._BATCH_CHARS", 500)  # a long batch is read in parts
    assert normalizer.normalize_many(texts) == expected
    assert normalizer.normalize("a\udc00b") == "a\ufffdb"  # a lone surrogate becomes U+FFFD: encodable again
    assert pickle.loads(pickle.dumps(normalizer)).normalize_many(texts) == expected


def test_url_check_is_case_blind():
    assert mask_personal_data("访问HTTPS://EXAMPLE.COM/X和WwW.Example.cn") == "访问[网址]和[网址]"


def test_whitespace_runs_become_one_space_as_the_regex_says():
    """The normaliser joins str.split()'s pieces; str.split and the regex \\s agree on every code point."""
    import re
    import sys

    from triage.normalize import _WHITESPACE

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if re.match(r"\s", chr(c))]
    assert spaces == [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()] and len(spaces) > 20
    for text in ["".join(spaces) + "前" + "".join(spaces) + "后" + spaces[-1], "a\u200bb", "  ", "", "x  y\t\nz"]:
        assert Normalizer(lowercase=False)(text) == mask_personal_data(_WHITESPACE.sub(" ", text).strip())
