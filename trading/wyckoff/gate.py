"""The range gate: is a trading range that has just proved itself one an analyst would mark?

A range proves itself by rules (it held long enough after its automatic rally, or it showed a
spring/upthrust, or it broke against the trend that came into it), and only then are its
climax, AR, ST and PS reported. The rules cannot tell a structure from the many range-like
pauses of a trend or of noise: on scenario families the detector was not tuned on, most of the
climaxes they report are such pauses (precision 0.4-0.6). The gate is a small tree ensemble that
scores the range at that moment, from what is known then (``FEATURES``: the climax's, the AR's
and the ST's own numbers, how long each took, how the range proved itself, the bar's regimes).
A range scored under ``WyckoffParams.gate_min`` is dropped like any other range that never
proved itself: none of its events is reported and it gives no signal.

The ensemble is trained by ``bench/wyckoff_gate.py`` on the tuning families only, and shipped as
``gate_model.json`` (the trees, the feature names, and what it was trained on). It is evaluated
here in plain Python: no learning library is loaded by the detector, and both of its modes read
the same trees.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trading.wyckoff.features import Row
    from trading.wyckoff.machine import TradingRange

MODEL = Path(__file__).with_name("gate_model.json")

# how the range proved itself
PROVEN_BY_TIME, PROVEN_BY_SPRING, PROVEN_BY_BREAK = 0, 1, 2

FEATURES = (
    "trend_atr",  # the fall (rise) into the climax, in ATR at the climax
    "climax_range_atr",  # the climax bar's range, in ATR
    "climax_volume",  # the climax bar's volume, in baselines
    "heavy_bar_bars_before",  # bars from the heaviest bar to the stopping action's extreme
    "ar_height_atr",  # the AR's height, in ATR at its confirmation
    "ar_retrace",  # what the close that confirmed the AR had given back of it
    "ar_bars",  # bars from the climax's extreme to the AR's
    "age",  # bars from the climax's extreme to now
    "since_ar",  # bars from the AR's confirmation to now
    "st",  # 1 when a secondary test came
    "st_volume",  # its volume over the climax's (-1: none)
    "st_depth",  # its distance from the climax edge, in heights (-1: none)
    "ps",  # 1 when a preliminary stop came before the climax
    "with_trend",  # +1 the range interrupted a markup (markdown) on its climax's side, -1 against, 0 none
    "proven_by",  # PROVEN_BY_TIME, _SPRING or _BREAK
    "height_atr",  # the range's height, in ATR now
    "position",  # the close, in heights above support (below 0, above 1: beyond the range)
    "regime",  # the bars' regime now, on the climax's side (+1: the trend that came into it goes on)
    "htf",  # the higher timeframe's regime now, on the climax's side
)


# the phase-C gate (round 20): each spring or upthrust where the machine would report it
C_MODEL = Path(__file__).with_name("c_gate_model.json")
C_FEATURES = (
    "penetration_height",  # how far beyond the edge its extreme went, in range heights
    "penetration_atr",  # ... in ATR now
    "volume_ratio",  # the highest volume on its bars beyond the edge, in baselines
    "recovery_bars",  # bars from its extreme to its first close back inside
    "since_extreme",  # bars from its extreme to now (its confirmation)
    "excursion_bars",  # bars from the first bar beyond the edge to now
    "inside",  # the close's distance back inside the edge, in heights
    "st",  # 1 when the range had a secondary test
    "toward_context",  # +1 a spring in a range a selling climax opened (an upthrust, a buying climax), else -1
    "proves_range",  # 1 when it is what proves the range (the range was not yet reported)
    "replaces",  # 1 when it would replace the range's earlier spring or upthrust
    "height_atr",  # the range's height, in ATR now
    "age_ratio",  # bars from the AR's confirmation to now, over phase A's bars
    "since_ar",  # bars from the AR's confirmation to now
    "climax_volume",  # the range's climax bar's volume, in baselines
    "trend_atr",  # the fall (rise) into the climax, in ATR at the climax
    "ar_height_atr",  # the AR's height, in ATR at its confirmation
    "regime",  # the bars' regime now, in its direction (+1: a trend its way)
    "htf",  # the higher timeframe's regime now, in its direction
)


def c_features(x: Row, r: TradingRange, bullish: bool, depth: int, volume: float, extreme_i: int, back_i: int,
               start: int) -> tuple[float, ...]:
    """``C_FEATURES`` of a spring (``bullish``) or upthrust of range ``r`` at bar ``x``, where it is
    confirmed: ``depth`` points beyond the edge at its extreme (bar ``extreme_i``), first back inside
    at ``back_i``, beyond the edge since bar ``start``."""
    assert r.climax is not None and r.ar is not None
    c = dict(r.climax.numbers)
    a = dict(r.ar.numbers)
    ht = r.height
    s = 1 if bullish else -1
    inside = (x.c - r.support) if bullish else (r.resistance - x.c)
    phase_a = max(1, r.ar_known - r.climax_i)
    return (
        depth / ht if ht else 0.0, depth / x.atr if x.atr else 0.0, volume, float(back_i - extreme_i + 1),
        float(x.i - extreme_i), float(x.i - start + 1), inside / ht if ht else 0.0, float(r.st is not None),
        1.0 if bullish == (r.context > 0) else -1.0, float(bool(r.held)), float(r.c_event is not None),
        ht / x.atr if x.atr else 0.0, (x.i - r.ar_known) / phase_a, float(x.i - r.ar_known),
        c.get("volume_ratio", 0.0), c.get("trend_atr", 0.0), a.get("height_atr", 0.0),
        float(x.regime * s), float(x.htf * s),
    )


def features(x: Row, r: TradingRange, proven_by: int) -> tuple[float, ...]:
    """``FEATURES`` of range ``r`` at bar ``x``, where it proves itself."""
    assert r.climax is not None and r.ar is not None and r.far is not None
    c = dict(r.climax.numbers)
    a = dict(r.ar.numbers)
    s = dict(r.st.numbers) if r.st is not None else {}
    height = r.height
    return (
        c.get("trend_atr", 0.0), c.get("range_atr", 0.0), c.get("volume_ratio", 0.0),
        c.get("heavy_bar_bars_before", 0.0), a.get("height_atr", 0.0), a.get("retrace", 0.0),
        float(r.peak_i - r.near_i), float(x.i - r.near_i), float(x.i - r.ar_known),
        float(r.st is not None), s.get("volume_climax", -1.0), s.get("depth_height", -1.0),
        float(r.preliminary is not None), float(r.after_trend * -r.context), float(proven_by),
        height / x.atr if x.atr > 0 else 0.0, (x.c - r.support) / height if height else 0.0,
        float(-x.regime * r.context), float(-x.htf * r.context),
    )


@dataclass(frozen=True, slots=True)
class Trees:
    """A binary-logistic tree ensemble: each tree a flat list of nodes (feature, threshold,
    yes, no, missing) with leaves as (-1, value, 0, 0, 0)."""

    nodes: tuple[tuple[tuple[int, float, int, int, int], ...], ...]
    base_margin: float
    features: tuple[str, ...]
    meta: dict[str, Any]

    def score(self, f: Sequence[float]) -> float:
        """The probability that the range is one the truth marks. Features are compared as the
        trees were grown, in single precision."""
        f = [_single(v) for v in f]
        margin = self.base_margin
        for tree in self.nodes:
            k = 0
            while True:
                feat, value, yes, no, missing = tree[k]
                if feat < 0:
                    margin += value
                    break
                v = f[feat]
                k = missing if v != v else (yes if v < value else no)  # NaN takes the missing branch
        return _sigmoid(margin)

    def highest(self) -> float:
        """The highest score the trees can give (each tree's largest leaf)."""
        return _sigmoid(self.base_margin + sum(max(v for feat, v, *_ in tree if feat < 0) for tree in self.nodes))


def _sigmoid(margin: float) -> float:
    if margin >= 0:
        return 1.0 / (1.0 + math.exp(-margin))
    e = math.exp(margin)  # no overflow for a large negative margin
    return e / (1.0 + e)


def _single(v: float) -> float:
    """``v`` rounded to the nearest single-precision float (as XGBoost reads features)."""
    return float(struct.unpack("f", struct.pack("f", v))[0])


def from_dump(dump: Sequence[dict[str, Any]], base_margin: float, names: Sequence[str],
              meta: dict[str, Any]) -> Trees:
    """Trees from an XGBoost JSON dump (``Booster.get_dump(dump_format="json")``, parsed), whose
    features are named ``f0``, ``f1``, ... in ``names``' order."""
    trees = []
    for root in dump:
        flat: dict[int, tuple[int, float, int, int, int]] = {}
        stack = [root]
        while stack:
            node = stack.pop()
            if "leaf" in node:
                flat[node["nodeid"]] = (-1, float(node["leaf"]), 0, 0, 0)
                continue
            flat[node["nodeid"]] = (int(str(node["split"]).lstrip("f")), _single(float(node["split_condition"])),
                                    node["yes"], node["no"], node["missing"])
            stack.extend(node["children"])
        order = sorted(flat)  # node ids are dense from 0 (the root)
        if order != list(range(len(order))):
            raise ValueError("a tree's node ids are not 0..n-1")
        trees.append(tuple(flat[k] for k in order))
    return Trees(tuple(trees), float(base_margin), tuple(names), dict(meta))


def save(trees: Trees, path: Path = MODEL) -> None:
    path.write_text(json.dumps({"features": list(trees.features), "base_margin": trees.base_margin,
                                "meta": trees.meta, "trees": [list(map(list, t)) for t in trees.nodes]},
                               separators=(",", ":")) + "\n")


def ready(gate_min: float, name: str = "gate_min", dropped: str = "every range would be dropped", path: Path | None = None,
          names: tuple[str, ...] = FEATURES) -> None:
    """With a gate on (``gate_min`` > 0): its trees (the range gate's, or at ``path`` with ``names``)
    can be read, and can score that high (else everything it sorts would be dropped). Refused in one
    line (``ValueError``)."""
    if gate_min <= 0:
        return
    top = load(MODEL if path is None else path, names).highest()
    if gate_min > top:
        raise ValueError(f"{name} {gate_min} is above the highest score the {_kind(names)[0]} gives ({top:.4f}): "
                         f"{dropped}")


def c_ready(c_gate_min: float, c_gate_shallow_min: float = 0.0) -> None:
    """``ready`` for the phase-C gate (``c_gate_min``, and with it on ``c_gate_shallow_min``)."""
    ready(c_gate_min, "c_gate_min", "every spring and upthrust would be a test", C_MODEL, C_FEATURES)
    if c_gate_min > 0:
        c_shallow_ready(c_gate_shallow_min)


def c_shallow_ready(c_gate_shallow_min: float) -> None:
    """``ready`` for ``c_gate_shallow_min`` alone (the phase-C gate on)."""
    ready(c_gate_shallow_min, "c_gate_shallow_min", "every shallow spring and upthrust would be a test", C_MODEL,
          C_FEATURES)


def _kind(names: tuple[str, ...]) -> tuple[str, str, str]:
    """What the gate whose trees read ``names`` is called, the key that turns it off, and its trainer."""
    if names == C_FEATURES:
        return "phase-C gate", "c_gate_min", "bench/wyckoff_c_gate.py"
    return "range gate", "gate_min", "bench/wyckoff_gate.py"


@lru_cache(maxsize=8)
def load(path: Path = MODEL, names: tuple[str, ...] = FEATURES) -> Trees:
    """A shipped gate (read once). Refused in one line (``ValueError``): a file that cannot be read
    or is not a gate's trees, and a model whose features are not ``names`` (the trees would read
    the wrong numbers)."""
    what, key, trainer = _kind(names)
    damaged = f"restore it from the repository or retrain it ({trainer})"
    try:
        raw = json.loads(path.read_text())
        features = tuple(raw["features"])
        nodes = tuple(tuple((int(a), float(b), int(c), int(d), int(e)) for a, b, c, d, e in t) for t in raw["trees"])
        base_margin = float(raw["base_margin"])
    except OSError as e:
        raise ValueError(f"the Wyckoff {what}'s trees cannot be read ({path}: {e.strerror}); "
                         f"restore the file from the repository, or set wyckoff {key} to 0 (off)") from None
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError) as e:
        raise ValueError(f"{path} is not a {what}'s trees ({type(e).__name__}: {str(e)[:120]}); {damaged}") from None
    if features != names:
        raise ValueError(f"{path.name} was trained on other features than the detector gives it: "
                         f"retrain it ({trainer})")
    if not nodes or not all(nodes):
        raise ValueError(f"{path} holds no trees, or an empty one; {damaged}")
    if not math.isfinite(base_margin) or abs(base_margin) > 100:
        raise ValueError(f"{path} is not a {what}'s trees (its base margin is {base_margin}); {damaged}")
    for tree in nodes:
        for k, (feat, value, yes, no, missing) in enumerate(tree):
            if not math.isfinite(value) or not -1 <= feat < len(names) or (
                    feat >= 0 and not all(k < child < len(tree) for child in (yes, no, missing))):
                # a node's children come after it (as XGBoost numbers them), so every walk ends at a leaf
                raise ValueError(f"{path} is not a {what}'s trees (node {k} of a tree: feature {feat}, value "
                                 f"{value}, children {yes}, {no}, {missing}); {damaged}")
    return Trees(nodes, base_margin, features, raw.get("meta", {}))
