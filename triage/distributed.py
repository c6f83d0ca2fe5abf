"""Labelling on a Dask cluster (optional extra: ``pip install 'triage[dask]'``).

Three levels, each built on the one before:

* :func:`label_frame` labels one pandas DataFrame (any runner can call it:
  Dask, Spark's ``mapInPandas``, a notebook);
* :func:`label_dask_dataframe` labels a Dask DataFrame lazily, partition by
  partition;
* :func:`label_files_on_cluster` reads CSV/TSV/Parquet shards, labels them on
  a cluster and writes one output file per partition, atomically.

The model travels as its **directory path**: every worker process loads it
once with :func:`triage.persist.load_model` (which checks every file's
SHA-256) and keeps it in a per-process cache keyed by the directory and the
SHA-256 of its ``manifest.json`` (:func:`load_model_once`). The task graph
carries only a path and a hash, never the model, and a worker whose copy of
the directory differs from the client's refuses to label. The directory must
therefore be readable at the same path on every worker (a shared filesystem,
or the same install); the shipped default model (``None``) is found in each
worker's own installation. Pickling the model into the graph instead would
send tens of MB per task, and a model still needs its dictionary files on the
worker anyway.

Dask, pandas and pyarrow are imported only when a function here runs:
``import triage`` does not import them.

>>> import pytest; dd = pytest.importorskip("dask.dataframe")   # needs the [dask] extra
>>> import pandas as pd
>>> frame = pd.DataFrame({"id": [1, 2], "text": ["信用卡年费被扣了", "车险定损太低"]})
>>> labelled = label_dask_dataframe(None, dd.from_pandas(frame, npartitions=2))  # None: the default model
>>> out = labelled.compute(scheduler="sync")
>>> list(out.columns[:4]), len(out)
(['id', 'text', 'category', 'category_name'], 2)
"""

from __future__ import annotations

import collections
import glob
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .labeller import output_columns, prediction_row
from .exceptions import InputError, ModelFormatError, TriageError
from .io import detect_encoding
from .persist import MANIFEST, load_model
from .resources import default_model_dir

__all__ = ["ClusterError", "label_frame", "load_model_once", "label_dask_dataframe", "label_files_on_cluster"]

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'triage[dask]'"
INPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".parq": "parquet",
                 ".pq": "parquet"}
OUTPUT_SUFFIX = {"csv": ".csv", "tsv": ".tsv", "parquet": ".parquet"}
SUMMARY_FILE = "_triage_summary.json"  # marks a folder as triage output; readers skip names starting with "_"
_CACHE_SIZE = 2


class ClusterError(TriageError):
    """Dask is not installed, or the cluster cannot be reached or used."""


def _require_dask(*, cluster: bool = False) -> None:
    try:
        import dask.dataframe  # noqa: F401

        if cluster:
            import distributed  # noqa: F401
    except ImportError as e:
        raise ClusterError(
            f"Labelling with Dask needs dask[dataframe,distributed], pandas and pyarrow, which are not installed "
            f"({e}). Install them with: {INSTALL_HINT}"
        ) from e


# -- one frame -----------------------------------------------------------------
def _column_dtypes(model, names: dict[str, str]) -> dict[str, str]:
    """The dtype of every added column, fixed so that every partition (even an empty one) agrees with the meta."""
    fields = {"needs_review": "bool", "review_reason": "string", "signals": "string",
              "respond_within_hours": "Int64", "decide_within_days": "Int64"}
    for target in model.target_names:
        fields.update({target: "string", f"{target}_name": "string", f"{target}_probability": "float64",
                       f"{target}_confidence": "string"})
    return {column: fields.get(field, "object") for field, column in names.items()}


def _texts(series) -> list:
    """The column's values with every kind of missing value (NaN, NA, NaT) turned into None."""
    return series.astype(object).where(series.notna(), None).tolist()


