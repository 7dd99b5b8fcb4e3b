"""The research notebooks: each .ipynb is in step with its percent-format .py (the pair jupytext keeps),
and each runs from top to bottom in a Jupyter kernel (nbclient), on small data, drawing what it
says it draws. A cell that raises fails the test."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DRAWS = {"wyckoff_research": "wyckoff_scenario_8.png", "backtest_analysis": "backtest_analysis.png",
         "rule_headroom": "rule_headroom.png", "learning": "learning.png"}


def test_every_notebook_is_a_pair_in_step() -> None:
    names = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == sorted(DRAWS) == sorted(p.stem for p in NOTEBOOKS.glob("*.py"))
    for name in names:
        ipynb = jupytext.read(NOTEBOOKS / f"{name}.ipynb")
        script = jupytext.read(NOTEBOOKS / f"{name}.py")
        assert [(c.cell_type, c.source) for c in ipynb.cells] == [(c.cell_type, c.source) for c in script.cells], name


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.ray) if n == "learning" else n
                                  for n in sorted(DRAWS)])  # (the learning notebook starts Ray)
def test_the_notebook_runs_in_a_kernel(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCTET_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("OCTET_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    assert (tmp_path / DRAWS[name]).stat().st_size > 10_000
