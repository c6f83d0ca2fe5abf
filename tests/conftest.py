"""Shared fixtures: isolated jieba cache, quiet jieba, a tiny model trained once per session."""

import logging
import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny.csv"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """jieba's cache file goes to a temporary folder; jieba's logger stays quiet."""
    folder = tmp_path_factory.mktemp("triage-cache")
    old = os.environ.get("TRIAGE_CACHE_DIR")
    os.environ["TRIAGE_CACHE_DIR"] = str(folder)
    from triage.segment import quiet_jieba

    quiet_jieba(logging.WARNING)
    yield folder
    if old is None:
        os.environ.pop("TRIAGE_CACHE_DIR", None)
    else:
        os.environ["TRIAGE_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def tiny_config():
    from triage import FeatureConfig, TrainConfig

    return TrainConfig(test_size=0, features=FeatureConfig(char_min_df=1))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_config):
    """A model trained on tests/data/tiny.csv and saved once per session."""
    from triage import train

    out = tmp_path_factory.mktemp("models") / "tiny"
    train(TINY, config=tiny_config, output=out)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from triage import load_model

    return load_model(tiny_model_dir)
