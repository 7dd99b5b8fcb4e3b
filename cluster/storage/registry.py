"""The model registry: versions of a model in ``model_versions``, their artefacts under a storage path.

A version is registered as a challenger with what it was trained on (features, hyper-parameters,
samples' time range, code version) and how it was judged (its walk-forward folds). One version per
name is the champion: promoting a challenger retires the champion in the same transaction, so a
reader never sees two champions or none in between. The artefact is a directory
``<storage_path>/<name>/v<version>/`` (0700, its files 0600) written before the row that names it.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from cluster.storage import models as m

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class RegistryError(RuntimeError):
    """A model or version that does not exist, or a name that cannot be one: one line for the operator."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: int
    role: str
    created_ns: int
    promoted_ns: int | None
    artifact: Path
    features: list[str]
    params: dict[str, Any]
    metrics: dict[str, Any]
    folds: list[Any]
    data_from_ns: int | None
    data_to_ns: int | None
    samples: int | None
    code_version: str | None
    verdict: str | None

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def _info(row: m.ModelVersion) -> ModelInfo:
    return ModelInfo(row.name, row.version, row.role, row.created_ns, row.promoted_ns, Path(row.artifact or ""),
                     list(row.features or []), dict(row.params or {}), dict(row.metrics or {}), list(row.folds or []),
                     row.data_from_ns, row.data_to_ns, row.samples, row.code_version, row.verdict)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise RegistryError(f"a model name is 1-64 letters, digits, '.', '_' or '-', not {name!r}")
    return name


class ModelRegistry:
    def __init__(self, engine: Engine, storage_path: Path) -> None:
        self.engine = engine
        self.root = Path(storage_path)

    def _dir(self, name: str, version: int) -> Path:
        return self.root / check_name(name) / f"v{version}"

    def register(self, name: str, files: dict[str, bytes], *, features: list[str], params: dict[str, Any],
                 metrics: dict[str, Any], folds: list[Any], data_from_ns: int | None, data_to_ns: int | None,
                 samples: int, code_version: str) -> ModelInfo:
        """A new challenger version of ``name`` with its artefact ``files`` (name -> bytes)."""
        check_name(name)
        for fname in files:
            if "/" in fname or fname.startswith("."):
                raise RegistryError(f"an artefact file name has no directory: {fname!r}")
        with Session(self.engine) as s, s.begin():
            last = s.execute(select(func.max(m.ModelVersion.version)).where(m.ModelVersion.name == name)).scalar()
            version = int(last or 0) + 1
            where = self._dir(name, version)
            if where.exists():  # a directory left by a registration whose row did not commit
                shutil.rmtree(where)
            where.mkdir(parents=True, mode=0o700)
            os.chmod(where.parent, 0o700)
            os.chmod(self.root, 0o700)
            for fname, data in files.items():
                fd = os.open(where / fname, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            row = m.ModelVersion(name=name, version=version, created_ns=time.time_ns(), metrics=metrics,
                                 promoted=False, artifact=str(where), role="challenger", features=features,
                                 params=params, folds=folds, data_from_ns=data_from_ns, data_to_ns=data_to_ns,
                                 samples=samples, code_version=code_version)
            s.add(row)
            s.flush()
            return _info(row)

    def get(self, name: str, version: int) -> ModelInfo:
        with Session(self.engine) as s:
            row = s.get(m.ModelVersion, (name, version))
            if row is None:
                raise RegistryError(f"no version {version} of model {name!r} in the registry")
            return _info(row)

    def versions(self, name: str | None = None) -> list[ModelInfo]:
        q = select(m.ModelVersion).order_by(m.ModelVersion.name, m.ModelVersion.version)
        if name is not None:
            q = q.where(m.ModelVersion.name == name)
        with Session(self.engine) as s:
            return [_info(r) for r in s.scalars(q)]

    def champion(self, name: str) -> ModelInfo | None:
        with Session(self.engine) as s:
            row = s.scalars(select(m.ModelVersion).where(m.ModelVersion.name == name,
                                                         m.ModelVersion.role == "champion")).first()
            return _info(row) if row is not None else None

    def champion_version(self, name: str) -> int | None:
        """The champion's version only: what the desk polls for a promotion (one indexed read)."""
        with self.engine.connect() as c:
            v = c.execute(select(m.ModelVersion.version).where(m.ModelVersion.name == name,
                                                               m.ModelVersion.role == "champion")).scalar()
            return int(v) if v is not None else None

    def promote(self, name: str, version: int, verdict: str) -> ModelInfo:
        """Make ``version`` the champion; the champion before it is retired in the same transaction."""
        with Session(self.engine) as s, s.begin():
            row = s.get(m.ModelVersion, (name, version), with_for_update=True)
            if row is None:
                raise RegistryError(f"no version {version} of model {name!r} in the registry")
            s.execute(update(m.ModelVersion).where(m.ModelVersion.name == name, m.ModelVersion.role == "champion",
                                                   m.ModelVersion.version != version).values(role="retired"))
            row.role, row.promoted, row.promoted_ns, row.verdict = "champion", True, time.time_ns(), verdict
            s.flush()
            return _info(row)

    def refuse(self, name: str, version: int, verdict: str) -> ModelInfo:
        """Keep ``version`` a challenger, with why it was not promoted."""
        with Session(self.engine) as s, s.begin():
            row = s.get(m.ModelVersion, (name, version))
            if row is None:
                raise RegistryError(f"no version {version} of model {name!r} in the registry")
            row.verdict = verdict
            s.flush()
            return _info(row)
