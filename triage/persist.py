"""Saving and loading model directories.

A model directory holds ``manifest.json`` (format version, library versions,
targets and label sets, training configuration, SHA-256 of every file, a
fingerprint of the training data, held-out metrics), ``model.pickle.gz``,
``resources/`` (the user dictionary and stop words the model segments with) and
``MODEL_CARD.md``.

.. warning::
   Loading ``model.pickle.gz`` unpickles it, which can run arbitrary code. Load
   only model directories you trust (the shipped default, or ones your team
   trained). triage checks every file against the SHA-256 recorded in the
   manifest **before** unpickling, so a modified or corrupted file is refused,
   but the check cannot make an untrusted directory safe: whoever wrote it also
   wrote its manifest.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import json
import logging
import os
import pickle
import platform
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from .exceptions import ModelFormatError, ModelIntegrityError, TriageVersionWarning
from .resources import default_model_dir

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "save_model",
    "load_model",
    "read_manifest",
    "sha256_file",
    "library_versions",
]

logger = logging.getLogger(__name__)

FORMAT_NAME = "triage-model"
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
# The pickled model: gzip-compressed standard pickle since format 2 (the C unpickler loads it several times faster
# than joblib's Python-level one, which dominated cold start); format 1 directories (joblib) still load.
ARTIFACT = "model.pickle.gz"
ARTIFACTS = {1: "model.joblib", 2: ARTIFACT}
CARD = "MODEL_CARD.md"
RESOURCES = "resources"


# Why the default is HMM off (recorded in every manifest so the choice travels with the model).
HMM_DECISION = (
    "HMM off by default: measured with bench/bench_hmm.py on the shared benchmark datasets (docs/benchmarks.md); "
    "it also lets rjieba reproduce jieba's tokens exactly"
)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of triage and the libraries whose behaviour a saved model depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("triage", "scikit-learn", "jieba", "rjieba", "numpy", "scipy", "joblib"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_model(
    model,
    directory: str | os.PathLike,
    *,
    manifest_extra: dict[str, Any] | None = None,
    card: str | None = None,
    overwrite: bool = False,
    extra_resources: dict[str, str | os.PathLike] | None = None,
) -> Path:
    """Write a fitted model to a model directory and return its path.

    Parameters
    ----------
    model : ComplaintClassifier
        A fitted model.
    directory : path
        Created if needed. An existing model directory is replaced only with
        ``overwrite=True``; a non-empty folder that is not a model directory is
        never overwritten.
    manifest_extra : dict
        Extra manifest entries: ``training_data``, ``config``, ``metrics``, ...
    card : str
        The text of ``MODEL_CARD.md``.
    extra_resources : dict
        Further files to copy into ``resources/`` and hash (e.g. the taxonomy and
        escalation rule table the model was built with, for inspection).
    """
    model._check_fitted()
    directory = Path(directory)
    if directory.exists():
        if not directory.is_dir():
            raise ModelFormatError(f"{str(directory)!r} exists and is not a folder; choose another output path.")
        if any(directory.iterdir()):
            if not (directory / MANIFEST).is_file():
                raise ModelFormatError(
                    f"{str(directory)!r} is a non-empty folder that is not a triage model; "
                    "choose a new or empty folder so nothing of yours is overwritten."
                )
            if not overwrite:
                raise ModelFormatError(
                    f"{str(directory)!r} already holds a model; pass overwrite=True (--force) to replace it."
                )
    directory.mkdir(parents=True, exist_ok=True)
    resources = directory / RESOURCES
    resources.mkdir(exist_ok=True)

    segmenter = model.segmenter_
    saved_paths = {"user_dict": segmenter.user_dict_path(), "stop_words": segmenter.stop_words_path()}
    original = (segmenter.user_dict, segmenter.stop_words, segmenter.base_dir)
    relative = {}
    for key, path in saved_paths.items():
        if path is None:
            relative[key] = None
            continue
        if not path.is_file():
            raise ModelFormatError(f"The model's {key.replace('_', ' ')} file {str(path)!r} is missing; cannot save.")
        name = "userdict.txt" if key == "user_dict" else "stopwords.txt"
        if path.resolve() != (resources / name).resolve():
            shutil.copyfile(path, resources / name)
        relative[key] = name
    try:
        segmenter.user_dict, segmenter.stop_words, segmenter.base_dir = relative["user_dict"], relative["stop_words"], None
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".pickle.tmp")
        with os.fdopen(fd, "wb") as f:  # mtime=0: the same model gives the same bytes
            f.write(gzip.compress(pickle.dumps(model, protocol=5), compresslevel=6, mtime=0))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a model is as readable as any file written here
        os.replace(tmp, directory / ARTIFACT)
    finally:
        segmenter.user_dict, segmenter.stop_words, segmenter.base_dir = original

    for name, path in (extra_resources or {}).items():
        if Path(path).resolve() != (resources / name).resolve():
            shutil.copyfile(path, resources / name)
        relative[name] = name
    files = {ARTIFACT: sha256_file(directory / ARTIFACT)}
    for name in relative.values():
        if name:
            files[f"{RESOURCES}/{name}"] = sha256_file(resources / name)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "targets": model.classes,
        "segmenter": {"user_dict": relative["user_dict"], "stop_words": relative["stop_words"],
                      **segmenter.describe(), "hmm_decision": HMM_DECISION},
        "confidence_thresholds": {name: t.thresholds_ for name, t in model.targets_.items()},
        "calibration_temperature": {name: t.temperature_ for name, t in model.targets_.items()
                                    if name not in model.separators},
        "files": files,
    }
    if model.separators:  # one-vs-rest targets: separator, shared sigmoid, a decision threshold per label
        manifest["multi_label"] = {
            name: {"separator": t.separator, "sigmoid": list(t.sigmoid_),
                   "decision_thresholds": dict(zip(map(str, t.classes_), map(float, t.label_thresholds_)))}
            for name, t in model.targets_.items() if name in model.separators
        }
    manifest.update(manifest_extra or {})
    if card is not None:
        _atomic_write_text(directory / CARD, card)
    _atomic_write_text(directory / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    logger.info("Saved model to %s", directory)
    return directory


def read_manifest(directory: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read and check a model directory's manifest (no unpickling). None means the shipped default model."""
    directory = Path(directory) if directory is not None else default_model_dir()
    path = directory / MANIFEST
    if not directory.is_dir():
        raise ModelFormatError(f"No model directory at {str(directory)!r}.")
    if not path.is_file():
        raise ModelFormatError(
            f"{str(directory)!r} is not a triage model directory: it has no {MANIFEST}. "
            "Point --model at a folder written by `triage train`."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFormatError(f"{path} is not valid JSON ({e}); the model directory is damaged.") from e
    if manifest.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{path} is not a triage model manifest (format {manifest.get('format')!r}).")
    version = manifest.get("format_version")
    if version not in ARTIFACTS:
        raise ModelFormatError(
            f"{str(directory)!r} has model format version {version!r}; this triage reads versions "
            f"{', '.join(map(str, ARTIFACTS))}. "
            "Use the triage version that wrote it, or retrain the model with this one."
        )
    return manifest


def _verify_files(directory: Path, manifest: dict[str, Any]) -> None:
    files = manifest.get("files") or {}
    artifact = ARTIFACTS[manifest["format_version"]]
    if artifact not in files:
        raise ModelFormatError(f"The manifest in {str(directory)!r} records no hash for {artifact}; refusing to load.")
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise ModelFormatError(f"The model directory {str(directory)!r} is incomplete: {name} is missing.")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelIntegrityError(
                f"{path} does not match the SHA-256 recorded in the manifest (expected {expected[:12]}…, "
                f"found {actual[:12]}…). The file was changed or corrupted after the model was saved; "
                "restore it from the original model directory or retrain. It was not loaded."
            )


def _warn_on_version_drift(directory: Path, manifest: dict[str, Any]) -> None:
    saved = manifest.get("versions", {})
    current = library_versions()
    drift = [
        f"{lib} {saved.get(lib)} (installed {current.get(lib)})"
        for lib in ("triage", "scikit-learn", "jieba", "numpy")
        if saved.get(lib) and saved.get(lib) != current.get(lib)
    ]
    if drift:
        warnings.warn(
            f"The model in {str(directory)!r} was saved with {', '.join(drift)}; predictions may differ slightly. "
            "Retrain with the installed versions to be sure.",
            TriageVersionWarning,
            stacklevel=3,
        )


def _unpickle(path: Path):
    if path.name.endswith(".joblib"):  # format 1
        import joblib

        return joblib.load(path)
    return pickle.loads(gzip.decompress(path.read_bytes()))


def load_model(directory: str | os.PathLike | None = None):
    """Load a model directory; None loads the shipped default model.

    Every file is checked against the manifest's SHA-256 before the model
    (``model.pickle.gz``) is unpickled. Unpickling runs code: load only model
    directories you trust.
    """
    directory = Path(directory) if directory is not None else default_model_dir()
    manifest = read_manifest(directory)
    _verify_files(directory, manifest)
    _warn_on_version_drift(directory, manifest)
    artifact = directory / ARTIFACTS[manifest["format_version"]]
    try:
        model = _unpickle(artifact)
    except Exception as e:  # unpickling can fail in many ways
        raise ModelFormatError(
            f"Cannot unpickle {artifact} ({type(e).__name__}: {e}). "
            "It was probably written by incompatible library versions; retrain the model."
        ) from e
    segmenter = getattr(model, "segmenter_", None)
    if segmenter is None:
        raise ModelFormatError(f"{artifact} does not hold a triage model.")
    segmenter.base_dir = str(directory / RESOURCES)
    model.manifest_ = manifest
    model.model_dir_ = str(directory)
    return model