def label_frame(model, frame, text_column: str = "text"):
    """Label a pandas DataFrame: a copy with every input column kept, in order, and label columns added after them.

    The added columns are named exactly as :func:`triage.label_file` names
    them (``<target>``, ``<target>_name``, ``<target>_probability``,
    ``<target>_confidence``, signals and deadlines, ``needs_review``,
    ``review_reason``; ``_pred`` is appended to a name the input already
    uses). Their dtypes do not depend on the data: labels and reasons are
    ``string``, probabilities ``float64``, deadlines ``Int64`` and
    ``needs_review`` ``bool``. A missing or empty text gets no labels and
    ``needs_review=True``, as in :meth:`ComplaintClassifier.predict`.

    Parameters
    ----------
    model : ComplaintClassifier
        A fitted model, e.g. ``triage.load_model()``.
    frame : pandas.DataFrame
        The rows to label; its index is kept.
    text_column : str
        The column holding the complaint text.

    Examples
    --------
    See the module docstring; in short ``label_frame(model, pd.DataFrame({"text": [...]}))``.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"label_frame expects a pandas DataFrame, got {type(frame).__name__}.")
    columns = list(frame.columns)
    if text_column not in columns:
        raise InputError(
            f"The data frame has no column {text_column!r}. Its columns are: "
            f"{', '.join(repr(c) for c in columns) or '(none)'}. Name the right one with text_column= (--text-column)."
        )
    with_names = bool(model.has_label_names)
    names = output_columns(columns, model.target_names, with_names=with_names, extras=tuple(model.extra_fields))
    predictions = model.predict(_texts(frame[text_column]))
    rows = [prediction_row(p, names, with_names) for p in predictions]
    dtypes = _column_dtypes(model, names)
    added = {column: pd.array([row.get(column) for row in rows], dtype=dtypes[column]) for column in names.values()}
    return pd.concat([frame, pd.DataFrame(added, index=frame.index)], axis=1)


# -- the model on the workers --------------------------------------------------
_MODELS: collections.OrderedDict = collections.OrderedDict()
_MODELS_LOCK = threading.Lock()


def _manifest_sha256(directory: Path) -> str:
    path = directory / MANIFEST
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise ModelFormatError(
            f"Cannot read {path} ({e.strerror or e}). Point at a model directory written by `triage train`."
        ) from e


@dataclass(frozen=True)
class _ModelRef:
    """What the task graph carries instead of a model: a directory (None: the shipped default) and its manifest hash."""

    directory: str | None
    manifest_sha256: str

    def path(self) -> Path:
        return Path(self.directory) if self.directory is not None else default_model_dir().resolve()

    def load(self):
        """The model, loaded at most once per process (and per directory and manifest)."""
        directory = self.path()
        key = (str(directory), self.manifest_sha256)
        with _MODELS_LOCK:
            model = _MODELS.get(key)
            if model is None:
                found = _manifest_sha256(directory)
                if found != self.manifest_sha256:
                    import socket

                    raise ModelFormatError(
                        f"The model directory {str(directory)!r} on {socket.gethostname()} is not the one the job "
                        f"was started with (manifest SHA-256 {found[:12]}…, expected "
                        f"{self.manifest_sha256[:12]}…). "
                        "Give every worker the same copy of the model directory (e.g. on a shared filesystem)."
                    )
                model = load_model(directory)
                logger.info("Loaded model %s in process %d", directory, os.getpid())
            _remember(key, model)
            return model


def _remember(key: tuple[str, str], model) -> None:
    _MODELS[key] = model
    _MODELS.move_to_end(key)
    while len(_MODELS) > _CACHE_SIZE:
        _MODELS.popitem(last=False)


def _model_ref(model_or_dir) -> _ModelRef | None:
    """A reference for a model directory, or for a model loaded from one that is unchanged on disk; else None.

    A model object that has a reference also goes into this process's cache,
    so that the client does not load its directory a second time.
    """
    if model_or_dir is None or isinstance(model_or_dir, (str, os.PathLike)):
        directory = Path(model_or_dir).resolve() if model_or_dir is not None else default_model_dir().resolve()
        if not (directory / MANIFEST).is_file():
            load_model(directory)  # raises the clear "not a model directory" error
        return _ModelRef(str(directory) if model_or_dir is not None else None, _manifest_sha256(directory))
    directory = getattr(model_or_dir, "model_dir_", None)
    if directory is None or not (Path(directory) / MANIFEST).is_file():
        return None
    directory = Path(directory).resolve()
    if json.loads((directory / MANIFEST).read_text(encoding="utf-8")) != getattr(model_or_dir, "manifest_", None):
        return None  # the directory changed since this model was loaded from it
    ref = _ModelRef(str(directory), _manifest_sha256(directory))
    with _MODELS_LOCK:
        _remember((str(directory), ref.manifest_sha256), model_or_dir)
    return ref


def load_model_once(model_dir: str | os.PathLike | None = None):
    """:func:`triage.load_model`, at most once per process: later calls return the same model.

    The cache is keyed by the directory and the SHA-256 of its manifest, so a
    retrained model in the same place is loaded afresh. Call it inside the
    function a runner (Spark's ``mapInPandas``, a Dask task) executes, so that
    each worker process loads the model once instead of once per batch;
    ``docs/distributed.md`` shows it with Spark.
    """
    return _model_ref(model_dir).load()


def _label_partition(frame, model, text_column: str):
    if isinstance(model, _ModelRef):
        model = model.load()
    return label_frame(model, frame, text_column)


def label_dask_dataframe(model_or_dir, ddf, text_column: str = "text"):
    """Label a Dask DataFrame lazily, partition by partition; returns a Dask DataFrame.

    The result has the columns and dtypes of :func:`label_frame` and the
    partitions and order of ``ddf``. Nothing runs until you compute or write it.

    Parameters
    ----------
    model_or_dir : path, ComplaintClassifier or None
        A model directory (None: the shipped default) is the way to go on a
        cluster: tasks carry its path and manifest hash, and each worker
        process loads it once (see the module docstring). A model returned by
        :func:`triage.load_model` whose directory is unchanged on disk is
        sent the same way (workers load the directory, so changes made to
        the object in memory do not reach them). Any other model object
        (trained in this session, not saved) becomes one task of the graph,
        which each worker fetches once; its dictionaries must still be
        readable at the same paths on the workers, and Dask warns about the
        graph's size for a large model: save it and pass the directory.
    ddf : dask.dataframe.DataFrame
    text_column : str

    The client loads the model too (once per process), to check it and to
    work out the output columns.
    """
    _require_dask()
    ref = _model_ref(model_or_dir)
    return _map_labels(ref, ref.load() if ref is not None else model_or_dir, ddf, text_column)


def _map_labels(ref: _ModelRef | None, model, ddf, text_column: str):
    import dask
    from dask.dataframe.utils import make_meta

    if text_column not in ddf.columns:
        raise InputError(
            f"The data has no column {text_column!r}. Its columns are: "
            f"{', '.join(repr(c) for c in ddf.columns) or '(none)'}. Name the right one with --text-column."
        )
    meta = label_frame(model, make_meta(ddf), text_column)
    shipped = ref if ref is not None else dask.delayed(model, name=f"triage-model-{uuid.uuid4().hex}", traverse=False)
    return ddf.map_partitions(_label_partition, shipped, text_column, meta=meta)


# -- files on a cluster ----------------------------------------------------------
def _natural_key(path: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def _input_files(inputs) -> list[Path]:
    """Expand a folder, a glob, a file or a list of them into files, in order (folders and globs sorted naturally)."""
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    files: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if os.path.isdir(text):
            found = [str(p) for p in Path(text).iterdir()
                     if p.is_file() and p.suffix.lower() in INPUT_FORMATS and not p.name.startswith(("_", "."))]
        elif glob.has_magic(text):
            found = [p for p in glob.glob(text) if os.path.isfile(p)]
        elif os.path.isfile(text):
            found = [text]
        else:
            raise InputError(f"No such file or folder: {text!r}.")
        files += [Path(p).resolve() for p in sorted(found, key=_natural_key)]
    files = list(dict.fromkeys(files))
    if not files:
        raise InputError(
            f"{inputs!r} matches no input files. Give a folder of CSV, TSV or Parquet shards, a glob such as "
            "'shards/*.csv', or a list of files."
        )
    return files


def _input_format(files: list[Path]) -> str:
    formats = {}
    for path in files:
        fmt = INPUT_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(
                f"Cannot label {str(path)!r} on a cluster: its extension {path.suffix or '(none)'!r} is not one of "
                f"{', '.join(sorted(INPUT_FORMATS))}. Convert it, or label it with `triage label` on one machine."
            )
        formats.setdefault(fmt, path)
    if len(formats) > 1:
        example = ", ".join(f"{path.name} ({fmt})" for fmt, path in formats.items())
        raise InputError(f"The input files mix formats: {example}. Label one format at a time.")
    return next(iter(formats))


def _csv_encoding(files: list[Path]) -> str:
    found = {detect_encoding(path): path for path in files}
    if set(found) <= {"utf-8", "utf-8-sig"}:
        return "utf-8-sig" if "utf-8-sig" in found else "utf-8"
    if len(found) == 1:
        return next(iter(found))
    example = ", ".join(f"{path.name} ({enc})" for enc, path in found.items())
    raise InputError(f"The input files use different encodings: {example}. Convert them to UTF-8, or pass encoding=.")


def _read(files: list[Path], fmt: str, *, encoding: str | None, blocksize):
    import dask.dataframe as dd

    paths = [str(p) for p in files]
    try:
        if fmt == "parquet":
            return dd.read_parquet(paths, index=False, **({} if blocksize is None else {"blocksize": blocksize}))
        # Every cell as text and empty cells as "": the values `triage label` reads ("007" stays "007").
        return dd.read_csv(paths, sep="\t" if fmt == "tsv" else ",", dtype=str, keep_default_na=False,
                           na_filter=False, encoding=encoding or _csv_encoding(files), blocksize=blocksize)
    except (ValueError, OSError, UnicodeDecodeError) as e:  # pandas' ParserError is a ValueError
        raise InputError(f"Cannot read the input files, starting with {paths[0]!r} ({type(e).__name__}: {e}).") from e


def _write_partition(frame, directory: str, fmt: str, targets: dict[str, str], review: str, partition_info=None):
    """Write one labelled partition as ``part-NNNNN.<ext>``; return its counts as a small long-format frame."""
    import pandas as pd

    number = partition_info["number"] if partition_info else 0
    folder = Path(directory)
    if not folder.is_dir():
        import socket

        raise ClusterError(
            f"The output folder {directory!r} does not exist on worker {socket.gethostname()}. The output folder "
            "must be on a filesystem that the client and every worker share."
        )
    path = folder / f"part-{number:05d}{OUTPUT_SUFFIX[fmt]}"
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, sep="\t" if fmt == "tsv" else ",", index=False, encoding="utf-8", lineterminator="\n")
    counts = [
        ("rows", "", len(frame)),
        ("needs_review", "", int(frame[review].sum())),
        ("bad_rows", "", int(frame[list(targets.values())].isna().all(axis=1).sum())),
    ]
    for target, column in targets.items():
        counts += [(target, str(label), int(n)) for label, n in
                   frame[column].fillna("(none)").value_counts(sort=False).items()]
    fields, values, numbers = zip(*counts)
    return pd.DataFrame({"partition": number, "field": list(fields), "value": list(values), "count": list(numbers)})


def _connect(scheduler, timeout: float):
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        client = Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise ClusterError(
            f"Cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s ({e}). Check the address "
            "(tcp://HOST:8786), that `dask scheduler` is running there, and that its port is open from this machine."
        ) from e
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError) as e:
        client.close()
        raise ClusterError(
            f"The Dask scheduler at {scheduler!r} has no workers. Start some with "
            f"`dask worker {scheduler} --nthreads 1` on each machine."
        ) from e
    return client, True


def _check_output(output_dir: Path, files: list[Path], overwrite: bool) -> None:
    for path in files:
        if path.is_relative_to(output_dir):
            raise InputError(f"The output folder {str(output_dir)!r} holds input file {path.name!r}; choose another.")
    if not output_dir.exists():
        return
    if not output_dir.is_dir():
        raise InputError(f"{str(output_dir)!r} exists and is not a folder; choose another output folder.")
    if not overwrite:
        raise InputError(
            f"{str(output_dir)!r} already exists; choose another output folder or pass overwrite=True (--force)."
        )
    if any(output_dir.iterdir()) and not (output_dir / SUMMARY_FILE).is_file():
        raise InputError(
            f"{str(output_dir)!r} is a non-empty folder that triage did not write; choose a new or empty folder "
            "so nothing of yours is replaced."
        )


def _replace_dir(tmp: Path, output_dir: Path) -> None:
    old = None
    if output_dir.exists():
        old = output_dir.with_name(f".{output_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(output_dir, old)
    os.replace(tmp, output_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def label_files_on_cluster(
    model_dir: str | os.PathLike | None,
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    *,
    scheduler,
    text_column: str = "text",
    fmt: str | None = None,
    encoding: str | None = None,
    blocksize: int | str | None = None,
    overwrite: bool = False,
    connect_timeout: float = 10.0,
) -> dict[str, Any]:
    """Label partitioned files on a Dask cluster and write one output file per partition into ``output_dir``.

    Inputs are read on the workers, so they, the model directory and
    ``output_dir`` must be at the same paths on the client and every worker
    (a shared filesystem). Every input column and row is kept; output files
    ``part-00000.<ext>``, ``part-00001.<ext>``, ... in that order hold the rows
    in input order (files in the order given; a folder's or glob's files in
    natural order: ``2`` before ``10``). ``_triage_summary.json`` holds the
    returned summary. The output is written into a hidden sibling folder and
    renamed into place when every partition is done, so a failed run leaves
    nothing under ``output_dir``.

    Parameters
    ----------
    model_dir : path or None
        The model directory; None is the shipped default model.
    inputs : path, glob or list of them
        CSV, TSV or Parquet files, all of one format; a folder stands for its
        files with those extensions (names starting with ``_`` or ``.`` are skipped).
    output_dir : path
        Must not exist, unless ``overwrite=True`` and it holds an earlier output.
    scheduler : str or distributed.Client
        The scheduler address (``tcp://HOST:8786``) or a connected client.
    text_column : str
    fmt : ``"csv"``, ``"tsv"``, ``"parquet"`` or None
        The output format; None writes the input's format.
    encoding : str or None
        CSV/TSV encoding; None detects UTF-8, UTF-8 with BOM or GB18030. Output CSV is UTF-8.
    blocksize : int, str or None
        None reads each CSV/TSV file as one partition. A size such as
        ``"64MB"`` splits big files at line breaks, which is safe only when no
        quoted field contains a line break. For Parquet it is passed to
        ``dask.dataframe.read_parquet`` (None: Dask's default).
    overwrite : bool
    connect_timeout : float
        Seconds to wait for the scheduler and for its first worker.

    Returns
    -------
    dict
        ``input``, ``output``, ``format``, ``rows``, ``partitions``,
        ``seconds``, ``rows_per_second``, ``needs_review``, ``bad_rows`` and
        ``distribution`` (``{target: {label: count}}``, most frequent first,
        ``"(none)"`` for rows without a label).
    """
    _require_dask(cluster=True)
    import pandas as pd

    if fmt is not None and fmt not in OUTPUT_SUFFIX:
        raise InputError(f"Unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_SUFFIX)}.")
    files = _input_files(inputs)
    in_format = _input_format(files)
    out_format = fmt or in_format
    output_dir = Path(output_dir).resolve()
    _check_output(output_dir, files, overwrite)
    ref = _model_ref(model_dir)
    if ref is None:
        raise InputError(
            f"model_dir must be a model directory or None (the default model), not a {type(model_dir).__name__}."
        )
    model = ref.load()  # here too: a broken model fails before the cluster is involved
    ddf = _read(files, in_format, encoding=encoding, blocksize=blocksize)
    labelled = _map_labels(ref, model, ddf, text_column)
    names = output_columns(list(ddf.columns), model.target_names, with_names=model.has_label_names,
                           extras=tuple(model.extra_fields))
    targets = {t: names[t] for t in model.target_names}
    meta = pd.DataFrame({"partition": pd.Series(dtype="int64"), "field": pd.Series(dtype="object"),
                         "value": pd.Series(dtype="object"), "count": pd.Series(dtype="int64")})

    client, owned = _connect(scheduler, connect_timeout)
    tmp = output_dir.with_name(f".{output_dir.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        start = time.perf_counter()
        tmp.mkdir(parents=True)
        written = labelled.map_partitions(_write_partition, str(tmp), out_format, targets, names["needs_review"],
                                          meta=meta, enforce_metadata=False)
        stats = written.compute(scheduler=client)
        seconds = time.perf_counter() - start
        summary = _summarise(stats, files, output_dir, out_format, labelled.npartitions, seconds, list(targets))
        (tmp / SUMMARY_FILE).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        _replace_dir(tmp, output_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if owned:
            client.close()
    logger.info("Labelled %d rows in %d partitions in %.1f s → %s", summary["rows"], summary["partitions"],
                summary["seconds"], output_dir)
    return summary


def _summarise(stats, files, output_dir, out_format, partitions, seconds, targets) -> dict[str, Any]:
    totals = {key: int(n) for key, n in stats.groupby(["field", "value"], sort=False)["count"].sum().items()}
    distribution = {
        target: dict(collections.Counter({v: n for (f, v), n in totals.items() if f == target}).most_common())
        for target in targets
    }
    rows = totals.get(("rows", ""), 0)
    return {
        "input": [str(p) for p in files],
        "output": str(output_dir),
        "format": out_format,
        "rows": rows,
        "partitions": int(partitions),
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else 0.0,
        "needs_review": totals.get(("needs_review", ""), 0),
        "bad_rows": totals.get(("bad_rows", ""), 0),
        "distribution": distribution,
    }
