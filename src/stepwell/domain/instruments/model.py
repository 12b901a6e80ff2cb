"""The shape of an instrument definition (parsed and validated by ``parse.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

Text = dict[str, str]  # language code -> text; always has "en" and "es"
NA = "na"  # the answer meaning "not applicable"


@dataclass(frozen=True, slots=True)
class Option:
    value: int
    label: Text


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    text: Text
    options: tuple[Option, ...]
    kind: str = "choice"  # "choice" or "text"
    scored: bool = True
    not_applicable: Text | None = None
    loinc: str | None = None
    # The option values, computed once: scoring checks every answer against them.
    values: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(o.value for o in self.options))


@dataclass(frozen=True, slots=True)
class Band:
    code: str
    min: int
    max: int
    label: Text


@dataclass(frozen=True, slots=True)
class SafetyRule:
    code: str
    item: str
    min: int


@dataclass(frozen=True, slots=True)
class Instrument:
    code: str
    version: str
    name: Text
    source: str
    licence: str
    kind: str
    recall_period: Text
    items: tuple[Item, ...]
    range: tuple[int, int]
    max_missing: int
    bands: tuple[Band, ...]
    caseness_min: int | None
    reliable_change: float
    higher_is_better: bool = False
    loinc_panel: str | None = None
    loinc_total: str | None = None
    safety: tuple[SafetyRule, ...] = field(default=())

    @property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.scored)

    def band_for(self, total: int) -> Band:
        for band in self.bands:
            if band.min <= total <= band.max:
                return band
        raise ValueError(f"{self.code}: total {total} is outside every band")
