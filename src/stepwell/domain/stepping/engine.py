"""The stepping rules engine: protocol + episode + measurements + contacts + now → what the
care team should consider, and the registry flags, each with reasons as codes + parameters.

Pure: no database, no clock (``now`` is passed in), no sentences (the protocol file holds
them; ``Reason.text`` fills them in the user's language). Every recommendation carries the
protocol version and the ids of the assessments it rests on.

Conventions (all in whole days, ``(now - then).days``):
- *days on step*: since the last step change (``EpisodeState.step_since``);
- a step's *baseline* for a measure: its earliest assessment taken no more than
  ``baseline_window_days`` before the step began (or after); *latest*: its most recent;
- a change of exactly the instrument's reliable-change threshold is reliable;
- the review is due on ``(last review or step start) + review_days``, and due on that day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import NamedTuple

from stepwell.domain.instruments.model import Instrument
from stepwell.domain.instruments.scoring import reliable_change
from stepwell.domain.stepping.protocol import Protocol, StartRule

ACTIONS = ("step-up", "step-down", "stay", "discharge", "escalate-urgent", "case-conference")
FLAGS = (
    "not-improving",
    "review-due",
    "contact-overdue",
    "safety-risk",
    "disengaged",
    "no-baseline",
)


class Measurement(NamedTuple):
    """One scored assessment. A named tuple: a region-wide review makes millions."""

    id: int
    instrument: str
    taken_at: datetime
    total: int
    band: str
    safety: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact with the care team: ``kind`` is ``appointment``, ``check-in`` or
    ``assessment`` (a completed questionnaire); ``outcome`` is ``attended``/``no-show``
    (appointments) or ``answered``/``unanswered`` (check-ins, assessments)."""

    at: datetime
    kind: str
    outcome: str


@dataclass(frozen=True, slots=True)
class EpisodeState:
    step: int
    step_since: datetime
    in_care_since: date
    last_review_at: datetime | None = None  # the last recorded step decision on this step
    initial_step: bool = False  # still on the step it started on, never reviewed


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    params: Mapping[str, object] = field(default_factory=dict)

    def text(self, protocol: Protocol, language: str) -> str:
        params = dict(self.params)
        if "next" in params:  # a step name, itself a sentence of the protocol
            nxt = params["next"]
            params["next"] = (
                protocol.text("step-name-discharge", language)
                if nxt == "discharge"
                else protocol.text("step-name-step", language, step=nxt)
            )
        return protocol.text(self.code, language, **params)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "params": dict(self.params)}


@dataclass(frozen=True, slots=True)
class Recommendation:
    action: str
    to_step: int | None
    reasons: tuple[Reason, ...]
    protocol_version: str
    evidence: tuple[int, ...] = ()
    review_within_days: int | None = None


@dataclass(frozen=True, slots=True)
class Flag:
    code: str
    reasons: tuple[Reason, ...]
    evidence: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Review:
    recommendations: tuple[Recommendation, ...]
    flags: tuple[Flag, ...]
    next_review: date
    protocol_version: str


# --- starting step ---------------------------------------------------------------------------


def _rule_matches(
    rule: StartRule, firsts: Mapping[str, Measurement], instruments: Mapping[str, Instrument]
) -> Measurement | bool:
    """False if ``rule`` does not match; else the measurement that made it match (or True)."""
    hit: Measurement | None = None
    any_conditions = bool(rule.any_band or rule.any_total_above)
    if any_conditions:
        for code, bands in rule.any_band.items():
            m = firsts.get(code)
            if m is not None and m.band in bands and (hit is None or m.total > hit.total):
                hit = m
        for code, above in rule.any_total_above.items():
            m = firsts.get(code)
            if m is not None and m.total > above and hit is None:
                hit = m
        if hit is None:
            return False
    for code in rule.all_below_caseness:
        m = firsts.get(code)
        cut = instruments[code].caseness_min
        if m is None or cut is None or m.total >= cut:
            return False
    for code, below in rule.all_total_below.items():
        m = firsts.get(code)
        if m is None or m.total >= below:
            return False
    return hit or True


def starting_step(
    protocol: Protocol,
    instruments: Mapping[str, Instrument],
    measurements: Sequence[Measurement],
) -> Recommendation | None:
    """The starting step the baseline (each measure's first assessment) points to, or None
    when no primary measure has been assessed yet."""
    firsts: dict[str, Measurement] = {}
    for m in sorted(measurements, key=chronological):
        firsts.setdefault(m.instrument, m)
    return _starting_step(protocol, instruments, firsts)


