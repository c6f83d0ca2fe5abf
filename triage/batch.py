"""Labelling whole files: stream rows in chunks, keep every input column and row, add label columns.

The output is written to ``<output>.partial`` and renamed into place only when
the whole input has been labelled, so a failed run never leaves a truncated
file under the output name.
"""

from __future__ import annotations

import collections
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .exceptions import InputError
from .io import check_columns, detect_format, open_table, open_writer
from .model import prediction_columns

__all__ = ["label_file", "LabelSummary", "output_columns", "default_output_path", "prediction_row"]

logger = logging.getLogger(__name__)


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

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "needs_review": self.needs_review,
            "bad_rows": self.bad_rows,
            "distribution": self.distribution,
        }


def _free(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_pred"
    return name


def output_columns(input_columns: list[str], targets: list[str], *, with_names: bool = False,
                   extras: tuple[str, ...] = ()) -> dict[str, str]:
    """Map each added field to its output column name, never overwriting an input column.

    A target whose column names are taken gets the prefix ``<target>_pred``.

    >>> output_columns(["text", "category"], ["category", "severity"])["category"]
    'category_pred'
    """
    taken = set(input_columns)
    names: dict[str, str] = {}
    suffixes = ["", "_name", "_probability", "_confidence"] if with_names else ["", "_probability", "_confidence"]
    for target in targets:
        prefix = target
        while any(prefix + s in taken for s in suffixes):
            prefix += "_pred"
        for s in suffixes:
            names[target + s] = prefix + s
            taken.add(prefix + s)
    for extra in (*extras, "needs_review", "review_reason"):
        names[extra] = _free(extra, taken)
        taken.add(names[extra])
    return names


def default_output_path(input_path: str | os.PathLike) -> Path:
    """``complaints.csv`` → ``complaints.labelled.csv`` next to the input."""
    path = Path(input_path)
    return path.with_name(f"{path.stem}.labelled{path.suffix}")


def prediction_row(prediction, names: dict[str, str], with_names: bool) -> dict[str, Any]:
    """The label columns of one prediction, under the output names chosen by :func:`output_columns`."""
    row = {}
    for target, t in prediction.targets.items():
        row[names[target]] = t.label
        if with_names:
            row[names[target + "_name"]] = t.name
        row[names[target + "_probability"]] = round(t.probability, 4) if t.label is not None else None
        row[names[target + "_confidence"]] = t.confidence if t.label is not None else None
    for key, value in prediction_columns(prediction).items():
        row[names[key]] = value
    return row


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
    progress: Callable[[int], None] | None = None,
) -> LabelSummary:
    """Label every row of ``input_path`` and write ``output_path`` (same format unless its extension says otherwise).

    Every input column and row is kept, in order; label columns are added
    after them. ``progress`` is called with the number of rows done so far.
    """
    input_path = Path(input_path)
    output_path = Path(output_path) if output_path is not None else default_output_path(input_path)
    out_format = detect_format(output_path)
    if output_path.resolve() == input_path.resolve():
        raise InputError(f"The output {str(output_path)!r} is the input file; choose another output path.")
    if output_path.exists() and not overwrite:
        raise InputError(f"{str(output_path)!r} already exists; choose another output path or pass --force to replace it.")
    partial = output_path.with_name(output_path.name + ".partial")
    with_names = bool(getattr(model, "has_label_names", False))
    extras = tuple(getattr(model, "extra_fields", ()))
    summary = LabelSummary(input=str(input_path), output=str(output_path))
    counts = {t: collections.Counter() for t in model.target_names}
    start = time.perf_counter()
    with open_table(input_path, encoding=encoding, sheet=sheet) as table:
        check_columns(table.columns, [text_column], input_path)
        names = output_columns(table.columns, model.target_names, with_names=with_names, extras=extras)
        summary.columns = names
        writer = open_writer(partial, table.columns + list(names.values()), fmt=out_format, excel_bom=excel_bom)
        try:
            for chunk in table.chunks(chunk_size):
                predictions = model.predict([row.get(text_column) for row in chunk])
                out_rows = []
                for row, prediction in zip(chunk, predictions):
                    out = dict(row)
                    out.update(prediction_row(prediction, names, with_names))
                    out_rows.append(out)
                    summary.needs_review += prediction.needs_review
                    labels = prediction.labels
                    summary.bad_rows += all(v is None for v in labels.values())
                    for target, label in labels.items():
                        counts[target][label if label is not None else "(none)"] += 1
                writer.write(out_rows)
                summary.rows += len(chunk)
                if progress is not None:
                    progress(summary.rows)
            writer.close()
        except BaseException:
            writer.close()
            partial.unlink(missing_ok=True)
            raise
    os.replace(partial, output_path)
    summary.seconds = time.perf_counter() - start
    summary.distribution = {t: dict(c.most_common()) for t, c in counts.items()}
    logger.info("Labelled %d rows of %s in %.1f s", summary.rows, input_path, summary.seconds)
    return summary
