"""The peer programme's controlled vocabularies (``content/peers/vocabulary.yaml``).

Profiles, encounters, groups, supervision sessions and re-match requests store **codes**;
labels (English and Spanish, both required) are looked up here at the edge. A vocabulary is
data: adding a lived-experience tag is an edit of the file, not of the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stepwell.domain.content_files import Text
from stepwell.domain.peers.files import Reader, VocabularyFileError

# ISO weekday order; weekdays are calendar facts, not programme content.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Lists of plain terms (code + label), in the order the file must give them in.
TERM_KINDS = (
    "lived_experience",
    "languages",
    "genders",
    "modalities",
    "encounter_topics",
    "encounter_modalities",
    "group_kinds",
    "supervision_formats",
    "assessment_kinds",
)
KINDS = (*TERM_KINDS, "availability", "rematch_reasons")  # everything ``codes()`` answers for
MIN_MOOD_LEVELS = 3  # a scale with fewer points cannot show a change in both directions


@dataclass(frozen=True, slots=True)
class Term:
    code: str
    label: Text


@dataclass(frozen=True, slots=True)
class Slot:
    """A weekly availability slot: ``code`` is ``f"{day}-{period}"`` (e.g. ``tue-evening``)."""

    code: str
    day: str  # one of WEEKDAYS
    period: str  # e.g. morning, afternoon, evening
    label: Text


@dataclass(frozen=True, slots=True)
class MoodLevel:
    """One point of the patient-reported mood scale (1 = lowest)."""

    value: int
    label: Text


@dataclass(frozen=True, slots=True)
class RematchReason:
    """Why a patient asks for a different peer. With ``supervisor_review`` a supervisor reads
    the request before any new proposal (e.g. a boundary concern about the current peer)."""

    code: str
    label: Text
    supervisor_review: bool


@dataclass(frozen=True, slots=True)
class Vocabulary:
    code: str
    version: str
    terms: Mapping[str, tuple[Term, ...]]  # kind (one of TERM_KINDS) -> terms, file order
    availability: tuple[Slot, ...]
    mood_scale: tuple[MoodLevel, ...]  # ascending, consecutive values from 1
    rematch_reasons: tuple[RematchReason, ...]

    @property
    def label(self) -> str:
        return f"{self.code} {self.version}"

    def codes(self, kind: str) -> tuple[str, ...]:
        """The codes of ``kind`` (one of KINDS) in file order. KeyError for an unknown kind."""
        if kind == "availability":
            return tuple(s.code for s in self.availability)
        if kind == "rematch_reasons":
            return tuple(r.code for r in self.rematch_reasons)
        return tuple(t.code for t in self.terms[kind])

    def text(self, kind: str, code: str, language: str) -> str:
        """The label of ``code`` in ``language`` (English if missing; the code if unknown,
        e.g. a term retired from the file but still on an old record)."""
        entries: tuple[Term | Slot | RematchReason, ...]
        if kind == "availability":
            entries = self.availability
        elif kind == "rematch_reasons":
            entries = self.rematch_reasons
        else:
            entries = self.terms[kind]
        for entry in entries:
            if entry.code == code:
                return entry.label.get(language) or entry.label["en"]
        return code

    def mood_values(self) -> tuple[int, ...]:
        return tuple(m.value for m in self.mood_scale)

    def rematch_reason(self, code: str) -> RematchReason | None:
        return next((r for r in self.rematch_reasons if r.code == code), None)


class _Reader(Reader):
    error = VocabularyFileError

    def entries(self, data: Any, key: str) -> list[Any]:
        raw: list[Any] = self.get(data, key, key, list)
        if not raw:
            raise self.fail(key, "needs at least one entry")
        return raw

    def terms(self, data: Any, key: str) -> tuple[Term, ...]:
        seen: set[str] = set()
        return tuple(
            Term(
                self.code(raw, "code", f"{key}[{n}].code", seen),
                self.text(raw, "label", f"{key}[{n}].label"),
            )
            for n, raw in enumerate(self.entries(data, key))
        )

    def slots(self, data: Any) -> tuple[Slot, ...]:
        seen: set[str] = set()
        out = []
        for n, raw in enumerate(self.entries(data, "availability")):
            path = f"availability[{n}]"
            code = self.code(raw, "code", f"{path}.code", seen)
            day = self.ref(
                self.get(raw, "day", f"{path}.day", str), f"{path}.day", WEEKDAYS, "a day"
            )
            period = self.code(raw, "period", f"{path}.period")
            if code != f"{day}-{period}":
                raise self.fail(f"{path}.code", f"must be {day}-{period} (day-period)")
            out.append(Slot(code, day, period, self.text(raw, "label", f"{path}.label")))
        return tuple(out)

    def mood(self, data: Any) -> tuple[MoodLevel, ...]:
        out = []
        for n, raw in enumerate(self.entries(data, "mood_scale")):
            path = f"mood_scale[{n}]"
            value = self.get(raw, "value", f"{path}.value", int)
            if value != n + 1:
                raise self.fail(f"{path}.value", f"must be {n + 1} (1, 2, 3, … in order)")
            out.append(MoodLevel(value, self.text(raw, "label", f"{path}.label")))
        if len(out) < MIN_MOOD_LEVELS:
            raise self.fail("mood_scale", f"needs at least {MIN_MOOD_LEVELS} points")
        return tuple(out)

    def rematch(self, data: Any) -> tuple[RematchReason, ...]:
        seen: set[str] = set()
        return tuple(
            RematchReason(
                self.code(raw, "code", f"rematch_reasons[{n}].code", seen),
                self.text(raw, "label", f"rematch_reasons[{n}].label"),
                self.optional(
                    raw, "supervisor_review", f"rematch_reasons[{n}].supervisor_review", bool, False
                ),
            )
            for n, raw in enumerate(self.entries(data, "rematch_reasons"))
        )


def parse_vocabulary(data: Any, *, source: str) -> Vocabulary:
    """Validate a parsed vocabulary file. Raises VocabularyFileError naming file and field:
    a missing section, a code of the wrong shape or repeated within its list, a label
    without an English or Spanish text, an availability slot whose code is not
    ``day-period``, a mood scale that is not 1, 2, 3, …"""
    r = _Reader(source)
    top = r.top(data, ("code", "version", *KINDS, "mood_scale"))
    return Vocabulary(
        code=r.code(top, "code", "code"),
        version=str(r.get(top, "version", "version", (str, int, float))),
        terms={kind: r.terms(top, kind) for kind in TERM_KINDS},
        availability=r.slots(top),
        mood_scale=r.mood(top),
        rematch_reasons=r.rematch(top),
    )
