"""The peer programme of a synthetic region: profiles, training, supervision, the waiting
list, re-match requests, encounters and groups, from a seed.

Pure and deterministic like ``region``: the same region, content, ``seed`` and ``today``
give the same programme. Every code comes from the content the caller parsed and passes in
(the peer vocabulary and curriculum, the programme rules, the barrier kinds), so the data
always validates against the files in force. Free text (notes, supervision topics) is
plainly synthetic English. No encounter carries a concern: concerns become safety events,
which have their own flow and are not seeded.

What the demo should show (numbers shape a plausible demo, they are not clinical rules):

- active, certified, paused and retired peers have every required module passed, renewed
  before it lapses; a ``lapse="certification"`` peer let the shortest-lived module expire;
  peers in training have part of the course; applicants none;
- active peers were supervised within the programme's limit, except ``lapse="supervision"``
  peers, whose last session is overdue;
- every active match has a matched request; some unmatched patients who consented wait with
  an open request; a few had a match end when they asked for another peer;
- matched patients have encounters every one to two weeks over the last eight weeks, a few
  disclosing barriers;
- a peer support group at each site offering peer groups and a tele-support group at the
  demo peer's clinic, with facilitators, members and weekly or fortnightly sessions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from stepwell.domain.peers.content import PeerContent
from stepwell.domain.peers.curriculum import Module
from stepwell.domain.peers.vocabulary import KINDS
from stepwell.domain.synthetic.region import (
    _KM_PER_DEG_LAT,
    ACTIVE,
    MatchSpec,
    PeerSpec,
    Region,
    _at,
    _between,
    _pick,
)

ENCOUNTER_WEEKS = 8  # encounters of active matches over this many past weeks
WAITING_SHARE = 0.35  # unmatched consenting patients in care with an open request
REMATCH_SHARE = 0.03  # of active matches: ended ones with a re-match request (≥ 1)
BARRIER_SHARE = 0.08  # encounters where the patient disclosed a barrier
END_REASON = "patient-asked-for-another"  # as ``rematch_request_record`` ends a match
_SUPERVISION_EVERY = 14  # days between a supervisor's group sessions
_SUPERVISION_DAYS = 120  # how far back supervision history goes
_GROUP_WEEKS = 10  # past weeks of group sessions
_GENDER_WEIGHTS = {"woman": 60, "man": 34, "non-binary": 3, "other": 1, "undisclosed": 2}
_ENCOUNTER_MODALITY_WEIGHTS = {
    "phone": 30,
    "in-person": 25,
    "video": 12,
    "messaging": 15,
    "home-visit": 8,
    "accompaniment": 6,
    "group-session": 4,
}
_NOTES = (
    "Talked through the week; agreed a small goal for the next few days.",
    "Practised the breathing exercise together; will try it before bed.",
    "Went over questions to bring to the next appointment.",
    "Shared how pacing helped me; planned a short daily walk.",
    "Caught up by phone; things are steadier this week.",
    "Looked at the symptom diary together and noticed what helps.",
)
_SUPERVISION_TOPICS = (
    "Boundaries when a patient asks for medical advice; sharing lived experience with purpose.",
    "Keeping in touch when phone signal is poor; planning the harvest-season gap.",
    "Supporting patients after a hospital stay; when to hand over to the care team.",
    "Looking after ourselves: fatigue, triggers and taking a pause.",
    "Encouraging routines without pressure; preparing questions for visits.",
)
_SUPERVISION_ACTIONS = (
    "Review the crisis protocol card before next month.",
    "Bring one encounter to discuss at the next session.",
    "Check in with the coordinator about open barriers.",
    "",
)
_GROUP_NOTES = (
    "Check-in round, then a conversation about sleep and pacing.",
    "Members shared what helped during a hard week; short relaxation at the end.",
    "Theme: talking to family about persistent symptoms.",
    "Quieter session; planned a walk together for next time.",
)
_DAY_NAMES = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    peer: int  # index into Region.staff
    state: str
    languages: tuple[str, ...]
    lived_experience: tuple[str, ...]
    gender: str
    modalities: tuple[str, ...]
    availability: tuple[str, ...]
    max_patients: int | None
    remote_ok: bool
    latitude: float
    longitude: float
    travel_km: float
    state_changed_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TrainingSpec:
    user: int  # index into Region.staff
    curriculum: str
    module: str
    completed_on: date
    passed: bool
    expires_on: date | None
    assessor: int  # index into Region.staff (a peer supervisor)


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """A patient's request for a peer supporter; open while ``matched_at`` is None."""

    patient: int  # index into Region.patients
    gender_preference: str  # "" = none
    languages: tuple[str, ...]
    lived_experience: tuple[str, ...]
    modalities: tuple[str, ...]
    availability: tuple[str, ...]
    remote_ok: bool
    requested_at: datetime
    matched_at: datetime | None
    created_by: int  # index into Region.staff


