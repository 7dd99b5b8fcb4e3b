"""The README's first command, end to end on a small tick count: `octet demo` exits 0, prints its
summary and leaves the records and the summary file it names."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.ray


def test_octet_demo_runs_end_to_end_and_leaves_its_summary(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "COLUMNS": "200", "OCTET_RUNTIME__DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "cluster.cli", "demo", "--ticks", "30000"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "30,000 ticks in" in out and "records of run" in out and "summary in" in out, out[-2000:]
    assert "ftmo-100k" in out and "funded-50k" in out and "Traceback" not in out + done.stderr
    summary = json.loads((tmp_path / "last_session.json").read_text())
    assert summary["ticks"] == 30_000 and summary["discrepancies"] == []
    assert all(not c["breaches"] for c in summary["compliance"].values())
    assert (tmp_path / "octet.db").is_file()
    assert list((tmp_path / "state").iterdir()) == [], "a finished session's agents' state is not left behind"
    journals = list((tmp_path / "exec").iterdir())
    assert len(journals) == 1 and any(f.name.startswith("journal-") for f in journals[0].iterdir()), \
        "rust_exec's journal, the venue's record, is kept"
