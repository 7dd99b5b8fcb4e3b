"""The databases the storage tests run on: a fresh one on real PostgreSQL, and a SQLite file."""

from __future__ import annotations

import pytest

from tests.conftest import fresh_database


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request, postgres, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'octet.db'}"
    return fresh_database(postgres, f"schema_{request.node.name[-40:].replace('[', '_').replace(']', '')}".lower())
