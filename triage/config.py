"""Frozen, validated configuration for every stage of a triage model.

Each dataclass validates itself in ``__post_init__`` and round-trips through
plain dicts, so a configuration can be written into a model manifest and read
back unchanged.

>>> cfg = TrainConfig(test_size=0.25)
>>> TrainConfig.from_dict(cfg.to_dict()) == cfg
True
>>> FeatureConfig(char_ngram=(3, 1))
Traceback (most recent call last):
...
triage.exceptions.ConfigError: char_ngram must be (low, high) with 1 <= low <= high, got (3, 1).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .exceptions import ConfigError

__all__ = [
    "SegmenterConfig",
    "FeatureConfig",
    "ClassifierConfig",
    "ConfidenceConfig",
    "TrainConfig",
    "check_multi_label",
]


def _check_range(name: str, value: tuple[int, int]) -> tuple[int, int]:
    try:
        low, high = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a pair of integers (low, high), got {value!r}.") from None
    if not 1 <= low <= high:
        raise ConfigError(f"{name} must be (low, high) with 1 <= low <= high, got {tuple(value)!r}.")
    return (low, high)


class _DictMixin:
    """``to_dict``/``from_dict`` for flat or nested frozen dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, _DictMixin):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(
                f"Unknown {cls.__name__} option(s) {unknown}; known options are {sorted(known)}."
            )
        kwargs = {}
        for name, value in data.items():
            sub = _NESTED.get((cls.__name__, name))
            if sub is not None and isinstance(value, dict):
                value = sub.from_dict(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        return cls(**kwargs)


@dataclass(frozen=True)
class SegmenterConfig(_DictMixin):
    """How text is cut into words.

    ``user_dict`` and ``stop_words`` are file paths; ``"default"`` means the
    files shipped in triage's ``corpora/`` and ``None`` means none. ``backend``
    chooses who runs jieba's segmentation (see :class:`triage.segment.Segmenter`).
    """

    user_dict: str | None = "default"
    stop_words: str | None = "default"
    hmm: bool = False
    backend: str = "auto"

    def __post_init__(self):
        if not isinstance(self.hmm, bool):
            raise ConfigError(f"hmm must be true or false, got {self.hmm!r}.")
        if self.backend not in ("auto", "jieba", "rjieba"):
            raise ConfigError(f"backend must be auto, jieba or rjieba, got {self.backend!r}.")


@dataclass(frozen=True)
class FeatureConfig(_DictMixin):
    """Word n-grams over segments plus character n-grams over normalised text."""

    word_ngram: tuple[int, int] = (1, 2)
    char_ngram: tuple[int, int] = (1, 3)
    word_min_df: int = 1
    char_min_df: int = 2
    max_word_features: int | None = 400_000
    max_char_features: int | None = 400_000
    sublinear_tf: bool = True
    word_weight: float = 1.0
    max_chars: int = 3000

    def __post_init__(self):
        if not (isinstance(self.word_weight, (int, float)) and self.word_weight > 0):
            raise ConfigError(f"word_weight must be a positive number, got {self.word_weight!r}.")
        object.__setattr__(self, "word_ngram", _check_range("word_ngram", self.word_ngram))
        object.__setattr__(self, "char_ngram", _check_range("char_ngram", self.char_ngram))
        for name in ("word_min_df", "char_min_df", "max_chars"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)!r}.")
        for name in ("max_word_features", "max_char_features"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer or null, got {value!r}.")


@dataclass(frozen=True)
class ClassifierConfig(_DictMixin):
    """One linear classifier per target, calibrated by temperature scaling.

    ``nb_weight`` (0 or more; 0 = a plain linear SVM) blends Complement Naive
    Bayes evidence into a single-label target's SVM: its scores become the SVM's
    plus ``nb_weight`` times those of a Complement NB fitted on the same
    features, each centred over the classes and divided by its spread on the
    training rows. Both are linear, so the blend is stored as one weight matrix
    and prediction costs the same. Multi-label targets ignore it.
    """

    C: float = 0.5
    class_weight: str | None = "balanced"
    calibration_folds: int = 3
    top_k: int = 3
    nb_weight: float = 0.0

    def __post_init__(self):
        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ConfigError(f"C must be a positive number, got {self.C!r}.")
        if isinstance(self.nb_weight, bool) or not (isinstance(self.nb_weight, (int, float))
                                                    and 0 <= self.nb_weight < float("inf")):
            raise ConfigError(
                f"nb_weight must be a number >= 0 (0 turns the Naive Bayes blend off), got {self.nb_weight!r}."
            )
        if self.class_weight not in (None, "balanced"):
            raise ConfigError(f"class_weight must be 'balanced' or null, got {self.class_weight!r}.")
        if not isinstance(self.calibration_folds, int) or self.calibration_folds < 2:
            raise ConfigError(f"calibration_folds must be an integer >= 2, got {self.calibration_folds!r}.")
        if not isinstance(self.top_k, int) or self.top_k < 1:
            raise ConfigError(f"top_k must be a positive integer, got {self.top_k!r}.")


@dataclass(frozen=True)
class ConfidenceConfig(_DictMixin):
    """Precision that the ``high`` and ``medium`` confidence levels must reach.

    Thresholds on the calibrated probability are learned from out-of-fold
    predictions so that predictions at or above them reach these precisions.
    """

    high_precision: float = 0.95
    medium_precision: float = 0.80

    def __post_init__(self):
        if not 0 < self.medium_precision <= self.high_precision < 1:
            raise ConfigError(
                "Confidence precisions must satisfy 0 < medium_precision <= high_precision < 1, "
                f"got medium={self.medium_precision!r}, high={self.high_precision!r}."
            )


@dataclass(frozen=True)
class TrainConfig(_DictMixin):
    """Everything that defines a training run.

    ``taxonomy`` and ``rules`` are file paths, ``"default"`` (the files shipped in
    ``corpora/``) or None. The taxonomy constrains and names the labels of the
    targets it defines; the escalation rules set a severity floor when the
    data has the rules' target (``severity``). ``aliases`` is a
    ``name<TAB>generic name`` file (``corpora/institutions.tsv`` by default)
    whose names are replaced before the text is read. ``search`` picks the SVM
    regularisation ``C``, the weight of word features against character
    features and the Naive Bayes blend ``nb_weight`` by 3-fold cross-validation on
    the training data only (a fixed grid of 4 SVM settings × 3 blend weights; the
    blends reuse each setting's SVM, so the cost is bounded and the result reproducible).
    ``multi_label`` maps each multi-label target to the separator of its cells
    (``{"problem": ","}``: the cell ``"H93,H15,"`` holds the labels H93 and H15).

    >>> TrainConfig(targets=["problem"], multi_label={"problem": ","}).multi_label
    {'problem': ','}
    """

    text_column: str = "text"
    targets: tuple[str, ...] | None = None
    id_column: str | None = "id"
    test_size: float = 0.2
    seed: int = 0
    search: bool = True
    taxonomy: str | None = "default"
    rules: str | None = "default"
    aliases: str | None = "default"
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    confidence: ConfidenceConfig = field(default_factory=ConfidenceConfig)
    multi_label: dict[str, str] | None = None

    def __post_init__(self):
        if not isinstance(self.text_column, str) or not self.text_column:
            raise ConfigError(f"text_column must be a non-empty column name, got {self.text_column!r}.")
        if self.targets is not None:
            targets = tuple(self.targets)
            if not targets or not all(isinstance(t, str) and t for t in targets):
                raise ConfigError(f"targets must be a non-empty list of column names, got {self.targets!r}.")
            if self.text_column in targets:
                raise ConfigError(f"The text column {self.text_column!r} cannot also be a target.")
            object.__setattr__(self, "targets", targets)
        if not (isinstance(self.test_size, (int, float)) and 0 <= self.test_size < 1):
            raise ConfigError(f"test_size must be a fraction in [0, 1), got {self.test_size!r}.")
        if not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}.")
        if self.multi_label is not None:
            object.__setattr__(self, "multi_label", check_multi_label(self.multi_label))
            if self.text_column in self.multi_label:
                raise ConfigError(f"The text column {self.text_column!r} cannot be a multi-label target.")
            if self.targets is not None and set(self.multi_label) - set(self.targets):
                missing = sorted(set(self.multi_label) - set(self.targets))
                raise ConfigError(
                    f"multi_label names {missing}, which are not among the targets {list(self.targets)}; "
                    "add them to targets or drop them from multi_label."
                )


def check_multi_label(value: Any) -> dict[str, str]:
    """``{target: separator}`` checked and copied: names and separators must be non-empty strings.

    >>> check_multi_label({"problem": ","})
    {'problem': ','}
    >>> check_multi_label(["problem"])
    Traceback (most recent call last):
    ...
    triage.exceptions.ConfigError: multi_label must map each multi-label target to its separator, e.g. {'problem': ','}; got ['problem'].
    """
    if not isinstance(value, dict):
        raise ConfigError(
            "multi_label must map each multi-label target to its separator, e.g. {'problem': ','}; "
            f"got {value!r}."
        )
    for target, sep in value.items():
        if not isinstance(target, str) or not target:
            raise ConfigError(f"multi_label keys must be target (column) names, got {target!r}.")
        if not isinstance(sep, str) or not sep:
            raise ConfigError(
                f"The separator of multi-label target {target!r} must be a non-empty string such as ',', "
                f"got {sep!r}."
            )
    return dict(value)


_NESTED = {
    ("TrainConfig", "segmenter"): SegmenterConfig,
    ("TrainConfig", "features"): FeatureConfig,
    ("TrainConfig", "classifier"): ClassifierConfig,
    ("TrainConfig", "confidence"): ConfidenceConfig,
}
