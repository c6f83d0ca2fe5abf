import pytest

from triage.config import ClassifierConfig, ConfidenceConfig, FeatureConfig, SegmenterConfig, TrainConfig
from triage.exceptions import ConfigError


def test_round_trip_nested():
    cfg = TrainConfig(targets=("a", "b"), features=FeatureConfig(word_ngram=(1, 3)), segmenter=SegmenterConfig(hmm=True))
    again = TrainConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert again.features.word_ngram == (1, 3)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: FeatureConfig(word_ngram=(0, 2)), "word_ngram"),
        (lambda: ClassifierConfig(C=0), "C must be"),
        (lambda: ClassifierConfig(class_weight="heavy"), "class_weight"),
        (lambda: ConfidenceConfig(high_precision=0.5, medium_precision=0.9), "medium_precision"),
        (lambda: TrainConfig(test_size=1.5), "test_size"),
        (lambda: TrainConfig(text_column="text", targets=("text",)), "cannot also be a target"),
        (lambda: SegmenterConfig(hmm="yes"), "hmm"),
    ],
)
def test_invalid_values_are_refused(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_unknown_option_is_named():
    with pytest.raises(ConfigError, match="Unknown FeatureConfig option"):
        FeatureConfig.from_dict({"char_ngrams": [1, 3]})


def test_frozen():
    with pytest.raises(AttributeError):
        TrainConfig().seed = 3
