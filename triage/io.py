"""Reading and writing tables of complaints: CSV, TSV, JSON Lines and Excel (XLSX).

Files are read in chunks (a list of row dicts per chunk), so a file of any size
streams through in bounded memory. Text encodings UTF-8, UTF-8 with BOM and
GB18030 (which covers GBK and GB2312) are detected; output is always UTF-8.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "c.csv"
>>> _ = path.write_text("id,text\\n1,信用卡年费\\n", encoding="gb18030")
>>> with open_table(path) as table:
...     table.encoding, table.columns, next(table.chunks(10))
('gb18030', ['id', 'text'], [{'id': '1', 'text': '信用卡年费'}])
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterator

from .exceptions import InputError

__all__ = [
    "FORMATS",
    "detect_format",
    "detect_encoding",
    "open_table",
    "read_rows",
    "TableReader",
    "TableWriter",
    "open_writer",
    "check_columns",
]

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}
_SAMPLE_BYTES = 1 << 20
# JSON may escape half of a surrogate pair ("\\ud83d", an emoji cut in two): such a character has no UTF-8 form.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
csv.field_size_limit(1 << 30)


def detect_format(path: str | os.PathLike) -> str:
    """The table format implied by a file name's extension."""
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        supported = ", ".join(sorted(FORMATS))
        raise InputError(
            f"Cannot read {str(path)!r}: the extension {suffix or '(none)'!r} is not a supported table format. "
            f"Use one of {supported} (for Excel, save as .xlsx)."
        ) from None


