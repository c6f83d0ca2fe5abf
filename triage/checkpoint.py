"""Checkpoints that let an interrupted labelling job resume exactly where it stopped.

A job writes its output to ``<output>.partial`` and, after every chunk has
reached the disk (flushed and fsynced), records in ``<output>.partial.json``
how many input rows are done and how many bytes of the partial file hold
them. A crash can leave bytes after that point; resuming cuts them off and
carries on from the recorded row, so the finished file is exactly what an
uninterrupted run writes. The checkpoint also records what the job was (the
input file's size, modification time and leading bytes, the model, the
options); resuming a different job is refused.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> point = Checkpoint(folder / "out.csv.partial.json")
>>> point.save({"rows_done": 2000, "bytes": 81234})
>>> point.load()["rows_done"]
2000
>>> point.remove(); point.load() is None
True
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .exceptions import InputError

__all__ = ["Checkpoint", "input_signature", "fsync_file"]

_HEAD_BYTES = 1 << 20


def input_signature(path: str | os.PathLike) -> dict[str, Any]:
    """What identifies an input file cheaply: size, modification time and a hash of its first megabyte."""
    path = Path(path)
    stat = path.stat()
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(_HEAD_BYTES)).hexdigest()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head}


def fsync_file(file) -> None:
    """Flush a Python file object and ask the OS to put its bytes on disk."""
    file.flush()
    os.fsync(file.fileno())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Checkpoint:
    """A small JSON state file replaced atomically (write a temporary file, fsync, rename)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None if there is none; a damaged file is a clear error."""
        if not self.path.is_file():
            return None
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(
                f"The checkpoint {str(self.path)!r} is damaged ({e}); delete it and the .partial file next to it "
                "to start the job over."
            ) from e

    def save(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, ensure_ascii=False)
            fsync_file(f)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + ".tmp").unlink(missing_ok=True)
