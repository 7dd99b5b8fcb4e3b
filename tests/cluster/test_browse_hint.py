"""The line a run ends with, saying how to browse its records: with a configuration file of its own the
run's records are in that file's store, so both commands it names carry the file, quoted for a shell and
printed as typed (not read as markup)."""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.console import Console

from cluster.cli.session import browse_hint


def shown(markup: str) -> str:
    console = Console(width=400, record=True)
    console.print(markup)
    return console.export_text().strip()


def test_the_default_configuration_names_no_file() -> None:
    for path in (None, Path("octet.yaml")):
        assert shown(browse_hint(path, False)) == ("browse it: octet serve --login viewer (`make browse`), then open "
                                                   "the Dashboard address it prints")
        assert "--config" not in shown(browse_hint(path, True)) and "CONFIG=" not in shown(browse_hint(path, True))


def test_a_configuration_file_of_its_own_is_carried_by_both_commands() -> None:
    line = shown(browse_hint(Path("runs/eu.yaml"), False))
    assert "octet serve --config runs/eu.yaml --login viewer" in line and "`make browse CONFIG=runs/eu.yaml`" in line
    line = shown(browse_hint(Path("runs/eu.yaml"), True))
    assert line.startswith("browse it: make browse CONFIG=runs/eu.yaml (it installs HAProxy")
    assert "OCTET_GATEWAY__PROXY=python octet serve --config runs/eu.yaml --login viewer" in line


def test_an_odd_file_name_is_quoted_for_the_shell_and_printed_as_typed() -> None:
    odd = Path("my runs/[bold]x'.yaml")
    line = shown(browse_hint(odd, True))
    assert f"CONFIG={shlex.quote(str(odd))}" in line and f"--config {shlex.quote(str(odd))}" in line
    assert shlex.split(line.split("CONFIG=", 1)[1].split(" (it installs")[0]) == [str(odd)]
