import json

import pytest

from triage.exceptions import ConfigError
from triage.normalize import Normalizer
from triage.resources import corpora_dir
from triage.signals import EscalationRules, parse_chinese_number


@pytest.fixture(scope="module")
def rules():
    return EscalationRules.load()


def floor(rules, text):
    return rules.floor(rules.find(Normalizer()(text)))


@pytest.mark.parametrize(
    "text, level",
    [
        ("我们二十多个人一起投诉这个平台", "SEV4"),
        ("我们3个同学都被骗了，一起投诉", "SEV3"),
        ("催收给我通讯录里20多个人打电话", "SEV2"),  # a count, but of people called, not complainants
        ("我今天就从楼上跳下去", "SEV4"),
        ("真的要被逼死了", "SEV3"),
        ("已经上了新闻，记者都来采访了", "SEV4"),
        ("此件由12378转办", "SEV3"),
        ("我已经向金融监管局投诉过了", "SEV3"),
        ("我要去12378投诉你们", "SEV2"),
        ("再不处理我就起诉你们", "SEV3"),
        ("不然我就报警", "SEV3"),
        ("我已经报警了", "SEV3"),
        ("催收说要起诉我", None),  # the collector's threat, not the customer's
        ("我不会去曝光的，只想要回手续费", "SEV2"),  # negated threat; the demand remains
        ("我没有报警", None),
        ("卡在身上却被盗刷了六千元", "SEV3"),
        ("每月扣免盗刷服务费8元，我不知情", "SEV2"),  # a product name, not a theft
        ("被骗走了8万元", "SEV3"),
        ("多扣了我五万多元的服务费", "SEV3"),
        ("贷款本金30万，多收了200元手续费", None),  # a principal, not a disputed amount
        ("这是我第三次投诉了", "SEV3"),
        ("我母亲72岁，被业务员诱导买了保险", "SEV3"),
        ("平台每天给我爸妈打电话催款", "SEV2"),
        ("未经我同意扣了会员费", "SEV2"),
        ("垃圾平台！！！", "SEV2"),
        ("征信上多了一条逾期记录", "SEV2"),
        ("客户来电反映网点排队时间长", None),
        ("协商无果，实在没办法了，想打官司", "SEV3"),  # the customer's own intent, without a pronoun
        ("当年在学校被业务员推销办了分期，利滚利", "SEV3"),  # a student's loss
        ("学生没有收入，平台照样给学生放款，利息还高", "SEV3"),
        ("之前没有用过这家消费金融公司的APP，征信上却突然有一条授信记录", "SEV3"),  # identity misuse
        ("借了3万，分48期，一共要还6万多，利息太高", None),  # repaid total, not a disputed amount
        ("一共多收了我6万元的利息和服务费", "SEV3"),  # the disputed interest itself
        ("没有经过我同意就扣了会员费", "SEV2"),  # a pattern that begins with a negation is not cancelled by it
        ("扣款前没有任何通知，直接划走了198元", None),  # the notice and the deduction are in different clauses
        ("没有任何通知就从卡里划走了198元服务费", "SEV2"),
        ("客服说不会未经同意扣款的", None),  # a negation before the match still cancels it
        ("催收天天打电话骚扰，同事都知道了", "SEV2"),
        ("逾期第二天就爆了我的个人信息", "SEV2"),
        ("打了12378也没人管，银行一直推诿", "SEV3"),  # the customer already went to the regulator
        ("再不解决我只能拿起法律武器", "SEV3"),
        ("我要把这事上诉到平台", None),  # "上诉" used for posting on the platform, not an appeal
        ("携程联名信用卡额度被降了", None),  # a co-branded card, not a joint letter
        ("我妈没读过书，被业务员劝着买了理财，亏了两万", "SEV3"),  # a vulnerable customer with a loss
        ("住院花了八万多，保险公司拒赔", "SEV3"),  # a refused claim: the claimed amount is disputed
        ("本金早就还完了，还要再还六万块才给结清证明", "SEV3"),  # all of it is disputed interest
        ("借了8万，现在还要还6万，利息太高", None),  # a balance that still holds principal
        ("这样下去是要把人逼死吗", "SEV3"),
        ("借了4万，合同上总共要还10万，利息高得离谱", "SEV3"),  # 6万 over the principal: disputed interest
        ("贷款8万，一共要还11万，利息太高", None),  # 3万 over the principal: under the threshold
        ("借款3万，总还款12****元，这不就是高利贷", "SEV3"),  # digits masked by an export read as zeros
        ("当时业务员说利息很低，就借了6万元", None),  # an interest word before a principal, not a disputed amount
        ("催收天天恐吓 我会用法律手段维权", "SEV3"),  # a space ends a clause: the collector's threat is elsewhere
        ("银行半夜无故扣款五十元", "SEV2"),  # the institution's unexplained deduction
        ("我多次致电客服要求协商，一直没人回复", "SEV2"),  # chasing again and again
        ("平台天天发短信骚扰亲友", "SEV2"),  # collection that reaches friends and relatives
        ("客服说不会无故扣款", None),  # negated
    ],
)
def test_rule_table_on_written_examples(rules, text, level):
    assert floor(rules, text) == level