@dataclass(frozen=True, slots=True)
class EndedMatchSpec:
    peer: int
    patient: int
    approved_by: int
    approved_at: datetime
    ended_at: datetime
    end_reason: str


@dataclass(frozen=True, slots=True)
class RematchSpec:
    patient: int
    peer: int
    reason: str  # a ``rematch_reasons`` code
    recorded_by: int
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class EncounterSpec:
    patient: int
    peer: int
    occurred_at: datetime
    modality: str
    minutes: int
    topics: tuple[str, ...]
    mood_before: int
    mood_after: int
    note: str
    barriers: tuple[str, ...]  # barrier kinds; each becomes a barrier record
    next_contact_on: date
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class SupervisionSpec:
    supervisor: int
    format: str
    held_on: date
    minutes: int
    attendees: tuple[int, ...]  # indexes into Region.staff
    topics: str
    actions: str
    encounters_reviewed: tuple[int, ...]  # indexes into PeerProgramme.encounters
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class GroupSpec:
    name: str
    kind: str
    site: int  # index into Region.sites
    schedule: str
    facilitators: tuple[int, ...]  # indexes into Region.staff
    members: tuple[int, ...]  # indexes into Region.patients
    created_at: datetime


@dataclass(frozen=True, slots=True)
class GroupSessionSpec:
    group: int  # index into PeerProgramme.groups
    held_at: datetime
    note: str
    attended: tuple[int, ...]  # members who came
    recorded_by: int
    recorded_at: datetime


@dataclass(slots=True)
class PeerProgramme:
    profiles: list[ProfileSpec] = field(default_factory=list)
    training: list[TrainingSpec] = field(default_factory=list)
    supervision: list[SupervisionSpec] = field(default_factory=list)
    requests: list[RequestSpec] = field(default_factory=list)
    ended_matches: list[EndedMatchSpec] = field(default_factory=list)
    rematches: list[RematchSpec] = field(default_factory=list)
    encounters: list[EncounterSpec] = field(default_factory=list)
    groups: list[GroupSpec] = field(default_factory=list)
    sessions: list[GroupSessionSpec] = field(default_factory=list)


def _sample(rng: random.Random, codes: Sequence[str], low: int, high: int) -> tuple[str, ...]:
    """Between low and high distinct codes, in vocabulary order."""
    k = min(len(codes), _between(rng, low, high))
    chosen: set[int] = set()
    while len(chosen) < k:  # k is small beside len(codes): few draws are wasted
        chosen.add(int(rng.random() * len(codes)))
    return tuple(codes[n] for n in sorted(chosen))


def _weighted_code(rng: random.Random, codes: Sequence[str], weights: dict[str, int]) -> str:
    """A code of ``codes`` by weight; codes without a weight count 1 (new vocabulary terms)."""
    total = sum(weights.get(c, 1) for c in codes)
    pick = rng.random() * total
    for c in codes:
        pick -= weights.get(c, 1)
        if pick < 0:
            return c
    return codes[-1]


