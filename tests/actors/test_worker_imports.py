"""A Ray worker that hosts an agent imports that agent's module and what it uses, not the heavy
libraries of the research and driver side (each import costs every worker's start on a 2-core host)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENT_MODULES = ["actors.shell", "actors.analysis", "actors.breaker", "actors.compliance", "actors.correlation",
                 "actors.execution", "actors.ingress", "actors.learning", "actors.performance", "actors.risk",
                 "actors.style"]
HEAVY = ["polars", "matplotlib", "scipy", "crewai", "sqlalchemy", "pandas"]


@pytest.mark.parametrize("module", AGENT_MODULES)
def test_an_agent_module_loads_none_of_the_heavy_libraries(module: str) -> None:
    code = f"import sys, json, {module}; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_batch_detector_still_loads_polars_when_it_is_called() -> None:
    code = ("import sys; from trading.wyckoff import bars_frame; assert 'polars' not in sys.modules; "
            "bars_frame([]); print('polars' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
