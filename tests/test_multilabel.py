"""Multi-label targets: a cell may hold several labels (e.g. the car complaint codes "H93,H15,")."""

import itertools
import json
import logging
import pickle
import subprocess
import sys

import numpy as np
import pytest

from triage import ComplaintClassifier, FeatureConfig, InputError, TargetPrediction, TaxonomyError
from triage.model import MIN_POSITIVES_TO_TUNE, THRESHOLD_BOUNDS, _best_f1_threshold, split_labels
from triage.segment import Segmenter

# Authored complaints about cars: four problems, each with six ways of saying it. A row names one or two of them,
# so the label sets have a clear structure (a text about brakes and paint is labelled "brake,paint").
PHRASES = {
    "brake": ["刹车异响", "刹车失灵", "刹车片磨损太快", "制动距离变长", "刹车踏板发软", "刹车时方向盘抖动"],
    "engine": ["发动机漏油", "发动机异响", "发动机抖动厉害", "机油消耗太大", "发动机故障灯亮", "发动机动力不足"],
    "aircon": ["空调不制冷", "空调有异味", "空调出风口异响", "空调压缩机坏了", "空调制热效果差", "空调漏水"],
    "paint": ["车漆起泡", "漆面脱落", "车身掉漆", "油漆色差明显", "漆面生锈", "车漆开裂"],
}
OPENINGS = ["新车", "买了半年", "刚提车", "开了两万公里", "保养后", "厂家不处理"]


def _rows():
    texts, cells = [], []
    for label, phrases in PHRASES.items():
        for k, phrase in enumerate(phrases):
            texts.append(f"{OPENINGS[k]}{phrase}")
            cells.append(f"{label},")  # the trailing separator of the real data
    for (a, b) in itertools.combinations(PHRASES, 2):
        for k in range(6):
            texts.append(f"{OPENINGS[(k + 3) % 6]}{PHRASES[a][k]}，而且{PHRASES[b][(k + 2) % 6]}")
            cells.append(f"{a}, {b}" if k % 2 else f"{b},{a},")  # order, spaces and trailing separator vary
    return texts, cells


TEXTS, CELLS = _rows()
SEG = dict(segmenter=Segmenter(user_dict=None, stop_words=None), features=FeatureConfig(char_min_df=1))


@pytest.fixture(scope="module")
def model():
    return ComplaintClassifier(**SEG, multi_label={"problem": ","}).fit(TEXTS, {"problem": CELLS})


# -- cells ---------------------------------------------------------------------------
@pytest.mark.parametrize("cell, expected", [
    ("H93,H15,", ("H93", "H15")), (" H93 , H15 ,H93", ("H93", "H15")), (",", ()), ("", ()), (None, ()),
    (float("nan"), ()), ("H1", ("H1",)),
])
def test_cells_are_split_stripped_and_deduplicated(cell, expected):
    assert split_labels(cell, ",") == expected


# -- fitting and predicting ------------------------------------------------------------
def test_classes_are_the_distinct_labels(model):
    assert model.classes["problem"] == ["aircon", "brake", "engine", "paint"]
    assert model.separators == {"problem": ","}


@pytest.mark.parametrize("text, expected", [
    ("开了一年刹车异响", {"brake"}),
    ("空调不制冷", {"aircon"}),
    ("刹车失灵，而且车漆起泡", {"brake", "paint"}),
    ("发动机漏油，空调有异味", {"engine", "aircon"}),
])
def test_predicts_label_sets(model, text, expected):
    t = model.predict_one(text)["problem"]
    assert set(t.labels) == expected
    assert t.label == ",".join(t.labels)


def test_labels_come_most_probable_first_with_their_probabilities(model):
    t = model.predict_one("刹车失灵，而且车漆起泡")["problem"]
    probabilities = [p for _, p in t.alternatives]
    assert probabilities == sorted(probabilities, reverse=True)
    assert [lab for lab, _ in t.alternatives[: len(t.labels)]] == list(t.labels)
    assert t.probability == min(t.label_probabilities.values())
    assert len(t.alternatives) >= model.classifier.top_k
    d = t.to_dict()
    assert [x["label"] for x in d["labels"]] == list(t.labels) and d["label"] == t.label