def _stamp(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


class _Builder:
    """Shared lookups while one programme is built."""

    def __init__(
        self,
        region: Region,
        content: PeerContent,
        barrier_kinds: Sequence[str],
        rng: random.Random,
        today: date,
    ) -> None:
        self.region, self.content, self.rng, self.today = region, content, rng, today
        self.vocab = content.vocabulary
        self.codes = {kind: self.vocab.codes(kind) for kind in KINDS}
        self.rules = content.programme
        self.barrier_kinds = tuple(barrier_kinds)
        self.out = PeerProgramme()
        staff = region.staff
        self.supervisors = [i for i, s in enumerate(staff) if s.role == "peer_supervisor"]
        self.supervising: dict[int, list[int]] = {}
        for i in self.supervisors:
            for site in staff[i].sites:
                self.supervising.setdefault(site, []).append(i)
        self.care: dict[int, list[int]] = {}  # site -> coordinators (who open requests)
        for i, s in enumerate(staff):
            if s.role == "coordinator":
                for site in s.sites:
                    self.care.setdefault(site, []).append(i)
        self.peer_of = {p.staff: p for p in region.peers}

    def supervisor_of(self, peer: int) -> int:
        """The peer's supervisor: the first covering the peer's home site."""
        home = self.region.staff[peer].sites[0]
        return (self.supervising.get(home) or self.supervisors)[0]

    def requester(self, patient: int) -> int:
        """Who opened a request: a coordinator of the patient's site, else their clinician."""
        site = self.region.patients[patient].site
        team = self.care.get(site)
        return team[0] if team else self.region.episodes[patient].clinician


def peer_programme(
    region: Region,
    content: PeerContent,
    barrier_kinds: Sequence[str],
    *,
    seed: int,
    today: date,
) -> PeerProgramme:
    """The peer programme of ``region`` as of ``today``, coded by ``content`` (the peer
    vocabulary, curricula and programme rules in force) and ``barrier_kinds`` (codes of
    ``content/coordination/barriers.yaml``). Region patients and episodes line up one to
    one (``region.episodes[i].patient == i``)."""
    b = _Builder(region, content, barrier_kinds, random.Random(seed * 7907 + 29), today)
    for peer in region.peers:
        b.out.profiles.append(_profile(b, peer))
        b.out.training.extend(_training(b, peer))
    matched = {m.patient for m in region.matches}
    for m in region.matches:
        b.out.requests.append(_request(b, m.patient, m.approved_at - _days(b, 2, 20), m))
    _waiting_and_rematches(b, matched)
    for m in region.matches:
        _encounters(b, m.peer, m.patient, m.approved_at.date(), today)
    for ended in b.out.ended_matches:
        _encounters(b, ended.peer, ended.patient, ended.approved_at.date(), ended.ended_at.date())
    _supervision(b)
    _groups(b)
    return b.out


def _days(b: _Builder, low: int, high: int) -> timedelta:
    return timedelta(days=_between(b.rng, low, high))


# --- profiles and training -------------------------------------------------------------------


def _profile(b: _Builder, peer: PeerSpec) -> ProfileSpec:
    rng = b.rng
    person = b.region.staff[peer.staff]
    known = b.codes["languages"]
    languages = [lang for lang in person.languages if lang in known]
    if rng.random() < 0.05:  # now and then a third language of the valley
        languages.append(_pick(rng, [c for c in known if c not in languages] or known))
    home = b.region.sites[person.sites[0]]
    dist_km = abs(rng.gauss(0, 8.0))
    bearing = rng.random() * 2 * math.pi
    lat = home.latitude + dist_km * math.cos(bearing) / _KM_PER_DEG_LAT
    lon = home.longitude + dist_km * math.sin(bearing) / (
        _KM_PER_DEG_LAT * math.cos(math.radians(home.latitude))
    )
    limit = b.rules.max_patients_limit
    return ProfileSpec(
        peer=peer.staff,
        state=peer.state,
        languages=tuple(dict.fromkeys(languages)) or known[:1],
        lived_experience=_sample(rng, b.codes["lived_experience"], 1, 3),
        gender=_weighted_code(rng, b.codes["genders"], _GENDER_WEIGHTS),
        modalities=_sample(rng, b.codes["modalities"], 2, 4),
        availability=_sample(rng, b.codes["availability"], 3, 8),
        max_patients=None if peer.max_patients is None else min(peer.max_patients, limit),
        remote_ok=rng.random() < 0.8,
        latitude=round(lat, 5),
        longitude=round(lon, 5),
        travel_km=float(_between(rng, 15, 50)),
        state_changed_at=_stamp(peer.state_since, 10),
        created_at=_stamp(peer.joined_on, 9),
    )


def _shortest_lived(modules: Sequence[Module]) -> str:
    """The required module that lapses first (in the shipped curriculum: the crisis
    protocol, renewed every year)."""
    expiring = [m for m in modules if m.required and m.valid_for_days is not None]
    if not expiring:
        return ""
    return min(expiring, key=lambda m: m.valid_for_days or 0).code


def _training(b: _Builder, peer: PeerSpec) -> list[TrainingSpec]:
    """Completions that add up to the peer's state: none for applicants, part of the
    course in training, the whole course (renewed in time) from certified on."""
    if peer.state == "applicant":
        return []
    curriculum = b.content.peer_curriculum
    modules = curriculum.modules
    assessor = b.supervisor_of(peer.staff)
    start = peer.joined_on + timedelta(days=14)
    if peer.state == "in_training":
        modules = modules[: _between(b.rng, 1, max(1, len(curriculum.required) - 2))]
        end = b.today - timedelta(days=1)
    else:
        # Certified shortly before becoming active (or now, for the newly certified).
        end = peer.state_since - timedelta(days=_between(b.rng, 0, 3))
        modules = tuple(m for m in modules if m.required or b.rng.random() < 0.4)
    start = min(start, end)
    lapsing = _shortest_lived(curriculum.modules) if peer.lapse == "certification" else ""
    # Renewals stop at retirement; paused peers keep renewing to come back.
    stop = peer.state_since if peer.state == "retired" else b.today
    out = []
    span = max(0, (end - start).days)
    for k, module in enumerate(modules):
        first = start + timedelta(days=span * (k + 1) // max(1, len(modules)))
        if b.rng.random() < 0.08:  # a failed first attempt, passed a week or two later
            out.append(_completion(b, peer.staff, module, first, False, assessor))
            first = min(end, first + _days(b, 7, 14))
        for day in _pass_days(module, first, stop, b, lapsed=module.code == lapsing):
            out.append(_completion(b, peer.staff, module, day, True, assessor))
    return out


def _pass_days(module: Module, first: date, stop: date, b: _Builder, *, lapsed: bool) -> list[date]:
    """``first`` and the renewals after it, each a month or so before the last one
    lapses, until ``stop``. ``lapsed``: the latest pass expired days to weeks ago."""
    valid = module.valid_for_days
    if valid is None:
        return [first]
    if lapsed:
        last = b.today - timedelta(days=valid + _between(b.rng, 3, 40))
        days = [last]
        while days[-1] - timedelta(days=valid - 30) > first:
            days.append(days[-1] - timedelta(days=valid - 30))
        return sorted(d for d in days if d >= first) or [last]
    days = [first]
    while days[-1] + timedelta(days=valid - 30) <= stop:
        days.append(days[-1] + timedelta(days=valid - _between(b.rng, 20, 40)))
    return [d for d in days if d <= stop]


def _completion(
    b: _Builder, user: int, module: Module, day: date, passed: bool, assessor: int
) -> TrainingSpec:
    return TrainingSpec(
        user=user,
        curriculum=b.content.peer_curriculum.code,
        module=module.code,
        completed_on=day,
        passed=passed,
        expires_on=module.expires_on(day),
        assessor=assessor,
    )


# --- requests, waiting list, re-matches -----------------------------------------------------


def _request(
    b: _Builder, patient: int, requested_at: datetime, match: MatchSpec | None
) -> RequestSpec:
    rng = b.rng
    p = b.region.patients[patient]
    # Now and then a patient asks for a peer of their own gender (the common ones).
    common = _GENDER_WEIGHTS.get(p.gender, 0) >= 30 and p.gender in b.codes["genders"]
    wants = p.gender if common and rng.random() < 0.2 else ""
    extra = [c for c in b.codes["languages"] if c != p.language and c in ("en", "es")]
    referral = b.region.episodes[patient].referral_date
    requested_at = max(requested_at, _stamp(referral, 8))
    if match is not None:
        requested_at = min(requested_at, match.approved_at)
    return RequestSpec(
        patient=patient,
        gender_preference=wants,
        languages=tuple(extra) if rng.random() < 0.15 else (),
        lived_experience=_sample(rng, b.codes["lived_experience"], 0, 2),
        modalities=_sample(rng, b.codes["modalities"], 1, 2),
        availability=_sample(rng, b.codes["availability"], 2, 6),
        remote_ok=rng.random() < 0.7,
        requested_at=requested_at,
        matched_at=None if match is None else match.approved_at,
        created_by=b.requester(patient),
    )


def _waiting_and_rematches(b: _Builder, matched: set[int]) -> None:
    """Unmatched patients in care who consented: a few had a match that ended at their
    request (the pair is never proposed again) and wait again; some others wait for a
    first peer."""
    region, rng, today = b.region, b.rng, b.today
    candidates = [
        e.patient
        for e in region.episodes
        if e.status == "active"
        and region.patients[e.patient].consent_peer_support
        and e.patient not in matched
    ]
    rng.shuffle(candidates)
    # Re-matches for patients in care long enough to have had a first peer.
    settled = today - timedelta(days=90)
    candidates.sort(key=lambda i: region.episodes[i].referral_date > settled)
    n_rematch = min(len(candidates), max(1, round(len(region.matches) * REMATCH_SHARE)))
    reasons = [r.code for r in b.vocab.rematch_reasons if not r.supervisor_review] or [
        r.code for r in b.vocab.rematch_reasons
    ]
    active = [p for p in region.peers if p.state == ACTIVE and not p.lapse]
    for patient in candidates[:n_rematch]:
        lang = region.patients[patient].language
        pool = [p for p in active if lang in region.staff[p.staff].languages] or active
        peer = _pick(rng, pool)
        ended = _stamp(today - _days(b, 5, 30), _between(rng, 9, 16))
        start = max(peer.state_since, region.episodes[patient].referral_date)
        approved_day = max(start, ended.date() - _days(b, 30, 120))
        approved = _at(min(approved_day, ended.date() - timedelta(days=1)), rng)
        approver = (b.supervising.get(region.patients[patient].site) or b.supervisors)[0]
        match = MatchSpec(peer.staff, patient, approver, approved)
        b.out.ended_matches.append(
            EndedMatchSpec(peer.staff, patient, approver, approved, ended, END_REASON)
        )
        b.out.requests.append(_request(b, patient, approved - _days(b, 2, 20), match))
        recorder = b.requester(patient)
        b.out.rematches.append(
            RematchSpec(patient, peer.staff, _pick(rng, reasons), recorder, ended)
        )
        again = _request(b, patient, ended, None)
        b.out.requests.append(again)
    for patient in candidates[n_rematch:]:
        if rng.random() < WAITING_SHARE:
            asked = _stamp(today - _days(b, 1, 60), _between(rng, 9, 16))
            b.out.requests.append(_request(b, patient, asked, None))


# --- encounters ------------------------------------------------------------------------------


def _encounters(b: _Builder, peer: int, patient: int, since: date, until: date) -> None:
    """Every one to two weeks from the match (at most ENCOUNTER_WEEKS back) to ``until``."""
    rng = b.rng
    topics = b.codes["encounter_topics"]
    modalities = b.codes["encounter_modalities"]
    moods = b.vocab.mood_values()
    longest = min(90, b.rules.encounter_max_minutes)
    day = max(since + timedelta(days=2), b.today - timedelta(weeks=ENCOUNTER_WEEKS))
    day += _days(b, 0, 6)
    last = min(until, b.today) - timedelta(days=1)
    while day <= last:
        occurred = _at(day, rng)
        before = _pick(rng, moods[: max(1, len(moods) - 1)])
        after = min(moods[-1], max(moods[0], before + _pick(rng, (-1, 0, 0, 1, 1, 1))))
        barriers: tuple[str, ...] = ()
        if b.barrier_kinds and rng.random() < BARRIER_SHARE:
            barriers = _sample(rng, b.barrier_kinds, 1, 1 if rng.random() < 0.8 else 2)
        b.out.encounters.append(
            EncounterSpec(
                patient=patient,
                peer=peer,
                occurred_at=occurred,
                modality=_weighted_code(rng, modalities, _ENCOUNTER_MODALITY_WEIGHTS),
                minutes=min(longest, _pick(rng, (15, 20, 30, 30, 45, 60, 90))),
                topics=_sample(rng, topics, 1, 3),
                mood_before=before,
                mood_after=after,
                note=_pick(rng, _NOTES),
                barriers=barriers,
                next_contact_on=day + _days(b, 7, 14),
                recorded_at=occurred + timedelta(minutes=_between(rng, 30, 300)),
            )
        )
        day += _days(b, 7, 14)


# --- supervision -----------------------------------------------------------------------------


def _attendance_window(b: _Builder) -> dict[int, tuple[date, date]]:
    """Per peer ever supervised, the days they could attend supervision: from becoming
    active (or a few months after joining) to today, to the day they paused or retired, or,
    for an overdue peer, to a day more than the limit ago."""
    limit = b.rules.supervision_overdue_after_days
    window: dict[int, tuple[date, date]] = {}
    for p in b.region.peers:
        if p.state == ACTIVE:
            last = b.today
            if p.lapse == "supervision":
                last -= _days(b, limit + 5, limit + 40)
            window[p.staff] = (p.state_since, last)
        elif p.state in ("paused", "retired"):
            window[p.staff] = (p.joined_on + timedelta(days=90), p.state_since)
    return {peer: w for peer, w in window.items() if w[0] <= w[1]}


def _supervision(b: _Builder) -> None:
    """Fortnightly group sessions per supervisor, then an individual session for each peer
    not otherwise supervised within the limit (before their window closes)."""
    rng, today = b.rng, b.today
    limit = b.rules.supervision_overdue_after_days
    minutes = max(b.rules.supervision_min_minutes, 45)
    formats = b.codes["supervision_formats"]
    group_formats = [f for f in formats if f.startswith("group")] or list(formats)
    solo_formats = [f for f in formats if f not in group_formats] or list(formats)
    window = _attendance_window(b)
    by_supervisor: dict[int, list[int]] = {}
    for peer in sorted(window):
        by_supervisor.setdefault(b.supervisor_of(peer), []).append(peer)
    encounters_of: dict[int, list[int]] = {}
    for n, e in enumerate(b.out.encounters):
        encounters_of.setdefault(e.peer, []).append(n)
    last: dict[int, date] = {}
    for supervisor, peers in sorted(by_supervisor.items()):
        day = today - _days(b, 1, _SUPERVISION_EVERY)
        while day >= today - timedelta(days=_SUPERVISION_DAYS):
            came = tuple(
                p for p in peers if window[p][0] <= day <= window[p][1] and rng.random() < 0.75
            )
            if came:
                reviewed = _to_review(b, encounters_of, came, day, share=0.3)
                _session(
                    b, supervisor, _pick(rng, group_formats), day, minutes + 15, came, reviewed
                )
                last.update({p: max(last.get(p, day), day) for p in came})
            day -= timedelta(days=_SUPERVISION_EVERY)
        for p in peers:
            opened, closed = window[p]
            if last.get(p, opened - timedelta(days=1)) >= closed - timedelta(days=limit - 7):
                continue
            held = max(opened, closed - _days(b, 0, limit - 10))
            reviewed = _to_review(b, encounters_of, (p,), held, share=1.0)
            _session(b, supervisor, _pick(rng, solo_formats), held, minutes, (p,), reviewed)


def _to_review(
    b: _Builder,
    encounters_of: dict[int, list[int]],
    peers: tuple[int, ...],
    before: date,
    *,
    share: float,
) -> tuple[int, ...]:
    """For about ``share`` of ``peers``, their latest encounter before ``before`` (indexes
    into the programme's encounters), to discuss in supervision."""
    encounters = b.out.encounters
    out = []
    for p in peers:
        if b.rng.random() >= share:
            continue
        earlier = [n for n in encounters_of.get(p, ()) if encounters[n].occurred_at.date() < before]
        if earlier:
            out.append(max(earlier, key=lambda n: encounters[n].occurred_at))
    return tuple(out)


def _session(
    b: _Builder,
    supervisor: int,
    format: str,
    held_on: date,
    minutes: int,
    attendees: tuple[int, ...],
    reviewed: tuple[int, ...],
) -> None:
    b.out.supervision.append(
        SupervisionSpec(
            supervisor=supervisor,
            format=format,
            held_on=held_on,
            minutes=minutes,
            attendees=attendees,
            topics=_pick(b.rng, _SUPERVISION_TOPICS),
            actions=_pick(b.rng, _SUPERVISION_ACTIONS),
            encounters_reviewed=reviewed,
            recorded_at=_stamp(held_on, 17),
        )
    )


# --- groups ----------------------------------------------------------------------------------


def _groups(b: _Builder) -> None:
    """A peer support group at every site offering peer groups, and a tele-support group at
    the demo peer's clinic (facilitated by the demo peer)."""
    region = b.region
    kinds = b.codes["group_kinds"]
    in_person = kinds[0]
    remote = next((k for k in kinds if "tele" in k), kinds[-1])
    active = [p.staff for p in region.peers if p.state == ACTIVE and not p.lapse]
    demo = next((p for p in active if region.staff[p].username == "demo-peer"), None)
    consenting = [i for i, p in enumerate(region.patients) if p.consent_peer_support]
    for site, spec in enumerate(region.sites):
        if "peer-groups" in spec.services:
            _group(b, site, in_person, f"{spec.name} peer support group", active, consenting)
    if demo is not None:
        home = region.staff[demo].sites[0]
        name = f"{region.sites[home].name} tele-support group"
        _group(b, home, remote, name, active, consenting, lead=demo)


def _group(
    b: _Builder,
    site: int,
    kind: str,
    name: str,
    active: list[int],
    consenting: list[int],
    lead: int | None = None,
) -> None:
    region, rng, today = b.region, b.rng, b.today
    here = [p for p in active if site in region.staff[p].sites and p != lead]
    if lead is None and not here:
        return
    facilitators = ([lead] if lead is not None else []) + rng.sample(
        here, min(len(here), 1 if lead is not None else 2)
    )
    local = [i for i in consenting if region.patients[i].site == site]
    pool = local if len(local) >= 6 else consenting
    members = tuple(sorted(rng.sample(pool, min(len(pool), _between(rng, 6, 12)))))
    weekday = _between(rng, 0, 4)
    hour = _pick(rng, (10, 14, 18))
    every = _pick(rng, (7, 14))
    schedule = f"{_DAY_NAMES[weekday]} {hour}:00, {'weekly' if every == 7 else 'fortnightly'}"
    created = today - timedelta(weeks=_GROUP_WEEKS + 4)
    index = len(b.out.groups)
    b.out.groups.append(
        GroupSpec(name, kind, site, schedule, tuple(facilitators), members, _stamp(created, 9))
    )
    day = today - timedelta(days=(today.weekday() - weekday) % 7 or 7)
    while day > today - timedelta(weeks=_GROUP_WEEKS):
        came = tuple(m for m in members if rng.random() < 0.6)
        held = _stamp(day, hour)
        b.out.sessions.append(
            GroupSessionSpec(
                group=index,
                held_at=held,
                note=_pick(rng, _GROUP_NOTES),
                attended=came,
                recorded_by=_pick(rng, facilitators),
                recorded_at=held + timedelta(hours=2),
            )
        )
        day -= timedelta(days=every)