def _starting_step(
    protocol: Protocol, instruments: Mapping[str, Instrument], firsts: Mapping[str, Measurement]
) -> Recommendation | None:
    if not any(code in firsts for code in protocol.primary_measures):
        return None
    for rule in protocol.starting_step:
        matched = _rule_matches(rule, firsts, instruments)
        if matched is False:
            continue
        params: dict[str, object] = {"to_step": rule.to_step}
        evidence: tuple[int, ...] = tuple(
            firsts[c].id
            for c in (*protocol.primary_measures, protocol.functional_measure)
            if c in firsts
        )
        if isinstance(matched, Measurement):
            params |= {"measure": matched.instrument, "total": matched.total}
            band = next(
                (b for b in instruments[matched.instrument].bands if b.code == matched.band), None
            )
            params["band"] = band.label["en"].lower() if band else matched.band
        return Recommendation(
            "stay", rule.to_step, (Reason(rule.reason, params),), protocol.version, evidence
        )
    return None


# --- review ----------------------------------------------------------------------------------


# Oldest first; the id breaks ties between assessments taken at the same moment.
chronological = attrgetter("taken_at", "id")


@dataclass(slots=True)
class _Context:
    protocol: Protocol
    instruments: Mapping[str, Instrument]
    episode: EpisodeState
    now: datetime
    series: Mapping[str, Sequence[Measurement]]  # per instrument, oldest first, none after now
    primary: tuple[str, ...]

    @property
    def days_on_step(self) -> int:
        return (self.now - self.episode.step_since).days

    def window_start(self) -> datetime:
        return self.episode.step_since - timedelta(days=self.protocol.baseline_window_days)

    def pairs(self) -> dict[str, tuple[Measurement, Measurement]]:
        """Per primary measure: (step baseline, latest), when they differ."""
        out = {}
        since = self.window_start()
        for code in self.primary:
            series = self.series.get(code)
            if not series:
                continue
            first = next((m for m in series if m.taken_at >= since), None)
            if first is not None and first is not series[-1]:
                out[code] = (first, series[-1])
        return out


def review(
    protocol: Protocol,
    instruments: Mapping[str, Instrument],
    episode: EpisodeState,
    measurements: Sequence[Measurement],
    contacts: Sequence[Contact],
    now: datetime,
) -> Review:
    """Recommendations and flags for one open episode as of ``now`` (timezone-aware)."""
    series: dict[str, list[Measurement]] = {}
    for m in sorted(measurements, key=chronological):
        if m.taken_at <= now:
            series.setdefault(m.instrument, []).append(m)
    return review_series(protocol, instruments, episode, series, contacts, now)


def review_series(
    protocol: Protocol,
    instruments: Mapping[str, Instrument],
    episode: EpisodeState,
    series: Mapping[str, Sequence[Measurement]],
    contacts: Sequence[Contact],
    now: datetime,
) -> Review:
    """``review`` for measurements already grouped by instrument, each series oldest first
    (by ``taken_at`` then id), none after ``now``, none empty: what a bulk read delivers in
    that order, without sorting again. The series are read, never changed."""
    step_spec = protocol.steps[episode.step]
    ctx = _Context(protocol, instruments, episode, now, series, step_spec.primary_measures)
    last_review = episode.last_review_at or episode.step_since
    next_review = last_review.date() + timedelta(days=step_spec.review_days)
    recs: list[Recommendation] = []
    flags: list[Flag] = []

    urgent = _urgent(ctx)
    if urgent is not None:
        recs.append(urgent)
        flags.append(Flag("safety-risk", urgent.reasons, urgent.evidence))

    if not any(code in series for code in ctx.primary):
        measures = ", ".join(ctx.primary)
        flags.append(
            Flag(
                "no-baseline",
                (
                    Reason(
                        "no-baseline",
                        {"since": episode.in_care_since.isoformat(), "measures": measures},
                    ),
                ),
            )
        )
        recs.append(
            Recommendation(
                "stay",
                episode.step,
                (Reason("no-baseline-yet", {"measures": measures}),),
                protocol.version,
            )
        )
    else:
        recs.extend(_stepping(ctx, next_review, flags))

    if now.date() >= next_review:
        overdue = (now.date() - next_review).days
        flags.append(
            Flag(
                "review-due",
                (Reason("review-due", {"due": next_review.isoformat(), "days": overdue}),),
            )
        )
    flags.extend(_contact_flags(ctx, contacts))
    return Review(tuple(recs), tuple(flags), next_review, protocol.version)


