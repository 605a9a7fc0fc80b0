"""docs/notebook.ipynb runs in a Jupyter kernel and shows what it stores.

The notebook is executed as Jupyter runs it (nbclient drives an ipykernel from ``docs/``, importing
this checkout), and every code cell's outputs are compared with the stored ones: streams, and the
``text/plain`` and ``text/html`` of results and displays. Error bounds of 1e-9 and below are the one
volatile part (the last bits of float arithmetic); they compare as ``<tiny>``. ``pytest
--update-golden`` stores the new outputs; review the diff of the notebook like code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent.parent
NOTEBOOK = ROOT / "docs" / "notebook.ipynb"
SHOWN = ("text/plain", "text/html")  # the mime types compared; a notebook stores no others
TINY = re.compile(r"\b\d(?:\.\d+)?e-(?:0?9|[1-9]\d)\b")  # 2.7e-12: a certified error bound
METADATA = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}}


def execute(notebook: Any) -> Any:
    """Run every cell in a fresh kernel started in ``docs/``, this checkout first on its path."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute(env={**os.environ, "PYTHONPATH": path})
    notebook.metadata = METADATA  # no Python version: the stored file stays the same across machines
    return notebook


def outputs(cell: Any) -> list[tuple[str, str, str]]:
    """``(output type, stream name or mime type, text)`` of a code cell, streams joined, bounds made ``<tiny>``."""
    shown: list[tuple[str, str, str]] = []
    for output in cell.outputs:
        if output.output_type == "stream":
            if shown and shown[-1][:2] == ("stream", output.name):
                shown[-1] = ("stream", output.name, shown[-1][2] + output.text)
            else:
                shown.append(("stream", output.name, output.text))
        elif output.output_type == "error":
            shown.append(("error", output.ename, "\n".join(output.traceback)))
        else:
            shown += [(output.output_type, mime, output.data[mime]) for mime in SHOWN if mime in output.data]
    return [(kind, name, TINY.sub("<tiny>", text)) for kind, name, text in shown]


@pytest.fixture(scope="module")
def runs() -> tuple[Any, Any]:
    """The stored notebook and the same notebook executed now."""
    stored = nbformat.read(NOTEBOOK, as_version=4)
    return stored, execute(nbformat.read(NOTEBOOK, as_version=4))


def test_the_notebook_shows_what_it_stores(runs: tuple[Any, Any], request: pytest.FixtureRequest) -> None:
    stored, now = runs
    if request.config.getoption("--update-golden"):
        nbformat.write(now, NOTEBOOK)
        stored = nbformat.read(NOTEBOOK, as_version=4)
    code = [(i, cell) for i, cell in enumerate(stored.cells) if cell.cell_type == "code"]
    assert [cell.source for _, cell in code] == [now.cells[i].source for i, _ in code]
    for i, cell in code:
        assert outputs(now.cells[i]) == outputs(cell), f"cell {i} of {NOTEBOOK.name}:\n{cell.source}"


def test_the_notebook_shows_a_counterexample_and_short_reprs(runs: tuple[Any, Any]) -> None:
    stored, _ = runs
    shown = [output for cell in stored.cells if cell.cell_type == "code" for output in outputs(cell)]
    assert shown, "the notebook stores no outputs: run pytest --update-golden"
    assert not [output for output in shown if output[0] == "error"]
    plain = [text for _, mime, text in shown if mime == "text/plain"]
    assert plain[0].startswith("<Spec household_robot (../examples/household_robot.corrigo): 5 variables")
    assert max(len(text) for text in plain) <= 300
    html = "".join(text for _, mime, text in shown if mime == "text/html")
    # the report: a collapsed section for corrigible, then the check alone with its trace and attribution
    assert "<summary><strong>corrigible</strong>: ❌ FAILS" in html and "Counterexample (probability" in html
    assert "over <code>comply</code>" in html and "<td>hunger</td>" in html
