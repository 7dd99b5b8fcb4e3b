"""The model registry: versions of a model in ``model_versions``, their artefacts under a storage path.

A version is registered as a challenger with what it was trained on (features, hyper-parameters,
samples' time range, code version) and how it was judged (its walk-forward folds). One version per
name is the champion: promoting a challenger retires the champion in the same transaction, so a
reader never sees two champions or none in between. The artefact is a directory
``<storage_path>/<name>/v<version>-<random>/`` (0700, its files 0600) written before the row that
names it; two registrations at once never share one.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
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

    def register(self, name: str, files: dict[str, bytes], *, features: list[str], params: dict[str, Any],
                 metrics: dict[str, Any], folds: list[Any], data_from_ns: int | None, data_to_ns: int | None,
                 samples: int, code_version: str) -> ModelInfo:
        """A new challenger version of ``name`` with its artefact ``files`` (name -> bytes)."""
        check_name(name)
        for fname in files:
            if "/" in fname or fname.startswith("."):
                raise RegistryError(f"an artefact file name has no directory: {fname!r}")
        for _ in range(5):  # another registration may take the same number first: the next one then
            with Session(self.engine) as s:
                last = s.execute(select(func.max(m.ModelVersion.version)).where(m.ModelVersion.name == name)).scalar()
            version = int(last or 0) + 1
            # a directory of its own (never one another registration in flight may own), written first
            where = self._make_dir(name) / f"v{version}-{uuid.uuid4().hex[:8]}"
            where.mkdir(mode=0o700)
            for fname, data in files.items():
                fd = os.open(where / fname, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            row = m.ModelVersion(name=name, version=version, created_ns=time.time_ns(), metrics=metrics,
                                 promoted=False, artifact=str(where), role="challenger", features=features,
                                 params=params, folds=folds, data_from_ns=data_from_ns, data_to_ns=data_to_ns,
                                 samples=samples, code_version=code_version)
            try:
                with Session(self.engine) as s, s.begin():
                    s.add(row)
                    s.flush()
                    return _info(row)
            except IntegrityError:
                shutil.rmtree(where, ignore_errors=True)
        raise RegistryError(f"could not register a version of {name!r}: other registrations kept taking its number")

    def _make_dir(self, name: str) -> Path:
        """``<root>/<name>``, the directories this creates 0700 (an existing one is left as it is)."""
        for d in (self.root, self.root / check_name(name)):
            if not d.exists():
                d.mkdir(parents=True, mode=0o700, exist_ok=True)
                os.chmod(d, 0o700)
        return self.root / name

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

    def promote(self, name: str, version: int, verdict: str, replacing: int | None | EllipsisType = ...) -> ModelInfo:
        """Make ``version`` the champion; the champion before it is retired in the same transaction.
        With ``replacing`` (a version, or None for no champion), only if that is still the champion
        (the one a challenger was judged against): RegistryError otherwise. Promotions of one name are
        serialised (its rows locked; a unique index allows one champion per name)."""
        for attempt in range(3):
            try:
                with Session(self.engine) as s, s.begin():
                    rows = {r.version: r for r in s.scalars(select(m.ModelVersion).where(m.ModelVersion.name == name)
                                                            .order_by(m.ModelVersion.version).with_for_update())}
                    row = rows.get(version)
                    if row is None:
                        raise RegistryError(f"no version {version} of model {name!r} in the registry")
                    current = next((v for v, r in rows.items() if r.role == "champion"), None)
                    if replacing is not ... and current != replacing:
                        raise RegistryError(f"the champion of {name!r} changed to "
                                            f"{'v' + str(current) if current else 'none'} while v{version} was "
                                            "judged: not promoted (train again)")
                    s.execute(update(m.ModelVersion).where(m.ModelVersion.name == name, m.ModelVersion.role == "champion",
                                                           m.ModelVersion.version != version).values(role="retired"))
                    s.flush()
                    row.role, row.promoted, row.promoted_ns = "champion", True, time.time_ns()
                    row.verdict = verdict if not row.verdict or row.verdict == verdict else f"{row.verdict}; {verdict}"
                    s.flush()
                    return _info(row)
            except IntegrityError:  # another promotion of the name committed first: look again
                if attempt == 2:
                    raise RegistryError(f"could not promote {name!r} v{version}: other promotions kept "
                                        "changing its champion") from None
        raise AssertionError("unreachable")

    def refuse(self, name: str, version: int, verdict: str) -> ModelInfo:
        """Keep ``version`` a challenger, with why it was not promoted."""
        with Session(self.engine) as s, s.begin():
            row = s.get(m.ModelVersion, (name, version))
            if row is None:
                raise RegistryError(f"no version {version} of model {name!r} in the registry")
            row.verdict = verdict
            s.flush()
            return _info(row)
