"""The champion model in the order path: which signals to trust (docs/learning.md).

The desk loads the champion of ``learning.model`` from the registry at start and again whenever
another version is promoted (it looks at most every ``learning.poll_seconds``; no restart). For each
signal it builds the features the model was trained on from what the desk knows at that instant
(``trading.trust.LiveContext``), and the model's probability that the signal's trades end in profit
sets the signal's confidence (ARIA sizes by it), skips the signal below ``learning.skip_below``, or
both (``learning.mode``). Each account's ``learning`` decision names the model version. With no
champion, or ``learning.use_model: false``, nothing changes: signals go to the saga as they came.

A champion whose artefact cannot be read is not used (the desk goes on without a model, or with the
one it had) and the error is kept for the desk's status; it is tried again at the next promotion.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cluster.config.settings import Settings
from cluster.storage.registry import ModelRegistry
from trading.compliance import Headroom
from trading.ledger import ClosedTrade
from trading.orders import Signal
from trading.trust import FEATURES, Context, HeadroomPoint, LiveContext, TradeOutcome, features

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: int
    features: list[str]
    booster: Any  # xgboost.Booster
    skip_below: float = 0.5  # learning.skip_below, or the break-even probability the model was trained with

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class Scored:
    """A signal as the model saw it: the signal for the saga (its confidence the model's), whether it
    is skipped, and what to record."""

    signal: Signal
    probability: float
    skip: bool
    model: LoadedModel

    def reason(self, mode: str) -> str:
        p = f"{self.model.label}: p(profit) {self.probability:.3f}"
        if self.skip:
            return f"{p} below {self.model.skip_below:.3f}: skipped"
        return f"{p}: confidence {self.signal.confidence:.3f}" if mode != "skip" else \
            f"{p}, at or above {self.model.skip_below:.3f}: taken"


def load_model(name: str, version: int, artifact: Path, features: list[str] | None = None,
               skip_below: float | None = None) -> LoadedModel:
    """A registered version's artefact (``model.json`` and ``meta.json``), checked against what the
    registry says it takes (``features``); ValueError (in one line) when it cannot be used."""
    import xgboost

    try:
        meta = json.loads((artifact / "meta.json").read_text())
        feats = [str(f) for f in meta["features"]]
        booster = xgboost.Booster(params={"nthread": 1})
        booster.load_model(str(artifact / "model.json"))
    except Exception as exc:
        raise ValueError(_line(exc)) from None
    if booster.num_features() != len(feats):
        raise ValueError(f"the model takes {booster.num_features()} features, its meta names {len(feats)}")
    if booster.feature_names is not None and list(booster.feature_names) != feats:
        raise ValueError("the model's own feature names are not its meta's, in that order")
    if features is not None and features != feats:
        raise ValueError("the artefact's features are not the ones the registry recorded for it")
    unknown = [f for f in feats if f not in FEATURES]
    if unknown:  # the desk would score them as missing, always
        raise ValueError(f"the model takes features the desk does not build: {', '.join(unknown[:5])}")
    threshold = skip_below if skip_below is not None else meta.get("breakeven", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"its break-even probability {threshold!r} is not within [0, 1]")
    return LoadedModel(name, version, feats, booster, float(threshold))


class TrustGate:
    def __init__(self, settings: Settings, registry: ModelRegistry | None) -> None:
        self.cfg = settings.learning
        self.registry = registry if self.cfg.use_model else None
        self.initial = {a.id: float(a.balance) for a in settings.accounts}
        self.context = LiveContext()
        self.model: LoadedModel | None = None
        self.polled = -math.inf
        self.seen: int | None = None  # the champion version last looked at (loaded or not)
        self.error = ""  # why the champion could not be used, if it could not
        self.changes: list[str] = []  # what the desk should note: a model loaded, or refused

    def refresh(self, force: bool = False) -> None:
        """Load a newly promoted champion (at most every ``poll_seconds`` unless ``force``)."""
        if self.registry is None:
            return
        now = time.monotonic()
        if not force and now - self.polled < self.cfg.poll_seconds:
            return
        self.polled = now
        try:
            version = self.registry.champion_version(self.cfg.model)
        except Exception as exc:  # the store is down: keep the model in hand, look again later
            self.error = f"model registry unreadable: {type(exc).__name__}"
            return
        if version == self.seen:
            return
        self.seen = version
        if version is None:  # no champion any more (the registry was emptied): today's behaviour
            if self.model is not None:
                self.changes.append(f"model {self.model.label} no longer champion: signals go unscored")
            self.model = None
            return
        try:
            info = self.registry.get(self.cfg.model, version)
            self.model = load_model(info.name, info.version, info.artifact, info.features, self.cfg.skip_below)
            self.error = ""
            self.changes.append(f"model {self.model.label} loaded (champion since {info.promoted_ns})")
            log.info("model %s loaded", self.model.label)
        except Exception as exc:  # an artefact missing or unreadable: not used; the one in hand stays
            self.error = f"model {self.cfg.model} v{version} not loaded: {_line(exc)}"
            self.changes.append(self.error)
            log.warning("%s", self.error)

    def on_trades(self, trades: Iterable[ClosedTrade]) -> None:
        self.context.on_trades(TradeOutcome(t.closed_ns, t.r_multiple) for t in trades if t.initial_risk > 0)

    def on_headrooms(self, headrooms: Mapping[str, Headroom]) -> None:
        self.context.on_headroom(  # (daily_fraction is 1.0 without a daily rule, as the store keeps it)
            HeadroomPoint.of(h.ts_ns, acc, h.daily_fraction, float(h.max_loss_headroom), self.initial.get(acc))
            for acc, h in headrooms.items())

    def observe(self, signal: Signal) -> Context:
        """The signal's context (what the desk knows at its instant, recorded with it); the signal then
        joins its instrument's ATR history. Every signal, with a model or not."""
        return self.context.at(signal)

    def score(self, signal: Signal, ctx: Context) -> Scored | None:
        """The model's view of ``signal`` (None without a model, or when the model fails on it: the
        model is then set aside until the next promotion, and the failure noted)."""
        model = self.model
        if model is None:
            return None
        row = features(signal, ctx)
        x = np.asarray([[row.get(f, math.nan) for f in model.features]], dtype=np.float64)
        try:
            p = float(model.booster.inplace_predict(x)[0])
        except Exception as exc:  # the artefact does not fit the features it says it takes
            self._set_aside(model, f"failed on signal {signal.signal_id}: {_line(exc)}")
            return None
        if not 0.0 <= p <= 1.0:  # NaN, or not a probability: a broken model, never a decision
            self._set_aside(model, f"gave p = {p} for signal {signal.signal_id}")
            return None
        skip = self.cfg.mode in ("skip", "both") and p < model.skip_below
        out = replace(signal, confidence=round(p, 4)) if self.cfg.mode in ("confidence", "both") else signal
        return Scored(out, p, skip, model)

    def _set_aside(self, model: LoadedModel, what: str) -> None:
        self.model = None
        self.error = f"model {model.label} set aside: it {what}"
        self.changes.append(self.error)
        log.warning("%s", self.error)

    def status(self) -> dict[str, Any]:
        return {"model": self.model.label if self.model else None, "error": self.error or None,
                "mode": self.cfg.mode, "skip_below": self.model.skip_below if self.model else self.cfg.skip_below}


def _line(exc: BaseException) -> str:
    """An exception in one line (XGBoost's carry a native stack trace after the first)."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:300]