def test_probabilities_are_per_label(model):
    proba = model.predict_proba(["刹车失灵，而且车漆起泡", "空调漏水"])["problem"]
    assert proba.shape == (2, 4) and ((proba >= 0) & (proba <= 1)).all()
    assert proba[0].sum() > 1.2  # two labels likely at once: they do not share one unit of probability


def test_at_least_one_label_is_always_given(model):
    for prediction in model.predict(["今天天气很好", "嗯", "12345"]):
        assert len(prediction["problem"].labels) >= 1
    strict = pickle.loads(pickle.dumps(model))
    strict.targets_["problem"].label_thresholds_ = np.full(4, 1.1)  # nothing can pass: the most probable is given
    for text in ["刹车失灵，而且车漆起泡", "空调漏水"]:
        proba = strict.predict_proba([text])["problem"][0]
        t = strict.predict_one(text)["problem"]
        assert t.labels == (strict.classes["problem"][int(proba.argmax())],)


def test_decision_thresholds_are_tuned_within_bounds(model):
    t = model.targets_["problem"]
    assert t.label_thresholds_.shape == (4,)
    assert ((t.label_thresholds_ >= THRESHOLD_BOUNDS[0]) & (t.label_thresholds_ <= THRESHOLD_BOUNDS[1])).all()
    slope, _ = t.sigmoid_
    assert slope > 0  # a higher SVM score means a more probable label
    assert set(t.thresholds_) == {"high", "medium"}


def test_best_f1_threshold_on_a_fixed_example():
    p = np.array([0.95, 0.8, 0.6, 0.55, 0.3, 0.2, 0.05])
    y = np.array([1, 1, 0, 1, 0, 0, 0])
    assert _best_f1_threshold(p, y) == pytest.approx(0.425)  # between 0.55 (a positive) and 0.3: F1 = 6/7
    assert _best_f1_threshold(np.array([0.99, 0.98, 0.01]), np.array([1, 1, 0])) == pytest.approx(0.495)  # plateau: nearest 0.5
    # F1 would be 1 with a threshold of 0.97, but thresholds stay within their bounds
    assert _best_f1_threshold(np.array([0.99, 0.95, 0.5]), np.array([1, 0, 0])) <= THRESHOLD_BOUNDS[1]
    rng = np.random.default_rng(0)
    for _ in range(20):
        t = _best_f1_threshold(rng.random(30), rng.integers(0, 2, 30))
        assert THRESHOLD_BOUNDS[0] <= t <= THRESHOLD_BOUNDS[1]


def test_labels_too_rare_to_tune_keep_the_default_threshold():
    cells = list(CELLS)
    rare = [i for i, c in enumerate(cells) if "paint" in c][: MIN_POSITIVES_TO_TUNE - 2]
    cells = [c.replace("paint", "").strip(", ") + "," if "paint" in c and i not in rare else c
             for i, c in enumerate(cells)]
    cells = [c if c.strip(", ") else "" for c in cells]
    model = ComplaintClassifier(**SEG, multi_label={"problem": ","}).fit(TEXTS, {"problem": cells})
    t = model.targets_["problem"]
    assert t.label_thresholds_[list(t.classes_).index("paint")] == 0.5


def test_labels_seen_once_are_left_out_with_a_warning(caplog):
    cells = list(CELLS)
    cells[0] = "brake,lonely"
    with caplog.at_level(logging.WARNING, logger="triage.model"):
        model = ComplaintClassifier(**SEG, multi_label={"problem": ","}).fit(TEXTS, {"problem": cells})
    assert "lonely" not in model.classes["problem"]
    assert model.untrained_labels_["problem"] == {"lonely": 1}
    assert "cannot be learned" in caplog.text and "lonely" in caplog.text


