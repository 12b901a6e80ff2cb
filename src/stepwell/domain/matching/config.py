"""The matching configuration as data: cost weights, candidate-search sizes, the unmatched
penalty rule, the vocabularies records are coded with, and the sentences for every reason,
parsed from ``content/peers/matching.yaml`` and validated.

``parse_matching_config`` checks types and ranges, that every reason the optimiser can emit
has a sentence in every language using only the placeholders it fills, and that each
vocabulary fits a 63-bit mask (the candidate search works on bitmasks). Any error names the
file and the field: ``content/peers/matching.yaml: weights.distance: must be 0 or more``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stepwell.domain.content_files import ContentFileError, FileReader, Text
from stepwell.domain.peers.reasons import ELIGIBILITY_PARAMS

MOST_MATCHES = "most-matches"

# Params holding codes of a vocabulary: filled with the names in the reader's language.
LABELLED_PARAMS = {
    "languages": "languages",
    "experiences": "experiences",
    "modalities": "modalities",
    "slots": "slots",
    "gender": "genders",
    "state": "peer_states",
}

# Why a peer may not take a new match, as the caller passes them (``PeerOffer.ineligible``):
# the peer programme's eligibility reasons (``domain.peers.eligibility.match_eligibility``),
# the one definition of those codes and their parameters.
CALLER_EXCLUSIONS: dict[str, frozenset[str]] = dict(ELIGIBILITY_PARAMS)

# Every sentence the optimiser emits or says for its caller, with the placeholders filled.
TEXT_PARAMS: dict[str, frozenset[str]] = {
    **{
        code: frozenset(params)
        for code, params in {
            "slot": {"day", "part"},
            "pair-language": {"languages"},
            "pair-experience": {"experiences"},
            "pair-distance": {"km"},
            "pair-remote": set(),
            "pair-availability": {"slots"},
            "pair-no-shared-availability": set(),
            "pair-modality": {"modalities"},
            "pair-continuity": set(),
            "pair-load": {"load", "max"},
            "no-consent": set(),
            "no-peer-language": {"languages"},
            "no-peer-gender": {"gender", "languages"},
            "no-peer-in-reach": {"km"},
            "no-location-no-remote": set(),
            "only-declined-peers": set(),
            "peers-full": {"candidates"},
            "options-cost-more": {"penalty"},
            "not-solved": {"status"},
            "no-free-place": {"load", "max"},
            "unreachable": set(),
        }.items()
    },
    **CALLER_EXCLUSIONS,
}

WEIGHTS = (
    "experience",
    "distance",
    "remote",
    "availability",
    "modality",
    "continuity",
    "load_balance",
)
VOCABULARIES = (
    "languages",
    "genders",
    "experiences",
    "modalities",
    "slot_days",
    "slot_parts",
    "peer_states",
)
MAX_CODES = 63  # codes per vocabulary: one bit each in a signed 64-bit mask
# Per weight. The candidate search packs (patient, cost, peer) into one int64 sort key:
# with this cap it holds for up to 10^12 patient-peer combinations (10^6 by 10^6).
MAX_WEIGHT = 1_000_000
MAX_PENALTY = 1_000_000_000  # keeps the solver's costs (times nodes) well inside 64 bits
_CODE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")  # as content/peers/vocabulary.yaml


class MatchingConfigError(ContentFileError):
    """The matching file is malformed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Weights:
    """Points (whole numbers ≥ 0) each soft term adds at most to a pair's cost."""

    experience: int
    distance: int
    remote: int
    availability: int
    modality: int
    continuity: int
    load_balance: int


@dataclass(frozen=True, slots=True)
class Candidates:
    """How many peers the candidate search examines and keeps per patient (see the file)."""

    nearest: int
    nearest_shared: int
    per_patient: int
    remote_pool: int
    remote: int


@dataclass(frozen=True, slots=True)
class MatchingConfig:
    code: str
    version: str
    status: str
    weights: Weights
    max_in_person_km: float
    slots_wanted: int
    candidates: Candidates
    unmatched_penalty: int | None  # None: most matches first (the penalty is derived)
    vocabulary: Mapping[str, Mapping[str, Text]]  # vocabulary name -> code -> names
    texts: Mapping[str, Text]

    @property
    def label(self) -> str:
        return f"{self.code} {self.version}"

    @property
    def slots(self) -> tuple[str, ...]:
        """Every free-time slot code, ``<day>-<part>``, days first."""
        return tuple(
            f"{day}-{part}"
            for day in self.vocabulary["slot_days"]
            for part in self.vocabulary["slot_parts"]
        )

    def codes(self, vocabulary: str) -> tuple[str, ...]:
        """The codes of ``vocabulary`` (``languages``, ``genders``, ``experiences``,
        ``modalities`` or ``slots``) in file order: the bit order of the masks."""
        if vocabulary == "slots":
            return self.slots
        return tuple(self.vocabulary[vocabulary])

    def name(self, vocabulary: str, code: str, language: str) -> str:
        """The name of one code in ``language`` (English if that language is missing)."""
        if vocabulary == "slots":
            day, part = code.split("-", 1)
            return self.text(
                "slot",
                language,
                {
                    "day": self.name("slot_days", day, language),
                    "part": self.name("slot_parts", part, language),
                },
            )
        names = self.vocabulary[vocabulary][code]
        return names.get(language) or names["en"]

    def text(self, code: str, language: str, params: Mapping[str, object]) -> str:
        """The sentence for ``code`` in ``language`` (English if missing), filled in; code
        lists in LABELLED_PARAMS are named in ``language`` and joined with ", "."""
        filled: dict[str, object] = dict(params)
        for key, vocabulary in LABELLED_PARAMS.items():
            value = filled.get(key)
            if isinstance(value, str):
                filled[key] = self.name(vocabulary, value, language)
            elif isinstance(value, tuple | list):
                filled[key] = ", ".join(self.name(vocabulary, c, language) for c in value)
        template = self.texts[code]
        return (template.get(language) or template["en"]).format(**filled)