def _urgent(ctx: _Context) -> Recommendation | None:
    signals = set(ctx.protocol.urgent_safety_signals)
    latest = [s[-1] for s in ctx.series.values()]  # each instrument's latest assessment
    hits = [m for m in latest if m.safety and signals.intersection(m.safety)]
    if not hits:
        return None
    reasons = tuple(
        Reason(
            "safety-signal",
            {
                "measure": m.instrument,
                "date": m.taken_at.date().isoformat(),
                "signal": ", ".join(s for s in m.safety if s in signals),
            },
        )
        for m in hits
    )
    return Recommendation(
        "escalate-urgent",
        None,
        reasons,
        ctx.protocol.version,
        tuple(m.id for m in hits),
        review_within_days=ctx.protocol.urgent_review_within_days,
    )


def _stepping(ctx: _Context, next_review: date, flags: list[Flag]) -> list[Recommendation]:
    """Starting-step check, deterioration, step down/discharge, non-response, or stay."""
    p, step = ctx.protocol, ctx.episode.step
    if ctx.episode.initial_step and ctx.episode.last_review_at is None:
        firsts = {code: s[0] for code, s in ctx.series.items()}
        start = _starting_step(p, ctx.instruments, firsts)
        if start is not None and start.to_step != step:
            action = "step-up" if (start.to_step or 0) > step else "step-down"
            return [Recommendation(action, start.to_step, start.reasons, p.version, start.evidence)]
    pairs = ctx.pairs()
    deteriorated = [
        (code, b, a)
        for code, (b, a) in pairs.items()
        if reliable_change(ctx.instruments[code], b.total, a.total) == "deteriorated"
    ]
    if deteriorated:
        return [_deterioration(ctx, deteriorated)]
    down = _step_down(ctx)
    if down is not None:
        return [down]
    if ctx.days_on_step >= p.step_up_after_days and pairs:
        return _at_review(ctx, pairs, flags, next_review)
    weeks = ctx.days_on_step // 7
    return [
        Recommendation(
            "stay",
            step,
            (
                Reason(
                    "review-not-due",
                    {"step": step, "weeks": weeks, "next_review": next_review.isoformat()},
                ),
            ),
            p.version,
        )
    ]


def _deterioration(
    ctx: _Context, worse: list[tuple[str, Measurement, Measurement]]
) -> Recommendation:
    p, step = ctx.protocol, ctx.episode.step
    days = p.deterioration_review_days
    top = step >= max(p.steps)
    reasons = tuple(
        Reason(
            "deterioration-at-top-step" if top else "reliable-deterioration",
            {
                "measure": code,
                "before": b.total,
                "after": a.total,
                "needed": _threshold(ctx.instruments[code]),
                "days": days,
                **({} if top else {"to_step": step + 1}),
            },
        )
        for code, b, a in worse
    )
    evidence = tuple(i for _, b, a in worse for i in (b.id, a.id))
    if top:
        return Recommendation("case-conference", step, reasons, p.version, evidence, days)
    return Recommendation("step-up", step + 1, reasons, p.version, evidence, days)


def _threshold(instrument: Instrument) -> int | float:
    t = instrument.reliable_change
    return int(t) if float(t).is_integer() else round(t, 1)


def _below_caseness_run(ctx: _Context) -> list[tuple[date, dict[str, Measurement]]]:
    """The latest assessment days (from the step's baseline window on, newest first) on
    which every primary measure's latest value as of that day was below caseness, back to
    the first day that was not."""
    since = ctx.window_start()
    series = [ctx.series.get(code, ()) for code in ctx.primary]
    cuts = [ctx.instruments[code].caseness_min for code in ctx.primary]
    if not all(series) or None in cuts:
        return []
    # Walk the assessment days backwards, each measure's value as of a day being its last
    # assessment on or before that day: one pointer per measure, moving back only. Days are
    # found as the walk goes (most runs stop at the latest day, so a long history is not
    # read whole): the next day is the latest date, among the assessments not yet passed and
    # taken since the window began, of any measure.
    pointers = [len(s) - 1 for s in series]
    run: list[tuple[date, dict[str, Measurement]]] = []
    while True:
        day: date | None = None
        for s, i in zip(series, pointers, strict=True):
            if i >= 0 and s[i].taken_at >= since:
                d = s[i].taken_at.date()
                if day is None or d > day:
                    day = d
        if day is None:
            return run
        values: dict[str, Measurement] = {}
        for k, s in enumerate(series):
            i = pointers[k]
            # Every assessment from the pointer on is dated ``day`` or earlier (``day`` is
            # the latest such date still ahead), so the pointer is the value as of ``day``.
            if i < 0 or s[i].total >= cuts[k]:  # type: ignore[operator]
                return run
            values[ctx.primary[k]] = s[i]
        run.append((day, values))
        for k, s in enumerate(series):
            i = pointers[k]
            while i >= 0 and s[i].taken_at.date() >= day:
                i -= 1
            pointers[k] = i