def test_empty_cells_leave_rows_out_of_the_target():
    cells = list(CELLS) + ["", None, ",", " , "]
    texts = list(TEXTS) + ["刹车异响", "发动机漏油", "空调漏水", "车漆起泡"]
    model = ComplaintClassifier(**SEG, multi_label={"problem": ","}).fit(texts, {"problem": cells})
    assert model.classes["problem"] == ["aircon", "brake", "engine", "paint"]
    # a label in every *labelled* row is still refused, however many unlabelled rows there are
    with pytest.raises(InputError, match="'problem'.*'x' .*every one of its 3 labelled rows|x occur in every"):
        ComplaintClassifier(**SEG, multi_label={"problem": ","}).fit(
            ["刹车", "发动机", "空调", "车漆"], {"problem": ["x,a", "x,b", "x", ""]})


# -- refusals ----------------------------------------------------------------------
@pytest.mark.parametrize("cells, match", [
    (["a,", "a", "a,a", ""], r"'problem' has 1 distinct label\(s\) \(a\).*separator"),
    (["a,b", "a", "a,c", "a,b,c"], r"'problem': label\(s\) a occur in every one of its 4 labelled rows.*remove"),
    (["a,b", "a", "c", "d"], r"'problem' has 1 label\(s\) that occur in at least 2 rows.*Add examples"),
])
def test_impossible_targets_are_refused(cells, match):
    with pytest.raises(InputError, match=match):
        ComplaintClassifier(**SEG, multi_label={"problem": ","}).fit(["刹车", "发动机", "空调", "车漆"],
                                                                      {"problem": cells})


def test_wrong_separator_is_named_in_the_message():
    with pytest.raises(InputError, match=r"'problem' has 1 distinct label.*splitting on ';'"):
        ComplaintClassifier(**SEG, multi_label={"problem": ";"}).fit(["a", "b"], {"problem": ["x;", "x"]})


@pytest.mark.parametrize("spec, match", [
    ({"problme": ","}, r"multi_label names \['problme'\].*not among the targets"),
    ({"problem": ""}, "separator of multi-label target 'problem' must be a non-empty string"),
    (["problem"], "multi_label must map each multi-label target to its separator"),
])
def test_bad_multi_label_settings_are_refused(spec, match):
    with pytest.raises(InputError, match=match):
        ComplaintClassifier(**SEG, multi_label=spec).fit(TEXTS, {"problem": CELLS})


def test_taxonomy_checks_every_item(tmp_path):
    from triage.taxonomy import Taxonomy

    path = tmp_path / "taxonomy.json"
    path.write_text('{"axes": [{"target": "problem", "labels": [{"code": "brake"}, {"code": "engine"}, '
                    '{"code": "aircon"}]}]}', encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"target 'problem' has label\(s\) outside the taxonomy.*'paint'"):
        ComplaintClassifier(**SEG, taxonomy=Taxonomy.load(path), multi_label={"problem": ","}).fit(
            TEXTS, {"problem": CELLS})


def test_the_rules_target_cannot_be_multi_label():
    from triage.signals import EscalationRules

    rules = EscalationRules.load("default")
    with pytest.raises(InputError, match=f"'{rules.target}' carries the escalation rules.*--rules none"):
        ComplaintClassifier(**SEG, rules=rules, multi_label={rules.target: ","}).fit(
            TEXTS, {rules.target: CELLS})


# -- the rest of the model is unchanged ------------------------------------------------
def test_single_label_targets_are_unaffected(model):
    single = ["brake" if "brake" in c else "other" for c in CELLS]
    alone = ComplaintClassifier(**SEG).fit(TEXTS, {"main": single})
    mixed = ComplaintClassifier(**SEG, multi_label={"problem": ","}).fit(TEXTS, {"main": single, "problem": CELLS})
    texts = ["刹车异响", "空调漏水", "发动机漏油，车漆起泡"]
    assert [p["main"].to_dict() for p in mixed.predict(texts)] == [p["main"].to_dict() for p in alone.predict(texts)]
    assert "labels" not in alone.predict_one("刹车异响")["main"].to_dict()
    assert alone.predict_one("刹车异响")["main"].labels is None


