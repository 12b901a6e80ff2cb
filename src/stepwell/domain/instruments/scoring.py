"""Scoring any instrument by its file's rules: missing items, not-applicable answers,
prorating with half-up rounding, bands, caseness, safety rules, reliable change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from stepwell.domain.instruments.model import NA, Instrument, Item

Answer = int | str | None  # a value, "na", free text (text items), or None (missing)


class AnswerError(ValueError):
    """An answer set cannot be scored; the message names the instrument, item and values,
    e.g. ``PHQ-9 item 3: 4 is not one of 0, 1, 2, 3``.

    ``items`` holds the ids of the items at fault (for a page to mark them) and ``missing``
    is true when the fault is too many unanswered items.
    """

    def __init__(self, message: str, *, items: Sequence[str] = (), missing: bool = False):
        super().__init__(message)
        self.items = tuple(items)
        self.missing = missing


@dataclass(frozen=True, slots=True)
class Score:
    instrument: str
    version: str
    total: int
    band: str
    caseness: bool | None
    prorated: bool
    missing: tuple[str, ...]
    not_applicable: tuple[str, ...]
    safety: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "instrument": self.instrument,
            "version": self.version,
            "total": self.total,
            "band": self.band,
            "caseness": self.caseness,
            "prorated": self.prorated,
            "missing": list(self.missing),
            "not_applicable": list(self.not_applicable),
            "safety": list(self.safety),
        }


def round_half_up(value: Fraction) -> int:
    """13.5 → 14, 13.49 → 13 (not banker's rounding)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _allowed(item: Item) -> str:
    values = ", ".join(str(v) for v in item.values)
    return f"{values}, na" if item.not_applicable else values


def _check(instrument: Instrument, item: Item, answer: Answer) -> Answer:
    """Return the answer normalised, or raise AnswerError naming the item."""
    where = f"{instrument.code} item {item.id}"
    if answer is None or answer == "":
        return None
    if item.kind == "text":
        if not isinstance(answer, str):
            raise AnswerError(f"{where}: expects free text, not {answer!r}", items=[item.id])
        return answer
    if isinstance(answer, str):
        if answer.strip().lower() == NA:
            if item.not_applicable is None:
                raise AnswerError(
                    f"{where}: 'na' is not allowed; answer one of {_allowed(item)}",
                    items=[item.id],
                )
            return NA
        try:
            answer = int(answer.strip())
        except ValueError:
            raise AnswerError(
                f"{where}: {answer!r} is not one of {_allowed(item)}", items=[item.id]
            ) from None
    if isinstance(answer, bool) or not isinstance(answer, int) or answer not in item.values:
        raise AnswerError(f"{where}: {answer!r} is not one of {_allowed(item)}", items=[item.id])
    return answer


def score(instrument: Instrument, answers: Sequence[Answer]) -> Score:
    """Score one answer set (in item order). Raises AnswerError on any bad answer."""
    items = instrument.items
    if len(answers) != len(items):
        raise AnswerError(
            f"{instrument.code}: {len(answers)} answers given, {len(items)} items expected"
        )
    checked = [_check(instrument, item, a) for item, a in zip(items, answers, strict=True)]
    values: list[int] = []
    missing: list[str] = []
    not_applicable: list[str] = []
    for item, answer in zip(items, checked, strict=True):
        if not item.scored:
            continue
        if answer is None:
            missing.append(item.id)
        elif answer == NA:
            not_applicable.append(item.id)
        else:
            assert isinstance(answer, int)
            values.append(answer)
    if len(missing) > instrument.max_missing:
        listed = ", ".join(missing)
        which = f"item {listed} is" if len(missing) == 1 else f"items {listed} are"
        raise AnswerError(
            f"{instrument.code}: {which} missing; at most "
            f"{instrument.max_missing} may be missing to score",
            items=missing,
            missing=True,
        )
    applicable = len(values) + len(missing)
    if not values:
        raise AnswerError(
            f"{instrument.code}: no scored item was answered",
            items=[i.id for i in instrument.scored_items],
            missing=True,
        )
    total = sum(values)
    if missing:
        total = round_half_up(Fraction(total, len(values)) * applicable)
    band = instrument.band_for(total)
    by_id = dict(zip((i.id for i in items), checked, strict=True))
    safety = tuple(rule.code for rule in instrument.safety if _at_least(by_id[rule.item], rule.min))
    return Score(
        instrument=instrument.code,
        version=instrument.version,
        total=total,
        band=band.code,
        caseness=None if instrument.caseness_min is None else total >= instrument.caseness_min,
        prorated=bool(missing),
        missing=tuple(missing),
        not_applicable=tuple(not_applicable),
        safety=safety,
    )


def _at_least(answer: Answer, minimum: int) -> bool:
    return isinstance(answer, int) and answer >= minimum


def reliable_change(instrument: Instrument, before: int, after: int) -> str:
    """``improved``, ``deteriorated`` or ``no-change`` between two totals, by the file's
    threshold (a change of exactly the threshold counts as reliable)."""
    change = after - before
    better = -change if not instrument.higher_is_better else change
    if better >= instrument.reliable_change:
        return "improved"
    if -better >= instrument.reliable_change:
        return "deteriorated"
    return "no-change"
