"""Labelling whole files: streamed, parallel, resumable, with every input column and row kept in order.

A job reads its input in chunks (memory does not grow with the number of
rows), labels them on one or several processes (:class:`~triage.labeller.Labeller`),
and appends them to ``<output>.partial``. After each chunk is on disk a
checkpoint records how far the job got, so an interrupted job (Ctrl-C, a
killed process, a power cut) continues with ``resume=True`` and produces
exactly the file an uninterrupted run would have. The output appears under
its name only when complete (a rename; an Excel output is converted from a
JSONL spool at the end).
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import pickle
import time
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable

from .checkpoint import Checkpoint, input_signature
from .exceptions import InputError
from .io import check_columns, detect_format, open_table, open_writer
from .labeller import Labeller, default_jobs, output_columns, prediction_row
from .persist import ARTIFACTS

__all__ = ["label_file", "LabelSummary", "output_columns", "default_output_path", "prediction_row",
           "JobInterrupted"]

logger = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1


class JobInterrupted(KeyboardInterrupt):
    """A labelling job stopped by Ctrl-C; the work done is kept for ``resume``."""

    def __init__(self, rows_done: int, partial: Path):
        super().__init__(f"Interrupted after {rows_done:,} rows; the work so far is kept in {partial}.")
        self.rows_done = rows_done
        self.partial = partial


@dataclass
class LabelSummary:
    """What a labelling job did."""

    input: str
    output: str
    rows: int = 0
    seconds: float = 0.0
    needs_review: int = 0
    bad_rows: int = 0
    distribution: dict[str, dict[str, int]] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    resumed_from: int = 0
    classified: int = 0
    jobs: int = 1

    @property
    def rows_per_second(self) -> float:
        """Rows labelled per second by this run (rows done before a resume are not counted)."""
        return (self.rows - self.resumed_from) / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "rows": self.rows,
            "resumed_from": self.resumed_from,
            "distinct_texts_classified": self.classified,
            "jobs": self.jobs,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "needs_review": self.needs_review,
            "bad_rows": self.bad_rows,
            "distribution": self.distribution,
        }


def default_output_path(input_path: str | os.PathLike) -> Path:
    """``complaints.csv`` → ``complaints.labelled.csv`` next to the input."""
    path = Path(input_path)
    return path.with_name(f"{path.stem}.labelled{path.suffix}")


def model_fingerprint(model) -> str:
    """What identifies a model for a checkpoint: its saved artefact's SHA-256, else a hash of its pickle."""
    manifest = getattr(model, "manifest_", None)
    artifact = ARTIFACTS.get(manifest.get("format_version")) if manifest else None
    if artifact and manifest.get("files", {}).get(artifact):
        return manifest["files"][artifact]
    return hashlib.sha256(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()


class _Counts:
    """Running totals for the summary, restorable from a checkpoint."""

    def __init__(self, labeller: Labeller, targets: list[str], saved: dict[str, Any] | None = None):
        fields = labeller.fields
        self.label_at = {t: fields.index(labeller.names[t]) for t in targets}
        self.review_at = fields.index(labeller.names["needs_review"])
        saved = saved or {}
        self.needs_review = saved.get("needs_review", 0)
        self.bad_rows = saved.get("bad_rows", 0)
        self.labels = {t: collections.Counter(saved.get("distribution", {}).get(t, {})) for t in targets}

    def add(self, values: list[tuple]) -> None:
        """Count a batch of rows' label values."""
        self.needs_review += sum(1 for v in values if v[self.review_at])
        columns = {target: [v[i] for v in values] for target, i in self.label_at.items()}
        self.bad_rows += sum(1 for labels in zip(*columns.values()) if all(label is None for label in labels))
        for target, column in columns.items():
            counter = self.labels[target]
            counter.update(column)
            if None in counter:
                counter["(none)"] += counter.pop(None)

    def to_dict(self) -> dict[str, Any]:
        return {"needs_review": self.needs_review, "bad_rows": self.bad_rows,
                "distribution": {t: dict(c.most_common()) for t, c in self.labels.items()}}


def _job_identity(input_path, model, text_column, out_format, encoding, sheet, excel_bom) -> dict:
    return {
        "version": CHECKPOINT_VERSION,
        "input": input_signature(input_path),
        "model": model_fingerprint(model),
        "options": {"text_column": text_column, "format": out_format, "encoding": encoding, "sheet": sheet,
                    "excel_bom": excel_bom},
    }


def _check_resumable(saved: dict, identity: dict, checkpoint: Checkpoint) -> None:
    what = {"version": "the checkpoint format", "input": "the input file", "model": "the model",
            "options": "the options (text column, output format, encoding, sheet, BOM)"}
    changed = [label for key, label in what.items() if saved.get(key) != identity[key]]
    if changed:
        raise InputError(
            f"Cannot resume from {checkpoint.path}: {', '.join(changed)} changed since the interrupted run. "
            "Run with the same input, model and options, or pass --force to start over."
        )


def label_file(
    model,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike | None = None,
    *,
    text_column: str = "text",
    chunk_size: int = 2000,
    encoding: str | None = None,
    sheet: str | None = None,
    excel_bom: bool = False,
    overwrite: bool = False,
    resume: bool = False,
    jobs: int | None = 1,
    cache_size: int = 100_000,
    progress: Callable[[int, float | None], None] | None = None,
) -> LabelSummary:
    """Label every row of ``input_path`` and write ``output_path`` (same format unless its extension says otherwise).

    Every input column and row is kept, in order; label columns are added
    after them. ``jobs`` worker processes (None: all cores) each load the
    model once; identical texts are classified once (a cache of the last
    ``cache_size`` distinct texts). ``resume=True`` continues an interrupted
    run of the same job. ``progress(rows_done, fraction_of_input_read)`` is
    called after every chunk (the fraction is None where it cannot be known).

    On Ctrl-C a :class:`JobInterrupted` is raised and the work done so far is
    kept for ``resume``; so it is on any other error.
    """
    input_path = Path(input_path)
    output_path = Path(output_path) if output_path is not None else default_output_path(input_path)
    out_format = detect_format(output_path)
    if output_path.resolve() == input_path.resolve():
        raise InputError(f"The output {str(output_path)!r} is the input file; choose another output path.")
    if not input_path.is_file():
        raise InputError(f"No such file: {str(input_path)!r}.")
    partial = output_path.with_name(output_path.name + ".partial")
    checkpoint = Checkpoint(partial.with_name(partial.name + ".json"))
    saved = _prepare_outputs(output_path, partial, checkpoint, overwrite=overwrite, resume=resume)
    identity = _job_identity(input_path, model, text_column, out_format, encoding, sheet, excel_bom)
    if saved is not None:
        _check_resumable(saved, identity, checkpoint)
    jobs = default_jobs() if jobs is None else max(1, int(jobs))
    spool_format = "jsonl" if out_format == "xlsx" else out_format  # a workbook cannot be appended to
    summary = LabelSummary(input=str(input_path), output=str(output_path), jobs=jobs)
    start = time.perf_counter()
    with open_table(input_path, encoding=encoding, sheet=sheet) as table:
        check_columns(table.columns, [text_column], input_path)
        labeller = Labeller(model, table.columns, jobs=jobs, cache_size=cache_size)
        summary.columns = labeller.names
        counts = _Counts(labeller, model.target_names, saved and saved["counts"])
        columns = table.columns + labeller.fields
        done = 0
        if saved is not None:
            os.truncate(partial, saved["bytes"])  # drop anything written after the last checkpoint
            done = summary.resumed_from = table.skip(saved["rows_done"])
            logger.info("Resuming %s after %d rows", input_path, done)
        writer = open_writer(partial, columns, fmt=spool_format, excel_bom=excel_bom, append=saved is not None)
        try:
            with labeller:
                plain = table.format in ("csv", "tsv") and writer.format in ("csv", "tsv")  # strings in, strings out
                if plain:  # rows as lists of values in column order: no dict per row
                    chunks, text_of = table.chunks(chunk_size, as_lists=True), itemgetter(table.columns.index(text_column))
                else:
                    chunks, text_of = table.chunks(chunk_size), lambda row: row.get(text_column)
                for chunk, values in labeller.label_stream(chunks, text_of):
                    if plain:
                        writer.write_values([[*row, *v] for row, v in zip(chunk, values)])
                    else:
                        fields = labeller.fields
                        writer.write([{**row, **dict(zip(fields, v))} for row, v in zip(chunk, values)])
                    counts.add(values)
                    done += len(chunk)
                    checkpoint.save({**identity, "rows_done": done, "bytes": writer.sync(),
                                     "columns": columns, "counts": counts.to_dict()})
                    if progress is not None:
                        progress(done, table.fraction_read())
        except KeyboardInterrupt:
            raise JobInterrupted(done, partial) from None
        finally:
            writer.close()
    summary.classified = labeller.classified
    if out_format == "xlsx":
        _spool_to_workbook(partial, output_path, columns)
    else:
        os.replace(partial, output_path)
    checkpoint.remove()
    summary.rows = done
    summary.seconds = time.perf_counter() - start
    summary.needs_review, summary.bad_rows = counts.needs_review, counts.bad_rows
    summary.distribution = counts.to_dict()["distribution"]
    logger.info("Labelled %d rows of %s in %.1f s", summary.rows, input_path, summary.seconds)
    return summary


def _prepare_outputs(output_path: Path, partial: Path, checkpoint: Checkpoint, *, overwrite: bool,
                     resume: bool) -> dict | None:
    """Check what earlier runs left; return the checkpoint to resume from, or None to start afresh."""
    saved = checkpoint.load() if resume else None
    if resume and saved is None:
        if partial.exists():
            raise InputError(
                f"{partial} exists but has no checkpoint, so it cannot be resumed; delete it or pass --force "
                "to start over."
            )
        logger.warning("Nothing to resume for %s: starting from the first row.", output_path)
    if saved is not None and not partial.exists():
        raise InputError(f"The checkpoint {checkpoint.path} has no {partial.name} beside it; pass --force to start over.")
    if output_path.exists() and not overwrite:
        raise InputError(f"{str(output_path)!r} already exists; choose another output path or pass --force to replace it.")
    if saved is None and (checkpoint.exists() or partial.exists()):
        if not overwrite:
            raise InputError(
                f"An interrupted run left {partial.name} beside {output_path.name}: pass --resume to continue it, "
                "or --force to start over."
            )
        checkpoint.remove()
        partial.unlink(missing_ok=True)
    return saved


def _spool_to_workbook(spool: Path, output_path: Path, columns: list[str]) -> None:
    """Convert the finished JSONL spool into the Excel output (atomically), then drop the spool."""
    tmp = output_path.with_name(output_path.name + ".tmp.xlsx")
    with open_writer(tmp, columns, fmt="xlsx") as writer:
        if spool.stat().st_size:  # an input with a header and no rows leaves an empty spool
            with open_table(spool, fmt="jsonl", encoding="utf-8") as table:
                for chunk in table.chunks(5000):
                    writer.write(chunk)
    os.replace(tmp, output_path)
    spool.unlink()