def test_params_and_clone(model):
    from sklearn.base import clone

    assert model.get_params()["multi_label"] == {"problem": ","}
    assert clone(model).multi_label == {"problem": ","}
    assert ComplaintClassifier().get_params()["multi_label"] is None


def test_unreadable_text_gets_an_empty_label_set(model):
    t = model.predict(["😀"])[0]["problem"]
    assert t.label is None and t.labels == () and t.to_dict()["labels"] == []


def test_explain_uses_the_most_probable_label(model):
    explanation = model.explain("刹车失灵，而且车漆起泡")
    assert explanation.labels["problem"] == model.predict_one("刹车失灵，而且车漆起泡")["problem"].label
    assert any("刹车" in term or "漆" in term for term, _ in explanation.terms["problem"])


def test_pickle_round_trip_predicts_the_same(model):
    again = pickle.loads(pickle.dumps(model))
    texts = ["刹车失灵，而且车漆起泡", "空调漏水", ""]
    assert [p.to_dict() for p in again.predict(texts)] == [p.to_dict() for p in model.predict(texts)]


def test_target_prediction_of_a_single_label_is_unchanged():
    t = TargetPrediction("a", 0.9, "high", (("a", 0.9),))
    assert t.to_dict() == {"label": "a", "probability": 0.9, "confidence": "high",
                           "alternatives": [{"label": "a", "probability": 0.9}]}
    assert t.label_probabilities == {"a": 0.9}


# -- workflows: train, save, load, evaluate, label files ---------------------------------
from conftest import SHARED_DATA  # noqa: E402

from triage import TrainConfig, evaluate, label_file, load_model, predictions_table, save_model, train  # noqa: E402
from triage.report import multilabel_metrics, write_report  # noqa: E402

RECORDS = [{"text": t, "problem": c} for t, c in zip(TEXTS, CELLS)]
CONFIG = TrainConfig(test_size=0, search=False, taxonomy=None, rules=None, features=FeatureConfig(char_min_df=1),
                     multi_label={"problem": ","})


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("multilabel") / "model"
    train(RECORDS, config=CONFIG, output=out)
    return out


def test_train_config_round_trips_and_checks_names():
    assert TrainConfig.from_dict(CONFIG.to_dict()) == CONFIG
    from triage import ConfigError

    with pytest.raises(ConfigError, match=r"multi_label names \['problme'\], which are not among the targets"):
        TrainConfig(targets=["problem"], multi_label={"problme": ","})
    with pytest.raises(ConfigError, match="separator of multi-label target 'problem' must be a non-empty string"):
        TrainConfig(multi_label={"problem": None})


def test_train_refuses_an_unknown_multi_label_column():
    with pytest.raises(InputError, match=r"Multi-label target\(s\) \['nope'\] are not label columns.*--multi-label"):
        train(RECORDS, config=TrainConfig(test_size=0, search=False, multi_label={"nope": ","}))


def test_saved_model_loads_and_predicts_identically(model_dir):
    from triage.persist import read_manifest

    manifest = read_manifest(model_dir)
    assert manifest["multi_label"]["problem"]["separator"] == ","
    assert set(manifest["multi_label"]["problem"]["decision_thresholds"]) == {"aircon", "brake", "engine", "paint"}
    assert manifest["config"]["multi_label"] == {"problem": ","}
    assert "problem" not in manifest["calibration_temperature"]
    again = load_model(model_dir)
    fresh = train(RECORDS, config=CONFIG).model
    texts = ["刹车失灵，而且车漆起泡", "空调漏水", "", "😀", None]
    assert [p.to_dict() for p in again.predict(texts)] == [p.to_dict() for p in fresh.predict(texts)]


