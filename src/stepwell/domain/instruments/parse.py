"""Turn a parsed instrument file (plain dicts) into an ``Instrument``, or say exactly what is
wrong: ``InstrumentFileError("…/phq9.yaml: scoring.bands[2].max: …")``."""

from __future__ import annotations

import math
from typing import Any

from stepwell.domain.content_files import ContentFileError, FileReader
from stepwell.domain.instruments.model import Band, Instrument, Item, Option, SafetyRule


class InstrumentFileError(ContentFileError):
    """A definition file is malformed; the message starts with the file and the field."""


class _Reader(FileReader):
    error = InstrumentFileError

    def options(self, raw: Any, path: str) -> tuple[Option, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail(path, "must be a non-empty list")
        options = tuple(
            Option(
                self.get(o, "value", f"{path}[{n}].value", int),
                self.text(o, "label", f"{path}[{n}].label"),
            )
            for n, o in enumerate(raw)
        )
        values = [o.value for o in options]
        if len(set(values)) != len(values):
            raise self.fail(path, f"values repeat: {values}")
        return options

    def item(self, raw: Any, n: int, default: tuple[Option, ...] | None) -> Item:
        path = f"items[{n}]"
        item_id = str(self.get(raw, "id", f"{path}.id", (str, int)))
        kind = raw.get("type", "choice")
        if kind not in ("choice", "text"):
            raise self.fail(f"{path}.type", f"{kind!r} is not one of choice, text")
        options: tuple[Option, ...] = ()
        if kind == "choice":
            if "options" in raw:
                options = self.options(raw["options"], f"{path}.options")
            elif default is None:
                raise self.fail(f"{path}.options", "is required (no default options)")
            else:
                options = default
        scored = raw.get("scored", kind == "choice")
        if not isinstance(scored, bool) or (kind == "text" and scored):
            raise self.fail(f"{path}.scored", "must be true or false (text items: false)")
        na = (
            self.text(raw, "not_applicable", f"{path}.not_applicable")
            if ("not_applicable" in raw)
            else None
        )
        loinc = raw.get("loinc")
        if loinc is not None and not isinstance(loinc, str):
            raise self.fail(f"{path}.loinc", "must be a string")
        return Item(
            item_id, self.text(raw, "text", f"{path}.text"), options, kind, scored, na, loinc
        )


def _bands(r: _Reader, scoring: dict[str, Any], low: int, high: int) -> tuple[Band, ...]:
    raw = r.get(scoring, "bands", "scoring.bands", list)
    bands = tuple(
        Band(
            r.get(b, "code", f"scoring.bands[{n}].code", str),
            r.get(b, "min", f"scoring.bands[{n}].min", int),
            r.get(b, "max", f"scoring.bands[{n}].max", int),
            r.text(b, "label", f"scoring.bands[{n}].label"),
        )
        for n, b in enumerate(raw)
    )
    expected = low
    for n, band in enumerate(bands):
        if band.min != expected:
            raise r.fail(
                f"scoring.bands[{n}].min",
                f"{band.min} leaves a gap or overlap (expected {expected})",
            )
        if band.max < band.min:
            raise r.fail(f"scoring.bands[{n}].max", f"{band.max} is below min {band.min}")
        expected = band.max + 1
    if not bands or expected - 1 != high:
        raise r.fail("scoring.bands", f"must end at the top of the range ({high})")
    return bands


def _reliable_change(r: _Reader, scoring: dict[str, Any]) -> float:
    raw = r.get(scoring, "reliable_change", "scoring.reliable_change", dict)
    if "threshold" in raw:
        value = r.get(raw, "threshold", "scoring.reliable_change.threshold", (int, float))
        if value <= 0:
            raise r.fail("scoring.reliable_change.threshold", "must be above 0")
        return float(value)
    sd = r.get(raw, "sd", "scoring.reliable_change.sd", (int, float))
    rel = r.get(raw, "reliability", "scoring.reliable_change.reliability", (int, float))
    if sd <= 0 or not 0 < rel < 1:
        raise r.fail("scoring.reliable_change", "needs sd > 0 and 0 < reliability < 1")
    # Jacobson & Truax (1991): threshold = 1.96 * SDiff, SDiff = sd * sqrt(2) * sqrt(1 - r).
    return float(1.96 * sd * math.sqrt(2) * math.sqrt(1 - rel))


def _safety(r: _Reader, data: dict[str, Any], item_ids: set[str]) -> tuple[SafetyRule, ...]:
    rules = []
    for n, raw in enumerate(data.get("safety") or []):
        rule = SafetyRule(
            r.get(raw, "code", f"safety[{n}].code", str),
            str(r.get(raw, "item", f"safety[{n}].item", (str, int))),
            r.get(raw, "min", f"safety[{n}].min", int),
        )
        if rule.item not in item_ids:
            raise r.fail(f"safety[{n}].item", f"{rule.item!r} is not an item id")
        rules.append(rule)
    return tuple(rules)


def parse_instrument(data: Any, *, source: str) -> Instrument:
    """Validate ``data`` (a parsed file) and build the instrument; ``source`` names the file."""
    r = _Reader(source)
    if not isinstance(data, dict):
        raise r.fail("(top)", "must be a mapping")
    default = r.options(data["options"], "options") if "options" in data else None
    raw_items = r.get(data, "items", "items", list)
    items = tuple(r.item(raw, n, default) for n, raw in enumerate(raw_items))
    ids = [i.id for i in items]
    if not items or len(set(ids)) != len(ids):
        raise r.fail("items", f"need unique item ids, got {ids}")
    scoring = r.get(data, "scoring", "scoring", dict)
    if scoring.get("method", "sum") != "sum":
        raise r.fail("scoring.method", f"{scoring.get('method')!r} is not one of sum")
    rng = r.get(scoring, "range", "scoring.range", list)
    if len(rng) != 2 or not all(isinstance(v, int) for v in rng) or rng[0] > rng[1]:
        raise r.fail("scoring.range", "must be [low, high] whole numbers")
    low, high = rng
    scored = [i for i in items if i.scored]
    if (sum(min(i.values) for i in scored), sum(max(i.values) for i in scored)) != (low, high):
        raise r.fail("scoring.range", f"[{low}, {high}] does not match the scored items' options")
    missing = r.get(scoring, "missing", "scoring.missing", dict)
    max_missing = r.get(missing, "max_missing", "scoring.missing.max_missing", int)
    if not 0 <= max_missing < len(scored):
        raise r.fail("scoring.missing.max_missing", f"{max_missing} must be 0 to {len(scored) - 1}")
    caseness = scoring.get("caseness")
    caseness_min = r.get(caseness, "min", "scoring.caseness.min", int) if caseness else None
    loinc = data.get("loinc") or {}
    return Instrument(
        code=r.get(data, "code", "code", str),
        version=str(r.get(data, "version", "version", (str, int, float))),
        name=r.text(data, "name", "name"),
        source=r.get(data, "source", "source", str),
        licence=r.get(data, "licence", "licence", str),
        kind=data.get("kind", "questionnaire"),
        recall_period=r.text(data, "recall_period", "recall_period"),
        items=items,
        range=(low, high),
        max_missing=max_missing,
        bands=_bands(r, scoring, low, high),
        caseness_min=caseness_min,
        reliable_change=_reliable_change(r, scoring),
        higher_is_better=bool(scoring.get("higher_is_better", data.get("higher_is_better", False))),
        loinc_panel=loinc.get("panel"),
        loinc_total=loinc.get("total"),
        safety=_safety(r, data, set(ids)),
    )
