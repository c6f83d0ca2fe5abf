"""Where the files shipped with triage live (``corpora/`` and ``models/``).

In an installed triage they are the package data ``triage.corpora`` and
``triage.models``; in a source checkout they are the top-level folders of the
repository.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["corpora_dir", "models_dir", "default_model_dir", "cache_dir"]

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _shipped(name: str) -> Path:
    spec = importlib.util.find_spec(f"triage.{name}")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if Path(location).is_dir():
                return Path(location)
    return _REPO_ROOT / name


def corpora_dir() -> Path:
    """The folder holding the shipped taxonomy, dictionaries and corpus."""
    return _shipped("corpora")


def models_dir() -> Path:
    """The folder holding the shipped model directories."""
    return _shipped("models")


def default_model_dir() -> Path:
    """The shipped default model directory."""
    return models_dir() / "default"


def cache_dir() -> Path:
    """triage's cache folder (jieba's prefix-dictionary cache lives here).

    ``TRIAGE_CACHE_DIR`` overrides it; otherwise ``$XDG_CACHE_HOME/triage`` or
    ``~/.cache/triage``.
    """
    env = os.environ.get("TRIAGE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "triage"
