"""triage: classify Chinese consumer complaints by category, severity and root cause.

>>> import triage
>>> model = triage.load_model()                       # the shipped default model
>>> result = model.predict_one("信用卡被自动分期收了手续费，要求退还")
>>> sorted(result.targets) == sorted(model.target_names)
True
"""

from importlib.metadata import PackageNotFoundError, version

from .batch import label_file
from .config import ClassifierConfig, ConfidenceConfig, FeatureConfig, SegmenterConfig, TrainConfig
from .exceptions import (
    ConfigError,
    DictionaryError,
    InputError,
    ModelFormatError,
    ModelIntegrityError,
    TaxonomyError,
    TriageError,
)
from .model import ComplaintClassifier, Explanation, Prediction, TargetPrediction, predictions_table
from .persist import load_model, save_model
from .workflows import evaluate, train

try:
    __version__ = version("triage")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    "load_model",
    "save_model",
    "train",
    "evaluate",
    "label_file",
    "predictions_table",
    "ComplaintClassifier",
    "Prediction",
    "TargetPrediction",
    "Explanation",
    "TrainConfig",
    "SegmenterConfig",
    "FeatureConfig",
    "ClassifierConfig",
    "ConfidenceConfig",
    "TriageError",
    "InputError",
    "ConfigError",
    "DictionaryError",
    "TaxonomyError",
    "ModelFormatError",
    "ModelIntegrityError",
]
