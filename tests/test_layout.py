"""Conventions enforced by tests: one-way imports, a quiet package root, a thin CLI."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "triage"

# A module may import only modules on lower floors (see STYLE.md).
FLOORS = {
    "exceptions": 1,
    "checkpoint": 2, "config": 2, "io": 2, "resources": 2,
    "normalize": 3, "segment": 3, "taxonomy": 3,
    "signals": 4, "features": 4,
    "model": 5,
    "labeller": 6, "persist": 6, "report": 6, "search": 6,
    "batch": 7, "distributed": 7,
    "workflows": 8,
    "curation": 9,
    "cli": 10,
    "__main__": 11,
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("triage."):
            found.add(node.module.split(".")[1])
    return found


@pytest.mark.parametrize("module", sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"))
def test_imports_flow_one_way(module):
    assert module in FLOORS, f"add {module} to FLOORS"
    for imported in _imports(PACKAGE / f"{module}.py") - {"__version__"}:
        if imported == "":
            continue
        assert FLOORS[imported] < FLOORS[module] or (module == "cli" and imported == "__init__"), (
            f"{module} (floor {FLOORS[module]}) imports {imported} (floor {FLOORS[imported]})"
        )


def test_cli_imports_neither_sklearn_nor_jieba():
    source = (PACKAGE / "cli.py").read_text(encoding="utf-8")
    assert "import jieba" not in source and "sklearn" not in source


def _fresh_python(*statements: str) -> subprocess.CompletedProcess:
    """Run statements in a new interpreter (this repository's package, cold imports); fail with its stderr."""
    done = subprocess.run([sys.executable, "-c", "\n".join(statements)], capture_output=True, text=True,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    return done


def test_importing_triage_is_quiet():
    _fresh_python(
        "import logging, sys, warnings",
        "import numpy, scipy.special, sklearn.svm, sklearn.feature_extraction.text",  # they add filters of their own
        "before = (logging.root.handlers[:], list(warnings.filters))",
        "import triage",
        "assert 'jieba' not in sys.modules, 'importing triage imported jieba'",
        "assert (logging.root.handlers, list(warnings.filters)) == before",
    )


def test_loading_and_predicting_import_neither_scikit_learn_nor_scipy():
    # Importing scikit-learn alone takes about 2 s: a cold `triage predict` must not pay for it.
    _fresh_python(
        "import sys, triage",
        "p = triage.load_model().predict_one('信用卡年费没通知就扣了，要求退还')",
        "assert p.labels['category'], p",
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'jieba', 'joblib'})",
        "assert not heavy, f'loading and predicting imported {heavy}'",
    )


def test_cli_predict_neither_imports_jieba_nor_lets_it_talk():
    # The CLI only asks for jieba's logger to be quiet (importing jieba costs ~0.15 s of a cold start); jieba is
    # imported when a text needs it (a tie-prone repeat), and is quiet then too.
    done = _fresh_python(
        "import sys; from triage.cli import main",
        "main(['predict', '信用卡年费没通知就扣了'], standalone_mode=False)",
        "assert 'jieba' not in sys.modules, 'triage predict imported jieba'",
        "main(['predict', '滴滴滴滴滴滴的催收电话'], standalone_mode=False)",
        "assert 'jieba' in sys.modules, 'the tie-prone text did not reach jieba'",
    )
    assert "prefix dict" not in done.stderr, done.stderr
