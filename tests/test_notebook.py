"""The walkthrough notebook runs end to end (only where ../shared/data is present)."""

from pathlib import Path

import pytest

from conftest import SHARED_DATA

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "retraining_walkthrough.ipynb"


@pytest.mark.skipif(not (SHARED_DATA / "heimao_fin_complaints").is_dir(), reason="../shared/data is absent")
def test_walkthrough_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "accuracy" in text and "rows to re-check" in text and "label these dev rows next" in text


def test_saved_notebook_has_outputs_from_a_real_run():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.get("execution_count") for cell in code)
