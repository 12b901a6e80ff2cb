"""The stepped-care protocol as data: steps, starting-step rules, review rules, flag rules and
the sentences for every reason, parsed from ``content/protocols/*.yaml`` and validated.

``parse_protocol`` checks syntax (types, required fields) and references (measures are known
instruments, band codes belong to them, steps exist, every reason the engine can emit has a
sentence in every language, and sentences use only the placeholders the engine fills). Any
error names the file and the field; the caller keeps the previous protocol in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stepwell.domain.content_files import ContentFileError, FileReader, Text
from stepwell.domain.instruments.model import Instrument
from stepwell.domain.safety.escalation import SafetyRules, parse_safety_rules

STEPS = (1, 2, 3, 4)

# Every reason and flag text the engine can emit, with the placeholders it fills.
TEXT_PARAMS: dict[str, frozenset[str]] = {
    code: frozenset(params)
    for code, params in {
        "start-severe": {"measure", "total", "band", "to_step"},
        "start-functional": {"measure", "total", "to_step"},
        "start-moderate": {"measure", "total", "band", "to_step"},
        "start-mild": {"to_step"},
        "start-default": {"to_step"},
        "no-baseline-yet": {"measures"},
        "no-reliable-improvement": {
            "measure",
            "before",
            "after",
            "weeks",
            "step",
            "needed",
            "to_step",
        },
        "reliable-improvement": {"measure", "before", "after", "weeks", "step"},
        "reliable-deterioration": {"measure", "before", "after", "needed", "days", "to_step"},
        "deterioration-at-top-step": {"measure", "before", "after", "needed", "days"},
        "below-caseness-twice": {"first", "last", "days", "next"},
        "case-conference-window": {"weeks", "step"},
        "safety-signal": {"measure", "date", "signal"},
        "review-not-due": {"step", "weeks", "next_review"},
        "review-due": {"due", "days"},
        "contact-overdue": {"days", "limit", "step"},
        "disengaged-no-shows": {"count"},
        "disengaged-unanswered": {"count"},
        "no-baseline": {"since", "measures"},
        "step-name-discharge": set(),
        "step-name-step": {"step"},
    }.items()
}


class ProtocolFileError(ContentFileError):
    """A protocol file is malformed or refers to something that does not exist."""


@dataclass(frozen=True, slots=True)
class Step:
    step: int
    name: Text
    interventions: tuple[Text, ...]
    check_in_days: int
    review_days: int
    primary_measures: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StartRule:
    """Matches when any ``any_*`` condition holds (if there are any) and every ``all_*``
    condition holds (if there are any); a rule with no conditions always matches."""

    to_step: int
    reason: str
    any_band: Mapping[str, tuple[str, ...]]
    any_total_above: Mapping[str, int]
    all_below_caseness: tuple[str, ...]
    all_total_below: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Protocol:
    code: str
    version: str
    status: str
    name: Text
    primary_measures: tuple[str, ...]
    functional_measure: str
    steps: Mapping[int, Step]
    starting_step: tuple[StartRule, ...]
    urgent_safety_signals: tuple[str, ...]
    urgent_review_within_days: int
    deterioration_review_days: int
    step_up_after_days: int
    step_down_assessments: int
    step_down_min_days_apart: int
    case_conference_steps: tuple[int, ...]
    case_conference_from_days: int
    case_conference_to_days: int
    baseline_window_days: int
    contact_overdue_days: int
    contact_use_step_cadence: bool
    disengaged_no_shows: int
    disengaged_unanswered: int
    texts: Mapping[str, Text]
    safety: SafetyRules

    @property
    def label(self) -> str:
        return f"{self.code} {self.version}"

    def text(self, code: str, language: str, **params: object) -> str:
        """The sentence for ``code`` in ``language`` (English if missing), filled in."""
        template = self.texts[code]
        return (template.get(language) or template["en"]).format(**params)


class _Reader(FileReader):
    error = ProtocolFileError

    def __init__(self, source: str, instruments: Mapping[str, Instrument]) -> None:
        super().__init__(source)
        self.instruments = instruments

    def positive(self, data: object, key: str, path: str) -> int:
        value: int = self.get(data, key, path, int)
        if value < 1:
            raise self.fail(path, f"must be at least 1, not {value}")
        return value

    def measure(self, code: object, path: str) -> str:
        if not isinstance(code, str) or code not in self.instruments:
            known = ", ".join(sorted(self.instruments))
            raise self.fail(path, f"{code!r} is not an instrument (known: {known})")
        return code

    def measures(self, data: object, key: str, path: str) -> tuple[str, ...]:
        raw = self.get(data, key, path, list)
        if not raw:
            raise self.fail(path, "must name at least one measure")
        return tuple(self.measure(m, f"{path}[{n}]") for n, m in enumerate(raw))

    def step_number(self, value: object, path: str) -> int:
        if isinstance(value, bool) or value not in STEPS:
            raise self.fail(path, f"{value!r} is not a step (1-4)")
        assert isinstance(value, int)
        return value

    def measure_map(self, data: object, key: str, path: str) -> dict[str, int]:
        raw = self.optional(data, key, path, dict, {})
        out = {}
        for code, value in raw.items():
            self.measure(code, f"{path}.{code}")
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(f"{path}.{code}", f"must be a whole score, not {value!r}")
            out[code] = value
        return out

    def bands(self, data: object, key: str, path: str) -> dict[str, tuple[str, ...]]:
        raw = self.optional(data, key, path, dict, {})
        out = {}
        for code, bands in raw.items():
            where = f"{path}.{code}"
            instrument = self.instruments[self.measure(code, where)]
            known = [b.code for b in instrument.bands]
            if not isinstance(bands, list) or not bands:
                raise self.fail(where, "must be a non-empty list of band codes")
            for n, band in enumerate(bands):
                if band not in known:
                    raise self.fail(
                        f"{where}[{n}]", f"{band!r} is not a {code} band ({', '.join(known)})"
                    )
            out[code] = tuple(bands)
        return out

    def step(self, raw: object, n: int, default_measures: tuple[str, ...]) -> Step:
        path = f"steps[{n}]"
        number = self.step_number(self.get(raw, "step", f"{path}.step", int), f"{path}.step")
        interventions = self.get(raw, "interventions", f"{path}.interventions", list)
        measures = (
            self.measures(raw, "primary_measures", f"{path}.primary_measures")
            if isinstance(raw, dict) and "primary_measures" in raw
            else default_measures
        )
        return Step(
            step=number,
            name=self.text(raw, "name", f"{path}.name"),
            interventions=tuple(
                self.text_value(t, f"{path}.interventions[{k}]")
                for k, t in enumerate(interventions)
            ),
            check_in_days=self.positive(raw, "check_in_days", f"{path}.check_in_days"),
            review_days=self.positive(raw, "review_days", f"{path}.review_days"),
            primary_measures=measures,
        )

    def start_rule(self, raw: object, n: int) -> StartRule:
        path = f"starting_step[{n}]"
        to_step = self.step_number(self.get(raw, "to_step", f"{path}.to_step", int), path)
        all_below = (
            self.measures(raw, "all_below_caseness", f"{path}.all_below_caseness")
            if isinstance(raw, dict) and "all_below_caseness" in raw
            else ()
        )
        for k, code in enumerate(all_below):
            if self.instruments[code].caseness_min is None:
                raise self.fail(f"{path}.all_below_caseness[{k}]", f"{code} has no caseness")
        return StartRule(
            to_step=to_step,
            reason=self.get(raw, "reason", f"{path}.reason", str),
            any_band=self.bands(raw, "any_band", f"{path}.any_band"),
            any_total_above=self.measure_map(raw, "any_total_above", f"{path}.any_total_above"),
            all_below_caseness=all_below,
            all_total_below=self.measure_map(raw, "all_total_below", f"{path}.all_total_below"),
        )

    def texts(self, data: object) -> dict[str, Text]:
        return self.sentences(data, TEXT_PARAMS, "the engine")


def parse_protocol(data: object, *, source: str, instruments: Mapping[str, Instrument]) -> Protocol:
    """Validate a parsed protocol file. Raises ProtocolFileError naming file and field."""
    r = _Reader(source, instruments)
    if not isinstance(data, dict):
        raise r.fail("(top level)", "must be a mapping")
    primary = r.measures(data, "primary_measures", "primary_measures")
    for n, code in enumerate(primary):
        if instruments[code].caseness_min is None:
            raise r.fail(f"primary_measures[{n}]", f"{code} has no caseness cut-off")
    steps_raw = r.get(data, "steps", "steps", list)
    steps = [r.step(raw, n, primary) for n, raw in enumerate(steps_raw)]
    numbers = [s.step for s in steps]
    if sorted(numbers) != list(STEPS):
        raise r.fail("steps", f"must define steps 1, 2, 3 and 4 once each (found {numbers})")
    starts_raw = r.get(data, "starting_step", "starting_step", list)
    if not starts_raw:
        raise r.fail("starting_step", "must have at least one rule")
    starts = tuple(r.start_rule(raw, n) for n, raw in enumerate(starts_raw))
    rules = r.get(data, "rules", "rules", dict)
    urgent = r.get(rules, "urgent_escalation", "rules.urgent_escalation", dict)
    signals = r.get(urgent, "safety_signals", "rules.urgent_escalation.safety_signals", list)
    deterioration = r.get(rules, "deterioration", "rules.deterioration", dict)
    step_up = r.get(rules, "step_up", "rules.step_up", dict)
    step_down = r.get(rules, "step_down", "rules.step_down", dict)
    conference = r.get(rules, "case_conference", "rules.case_conference", dict)
    conf_steps = r.get(conference, "steps", "rules.case_conference.steps", list)
    flags = r.get(data, "flags", "flags", dict)
    overdue = r.get(flags, "contact_overdue", "flags.contact_overdue", dict)
    disengaged = r.get(flags, "disengaged", "flags.disengaged", dict)
    protocol = Protocol(
        code=r.get(data, "code", "code", str),
        version=str(r.get(data, "version", "version", (str, int, float))),
        status=r.optional(data, "status", "status", str, ""),
        name=r.text(data, "name", "name"),
        primary_measures=primary,
        functional_measure=r.measure(
            r.get(data, "functional_measure", "functional_measure", str), "functional_measure"
        ),
        steps={s.step: s for s in steps},
        starting_step=starts,
        urgent_safety_signals=tuple(str(s) for s in signals),
        urgent_review_within_days=r.get(
            urgent, "review_within_days", "rules.urgent_escalation.review_within_days", int
        ),
        deterioration_review_days=r.positive(
            deterioration, "review_within_days", "rules.deterioration.review_within_days"
        ),
        step_up_after_days=r.positive(step_up, "after_days", "rules.step_up.after_days"),
        step_down_assessments=r.positive(step_down, "assessments", "rules.step_down.assessments"),
        step_down_min_days_apart=r.positive(
            step_down, "min_days_apart", "rules.step_down.min_days_apart"
        ),
        case_conference_steps=tuple(
            r.step_number(s, f"rules.case_conference.steps[{n}]") for n, s in enumerate(conf_steps)
        ),
        case_conference_from_days=r.positive(
            conference, "from_days", "rules.case_conference.from_days"
        ),
        case_conference_to_days=r.positive(conference, "to_days", "rules.case_conference.to_days"),
        baseline_window_days=r.positive(
            rules, "baseline_window_days", "rules.baseline_window_days"
        ),
        contact_overdue_days=r.positive(overdue, "days", "flags.contact_overdue.days"),
        contact_use_step_cadence=r.get(
            overdue, "use_step_cadence", "flags.contact_overdue.use_step_cadence", bool
        ),
        disengaged_no_shows=r.positive(
            disengaged, "consecutive_no_shows", "flags.disengaged.consecutive_no_shows"
        ),
        disengaged_unanswered=r.positive(
            disengaged, "unanswered_check_ins", "flags.disengaged.unanswered_check_ins"
        ),
        texts=r.texts(data),
        safety=parse_safety_rules(r, r.get(data, "safety", "safety", dict), set(instruments)),
    )
    if protocol.urgent_review_within_days < 0:
        raise r.fail("rules.urgent_escalation.review_within_days", "must be 0 or more")
    if protocol.case_conference_to_days < protocol.case_conference_from_days:
        raise r.fail("rules.case_conference.to_days", "must not be before from_days")
    return protocol
