"""The layout's rules hold: imports flow one way, and the generated gRPC code ships with the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("trading", "actors", "cluster", "serve")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=tree,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})


def _copy(tree: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tree / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def test_the_import_contracts_hold_and_a_wrong_way_import_breaks_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _copy(tmp_path)
    kept = _lint_imports(tmp_path)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    money = tmp_path / "trading" / "money.py"
    money.write_text(money.read_text() + "\nfrom cluster.desk import session as _wrong_way  # noqa\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode != 0
    assert "trading.money -> cluster.desk.session" in broken.stdout, broken.stdout


def test_the_domain_may_not_reach_for_ray(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _copy(tmp_path)
    ledger = tmp_path / "trading" / "ledger.py"
    ledger.write_text(ledger.read_text() + "\nimport ray as _ray  # noqa\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode != 0 and "trading.ledger -> ray" in broken.stdout, broken.stdout


def test_the_generated_grpc_code_is_part_of_the_package_not_an_ignored_file() -> None:
    pb = ROOT / "cluster" / "adapters" / "rust_exec" / "pb"
    files = ["exec_pb2.py", "exec_pb2.pyi", "exec_pb2_grpc.py"]
    tracked = subprocess.run(["git", "ls-files", *files], cwd=pb, capture_output=True, text=True).stdout.split()
    assert sorted(tracked) == sorted(files), "the stubs travel with the code (Ray's working_dir skips ignored files)"
    ignored = subprocess.run(["git", "check-ignore", *files], cwd=pb, capture_output=True, text=True)
    assert ignored.stdout == "", ignored.stdout
    assert not (ROOT / "octet").exists(), "no top-level generated package outside the code"


def test_the_records_and_the_store_load_without_crewai_or_ray() -> None:
    """Reading a batch's record or the store (the CLI's audit and db commands, a later gateway)
    does not pay for the saga's CrewAI (seconds of import) or Ray."""
    probe = ("import sys, cluster.desk.record, cluster.storage.store, cluster.cli.audit, cluster.cli.db; "
             "print(sorted(m for m in ('crewai', 'ray') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