class _Reader(FileReader):
    error = MatchingConfigError

    def whole(
        self, data: object, key: str, path: str, minimum: int, maximum: int | None = None
    ) -> int:
        value: int = self.get(data, key, path, int)
        if value < minimum:
            raise self.fail(path, f"must be {minimum} or more, not {value}")
        if maximum is not None and value > maximum:
            raise self.fail(path, f"must be {maximum} or less, not {value}")
        return value

    def weights(self, data: object) -> Weights:
        raw = self.get(data, "weights", "weights", dict)
        for key in raw:
            if key not in WEIGHTS:
                raise self.fail(f"weights.{key}", f"is not a weight ({', '.join(WEIGHTS)})")
        return Weights(**{w: self.whole(raw, w, f"weights.{w}", 0, MAX_WEIGHT) for w in WEIGHTS})

    def candidates(self, data: object) -> Candidates:
        raw = self.get(data, "candidates", "candidates", dict)
        found = Candidates(
            nearest=self.whole(raw, "nearest", "candidates.nearest", 1),
            nearest_shared=self.whole(raw, "nearest_shared", "candidates.nearest_shared", 0),
            per_patient=self.whole(raw, "per_patient", "candidates.per_patient", 1),
            remote_pool=self.whole(raw, "remote_pool", "candidates.remote_pool", 0),
            remote=self.whole(raw, "remote", "candidates.remote", 0),
        )
        if found.remote > found.remote_pool:
            raise self.fail("candidates.remote", "must not be more than remote_pool")
        return found

    def unmatched_penalty(self, data: object) -> int | None:
        value = self.get(data, "unmatched_penalty", "unmatched_penalty", (str, int))
        if value == MOST_MATCHES:
            return None
        if isinstance(value, str | bool) or not 1 <= value <= MAX_PENALTY:
            raise self.fail(
                "unmatched_penalty",
                f"must be {MOST_MATCHES!r} or a whole number from 1 to {MAX_PENALTY}",
            )
        return int(value)

    def vocabulary(self, data: object) -> dict[str, dict[str, Text]]:
        raw = self.get(data, "vocabulary", "vocabulary", dict)
        out: dict[str, dict[str, Text]] = {}
        for name in VOCABULARIES:
            entries = self.get(raw, name, f"vocabulary.{name}", dict)
            if not entries:
                raise self.fail(f"vocabulary.{name}", "needs at least one code")
            if len(entries) > MAX_CODES:
                raise self.fail(f"vocabulary.{name}", f"has more than {MAX_CODES} codes")
            out[name] = {}
            for code, names in entries.items():
                path = f"vocabulary.{name}.{code}"
                if not isinstance(code, str) or not _CODE.match(code):
                    raise self.fail(path, "a code is lower-case words joined by '-' or '_'")
                out[name][code] = self.text_value(names, path)
        for day in out["slot_days"]:
            if "-" in day:
                raise self.fail(f"vocabulary.slot_days.{day}", "a day code may not contain '-'")
        slots = len(out["slot_days"]) * len(out["slot_parts"])
        if slots > MAX_CODES:
            raise self.fail("vocabulary.slot_parts", f"days * parts is more than {MAX_CODES}")
        unknown = sorted(set(raw) - set(VOCABULARIES))
        if unknown:
            raise self.fail(f"vocabulary.{unknown[0]}", "is not a vocabulary the optimiser uses")
        return out

    def texts(self, data: object) -> dict[str, Text]:
        return self.sentences(data, TEXT_PARAMS, "the optimiser")


def parse_matching_config(data: Any, *, source: str) -> MatchingConfig:
    """Validate a parsed matching file. Raises MatchingConfigError naming file and field."""
    r = _Reader(source)
    if not isinstance(data, dict):
        raise r.fail("(top level)", "must be a mapping")
    distance = r.get(data, "distance", "distance", dict)
    max_km = float(r.get(distance, "max_in_person_km", "distance.max_in_person_km", (int, float)))
    if not (max_km > 0 and math.isfinite(max_km)):
        raise r.fail("distance.max_in_person_km", f"must be more than 0, not {max_km:g}")
    availability = r.get(data, "availability", "availability", dict)
    return MatchingConfig(
        code=r.get(data, "code", "code", str),
        version=str(r.get(data, "version", "version", (str, int, float))),
        status=r.optional(data, "status", "status", str, ""),
        weights=r.weights(data),
        max_in_person_km=max_km,
        slots_wanted=r.whole(availability, "slots_wanted", "availability.slots_wanted", 1),
        candidates=r.candidates(data),
        unmatched_penalty=r.unmatched_penalty(data),
        vocabulary=r.vocabulary(data),
        texts=r.texts(data),
    )
