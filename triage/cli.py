"""The ``triage`` command line: a thin layer over the library.

Each command parses its options, calls one library function and prints the
result. A :class:`~triage.exceptions.TriageError` becomes a one-paragraph
message and exit status 1 (``-v`` shows the traceback); usage errors exit 2.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

import click

from . import __version__
from .batch import JobInterrupted, label_file
from .config import FeatureConfig, SegmenterConfig, TrainConfig
from .exceptions import TriageError
from .normalize import mask_personal_data
from .persist import load_model, read_manifest
from .report import format_metrics, format_per_class
from .resources import default_model_dir
from .segment import quiet_jieba
from .curation import audit, cross_validate, learning_curve, suggest
from .io import open_table, open_writer, check_columns
from .workflows import evaluate, train

logger = logging.getLogger("triage")

PER_CLASS_LINES = 30  # per target, when training prints its per-class figures (the card and `evaluate` show all)


class _Group(click.Group):
    """Turns library errors into clean messages with exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # e.g. `triage predict ... | head`: the reader has gone, nothing to report
            sys.stdout = open(os.devnull, "w")
            ctx.exit(0)
        except (TriageError, OSError) as e:
            if (ctx.obj or {}).get("verbose"):
                raise
            message = str(e) if isinstance(e, TriageError) else f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")
            raise click.ClickException(message + "\n(Run with -v for details.)") from e


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_jieba(logging.DEBUG if verbose >= 2 else logging.WARNING)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug); show tracebacks on errors.")
@click.version_option(__version__, prog_name="triage")
@click.pass_context
def main(ctx, verbose):
    """Triage Chinese consumer complaints: label category, severity and root cause.

    \b
    Examples:
      triage predict "信用卡被自动分期收了手续费，要求退还"
      triage label complaints.xlsx --text-column 投诉内容
      triage train labelled.csv -o models/mine
      triage evaluate models/mine test.csv --report report/
    """
    ctx.obj = {"verbose": verbose}
    _configure_logging(verbose)


_model_option = click.option(
    "--model", "model_dir", type=click.Path(file_okay=False), default=None,
    help="Model directory (default: the shipped default model). Only load model directories you trust.",
)


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _table(rows: list[dict], targets: list[str]) -> str:
    """A readable table: one line per complaint, then its signals and deadline when there are any."""
    headers = ["#", "text"] + targets + ["review"]
    body = []
    for i, row in enumerate(rows, 1):
        text = row["text"]
        text = text if len(text) <= 24 else text[:23] + "…"
        cells = [str(i), text]
        for t in targets:
            p = row[t]
            name = f" {p['name']}" if p.get("name") else ""
            raised = "↑" if p.get("raised_by_signals") else ""
            cells.append("-" if p["label"] is None else f"{p['label']}{name} {p['probability']:.2f} {p['confidence']}{raised}")
        cells.append("yes" if row["needs_review"] else "no")
        body.append(cells)
    widths = [max(_display_width(r[k]) for r in [headers] + body) for k in range(len(headers))]
    lines = ["  ".join(c + " " * (w - _display_width(c)) for c, w in zip(headers, widths)).rstrip()]
    for row, cells in zip(rows, body):
        lines.append("  ".join(c + " " * (w - _display_width(c)) for c, w in zip(cells, widths)).rstrip())
        pad = " " * (widths[0] + 2)
        if row.get("signals"):
            found = "; ".join(f"{s['rule']}({s['level']}) 「{s['text']}」" for s in row["signals"])
            lines.append(f"{pad}signals: {found}")
        deadline = row.get("deadline")
        if deadline:
            lines.append(f"{pad}deadline: respond within {deadline['respond_within_hours']} h, decide within "
                         f"{deadline['decide_within_days']} days (extendable to {deadline['extendable_to_days']}); "
                         f"{deadline['action']}")
        if row["needs_review"] and row.get("review_reasons"):
            lines.append(f"{pad}review: {'; '.join(row['review_reasons'])}")
    return "\n".join(lines)


@main.command()
@click.argument("texts", nargs=-1)
@_model_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True,
              help="One JSON object per text, or a readable table.")
