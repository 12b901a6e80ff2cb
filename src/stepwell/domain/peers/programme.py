"""The peer programme's rules (``content/peers/programme.yaml``): the lifecycle a peer moves
through, who may take new matches, capacity, supervision, encounter limits, and the sentence
for every reason code.

``parse_programme`` checks syntax and references: lifecycle states exist, every state says
where it may go, the final states are exactly those that go nowhere, every state can be
reached, the certification curriculum is one of the loaded curricula, every reason code has
a sentence in English and Spanish using only its placeholders. Errors name file and field.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stepwell.domain.access.policy import Role
from stepwell.domain.content_files import Text
from stepwell.domain.peers.curriculum import Curriculum, module_titles
from stepwell.domain.peers.files import STATE, ProgrammeFileError, Reader
from stepwell.domain.peers.reasons import REASON_PARAMS, Sentences

FIELDS = (
    "code",
    "version",
    "status",
    "lifecycle",
    "matching",
    "capacity",
    "supervision",
    "encounters",
    "texts",
)


@dataclass(frozen=True, slots=True)
class Lifecycle:
    states: tuple[str, ...]  # file order
    labels: Mapping[str, Text]
    initial: str  # the state a new peer record starts in
    final: frozenset[str]  # states with no way out
    transitions: Mapping[str, tuple[str, ...]]  # state -> states it may move to
    requires_certification: frozenset[str]  # states entered only with a current certification


@dataclass(frozen=True, slots=True)
class ProgrammeRules:
    code: str
    version: str
    status: str
    lifecycle: Lifecycle
    matchable_states: frozenset[str]  # lifecycle states in which a peer may take new matches
    certification_required: bool  # no new match without current certification
    certification_curriculum: str  # the curriculum that certifies peers
    supervision_required: bool  # no new match with supervision overdue (or never held)
    supervision_overdue_after_days: int  # whole days; overdue when MORE days have passed
    supervision_min_minutes: int  # a shorter session does not count as supervision
    supervision_max_minutes: int  # the longest supervision session that may be recorded
    supervision_review_days: int  # encounters this recent wait for review in supervision
    default_max_patients: int  # capacity of a peer whose profile sets none
    max_patients_limit: int  # the most a profile may set
    proposals_hold_a_place: bool  # proposals awaiting approval count towards capacity
    encounter_max_minutes: int  # the longest peer encounter that may be recorded
    sentences: Sentences

    @property
    def label(self) -> str:
        return f"{self.code} {self.version}"


class _Reader(Reader):
    error = ProgrammeFileError

    def lifecycle(self, data: Any) -> Lifecycle:
        raw = self.get(data, "lifecycle", "lifecycle", dict)
        entries = self.get(raw, "states", "lifecycle.states", list)
        seen: set[str] = set()
        states = tuple(
            self.code(e, "code", f"lifecycle.states[{n}].code", seen, STATE)
            for n, e in enumerate(entries)
        )
        if not states:
            raise self.fail("lifecycle.states", "needs at least one state")
        labels = {
            s: self.text(e, "label", f"lifecycle.states[{n}].label")
            for n, (s, e) in enumerate(zip(states, entries, strict=True))
        }
        transitions = {}
        for n, (state, entry) in enumerate(zip(states, entries, strict=True)):
            path = f"lifecycle.states[{n}].next"
            targets = self.refs(entry, "next", path, states, "a lifecycle state")
            if state in targets:
                raise self.fail(path, f"{state!r} cannot move to itself")
            transitions[state] = targets
        initial = self.ref(
            self.get(raw, "initial", "lifecycle.initial", str),
            "lifecycle.initial",
            states,
            "a lifecycle state",
        )
        final = self.refs(raw, "final", "lifecycle.final", states, "a lifecycle state")
        # Stated twice on purpose: a state given a way out by mistake (e.g. retired -> active)
        # is caught here rather than in production.
        dead_ends = [s for s in states if not transitions[s]]
        if sorted(final) != sorted(dead_ends):
            raise self.fail(
                "lifecycle.final",
                f"must list exactly the states with no next state ({', '.join(dead_ends)})",
            )
        if initial in final:
            raise self.fail("lifecycle.initial", f"{initial!r} is final")
        self.reachable(initial, transitions, states)
        certified = self.refs(
            raw,
            "requires_certification",
            "lifecycle.requires_certification",
            states,
            "a lifecycle state",
        )
        return Lifecycle(
            states, labels, initial, frozenset(final), transitions, frozenset(certified)
        )

    def reachable(
        self, initial: str, transitions: Mapping[str, tuple[str, ...]], states: tuple[str, ...]
    ) -> None:
        seen, todo = {initial}, [initial]
        while todo:
            for nxt in transitions[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for n, state in enumerate(states):
            if state not in seen:
                raise self.fail(
                    f"lifecycle.states[{n}]", f"{state!r} cannot be reached from {initial!r}"
                )

    def texts(self, data: Any) -> dict[str, Text]:
        raw = self.get(data, "texts", "texts", dict)
        for code in raw:
            if code not in REASON_PARAMS:
                raise self.fail(f"texts.{code}", "is not a reason the peer rules emit")
        out = {}
        for code, params in REASON_PARAMS.items():
            if code not in raw:
                raise self.fail(f"texts.{code}", "is required (the peer rules emit it)")
            text = self.text_value(raw[code], f"texts.{code}")
            for lang, template in text.items():
                self.placeholders(template, params, f"texts.{code}.{lang}")
            out[code] = text
        return out

    def placeholders(self, template: str, allowed: frozenset[str], path: str) -> None:
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as exc:
            raise self.fail(path, f"bad placeholder: {exc}") from None
        unknown = names - allowed
        if unknown:
            listed = ", ".join(sorted(allowed)) or "none"
            raise self.fail(
                path, f"unknown placeholder {{{sorted(unknown)[0]}}} (allowed: {listed})"
            )


def parse_programme(
    data: Any, *, source: str, curricula: Mapping[str, Curriculum]
) -> ProgrammeRules:
    """Validate a parsed programme file against the loaded ``curricula`` (by code). Raises
    ProgrammeFileError naming file and field."""
    r = _Reader(source)
    top = r.top(data, FIELDS)
    lifecycle = r.lifecycle(top)
    matching = r.get(top, "matching", "matching", dict)
    matchable = r.refs(matching, "states", "matching.states", lifecycle.states, "a lifecycle state")
    if not matchable:
        raise r.fail("matching.states", "needs at least one state (else nobody is matched)")
    for n, state in enumerate(matchable):
        if state in lifecycle.final:
            raise r.fail(f"matching.states[{n}]", f"{state!r} is final; it takes no matches")
    curriculum = r.ref(
        r.get(matching, "certification_curriculum", "matching.certification_curriculum", str),
        "matching.certification_curriculum",
        curricula,
        "a loaded curriculum",
    )
    if Role.PEER.value not in curricula[curriculum].certifies:
        raise r.fail("matching.certification_curriculum", f"{curriculum} does not certify peers")
    capacity = r.get(top, "capacity", "capacity", dict)
    supervision = r.get(top, "supervision", "supervision", dict)
    encounters = r.get(top, "encounters", "encounters", dict)
    rules = ProgrammeRules(
        code=r.code(top, "code", "code"),
        version=str(r.get(top, "version", "version", (str, int, float))),
        status=r.optional(top, "status", "status", str, ""),
        lifecycle=lifecycle,
        matchable_states=frozenset(matchable),
        certification_required=r.get(
            matching, "certification_required", "matching.certification_required", bool
        ),
        certification_curriculum=curriculum,
        supervision_required=r.get(
            matching, "supervision_required", "matching.supervision_required", bool
        ),
        supervision_overdue_after_days=r.positive(
            supervision, "overdue_after_days", "supervision.overdue_after_days"
        ),
        supervision_min_minutes=r.positive(supervision, "min_minutes", "supervision.min_minutes"),
        supervision_max_minutes=r.positive(supervision, "max_minutes", "supervision.max_minutes"),
        supervision_review_days=r.positive(
            supervision, "review_window_days", "supervision.review_window_days"
        ),
        default_max_patients=r.positive(
            capacity, "default_max_patients", "capacity.default_max_patients"
        ),
        max_patients_limit=r.positive(
            capacity, "max_patients_limit", "capacity.max_patients_limit"
        ),
        proposals_hold_a_place=r.get(
            capacity, "proposals_hold_a_place", "capacity.proposals_hold_a_place", bool
        ),
        encounter_max_minutes=r.positive(encounters, "max_minutes", "encounters.max_minutes"),
        sentences=Sentences(
            texts=r.texts(top),
            labels={"states": lifecycle.labels, "modules": module_titles(curricula)},
        ),
    )
    if rules.default_max_patients > rules.max_patients_limit:
        raise r.fail("capacity.default_max_patients", "must not be above max_patients_limit")
    return rules
