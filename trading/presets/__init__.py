"""Firm rule presets shipped with Octet, and the one parser of rule sets.

Each ``<firm>.yaml`` here describes one program of one firm: its sources (the firm's public rule
pages and the date they were read), rules common to every phase, and the phases (challenge,
verification, funded) that override them. A preset phase is named ``<file>.<phase>``, e.g.
``ftmo.challenge``. ``rules_from_dict`` also parses the ``firms`` section of ``octet.yaml``, so a
custom firm and a preset are written the same way.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import time
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from trading.errors import InvalidValue
from trading.rules import (
    Activity,
    Breach,
    Conduct,
    CopyTrading,
    DailyReference,
    FirmRules,
    Holding,
    MaxLossKind,
    NewsBlackout,
    Objectives,
    PercentOf,
    RuleSource,
    SizeLimits,
)

PRESET_DIR = Path(__file__).resolve().parent


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML as ``safe_load`` reads it, but a key written twice in one mapping is an error: read silently, the
    later one wins (``scaling: {3: 3, 3: 5}`` would allow 5 lots above 3%)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: its keys may be overridden, as YAML says
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                twice = key in seen
            except TypeError:  # an unhashable key: the base class names it
                continue
            if twice:
                raise yaml.constructor.ConstructorError("while reading a mapping", node.start_mark,
                                                        f"the key {key!r} is written twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_SECTIONS: dict[str, type[Any]] = {"size": SizeLimits, "holding": Holding, "news": NewsBlackout,
                                   "objectives": Objectives, "conduct": Conduct, "activity": Activity}
_ENUMS: dict[str, type[Enum]] = {"daily_reference": DailyReference, "daily_loss_of": PercentOf, "breach": Breach,
                                 "max_loss_kind": MaxLossKind, "copy_trading": CopyTrading}
# Keys every firm must state, with what each means when it is missing from a firm's text.
_REQUIRED = {
    "daily_loss_pct": "the daily loss limit in percent, or null for a firm without a daily rule",
    "max_loss_pct": "the maximum loss in percent of the initial balance",
    "lock_at_initial": "true or false: does a trailing floor stop at the initial balance? (no default)",
}
_RENAMED = {"daily_loss_basis": "daily_reference"}
# Keys that only mean something with a daily rule: refused next to `daily_loss_pct: null`.
_DAILY_KEYS = ("daily_loss_of", "daily_reference", "daily_loss_hard")
# Upper bounds of whole numbers that count minutes or seconds: beyond them a value is a mistake.
_MOST = {"flat_minutes_before": 24 * 60, "minutes_before": 24 * 60, "minutes_after": 24 * 60,
         "min_hold_seconds": 86_400, "copy_window_seconds": 7 * 86_400, "max_idle_days": 3650}


def _value(where: str, key: str, kind: Any, raw: Any) -> Any:
    if key in _ENUMS:
        enum = _ENUMS[key]
        try:
            return enum(raw)
        except ValueError:
            raise InvalidValue(where, raw, f"must be one of {', '.join(str(e.value) for e in enum)}") from None
    if kind in (bool, "bool"):
        if not isinstance(raw, bool):
            raise InvalidValue(where, raw, "must be true or false")
        return raw
    if kind in (int, "int"):
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise InvalidValue(where, raw, "must be a whole number, 0 or more")
        if key in _MOST and raw > _MOST[key]:
            raise InvalidValue(where, raw, f"must be at most {_MOST[key]}")
        return raw
    if kind == "Decimal | None" and raw is None:
        return None
    if kind in (Decimal, "Decimal", "Decimal | None"):
        if isinstance(raw, bool) or not isinstance(raw, int | float | str) or "_" in str(raw):
            raise InvalidValue(where, raw, "must be a number")
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise InvalidValue(where, raw, "must be a number") from None
        if not value.is_finite() or value < 0:
            raise InvalidValue(where, raw, "must be a finite number, 0 or more")
        if value and not Decimal("1e-12") <= value <= Decimal("1e12"):  # 1e999999999 would overflow in the desk
            raise InvalidValue(where, raw, "must be 0, or between 1e-12 and 1e12")
        return value
    if key in ("max_capital_per_owner", "copy_capital_per_owner"):
        if not isinstance(raw, dict) or not raw:
            raise InvalidValue(where, raw, "must map account currencies to amounts, e.g. {USD: 400000, EUR: 320000}")
        return tuple((str(ccy), _value(f"{where}.{ccy}", "", Decimal, amount)) for ccy, amount in raw.items())
    if key == "scaling":
        if not isinstance(raw, dict) or not raw:
            raise InvalidValue(where, raw, "must map a profit in percent of the initial balance to the lots allowed "
                                           "above it, e.g. {3: 3, 4: 5}")
        steps = sorted((_value(f"{where}.{pct}", "", Decimal, pct), _value(f"{where}.{pct}", "", Decimal, lots))
                       for pct, lots in raw.items())
        for (pct, _), (again, _) in itertools.pairwise(steps):
            if pct == again:
                raise InvalidValue(where, raw, f"the profit {pct}% is given twice")
        return tuple(steps)
    if kind in (time, "time"):
        try:
            if isinstance(raw, bool | float):
                raise ValueError
            if isinstance(raw, int):  # YAML reads 17:00 as 1020 minutes (sexagesimal)
                return time(raw // 60, raw % 60)
            return time.fromisoformat(str(raw))
        except ValueError:
            raise InvalidValue(where, raw, 'must be a time of day like "17:00" (quoted)') from None
    return str(raw)


def _build(cls: type[Any], where: str, data: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    fields = {f.name: f.type for f in dataclasses.fields(cls) if f.name not in skip}
    out: dict[str, Any] = {}
    for key, raw in data.items():
        if key not in fields:
            hint = f"renamed to {_RENAMED[key]}" if key in _RENAMED else f"unknown key (known: {', '.join(fields)})"
            raise InvalidValue(f"{where}.{key}", raw, hint)
        out[key] = _value(f"{where}.{key}", key, fields[key], raw)
    return out


def rules_from_dict(name: str, data: dict[str, Any], source: RuleSource | None = None) -> FirmRules:
    """Typed rules from a mapping; an unknown or invalid key raises ``InvalidValue`` naming it."""
    if not isinstance(data, dict):
        raise InvalidValue(name, data, "must be a mapping of rules")
    flat = {k: v for k, v in data.items() if k not in _SECTIONS}
    kwargs = _build(FirmRules, name, flat, skip=("name", "source", *_SECTIONS))
    for section, cls in _SECTIONS.items():
        if section in data:
            part = data[section]
            if not isinstance(part, dict):
                raise InvalidValue(f"{name}.{section}", part, "must be a mapping")
            try:
                kwargs[section] = cls(**_build(cls, f"{name}.{section}", part))
            except InvalidValue as exc:  # a section's own check names its field from the section on
                if not exc.field.startswith(f"{section}."):
                    raise
                raise InvalidValue(f"{name}.{exc.field}", exc.value, exc.reason) from None
    for required, meaning in _REQUIRED.items():
        if required not in kwargs:
            raise InvalidValue(f"{name}.{required}", None, f"is required: {meaning}")
    if kwargs["daily_loss_pct"] is None:
        for key in _DAILY_KEYS:
            if key in kwargs:
                raise InvalidValue(f"{name}.{key}", data[key], "means nothing with daily_loss_pct: null (no daily "
                                                                "rule): give the daily limit, or drop this key")
    return FirmRules(name, source=source or RuleSource(), **kwargs)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def preset_names() -> list[str]:
    """Every ``<file>.<phase>`` shipped."""
    names = []
    for path in sorted(PRESET_DIR.glob("*.yaml")):
        doc = yaml.load(path.read_text(), Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
        names += [f"{path.stem}.{phase}" for phase in doc.get("phases", {})]
    return names


def load_preset(name: str) -> FirmRules:
    """The rules of one preset phase, e.g. ``ftmo.challenge``."""
    stem, _, phase = name.partition(".")
    path = PRESET_DIR / f"{stem}.yaml"
    if not phase or not path.is_file():
        raise InvalidValue("preset", name, f"unknown preset (known: {', '.join(preset_names())})")
    doc = yaml.load(path.read_text(), Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    phases = doc.get("phases", {})
    if phase not in phases:
        raise InvalidValue("preset", name, f"unknown phase (known: {', '.join(phases)})")
    src = doc.get("source", {})
    source = RuleSource(src.get("firm", ""), src.get("program", ""), tuple(src.get("urls", ())),
                        str(src.get("read_on", "")), str(src.get("notes", "")).strip())
    return rules_from_dict(name, _merge(doc.get("common", {}), phases[phase] or {}), source)