@click.option("--explain", is_flag=True, help="Add the terms that pushed each decision most.")
def predict(texts, model_dir, fmt, explain):
    """Label each TEXT, or each line of standard input when no TEXT is given.

    Prints one JSON object per text (JSON Lines): every target's label,
    probability and confidence level, the signals found and needs_review.
    """
    model = load_model(model_dir)
    if not texts:
        if sys.stdin.isatty():
            click.echo("Reading complaints from standard input, one per line (Ctrl-D to end)…", err=True)
        texts = [line.rstrip("\r\n") for line in sys.stdin]
    rows = []
    for text, prediction in zip(texts, model.predict(list(texts))):
        row = {"text": mask_personal_data(text)}
        row.update(prediction.to_dict())
        if explain and prediction.labels and any(v is not None for v in prediction.labels.values()):
            row["explanation"] = model.explain(text).to_dict()
        rows.append(row)
    if fmt == "table":
        click.echo(_table(rows, model.target_names))
    else:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class _Progress:
    """Rows, rows/s and ETA: a bar redrawn on a terminal, or a plain log line every ``every`` seconds otherwise."""

    def __init__(self, every: float = 10.0):
        self.tty = sys.stderr.isatty()
        self.every = 0.2 if self.tty else every
        self.start = time.perf_counter()
        self.last = self.start
        self.first_rows = None
        self.first_fraction = 0.0

    def __call__(self, rows: int, fraction: float | None = None) -> None:
        now = time.perf_counter()
        if self.first_rows is None:  # rows already done by an earlier, resumed run do not count for the rate
            self.first_rows, self.first_fraction, self.start = rows, fraction or 0.0, now
            return
        if now - self.last < self.every:
            return
        self.last = now
        rate = (rows - self.first_rows) / max(now - self.start, 1e-9)
        if fraction:
            left = (now - self.start) * (1 - fraction) / max(fraction - self.first_fraction, 1e-9)
            eta = f"{fraction:4.0%}  ETA {_duration(left)}"
        else:
            eta = ""
        if self.tty:
            bar = "#" * int(20 * (fraction or 0))
            click.echo(f"\r[{bar:<20}] {rows:,} rows  {rate:,.0f} rows/s  {eta}   ", err=True, nl=False)
        else:
            click.echo(f"triage label: {rows:,} rows, {rate:,.0f} rows/s {eta}".rstrip(), err=True)

    def close(self) -> None:
        if self.tty:
            click.echo("", err=True)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path())
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Output file; its extension picks the format (default: INPUT.labelled.<ext>). "
                   "With --scheduler: the output folder.")
@click.option("--text-column", default="text", show_default=True, help="Column holding the complaint text.")
@_model_option
@click.option("--excel-bom", is_flag=True, help="Write CSV with a UTF-8 BOM so Excel opens it correctly.")
@click.option("--encoding", default=None, help="Input encoding (default: detect UTF-8, UTF-8 with BOM or GB18030).")
@click.option("--sheet", default=None, help="Excel sheet to read (default: the first).")
@click.option("--chunk-size", default=2000, show_default=True, type=click.IntRange(1), help="Rows per chunk.")
@click.option("-j", "--jobs", default=None, type=click.IntRange(1),
              help="Worker processes, each loading the model once (default: all cores).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run of the same job where it stopped.")
@click.option("--cache-size", default=100_000, show_default=True, type=click.IntRange(0),
              help="Distinct recent texts whose labels are reused when they repeat (0: classify every row).")
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists, or discard an interrupted run's work.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on a Dask cluster (e.g. tcp://host:8786): INPUT is a folder, glob or file of CSV/TSV/Parquet "
                   "shards, -o a folder; needs pip install 'triage[dask]'.")
def label(input_path, output, text_column, model_dir, excel_bom, encoding, sheet, chunk_size, jobs, resume,
          cache_size, force, scheduler):
    """Label every row of INPUT (CSV, TSV, JSONL or XLSX) and write a copy with label columns added.

    Every input column and row is kept in order; the added columns are
    <target>, <target>_probability, <target>_confidence, needs_review and
    review_reason (with a _pred suffix when a name is already taken). The
    output appears only when complete; an interrupted run (Ctrl-C, a killed
    process, a power cut) continues with --resume. With --scheduler the same
    job runs on a Dask cluster, one output file per input partition.
    """
    if scheduler is not None:
        _label_on_cluster(input_path, output, text_column, model_dir, encoding, force, scheduler)
        return
    if os.path.isdir(input_path):
        raise click.BadParameter(f"{input_path!r} is a folder; give a file, or use --scheduler for a folder of shards.",
                                 param_hint="INPUT")
    model = load_model(model_dir)
    progress = _Progress()
    try:
        summary = label_file(model, input_path, output, text_column=text_column, chunk_size=chunk_size,
                             encoding=encoding, sheet=sheet, excel_bom=excel_bom, overwrite=force,
                             resume=resume, jobs=jobs, cache_size=cache_size, progress=progress)
    except JobInterrupted as e:
        progress.close()
        click.echo(f"{e}\nRun the same command with --resume to continue.", err=True)
        sys.exit(130)
    progress.close()
    resumed = f" (resumed after {summary.resumed_from:,})" if summary.resumed_from else ""
    click.echo(
        f"Labelled {summary.rows:,} rows{resumed} in {summary.seconds:.1f} s ({summary.rows_per_second:,.0f} rows/s, "
        f"{summary.jobs} process{'es' if summary.jobs > 1 else ''}; {summary.classified:,} distinct texts classified) "
        f"→ {summary.output}", err=True,
    )
    click.echo(f"Needs review: {summary.needs_review:,} rows; bad rows (no usable text): {summary.bad_rows:,}", err=True)
    for target, counts in summary.distribution.items():
        top = ", ".join(f"{k} {v:,}" for k, v in list(counts.items())[:8])
        click.echo(f"  {target}: {top}", err=True)


