"""Label sets with codes, names and definitions, and validation of training labels against them.

>>> tax = Taxonomy.load()                      # the shipped default taxonomy
>>> tax.name_of("category", "CAT01")
'信用卡'
>>> tax.axis("severity").ordered, tax.codes("severity")
(True, ['SEV1', 'SEV2', 'SEV3', 'SEV4'])
>>> tax.check_labels("severity", ["SEV2", "SEV9"], where="train.csv")
Traceback (most recent call last):
...
triage.exceptions.TaxonomyError: train.csv: target 'severity' has label(s) outside the taxonomy 'triage-default': 'SEV9' (1 row). Allowed codes: SEV1, SEV2, SEV3, SEV4. Fix the labels, or train with your own taxonomy file (--taxonomy FILE) or none (--taxonomy none).
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .exceptions import TaxonomyError
from .resources import corpora_dir

__all__ = ["Taxonomy", "Axis", "Label", "DEFAULT_TAXONOMY"]

DEFAULT_TAXONOMY = "taxonomy.json"


@dataclass(frozen=True)
class Label:
    """One class of one axis."""

    code: str
    name_zh: str
    name_en: str = ""
    definition: str = ""
    signals: tuple[str, ...] = ()
    boundaries: tuple[str, ...] = ()
    jrt0169: str | None = None


@dataclass(frozen=True)
class Axis:
    """One target: its labels in order (``ordered`` axes such as severity are ranked low to high)."""

    target: str
    name_zh: str
    name_en: str
    ordered: bool
    labels: tuple[Label, ...]

    def codes(self) -> list[str]:
        return [label.code for label in self.labels]


class Taxonomy:
    """A set of axes (targets) with their label codes and names, read from a JSON file."""

    def __init__(self, *, name: str, version: str, axes: Iterable[Axis], description: str = "", sha256: str = ""):
        self.name = name
        self.version = version
        self.description = description
        self.axes = {axis.target: axis for axis in axes}
        self.sha256 = sha256
        self._names = {t: {lab.code: lab.name_zh for lab in a.labels} for t, a in self.axes.items()}

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "Taxonomy":
        """Read a taxonomy file; None or ``"default"`` reads the shipped ``corpora/taxonomy.json``."""
        path = corpora_dir() / DEFAULT_TAXONOMY if path in (None, "default") else Path(path)
        try:
            raw = path.read_bytes()
            data = json.loads(raw.decode("utf-8-sig"))
        except FileNotFoundError:
            raise TaxonomyError(f"No taxonomy file at {str(path)!r}.") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TaxonomyError(f"{path} is not a UTF-8 JSON taxonomy file ({e}).") from e
        try:
            axes = []
            for axis in data["axes"]:
                labels = tuple(
                    Label(
                        code=str(lab["code"]),
                        name_zh=str(lab.get("name_zh", lab["code"])),
                        name_en=str(lab.get("name_en", "")),
                        definition=str(lab.get("definition", "")),
                        signals=tuple(lab.get("signals", ())),
                        boundaries=tuple(lab.get("boundaries", ())),
                        jrt0169=lab.get("jrt0169"),
                    )
                    for lab in axis["labels"]
                )
                codes = [lab.code for lab in labels]
                if len(set(codes)) != len(codes) or not codes:
                    raise TaxonomyError(f"{path}: axis {axis['target']!r} has no labels or repeats a code.")
                axes.append(Axis(target=str(axis["target"]), name_zh=str(axis.get("name_zh", axis["target"])),
                                 name_en=str(axis.get("name_en", "")), ordered=bool(axis.get("ordered", False)),
                                 labels=labels))
            return cls(name=str(data.get("name", path.stem)), version=str(data.get("version", "")), axes=axes,
                       description=str(data.get("description", "")), sha256=hashlib.sha256(raw).hexdigest())
        except (KeyError, TypeError) as e:
            raise TaxonomyError(
                f"{path} does not have the taxonomy shape: {{'axes': [{{'target', 'labels': [{{'code', 'name_zh'}}]}}]}} "
                f"(problem: {e!r})."
            ) from e

    def axis(self, target: str) -> Axis:
        try:
            return self.axes[target]
        except KeyError:
            raise TaxonomyError(f"The taxonomy {self.name!r} has no axis {target!r}; it has {list(self.axes)}.") from None

    def codes(self, target: str) -> list[str]:
        """The codes of an axis, in the taxonomy's order."""
        return self.axis(target).codes()

    def name_of(self, target: str, code: str | None) -> str | None:
        """The Chinese name of a code, or None when the target or code is not in the taxonomy."""
        return self._names.get(target, {}).get(code)

    def check_labels(self, target: str, labels: Iterable[Any], *, where: str = "training data") -> None:
        """Raise :class:`TaxonomyError` when labels of a taxonomy target fall outside its codes."""
        if target not in self.axes:
            return
        allowed = set(self.codes(target))
        unknown = collections.Counter(str(v) for v in labels if v is not None and str(v) not in allowed)
        if unknown:
            listed = ", ".join(f"{code!r} ({n} row{'s' if n > 1 else ''})" for code, n in unknown.most_common(10))
            raise TaxonomyError(
                f"{where}: target {target!r} has label(s) outside the taxonomy {self.name!r}: {listed}. "
                f"Allowed codes: {', '.join(self.codes(target))}. Fix the labels, or train with your own taxonomy "
                "file (--taxonomy FILE) or none (--taxonomy none)."
            )

    def to_dict(self) -> dict[str, Any]:
        """Name, version, file hash and the codes per axis (for a model manifest)."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256,
                "axes": {t: a.codes() for t, a in self.axes.items()}}

    def __repr__(self) -> str:
        return f"Taxonomy(name={self.name!r}, version={self.version!r}, axes={list(self.axes)})"