def detect_encoding(path: str | os.PathLike) -> str:
    """``utf-8-sig``, ``utf-8`` or ``gb18030``, judged on the first megabyte."""
    with open(path, "rb") as f:
        sample = f.read(_SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError as e:
        raise InputError(
            f"Cannot decode {str(path)!r}: it is neither UTF-8 nor GB18030/GBK (bad byte at offset {e.start}). "
            "Save the file as UTF-8, or name its encoding with --encoding."
        ) from e


def check_columns(columns: list[str], wanted: list[str], path: str | os.PathLike, role: str = "column") -> None:
    """Raise a clear :class:`InputError` when a needed column is missing, listing the ones that exist."""
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise InputError(
            f"{str(path)!r} has no {role} {', '.join(repr(c) for c in missing)}. "
            f"Its columns are: {', '.join(repr(c) for c in columns) or '(none)'}. "
            "Name the right one with --text-column (or --targets)."
        )


class TableReader:
    """An open table: ``columns`` and ``chunks(size)``. Use as a context manager."""

    def __init__(self, path: str | os.PathLike, *, fmt: str | None = None, encoding: str | None = None,
                 sheet: str | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"No such file: {str(path)!r}.")
        self.format = fmt or detect_format(path)
        if self.path.stat().st_size == 0:
            raise InputError(f"{str(path)!r} is empty: it has no header and no rows.")
        self.encoding = None if self.format == "xlsx" else (encoding or detect_encoding(path))
        self.sheet = sheet
        self.rows_read = 0
        self._file = None
        self._rows: Iterator[dict] | None = None
        self._lists: Iterator[list] | None = None  # CSV and TSV: the rows as lists of values (self._rows maps them)
        self.columns: list[str] = []
        self._book = None
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------------
    def _open(self):
        if self.format == "xlsx":
            self._open_xlsx()
        else:
            try:
                self._file = open(self.path, encoding=self.encoding, newline="")
            except LookupError:
                raise InputError(f"Unknown encoding {self.encoding!r}; use e.g. utf-8 or gb18030.") from None
            if self.format == "jsonl":
                self._open_jsonl()
            else:
                self._open_csv("\t" if self.format == "tsv" else ",")

    def _header(self, names: list[Any]) -> list[str]:
        columns = [str(n).strip() if n is not None and str(n).strip() else f"column_{i + 1}" for i, n in enumerate(names)]
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            raise InputError(f"{str(self.path)!r} has duplicate column names {dupes}; rename them so each is unique.")
        return columns

    def _open_csv(self, delimiter: str):
        reader = csv.reader(self._file, delimiter=delimiter)
        try:
            header = next(reader, None)
        except UnicodeDecodeError as e:
            raise self._decode_error(e) from e
        if not header:
            raise InputError(f"{str(self.path)!r} is empty: it has no header row.")
        self.columns = self._header(header)
        width = len(self.columns)

        def rows():
            try:
                for fields in reader:
                    if not fields:
                        continue
                    if len(fields) > width:
                        raise InputError(
                            f"{self.path}:{reader.line_num}: the row has {len(fields)} fields but the header has {width}. "
                            "Quote fields that contain the delimiter, or fix the row."
                        )
                    if len(fields) < width:
                        fields = fields + [""] * (width - len(fields))
                    yield fields
            except UnicodeDecodeError as e:
                raise self._decode_error(e) from e
            except csv.Error as e:
                raise InputError(f"{self.path}:{reader.line_num}: malformed {self.format.upper()} ({e}).") from e

        self._lists = rows()
        self._rows = map(dict, map(functools.partial(zip, self.columns), self._lists))

    def _open_jsonl(self):
        lines = self._numbered_json_objects()
        try:
            first = next(lines)
        except StopIteration:
            raise InputError(f"{str(self.path)!r} is empty: it has no JSON lines.") from None
        self.columns = list(first[1].keys())

        def rows():
            yield first[1]
            for _, obj in lines:
                for key in obj:
                    if key not in self.columns:
                        self.columns.append(key)
                yield obj

        self._rows = rows()

    def _numbered_json_objects(self):
        number = 0
        try:
            for number, line in enumerate(self._file, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{self.path}:{number}: not valid JSON ({e.msg}). Each line must be one JSON object.") from e
                if not isinstance(obj, dict):
                    raise InputError(f"{self.path}:{number}: expected a JSON object per line, got {type(obj).__name__}.")
                if _ESCAPED_SURROGATE.search(line):
                    obj = _without_lone_surrogates(obj)
                yield number, obj
        except UnicodeDecodeError as e:
            raise self._decode_error(e) from e

    def _open_xlsx(self):
        try:
            import openpyxl
        except ImportError:  # pragma: no cover - openpyxl is a dependency
            raise InputError("Reading .xlsx needs openpyxl: pip install openpyxl") from None
        try:
            self._book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises many types for a broken file
            raise InputError(f"Cannot read {str(self.path)!r} as an Excel workbook ({e}). Is it really .xlsx?") from e
        if self.sheet is not None and self.sheet not in self._book.sheetnames:
            raise InputError(f"{str(self.path)!r} has no sheet {self.sheet!r}; its sheets are {self._book.sheetnames}.")
        sheet = self._book[self.sheet] if self.sheet else self._book.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = next(values, None)
        if not header or all(v is None for v in header):
            raise InputError(f"{str(self.path)!r} is empty: its first sheet has no header row.")
        self.columns = self._header(list(header))
        width = len(self.columns)

        def rows():
            for row in values:
                if row is None or all(v is None for v in row):
                    continue
                row = list(row[:width]) + [None] * max(0, width - len(row))
                yield dict(zip(self.columns, row))

        self._rows = rows()

    def _decode_error(self, e: UnicodeDecodeError) -> InputError:
        return InputError(
            f"Cannot decode {str(self.path)!r} as {self.encoding} after row {self.rows_read} ({e.reason}). "
            "The file mixes encodings or is corrupt; re-save it as UTF-8, or name its encoding with --encoding."
        )

    # -- reading ---------------------------------------------------------------
    def fraction_read(self) -> float | None:
        """How far through the file reading is (0–1, from bytes read), or None where that is unknown (XLSX)."""
        if self._file is None:
            return None
        size = self.path.stat().st_size
        try:
            return min(1.0, self._file.buffer.raw.tell() / size) if size else None
        except (AttributeError, OSError, ValueError):
            return None

    def skip(self, rows: int) -> int:
        """Read past the first ``rows`` rows (to resume a job); returns how many were there."""
        skipped = 0
        for _ in range(rows):
            if next(self._rows, None) is None:
                break
            skipped += 1
        self.rows_read += skipped
        return skipped

    def chunks(self, size: int = 2000, *, as_lists: bool = False) -> Iterator[list[dict]] | Iterator[list[list]]:
        """Yield lists of at most ``size`` row dicts, in file order.

        ``as_lists=True`` (CSV and TSV only) yields each row as the list of its values in column order instead,
        without a dict per row: what a labelling job that writes CSV needs.
        """
        if as_lists and self._lists is None:
            raise ValueError(f"Rows come as lists from CSV and TSV only, not {self.format}.")
        chunk = []
        for row in self._lists if as_lists else self._rows:
            chunk.append(row)
            self.rows_read += 1
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def close(self):
        if self._file is not None:
            self._file.close()
        if self._book is not None:
            self._book.close()
            self._book = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_table(path: str | os.PathLike, **kwargs) -> TableReader:
    """Open a table for chunked reading. See :class:`TableReader`."""
    return TableReader(path, **kwargs)


def read_rows(path: str | os.PathLike, **kwargs) -> tuple[list[str], list[dict]]:
    """Read a whole table: ``(columns, rows)``."""
    with open_table(path, **kwargs) as table:
        rows = [row for chunk in table.chunks(10_000) for row in chunk]
        if not rows:
            raise InputError(f"{str(path)!r} has a header but no rows.")
        return table.columns, rows


def _without_lone_surrogates(value: Any) -> Any:
    """``value`` with each lone surrogate in its strings replaced by U+FFFD, as a UTF-8 decoder replaces bytes it
    cannot read: the half character cannot be written to any UTF-8 output (a pair, already one character, stays).

    >>> _without_lone_surrogates({"text": "\\ud83d好", "n": 1, "tags": ["\\udc00"]})
    {'text': '\ufffd好', 'n': 1, 'tags': ['\ufffd']}
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    return value


# -- writing -------------------------------------------------------------------
def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


class TableWriter:
    """Writes rows (dicts) with a fixed column order to CSV, TSV, JSONL or XLSX."""

    def __init__(self, path: str | os.PathLike, columns: list[str], *, fmt: str | None = None, excel_bom: bool = False,
                 append: bool = False):
        self.path = Path(path)
        self.columns = list(columns)
        self.format = fmt or detect_format(path)
        self._book = None
        if append and self.format == "xlsx":
            raise InputError("An Excel workbook cannot be appended to; write CSV or JSONL and convert at the end.")
        if self.format == "xlsx":
            import openpyxl

            self._book = openpyxl.Workbook(write_only=True)
            self._sheet = self._book.create_sheet()
            self._sheet.append(self.columns)
            self._file = None
        else:
            mode = "a" if append else "w"
            self._file = open(self.path, mode, encoding="utf-8-sig" if excel_bom else "utf-8", newline="")
            if self.format in ("csv", "tsv"):
                self._csv = csv.writer(self._file, delimiter="\t" if self.format == "tsv" else ",", lineterminator="\n")
                if not append:
                    self._csv.writerow(self.columns)

    def write(self, rows: list[dict]) -> None:
        if self.format == "jsonl":
            buf = io.StringIO()
            for row in rows:
                buf.write(json.dumps(row, ensure_ascii=False, default=str))
                buf.write("\n")
            self._file.write(buf.getvalue())
        elif self.format == "xlsx":
            from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

            for row in rows:
                self._sheet.append(
                    [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else _cell(v) for v in
                     (row.get(c) for c in self.columns)]
                )
        else:
            self._csv.writerows([_cell(row.get(c)) for c in self.columns] for row in rows)

    def write_values(self, rows: list[list]) -> None:
        """Write rows given as lists of values in column order (CSV and TSV; None is written empty).

        Faster than :meth:`write` where the values are strings, numbers, booleans or None, as a labelling job's
        are when it reads CSV: no dictionary per row and no check per cell.
        """
        if self.format not in ("csv", "tsv"):
            raise ValueError(f"write_values writes CSV or TSV, not {self.format}; use write().")
        self._csv.writerows(rows)

    def flush(self) -> None:
        """Push written rows to the operating system (not meaningful for XLSX, written at close)."""
        if self._file is not None:
            self._file.flush()

    def sync(self) -> int:
        """Put every row written so far on disk (flush and fsync) and return the file's size in bytes."""
        self._file.flush()
        os.fsync(self._file.fileno())
        return self._file.buffer.tell()

    def close(self) -> None:
        if self._book is not None:
            self._book.save(self.path)
            self._book = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_writer(path: str | os.PathLike, columns: list[str], **kwargs) -> TableWriter:
    """Open a table for writing. See :class:`TableWriter`."""
    return TableWriter(path, columns, **kwargs)