def _label_on_cluster(inputs, output, text_column, model_dir, encoding, force, scheduler) -> None:
    from .distributed import label_files_on_cluster

    if output is None:
        raise click.BadParameter("give the output folder with -o when labelling on a cluster", param_hint="-o")
    summary = label_files_on_cluster(model_dir, inputs, output, scheduler=scheduler, text_column=text_column,
                                     encoding=encoding, overwrite=force)
    click.echo(
        f"Labelled {summary['rows']:,} rows in {summary['partitions']} partitions on {scheduler} in "
        f"{summary['seconds']:.1f} s ({summary['rows_per_second']:,.0f} rows/s) → {summary['output']}", err=True,
    )
    click.echo(f"Needs review: {summary['needs_review']:,} rows; bad rows (no usable text): {summary['bad_rows']:,}",
               err=True)
    for target, counts in summary["distribution"].items():
        click.echo(f"  {target}: " + ", ".join(f"{k} {v:,}" for k, v in list(counts.items())[:8]), err=True)


def _none_or(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _split_targets(value: str | None):
    if value is None:
        return None
    targets = [t.strip() for t in value.split(",") if t.strip()]
    if not targets:
        raise click.BadParameter("give at least one column name, e.g. --targets category,severity")
    return targets


def _multi_label(ctx, names: str | None, separator: str) -> dict[str, str] | None:
    """``{target: separator}`` from --multi-label and --label-sep."""
    if names is None:
        if ctx.get_parameter_source("label_sep").name == "COMMANDLINE":
            raise click.UsageError("--label-sep needs --multi-label TARGET (the targets whose cells hold several labels).")
        return None
    targets = [t.strip() for t in names.split(",") if t.strip()]
    if not targets:
        raise click.BadParameter("give at least one target column, e.g. --multi-label problem", param_hint="--multi-label")
    if not separator:
        raise click.BadParameter("the separator cannot be empty, e.g. --label-sep ,", param_hint="--label-sep")
    return {t: separator for t in targets}


_multi_label_options = [
    click.option("--multi-label", "multi_label", default=None, metavar="TARGETS",
                 help="Comma-separated target columns whose cells hold several labels (e.g. 'H93,H15,'): "
                      "one-vs-rest classifiers, at least one label per prediction, labels joined in the output."),
    click.option("--label-sep", "label_sep", default=",", show_default=True,
                 help="Separator of the labels in the --multi-label cells (stored in the model, used for its output)."),
]


def _with_multi_label_options(command):
    for option in reversed(_multi_label_options):
        command = option(command)
    return command


@main.command("train")
@click.argument("data", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--targets", default=None, help="Comma-separated label columns (default: every column but text and id).")
@click.option("--test-size", default=0.2, show_default=True, type=click.FloatRange(0, 1, max_open=True),
              help="Share of rows held out for evaluation (0 trains on everything).")
@click.option("--eval-data", type=click.Path(dir_okay=False), default=None,
              help="Separate evaluation file (then all of DATA is used for training).")
@click.option("--cv", "cv_folds", type=click.IntRange(2), default=None,
              help="Report K-fold cross-validated metrics (for small data) and train the model on all rows.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--hmm/--no-hmm", default=False, show_default=True, help="jieba HMM for unknown words.")
@click.option("--user-dict", default="default", show_default=True,
              help="jieba user dictionary file ('default': the shipped financial dictionary; 'none': no dictionary).")
@click.option("--taxonomy", default="default", show_default=True,
              help="Taxonomy file that labels of its targets must follow ('default': the shipped one; 'none').")
@click.option("--rules", default="default", show_default=True,
              help="Escalation rule table setting the severity floor ('default': the shipped one; 'none').")
@click.option("--force", is_flag=True, help="Replace an existing model directory.")
@_with_multi_label_options
@click.pass_context
def train_command(ctx, data, output, text_column, targets, test_size, eval_data, cv_folds, seed, hmm, user_dict,
                  taxonomy, rules, force, multi_label, label_sep):
    """Train a model on labelled DATA file(s) and save it to a model directory.

    Several DATA files are concatenated (e.g. old data plus newly labelled rows).
    A multi-label target (--multi-label problem --label-sep ,) reports micro-,
    macro- and samples-F1, exact-match accuracy and Hamming loss.
    """
    if eval_data is not None and ctx.get_parameter_source("test_size").name == "COMMANDLINE":
        raise click.UsageError("Use either --test-size or --eval-data, not both.")
    if cv_folds is not None and (eval_data is not None or ctx.get_parameter_source("test_size").name == "COMMANDLINE"):
        raise click.UsageError("--cv replaces the held-out split: do not combine it with --test-size or --eval-data.")
    config = TrainConfig(
        text_column=text_column,
        targets=_split_targets(targets),
        test_size=0 if cv_folds else test_size,
        seed=seed,
        taxonomy=_none_or(taxonomy),
        rules=_none_or(rules),
        segmenter=SegmenterConfig(user_dict=_none_or(user_dict), hmm=hmm),
        features=FeatureConfig(),
        multi_label=_multi_label(ctx, multi_label, label_sep),
    )
    if cv_folds:
        cv = cross_validate(list(data), config=config, folds=cv_folds)
        click.echo(format_metrics(cv["metrics"], split=f"{cv_folds}-fold cross-validation ({cv['rows']} rows)"))
        click.echo("\n" + format_per_class(cv["metrics"], limit=PER_CLASS_LINES) + "\n")
    result = train(list(data), config=config, eval_data=eval_data, output=output, overwrite=force,
                   card_notes=(f"Cross-validated metrics ({cv_folds} folds) were printed at training time; the model "
                               "itself is trained on all rows.") if cv_folds else "")
    click.echo(result.summary())
    if result.metrics:
        click.echo("\n" + format_per_class(result.metrics, limit=PER_CLASS_LINES, more="in MODEL_CARD.md") + "\n")
    separators = result.model.separators
    for target, small in result.model.small_classes_.items():
        if small and target in separators:
            untrained = result.model.untrained_labels_.get(target, {})
            click.echo(f"Warning: {target}: {len(small)} labels too small to learn well (under 3 examples), "
                       f"{len(untrained)} of them seen once and never predicted: "
                       f"{', '.join(list(small)[:15])}{' …' if len(small) > 15 else ''}", err=True)
        elif small:
            click.echo(f"Warning: {target}: classes too small to learn well (under 3 examples): {small}", err=True)
    click.echo(f"Saved model to {result.model_dir}")


@main.command("evaluate")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--text-column", default=None, help="Text column (default: the one the model was trained with).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Write metrics.json, report.md and confusion-matrix pictures to this folder.")
def evaluate_command(model_dir, data, text_column, report_dir):
    """Evaluate MODEL_DIR on labelled DATA: accuracy, macro-F1, per-class metrics, confusion matrices.

    Multi-label targets: micro-, macro- and samples-F1, exact-match accuracy,
    Hamming loss and per-label metrics (cells split on the model's separator).
    """
    metrics = evaluate(model_dir, data, text_column=text_column, report_dir=report_dir)
    click.echo(format_metrics(metrics, split=f"{data}"))
    click.echo("\n" + format_per_class(metrics))
    if report_dir:
        click.echo(f"\nReport written to {report_dir}")


def _write_rows(rows: list[dict], output: str | None) -> None:
    """Write result rows to a table file, or print them as JSON Lines."""
    if output is None:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    columns = list(dict.fromkeys(k for row in rows for k in row)) or ["row"]
    with open_writer(output, columns) as writer:
        writer.write(rows)
    click.echo(f"Wrote {len(rows)} rows to {output}", err=True)


@main.command("audit")
@click.argument("data", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--text-column", default="text", show_default=True)
@click.option("--targets", default=None, help="Comma-separated label columns (default: every column but text and id).")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2))
@click.option("--min-probability", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Only list disagreements where the suggested label has at least this probability.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the findings to a file.")
@_with_multi_label_options
@click.pass_context
def audit_command(ctx, data, text_column, targets, folds, min_probability, output, multi_label, label_sep):
    """List rows of labelled DATA whose label disagrees with a confident cross-validated prediction.

    These are the likeliest labelling mistakes, ranked, with the suggested label
    (for a multi-label target: the suggested label set, and which labels it adds
    or drops).
    """
    config = TrainConfig(text_column=text_column, targets=_split_targets(targets),
                         multi_label=_multi_label(ctx, multi_label, label_sep))
    findings = audit(list(data), config=config, folds=folds, min_probability=min_probability)
    click.echo(f"{len(findings)} likely labelling mistakes (high-confidence disagreements, {folds}-fold).", err=True)
    _write_rows(findings, output)


@main.command("suggest")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("unlabelled", type=click.Path(dir_okay=False))
@click.option("-n", "count", default=50, show_default=True, type=click.IntRange(1), help="How many rows to pick.")
@click.option("--text-column", default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the picks to a file.")
def suggest_command(model_dir, unlabelled, count, text_column, output):
    """Pick the N rows of UNLABELLED most worth labelling next (uncertain and diverse)."""
    model = load_model(model_dir)
    with open_table(unlabelled) as table:
        check_columns(table.columns, [text_column], unlabelled)
        texts = [row.get(text_column) for chunk in table.chunks() for row in chunk]
    _write_rows(suggest(model, texts, n=count), output)


@main.command("curve")
@click.argument("data", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--text-column", default="text", show_default=True)
@click.option("--targets", default=None, help="Comma-separated label columns (default: every column but text and id).")
@click.option("--test-size", default=0.2, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True))
@_with_multi_label_options
@click.pass_context
def curve_command(ctx, data, text_column, targets, test_size, multi_label, label_sep):
    """Learning curve: held-out accuracy per target when training on 20%, 40%, … 100% of the training split.

    Multi-label targets show their micro-F1. A curve still rising at 100% means
    that labelling more data would help.
    """
    config = TrainConfig(text_column=text_column, targets=_split_targets(targets),
                         multi_label=_multi_label(ctx, multi_label, label_sep))
    points = learning_curve(list(data), config=config, test_size=test_size)
    names = [k for k in points[0] if k not in ("share", "train_rows")] if points else []
    click.echo("share  rows    " + "  ".join(f"{n:>12}" for n in names))
    for p in points:
        click.echo(f"{p['share']:>5.0%}  {p['train_rows']:<6}  " + "  ".join(f"{p[n]:>12.3f}" for n in names))


@main.command()
@click.argument("model_dir", required=False, type=click.Path(file_okay=False))
def info(model_dir):
    """Show a model directory's manifest (default: the shipped default model)."""
    manifest = read_manifest(model_dir)
    where = model_dir or str(default_model_dir())
    click.echo(f"Model directory: {where}")
    click.echo(f"Format: {manifest['format']} v{manifest['format_version']}, created {manifest.get('created')}")
    click.echo("Versions: " + ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items()))
    seg = manifest.get("segmenter", {})
    click.echo(f"Segmenter: user dictionary {seg.get('user_dict')}, stop words {seg.get('stop_words')}, HMM {seg.get('hmm')}")
    data = manifest.get("training_data") or {}
    if data:
        click.echo(f"Training data: {', '.join(data.get('sources', []))}; {data.get('rows')} rows; "
                   f"fingerprint {str(data.get('fingerprint_sha256'))[:16]}…")
    click.echo("Targets:")
    multi = manifest.get("multi_label") or {}
    for target, labels in manifest.get("targets", {}).items():
        thresholds = manifest.get("confidence_thresholds", {}).get(target, {})
        click.echo(f"  {target} ({len(labels)} labels): {', '.join(labels)}")
        if target in multi:
            cut = list(multi[target].get("decision_thresholds", {}).values()) or [float("nan")]
            click.echo(f"    multi-label, separator {multi[target]['separator']!r}; decision thresholds per label "
                       f"{min(cut):.2f}–{max(cut):.2f}")
        click.echo(f"    confidence thresholds: high ≥ {thresholds.get('high')}, medium ≥ {thresholds.get('medium')}")
    metrics = (manifest.get("metrics") or {}).get("targets")
    if metrics:
        click.echo(format_metrics(metrics, split=manifest["metrics"].get("split", "held-out")))
    click.echo("Files (SHA-256):")
    for name, digest in manifest.get("files", {}).items():
        click.echo(f"  {name}  {digest}")


if __name__ == "__main__":  # pragma: no cover
    main()