def test_loading_and_predicting_a_multi_label_model_imports_neither_scikit_learn_nor_scipy(model_dir):
    code = (
        "import sys, triage;"
        f"m = triage.load_model({str(model_dir)!r});"
        "t = m.predict_one('刹车失灵，而且车漆起泡')['problem'];"
        "assert set(t.labels) == {'brake', 'paint'}, t;"
        "heavy = sorted({n.split('.')[0] for n in sys.modules} & {'sklearn', 'scipy', 'jieba', 'joblib'});"
        "assert not heavy, f'loading and predicting imported {heavy}'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_predictions_table_and_label_file_round_trip(model_dir, tmp_path):
    import csv

    model = load_model(model_dir)
    texts = ["刹车失灵，而且车漆起泡", "空调漏水", "发动机漏油，空调有异味", ""]
    predictions = model.predict(texts)
    table = predictions_table(predictions)
    assert table["problem"] == [p["problem"].label for p in predictions]
    assert table["problem_probability"][0] == predictions[0]["problem"].probability
    source = tmp_path / "in.csv"
    with open(source, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text", "problem"]] + [[t, "x"] for t in texts])
    summary = label_file(model, source, tmp_path / "out.csv")
    with open(tmp_path / "out.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert summary.rows == 4 and [r["problem"] for r in rows] == ["x"] * 4  # the input column is kept
    assert [split_labels(r["problem_pred"], ",") for r in rows] == [p["problem"].labels for p in predictions]
    assert rows[0]["problem_pred_confidence"] == predictions[0]["problem"].confidence
    # the output reads back as training data with the same separator
    again = train([{"text": r["text"], "problem": r["problem_pred"]} for r in rows[:3]] + RECORDS, config=CONFIG)
    assert again.model.classes["problem"] == ["aircon", "brake", "engine", "paint"]


def test_dask_labels_match_predict(model_dir):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    from triage.distributed import label_dask_dataframe, label_frame

    model = load_model(model_dir)
    frame = pd.DataFrame({"text": ["刹车失灵，而且车漆起泡", "空调漏水", ""]})
    expected = [p["problem"].label for p in model.predict(list(frame["text"]))]
    assert [None if pd.isna(v) else v for v in label_frame(model, frame)["problem"]] == expected
    out = label_dask_dataframe(model, dd.from_pandas(frame, npartitions=2)).compute(scheduler="sync")
    assert [None if pd.isna(v) else v for v in out["problem"]] == expected


def test_metrics_match_scikit_learn_on_a_fixed_example():
    from sklearn.metrics import accuracy_score, f1_score, hamming_loss, precision_recall_fscore_support
    from sklearn.preprocessing import MultiLabelBinarizer

    truth = [("a", "b"), ("a",), ("c",), ("b", "c"), ("a", "d")]
    pred = [("a",), ("a", "c"), ("c",), ("b", "c", "e"), ("b",)]
    m = multilabel_metrics(truth, pred)
    binarizer = MultiLabelBinarizer(classes=["a", "b", "c", "d", "e"]).fit(truth + pred)
    T, P = binarizer.transform(truth), binarizer.transform(pred)
    assert m["micro_f1"] == pytest.approx(f1_score(T, P, average="micro"))
    assert m["macro_f1"] == pytest.approx(f1_score(T[:, :4], P[:, :4], average="macro", zero_division=0))  # true labels
    assert m["samples_f1"] == pytest.approx(f1_score(T, P, average="samples", zero_division=0))
    assert m["hamming_loss"] == pytest.approx(hamming_loss(T, P))
    assert m["subset_accuracy"] == pytest.approx(accuracy_score(T, P)) == pytest.approx(1 / 5)
    p, r, f, s = precision_recall_fscore_support(T, P, zero_division=0)
    for j, label in enumerate(binarizer.classes_):
        assert m["per_label"][label] == {"precision": pytest.approx(p[j]), "recall": pytest.approx(r[j]),
                                         "f1": pytest.approx(f[j]), "support": s[j]}
    base = m["majority_baseline"]  # always "a" (3 rows)
    assert base["label"] == "a"
    always_a = np.zeros_like(T)
    always_a[:, 0] = 1
    assert base["micro_f1"] == pytest.approx(f1_score(T, always_a, average="micro"))
    assert base["subset_accuracy"] == pytest.approx(1 / 5)


def test_evaluation_report_and_model_card(model_dir, tmp_path):
    metrics = evaluate(model_dir, RECORDS, report_dir=tmp_path / "report")
    m = metrics["problem"]
    assert m["kind"] == "multi-label" and m["n"] == len(RECORDS)
    assert m["micro_f1"] > 0.9 and m["micro_f1"] > m["majority_baseline"]["micro_f1"]
    assert {"brier", "ece"} <= set(m["calibration"]) and set(m["confidence"]) == {"high", "medium", "low"}
    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "## problem (multi-label)" in report and "No confusion matrix" in report
    assert not list((tmp_path / "report").glob("confusion_*.png"))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    else:
        assert (tmp_path / "report" / "labels_problem.png").is_file() and "labels_problem.png" in report
    result = train(RECORDS, config=TrainConfig(test_size=0.25, search=False, taxonomy=None, rules=None,
                                                features=FeatureConfig(char_min_df=1), multi_label={"problem": ","}),
                   output=tmp_path / "held")
    card = (tmp_path / "held" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "| multi-label target |" in card and "separator `,`" in card and "random split" in result.split
    assert "micro-F1" in result.summary()


def test_report_with_both_kinds_of_target(tmp_path):
    from triage.report import classification_metrics, format_metrics

    metrics = {"main": classification_metrics(["a", "b"], ["a", "a"]),
               "problem": multilabel_metrics([("a", "b"), ("c",)], [("a",), ("c",)])}
    write_report(metrics, tmp_path, title="t", split="s")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| main | 2 |" in report and "## problem (multi-label)" in report
    text = format_metrics(metrics, split="s")
    assert "accuracy 0.500" in text and "micro-F1 0.800" in text


def test_cross_validation_uses_plain_folds_for_a_multi_label_first_target(monkeypatch):
    from triage import curation

    result = curation.cross_validate(RECORDS, config=CONFIG, folds=3)
    m = result["metrics"]["problem"]
    assert m["kind"] == "multi-label" and m["n"] == len(RECORDS) and m["micro_f1"] > 0.5
    labelled = curation._labelled(RECORDS, CONFIG)
    splits = list(curation._splitter(labelled, 3, 0, CONFIG.multi_label))
    from sklearn.model_selection import KFold

    assert [list(t) for _, t in splits] == [list(t) for _, t in KFold(3, shuffle=True, random_state=0).split(TEXTS)]


def test_audit_compares_label_sets(monkeypatch):
    from triage import curation

    records = [dict(r) for r in RECORDS]
    records[0]["problem"] = "brake,paint"  # row 1 is about brakes only: the audit should question "paint"
    records[1]["problem"] = "brake"  # same set as the truth, written differently: no finding
    findings = curation.audit(records, config=CONFIG, folds=3, only_high=False)
    assert all(set(split_labels(f["given"], ",")) != set(split_labels(f["suggested"], ",")) for f in findings)
    first = [f for f in findings if f["row"] == 1]
    assert first and first[0]["extra"] == "paint" and first[0]["suggested"] == "brake"
    assert not [f for f in findings if f["row"] == 2]


def test_suggest_ranks_rows_near_their_thresholds(model_dir):
    from triage.curation import suggest

    model = load_model(model_dir)
    picks = suggest(model, ["刹车失灵，而且车漆起泡", "今天天气很好", "空调漏水"], n=3)
    assert len(picks) == 3 and all(0 <= p["uncertainty"] <= 1 for p in picks)
    assert picks[0]["row"] == 2  # an unrelated text is the most uncertain


def test_learning_curve_reports_micro_f1():
    from triage.curation import learning_curve

    points = learning_curve(RECORDS, config=CONFIG, steps=(0.5, 1.0), test_size=0.25)
    assert [p["share"] for p in points] == [0.5, 1.0]
    assert all(0 <= p["problem"] <= 1 for p in points)


def test_search_scores_multi_label_targets_by_micro_f1():
    from triage.search import search
    from triage.config import ClassifierConfig

    texts, cells = TEXTS * 2, CELLS * 2  # at least 60 rows
    _, _, report = search(texts, {"problem": cells}, features=FeatureConfig(char_min_df=1),
                          classifier=ClassifierConfig(), segmenter=SEG["segmenter"], multi_label={"problem": ","})
    assert "chosen" in report and all(0 < row["cv_accuracy"] <= 1 for row in report["grid"])


@pytest.mark.skipif(not (SHARED_DATA / "car_12365auto_complaints").is_dir(), reason="../shared/data is absent")
def test_real_car_complaint_codes():
    import csv

    path = SHARED_DATA / "car_12365auto_complaints" / "car_complain.csv"
    with open(path, encoding="gbk") as f:
        records = [{"text": r["desc"], "problem": r["problem"]} for r in csv.DictReader(f)]
    result = train(records, config=TrainConfig(test_size=0.2, search=False, multi_label={"problem": ","}))
    m = result.metrics["problem"]
    assert m["kind"] == "multi-label" and m["n"] == 120
    assert m["micro_f1"] > 0.4 > m["majority_baseline"]["micro_f1"]
    assert m["macro_f1"] > m["majority_baseline"]["macro_f1"]
    assert result.model.untrained_labels_["problem"]  # codes seen once are left out, not silently learned


# -- command line ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def semicolon_csv(tmp_path_factory):
    import csv

    path = tmp_path_factory.mktemp("cli") / "labelled.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "problem"])
        writer.writerows([t, c.replace(",", ";")] for t, c in zip(TEXTS, CELLS))
    return path


def test_cli_train_evaluate_predict_with_a_separator(semicolon_csv, tmp_path):
    from click.testing import CliRunner

    from triage.cli import main

    runner = CliRunner()
    out = tmp_path / "m"
    result = runner.invoke(main, ["train", str(semicolon_csv), "-o", str(out), "--multi-label", "problem",
                                  "--label-sep", ";", "--cv", "3"])
    assert result.exit_code == 0, result.output
    assert "3-fold cross-validation" in result.output and "micro-F1" in result.output
    assert "samples-F1" in result.output and "Hamming loss" in result.output
    result = runner.invoke(main, ["predict", "--model", str(out), "刹车失灵，而且车漆起泡"])
    row = json.loads(result.output)
    assert set(row["problem"]["label"].split(";")) == {"brake", "paint"}
    result = runner.invoke(main, ["evaluate", str(out), str(semicolon_csv), "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "per label" in result.output and "micro-F1" in result.output
    result = runner.invoke(main, ["info", str(out)])
    assert result.exit_code == 0 and "multi-label, separator ';'" in result.output


def test_cli_multi_label_errors_and_help(semicolon_csv, tmp_path):
    from click.testing import CliRunner

    from triage.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["train", str(semicolon_csv), "-o", str(tmp_path / "m"), "--label-sep", ";"])
    assert result.exit_code == 2 and "--label-sep needs --multi-label" in result.output
    result = runner.invoke(main, ["train", str(semicolon_csv), "-o", str(tmp_path / "m"), "--multi-label", "problme"])
    assert result.exit_code == 1 and "'problme'" in result.output and "--multi-label" in result.output
    for command in ("train", "audit", "curve"):
        result = runner.invoke(main, [command, "--help"])
        assert "--multi-label" in result.output and "--label-sep" in result.output
