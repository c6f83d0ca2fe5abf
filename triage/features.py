"""Vectoriser construction: word n-grams over segments plus character n-grams.

Character n-grams over the normalised text keep the model robust to
segmentation errors, typos and slang; word n-grams add phrase-level evidence.

>>> from triage.segment import Segmenter
>>> vec = build_vectorizer(FeatureConfig(char_min_df=1), Segmenter(user_dict=None, stop_words=None))
>>> X = vec.fit_transform(["信用卡年费", "提前还款违约金", "信用卡盗刷"])
>>> X.shape[0], X.shape[1] > 10
(3, True)
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from .config import FeatureConfig
from .segment import Segmenter

__all__ = ["build_vectorizer", "feature_names"]


def build_vectorizer(config: FeatureConfig, segmenter: Segmenter) -> FeatureUnion:
    """An unfitted vectoriser: TF-IDF word n-grams (``word__``) and character n-grams (``char__``)."""
    words = TfidfVectorizer(
        tokenizer=segmenter.cut,
        token_pattern=None,
        lowercase=False,
        ngram_range=config.word_ngram,
        min_df=config.word_min_df,
        max_features=config.max_word_features,
        sublinear_tf=config.sublinear_tf,
        dtype=np.float32,
    )
    chars = TfidfVectorizer(
        analyzer="char",
        lowercase=False,
        ngram_range=config.char_ngram,
        min_df=config.char_min_df,
        max_features=config.max_char_features,
        sublinear_tf=config.sublinear_tf,
        dtype=np.float32,
    )
    return FeatureUnion([("word", words), ("char", chars)])


def feature_names(vectorizer: FeatureUnion) -> list[str]:
    """Readable names: ``词:提前 还款`` for word n-grams, ``字:违约`` for character n-grams."""
    names = []
    for name, part in vectorizer.transformer_list:
        prefix = "词" if name == "word" else "字"
        names.extend(f"{prefix}:{term}" for term in part.get_feature_names_out())
    return names