def _step_down(ctx: _Context) -> Recommendation | None:
    p = ctx.protocol
    run = _below_caseness_run(ctx)
    if len(run) < p.step_down_assessments:
        return None
    last_day, last_values = run[0]
    earlier = next(
        (
            (k, occ)
            for k, occ in enumerate(run)
            if (last_day - occ[0]).days >= p.step_down_min_days_apart
            and k + 1 >= p.step_down_assessments
        ),
        None,
    )
    if earlier is None:
        return None
    first_day, first_values = earlier[1]
    step = ctx.episode.step
    nxt: object = "discharge" if step == 1 else step - 1
    reason = Reason(
        "below-caseness-twice",
        {
            "first": first_day.isoformat(),
            "last": last_day.isoformat(),
            "days": (last_day - first_day).days,
            "next": nxt,
        },
    )
    evidence = tuple(sorted({m.id for v in (first_values, last_values) for m in v.values()}))
    if step == 1:
        return Recommendation("discharge", None, (reason,), p.version, evidence)
    return Recommendation("step-down", step - 1, (reason,), p.version, evidence)


def _at_review(
    ctx: _Context,
    pairs: dict[str, tuple[Measurement, Measurement]],
    flags: list[Flag],
    next_review: date,
) -> list[Recommendation]:
    p, step = ctx.protocol, ctx.episode.step
    weeks = ctx.days_on_step // 7
    improved = {
        code: (b, a)
        for code, (b, a) in pairs.items()
        if reliable_change(ctx.instruments[code], b.total, a.total) == "improved"
    }
    if improved:
        reasons = tuple(
            Reason(
                "reliable-improvement",
                {
                    "measure": code,
                    "before": b.total,
                    "after": a.total,
                    "weeks": weeks,
                    "step": step,
                },
            )
            for code, (b, a) in improved.items()
        )
        evidence = tuple(i for b, a in improved.values() for i in (b.id, a.id))
        return [Recommendation("stay", step, reasons, p.version, evidence)]
    # Judge the measures that were cases when the step began; if none was, all of them.
    cases = {
        code: ba
        for code, ba in pairs.items()
        if (cut := ctx.instruments[code].caseness_min) is not None and ba[0].total >= cut
    } or pairs
    to_step = min(step + 1, max(p.steps))
    reasons = tuple(
        Reason(
            "no-reliable-improvement",
            {
                "measure": code,
                "before": b.total,
                "after": a.total,
                "weeks": weeks,
                "step": step,
                "needed": _threshold(ctx.instruments[code]),
                "to_step": to_step,
            },
        )
        for code, (b, a) in cases.items()
    )
    evidence = tuple(i for b, a in cases.values() for i in (b.id, a.id))
    flags.append(Flag("not-improving", reasons, evidence))
    in_window = p.case_conference_from_days <= ctx.days_on_step <= p.case_conference_to_days
    if (step in p.case_conference_steps and in_window) or step >= max(p.steps):
        conference = Reason("case-conference-window", {"weeks": weeks, "step": step})
        return [
            Recommendation("case-conference", step, (conference, *reasons), p.version, evidence)
        ]
    return [Recommendation("step-up", to_step, reasons, p.version, evidence)]


def _contact_flags(ctx: _Context, contacts: Sequence[Contact]) -> list[Flag]:
    p, now = ctx.protocol, ctx.now
    flags: list[Flag] = []
    made = [c.at for c in contacts if c.outcome in {"attended", "answered"} and c.at <= now]
    made += [s[-1].taken_at for s in ctx.series.values()]
    since = max(made) if made else None
    start = datetime.combine(ctx.episode.in_care_since, datetime.min.time(), now.tzinfo)
    days = (now - (since or start)).days
    limit = p.contact_overdue_days
    if p.contact_use_step_cadence:
        limit = min(limit, p.steps[ctx.episode.step].check_in_days)
    if days >= limit:
        flags.append(
            Flag(
                "contact-overdue",
                (
                    Reason(
                        "contact-overdue", {"days": days, "limit": limit, "step": ctx.episode.step}
                    ),
                ),
            )
        )
    ordered = sorted((c for c in contacts if c.at <= now), key=lambda c: c.at)
    appointments = [c.outcome for c in ordered if c.kind == "appointment"]
    check_ins = [c.outcome for c in ordered if c.kind == "check-in"]
    n, m = p.disengaged_no_shows, p.disengaged_unanswered
    reasons = []
    if len(appointments) >= n and all(o == "no-show" for o in appointments[-n:]):
        reasons.append(Reason("disengaged-no-shows", {"count": n}))
    if len(check_ins) >= m and all(o == "unanswered" for o in check_ins[-m:]):
        reasons.append(Reason("disengaged-unanswered", {"count": m}))
    if reasons:
        flags.append(Flag("disengaged", tuple(reasons)))
    return flags
