"""Every research notebook runs from top to bottom and draws what it says it draws."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wyckoff_notebook_runs(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "notebooks" / "wyckoff_research.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "wyckoff_scenario_8.png").stat().st_size > 20_000
    assert "phase accuracy" in done.stdout and "selling_climax" in done.stdout