def test_signals_report_rule_span_and_text(rules):
    text = Normalizer()("我已经报警了，要求退还会员费")
    found = rules.find(text)
    by_rule = {s.rule: s for s in found}
    assert {"legal_threat", "monetary_demand"} <= set(by_rule)
    s = by_rule["legal_threat"]
    assert text[s.start:s.end] == s.text and s.level == "SEV3"
    assert s.to_dict()["span"] == [s.start, s.end]


def test_deadlines_follow_severity(rules):
    assert rules.deadline("SEV4")["respond_within_hours"] < rules.deadline("SEV1")["respond_within_hours"]
    assert rules.deadline("SEV2")["decide_within_days"] == 15
    assert rules.deadline(None) is None


def test_chinese_numbers():
    assert parse_chinese_number("二十三") == 23
    assert parse_chinese_number("五万") == 50000
    assert parse_chinese_number("3.5") == 3.5


def test_user_rule_table(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(
        '[settings]\nlevels = ["低", "高"]\ntarget = "urgent"\n[[rule]]\nid = "bad_word"\nlevel = "高"\npatterns = ["投诉"]\n',
        encoding="utf-8",
    )
    rules = EscalationRules.load(path)
    assert rules.floor(rules.find("我要投诉")) == "高"
    assert rules.floor(rules.find("你好")) is None


@pytest.mark.parametrize(
    "content, match",
    [
        ('[[rule]]\nid = "x"\nlevel = "SEV9"\npatterns = ["a"]\n', "not one of"),
        ('[[rule]]\nid = "x"\nlevel = "SEV2"\npatterns = ["(unclosed"]\n', "bad regular expression"),
        ("[settings]\n", "no \\[\\[rule\\]\\] entries"),
        ("not toml = = =", "not a valid UTF-8 TOML"),
    ],
)
def test_bad_rule_tables(tmp_path, content, match):
    path = tmp_path / "rules.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        EscalationRules.load(path)


def _severity_model(tmp_path, rules_text):
    """A tiny model whose severity target is gated and floored by a custom rule table."""
    from triage import ComplaintClassifier, FeatureConfig

    path = tmp_path / "rules.toml"
    path.write_text(rules_text, encoding="utf-8")
    texts = [f"生活困难还不上{i}" for i in range(6)] + [f"年费问题{i}" for i in range(6)]
    labels = ["SEV3"] * 6 + ["SEV1"] * 6
    return ComplaintClassifier(features=FeatureConfig(char_min_df=1), rules=EscalationRules.load(path)).fit(
        texts, {"severity": labels})


RULES = """
[settings]
levels = ["SEV1", "SEV2", "SEV3", "SEV4"]
model_alone_max = "SEV2"
model_alone_min_probability = {p}
[[rule]]
id = "police"
level = "SEV3"
patterns = ["报警"]
"""


def test_model_alone_is_capped_without_a_signal(tmp_path):
    model = _severity_model(tmp_path, RULES.format(p=1.01))
    p = model.predict_one("生活困难还不上")
    assert p["severity"].label == "SEV2" and p.needs_review
    assert any("without an escalation signal" in r for r in p.review_reasons)
    p = model.predict_one("生活困难还不上，我已经报警")
    assert p["severity"].label == "SEV3" and not any("without" in r for r in p.review_reasons)


def test_floor_raises_and_records_it(tmp_path):
    model = _severity_model(tmp_path, RULES.format(p=0.5))
    p = model.predict_one("年费问题，我已经报警了")
    assert p["severity"].label == "SEV3" and p["severity"].raised_by_signals
    assert p.deadline is None or "decide_within_days" in p.deadline
    assert [s.rule for s in p.signals] == ["police"]


def test_rule_table_pickled_before_leading_negations_still_loads(rules):
    state = rules.__getstate__()
    del state["_leading_negation"]
    old = EscalationRules.__new__(EscalationRules)
    old.__setstate__(state)
    assert floor(old, "没有经过我同意就扣了会员费") == "SEV2"


def test_index_skips_only_patterns_that_cannot_match(rules, monkeypatch):
    """The prefilter that picks which patterns to run changes no result: same signals as running every pattern."""
    texts = [json.loads(line)["text"] for name in ("complaints.train.jsonl", "complaints.heldout.jsonl")
             for line in (corpora_dir() / name).read_text(encoding="utf-8").splitlines()]
    texts += ["", "盗", "盗刷", "免盗刷", "七十岁", "70岁老人被骗5万元", "我们20多人", "12378转办"]
    texts = [Normalizer()(t) for t in texts]
    indexed = [rules.find(t) for t in texts]
    every = [(r, rule, list(range(len(rule.patterns)))) for r, rule in enumerate(rules.rules) if not rule.amount]
    monkeypatch.setattr(rules, "_candidates", lambda text: every)
    assert [rules.find(t) for t in texts] == indexed
    assert sum(map(bool, indexed)) > 1000  # the comparison covers many texts with signals


def test_batch_index_finds_what_the_text_by_text_index_finds(rules, monkeypatch):
    """find_many indexes a whole batch with array operations: same signals as find, text by text, including
    texts whose neighbours would complete a pattern across the boundary (empty texts, one-character texts)."""
    from triage.signals import _CLAUSE_END, _clause_ends

    texts = [Normalizer()(json.loads(line)["text"]) for line in
             (corpora_dir() / "complaints.heldout.jsonl").read_text(encoding="utf-8").splitlines()]
    texts += ["", "盗", "刷", "", "12378", "转办", "银保", "监会", "我们20", "多人", "七十", "岁", "曝", "光"]
    batch = rules.find_many(texts)
    assert batch == [rules.find(t) for t in texts]
    assert sum(map(bool, batch)) > 300
    monkeypatch.setattr("triage.signals._BATCH_CHARS", 1000)  # a long batch is indexed in parts
    assert rules.find_many(texts) == batch
    assert rules.find_many(["盗", "刷"]) == [[], []]  # fewer texts than the batch threshold, one by one
    assert rules.find_many(["盗", "刷"] * 10) == [[]] * 20  # a batch: "盗刷" is never read across two texts
    assert rules._candidates_many([]) == [] and rules.find_many([]) == []
    assert [stops for _, stops in rules._candidates_many(texts)] == [_clause_ends(t) for t in texts]
    assert all(_clause_ends(t) == [m.start() for m in _CLAUSE_END.finditer(t)]
               for t in texts + ["年费  扣了", "好 ok 好", " 好", "好 ", "扣了 ,退"])


@pytest.mark.parametrize("threshold", [50_000, 3_000, 100, 0.5])
def test_amount_prefilter_skips_only_texts_without_such_an_amount(threshold):
    import re

    rules = EscalationRules({"settings": {"amount_threshold": threshold},
                             "rule": [{"id": "a", "level": "SEV3", "patterns": ["__amount__"]}]})
    texts = [Normalizer()(json.loads(line)["text"]) for line in
             (corpora_dir() / "complaints.train.jsonl").read_text(encoding="utf-8").splitlines()]
    texts += ["九千九百九十九", "九千九千九千九千九千九千", "5w", "3.5万元", "49999元", "50000.5元", "共还款51946"]
    filtered = [[m.span() for m in rules._amounts(t, require_unit=unit)] for t in texts for unit in (True, False)]
    rules._amount_possible = re.compile("")
    assert filtered == [[m.span() for m in rules._amounts(t, require_unit=unit)] for t in texts for unit in (True, False)]
    assert any(filtered)


def test_excess_over_principal_shortcut_skips_only_texts_without_such_an_excess():
    """_excess_amounts returns early when the amounts span less than the threshold; the answer is unchanged."""
    rules = EscalationRules.load()
    rule = next(r for r in rules.rules if r.principal is not None)
    texts = [Normalizer()(json.loads(line)["text"]) for line in
             (corpora_dir() / "complaints.train.jsonl").read_text(encoding="utf-8").splitlines()]
    texts += ["借了3万，总共要还9万", "本金65000，一共还了115000元", "借款2万，已还4万", "贷了10万，还款总额14.9万"]
    checked = 0
    for text in texts:
        amounts = rules._amount_values(text)
        principal = next((v for m, v, _ in amounts if rules._words_near_amount(text, *m.span(), rule.principal, width=6)),
                         None)
        expected = [] if principal is None else [m for m, v, _ in amounts if v - principal >= rules.amount_threshold]
        assert [m.span() for m in rules._excess_amounts(text, rule.principal)] == [m.span() for m in expected], text
        checked += bool(expected)
    assert checked >= 3


def test_every_match_holds_a_string_of_each_of_its_patterns_conditions(rules):
    """The index's conditions are necessary: a text a pattern matches contains one string of every condition set."""
    texts = [Normalizer()(json.loads(line)["text"]) for line in
             (corpora_dir() / "complaints.heldout.jsonl").read_text(encoding="utf-8").splitlines()]
    texts += ["我们20多人", "二十多个借款人", "3个人", "十几位车主", "两户", "70岁老人被骗5万元", "联名投诉"]
    checked = 0
    for rule in rules.rules:
        for pattern, conditions in zip(rule.patterns, rule.pattern_conditions):
            for text in texts:
                if pattern.search(text):
                    checked += 1
                    assert all(any(key in text for key in keys) for keys in conditions), (rule.id, pattern.pattern)
    assert checked > 1000


def test_conditions_found_by_an_earlier_version_are_found_again_on_load(rules):
    import pickle

    state = pickle.loads(pickle.dumps(rules)).__getstate__()  # a copy: the fixture's rules stay as they are
    del state["_conditions_version"]  # pickled by a version that stopped at optional items
    for rule in state["rules"]:
        object.__setattr__(rule, "pattern_conditions", ())
    old = EscalationRules.__new__(EscalationRules)
    old.__setstate__(state)
    assert [r.pattern_conditions for r in old.rules] == [r.pattern_conditions for r in EscalationRules.load().rules]
    assert old.find("我们二十多个借款人一起投诉") == rules.find("我们二十多个借款人一起投诉")


def test_amount_regex_finds_what_its_plain_form_finds():
    """_AMOUNT matches a number's first character before its look-behind (so that the regex engine can skip to
    digits and numerals); it finds the same amounts as the plain regex."""
    import re

    from triage.signals import _AMOUNT

    plain = re.compile(r"(?<![0-9.*])([0-9]+\**(?:\.[0-9]+)?|[零〇一二两三四五六七八九十百千几]+)"
                       r"\s*(万|w)?\s*(多|余|几)?\s*(万)?\s*(元|块|rmb)?")
    texts = [Normalizer()(json.loads(line)["text"]) for line in
             (corpora_dir() / "complaints.train.jsonl").read_text(encoding="utf-8").splitlines()]
    texts += ["136***元", "1.5万", ".5万", "*3万", "3.5.6元", "二十几万", "一百二十元", "9九千", "万元", "1 万 多 元"]
    found = 0
    for text in texts:
        assert [(m.span(), m.groups()) for m in _AMOUNT.finditer(text)] == \
            [(m.span(), m.groups()) for m in plain.finditer(text)], text
        found += bool(_AMOUNT.search(text))
    assert found > 1000


def test_a_signal_made_by_the_matcher_equals_one_made_by_its_constructor():
    import dataclasses

    from triage.signals import Signal

    made = Signal._made("group_2_19", "SEV3", "多人投诉", 3, 8, "我们五个人")
    built = Signal("group_2_19", "SEV3", "多人投诉", 3, 8, "我们五个人")
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert dataclasses.asdict(made) == dataclasses.asdict(built) and made.to_dict() == built.to_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.level = "SEV4"
