"""Care coordination in a synthetic region: appointments, barriers and what was done about
them, goals rated over time, referrals between sites and appointment reminders, from a seed.

Pure and deterministic like ``region`` and ``peers``: the same region, rules, codes, ``seed``
and ``now`` give the same coordination. ``now`` (aware) is the moment the region is stored:
appointments run from ``PAST_DAYS`` before it to ``AHEAD_DAYS`` after it, in working hours on
the local clock of each site (``content/coordination/access.yaml``). Every code comes from
the content the caller parsed and passes in (modalities, attendance, cancellation reasons,
referral deadlines, reminder lead times and quiet hours; barrier kinds and actions), so the
data validates against the files in force. Free text (notes, referral reasons) is plainly
synthetic English, as staff would type it; goals are in the patient's language.

What the demo should show (numbers shape a plausible demo, they are not clinical rules):

- patients in care have appointments at their step's pace (at step 1, self-management, most
  only their first visit), mostly in person or by phone or video (a rural region), a few
  home visits, groups and peer contacts; those over by now have their
  attendance (mostly attended, about 8 % did not attend, some cancelled, often for want of
  transport), future ones none; every site has a handful today (the coordinator's home);
- about one patient in eight has a barrier recorded by a coordinator or CHW: some open, some
  in progress with a ride, telehealth or another action, some resolved, with their history;
  an action changes how later appointments happen (video after "telehealth instead"…);
- about half the patients in care have a goal in their own words, rated 0 to 10 every few
  weeks, rising for patients who improve;
- a few patients in care are referred between sites, routine or urgent, in every state; an
  urgent one at every clinic (two at the demo coordinator's) is past its deadline and still
  waiting, so the overdue flag shows;
- future appointments have their reminders planned; those already due were handed to the
  outbox, and a few of those messages failed.
"""

from __future__ import annotations

import bisect
import itertools
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from stepwell.domain.coordination.appointments import CANCELLED
from stepwell.domain.coordination.referrals import acceptance_deadline
from stepwell.domain.coordination.reminders import is_stale, outside_quiet_hours, reminder_times
from stepwell.domain.coordination.rules import CoordinationRules
from stepwell.domain.coordination.travel import SiteLocation, suggest, travel_to_sites
from stepwell.domain.synthetic.region import EpisodeSpec, PatientSpec, Region, _between, _pick

PAST_DAYS = 90  # appointments, barriers and referrals from this many days before now
AHEAD_DAYS = 30  # appointments booked up to this many days ahead
TODAY_PER_SITE = 5  # at least this many appointments today at every site
BARRIER_SHARE = 0.12  # patients in care with a barrier recorded by staff
GOAL_SHARE = 0.5  # patients in care (after first contact) with a goal
REFERRAL_SHARE = 0.05  # patients in care referred to another site in the last PAST_DAYS
FAILED_SHARE = 0.04  # reminders handed to the outbox whose message failed
OPEN_EPISODE = ("active", "referred")
CARE_TEAM = ("coordinator", "chw", "clinician")
_WORK_HOURS = (8, 16)  # local start hours of appointments
_GOAL_RATING_DAYS = 180  # ratings (after the first) over this many past days
# Days between booked contacts at each step (assessments run on their own schedule).
_CADENCE = {1: (35, 56), 2: (28, 42), 3: (14, 28), 4: (10, 21)}
# Step 1 is self-management: most patients there have no booked contacts after the first.
_STEP_ONE_BOOKED = 0.3
# A rural region: many in person and by phone, video where the signal allows, CHW home
# visits. Modalities of the file without a weight here are not generated (case conferences
# are not patient contacts).
_MODALITY_WEIGHTS = {
    "in-person": 38,
    "phone": 24,
    "video": 16,
    "home-visit": 9,
    "group": 7,
    "peer-contact": 6,
}
_MINUTES = {
    "in-person": (30, 45, 45, 60),
    "phone": (15, 20, 30),
    "video": (30, 45),
    "home-visit": (60, 90),
    "group": (90,),
    "peer-contact": (30, 45, 60),
}
_ATTENDANCE_WEIGHTS = {
    "attended": 72,
    "late-seen": 6,
    "did-not-attend": 8,
    "cancelled-patient": 10,
    "cancelled-service": 4,
}
_DROPOUT_NO_SHOW = 22  # did-not-attend weight for patients dropping out
_PATIENT_REASONS = {
    "transport": 32,
    "illness": 18,
    "work": 15,
    "caregiving": 14,
    "weather": 8,
    "forgot": 6,
    "other": 7,
}
_SERVICE_REASONS = {"service-cancelled": 75, "weather": 25}
_COURSES = (("improver", 45), ("non-responder", 30), ("deteriorator", 10), ("dropout", 15))
_BARRIER_WEIGHTS = {
    "transport": 30,
    "distance": 15,
    "work-schedule": 12,
    "caregiving": 12,
    "cost": 10,
    "connectivity": 10,
    "weather-season": 5,
    "stigma-privacy": 4,
    "language": 6,  # Spanish speakers only
}
# The actions that fit each kind, most likely first.
_ACTIONS_FOR = {
    "transport": ("ride-or-voucher", "telehealth-instead", "home-visit"),
    "distance": ("telehealth-instead", "home-visit", "ride-or-voucher"),
    "work-schedule": ("flexible-time", "telehealth-instead"),
    "caregiving": ("home-visit", "flexible-time", "telehealth-instead"),
    "cost": ("subsidy", "ride-or-voucher"),
    "connectivity": ("device-data-loan", "home-visit"),
    "weather-season": ("telehealth-instead", "home-visit"),
    "stigma-privacy": ("telehealth-instead", "home-visit"),
    "language": ("interpreter",),
}
# How later appointments happen once an action is taken.
_MODALITY_AFTER = {
    "telehealth-instead": "video",
    "device-data-loan": "video",
    "home-visit": "home-visit",
    "ride-or-voucher": "in-person",
}
_BARRIER_NOTES = {
    "transport": "No bus on the route since the schedule changed; the family car is for work.",
    "distance": "Lives over an hour from the clinic on unpaved roads.",
    "work-schedule": "Seasonal shifts at the packing plant clash with clinic hours.",
    "caregiving": "Cares for a parent at home; cannot leave for long in the mornings.",
    "cost": "Fuel and the co-pay are hard to cover this month.",
    "connectivity": "Phone signal at home drops out; video calls fail.",
    "weather-season": "The road to the ranch floods after rain; snow expected soon.",
    "stigma-privacy": "Worried that neighbours will see the car at the clinic.",
    "language": "Prefers Spanish; the last visit had no interpreter.",
}
_ACTION_NOTES = {
    "ride-or-voucher": "Volunteer driver booked for the next visits; fuel voucher given.",
    "telehealth-instead": "Switched to video visits; tested the link together.",
    "home-visit": "The CHW will visit at home for the next sessions.",
    "flexible-time": "Moved visits to late afternoon, after the shift.",
    "subsidy": "Applied for the co-pay waiver; approved for six months.",
    "interpreter": "Interpreter booked for every visit.",
    "device-data-loan": "Lent a tablet with a data plan.",
}
_OPEN_NOTE = "Left a message; will try again this week."
_RESOLVED_NOTE = "Attending again; nothing more needed for now."
_UNRESOLVED_NOTE = "Declined the options offered for now; to revisit at the next review."
_REFERRAL_REASONS = {
    "regional-hospital": "No reliable improvement at the current step; for structured therapy "
    "and group sessions.",
    "telehealth-hub": "For a telepsychiatry review of medication; lives far from the hospital.",
    "tertiary-centre": "Complex presentation with persistent pain; for specialised assessment.",
    "community-centre": "For the peer support group and workshops near home.",
    "primary-care": "Improving; stepped down to follow-up at the home clinic.",
}
_URGENT_REASON = "Urgent: rising PHQ-9 with new sleep loss and hopelessness; please see soon."
_DECLINED_NOTE = "Does not meet the service's criteria at present; suggest the community group."
_CANCELLED_NOTE = "Patient asked to stay with their home clinic for now."
# Where a site refers to, by the kinds of the two sites (weights).
_REFER_TO = {
    "primary-care": (
        ("community-centre", 30),
        ("regional-hospital", 35),
        ("telehealth-hub", 25),
        ("tertiary-centre", 10),
    ),
    "community-centre": (("regional-hospital", 50), ("telehealth-hub", 30), ("home", 20)),
    "telehealth-hub": (("regional-hospital", 45), ("tertiary-centre", 30), ("home", 25)),
    "regional-hospital": (("tertiary-centre", 50), ("home", 30), ("telehealth-hub", 20)),
    "tertiary-centre": (("regional-hospital", 50), ("home", 50)),
}
_FAILED_ERRORS = {
    "sms": "GatewayError: the carrier reported the number unreachable",
    "email": "SMTPRecipientsRefused: mailbox unavailable",
}
# Goals in the patient's words: what matters to them, not symptoms.
GOALS: tuple[dict[str, str], ...] = (
    {"en": "Return to work at the cooperative", "es": "Volver a trabajar en la cooperativa"},
    {"en": "Walk to the market without resting", "es": "Caminar al mercado sin descansar"},
    {"en": "Look after my grandchildren", "es": "Cuidar a mis nietos"},
    {"en": "Sleep through the night most nights", "es": "Dormir toda la noche casi siempre"},
    {"en": "Go back to church on Sundays", "es": "Volver a ir a misa los domingos"},
    {"en": "Work in my vegetable garden again", "es": "Volver a trabajar en mi huerta"},
    {"en": "Drive to town on my own", "es": "Manejar al pueblo por mi cuenta"},
    {"en": "Cook dinner for my family", "es": "Cocinar la cena para mi familia"},
    {"en": "Visit my sister in the next valley", "es": "Visitar a mi hermana en el otro valle"},
    {"en": "Help with the harvest this season", "es": "Ayudar con la cosecha esta temporada"},
    {
        "en": "Play with my children after school",
        "es": "Jugar con mis hijos después de la escuela",
    },
    {"en": "Go to the community dances again", "es": "Volver a los bailes de la comunidad"},
    {"en": "Feed the animals every morning", "es": "Dar de comer a los animales cada mañana"},
    {
        "en": "Finish my course at the community college",
        "es": "Terminar mi curso en el colegio comunitario",
    },
    {
        "en": "Have coffee with friends once a week",
        "es": "Tomar café con mis amistades una vez por semana",
    },
    {"en": "Fix the fence with my son", "es": "Arreglar la cerca con mi hijo"},
    {"en": "Sing in the choir again", "es": "Volver a cantar en el coro"},
    {
        "en": "Get through a workday without the pain stopping me",
        "es": "Pasar un día de trabajo sin que el dolor me detenga",
    },
    {"en": "Walk my dog every evening", "es": "Pasear a mi perro todas las tardes"},
    {"en": "Sell at the Saturday market again", "es": "Volver a vender en el mercado del sábado"},
    {"en": "Go to the clinic on my own", "es": "Ir a la clínica por mi cuenta"},
)


@dataclass(frozen=True, slots=True)
class BarrierStepSpec:
    """One row of a barrier's history: an action code (or "") and the status after it."""

    action: str
    status: str
    note: str
    by: int  # index into Region.staff
    at: datetime


@dataclass(frozen=True, slots=True)
class BarrierSpec:
    patient: int  # index into Region.patients
    kind: str
    status: str
    source: str  # "coordinator" or "chw"
    note: str
    action: str  # the last action taken, or ""
    raised_by: int
    raised_at: datetime
    updated_at: datetime
    closed_at: datetime | None  # resolved or could not resolve
    steps: tuple[BarrierStepSpec, ...]


@dataclass(frozen=True, slots=True)
class ReferralSpec:
    patient: int
    episode: int  # index into Region.episodes
    from_site: int  # index into Region.sites
    to_site: int
    reason: str
    urgency: str
    status: str
    sent_by: int
    sent_at: datetime
    deadline_at: datetime
    accepted_by: int | None
    accepted_at: datetime | None
    scheduled_for: datetime | None
    seen_at: datetime | None
    closed_at: datetime | None
    status_note: str
    overdue_at: datetime | None
    updated_at: datetime


# The specs made by the hundred thousand (appointments, reminders, ratings) are not frozen:
# a frozen dataclass's __init__ costs several times more, which shows at 100,000 patients.
@dataclass(slots=True)
class AppointmentSpec:
    patient: int
    episode: int | None
    modality: str
    site: int | None  # None: a home visit or a peer contact
    staff: int | None
    starts_at: datetime
    minutes: int
    travel_minutes: int | None  # one way, for a modality the patient travels to
    suggested: tuple[str, ...]  # what the travel rules suggested instead, when over limits
    booked_by: int
    booked_at: datetime
    attendance: str  # "" until recorded (always "" for one that has not ended)
    cancellation_reason: str
    attendance_by: int | None
    attendance_at: datetime | None
    barrier: int | None = None  # index into CareCoordination.barriers
    referral: int | None = None  # index into CareCoordination.referrals


@dataclass(slots=True)
class ReminderSpec:
    """An appointment reminder. ``planned`` ones go out later; ``queued`` ones were handed
    to the outbox at ``handled_at``, and ``delivery`` is what became of that message."""

    appointment: int  # index into CareCoordination.appointments
    lead_hours: int
    channel: str  # "sms" or "email"
    send_at: datetime
    status: str  # "planned" or "queued"
    delivery: str  # "" (planned), "sent" or "failed"
    error: str  # why the message failed
    created_at: datetime
    handled_at: datetime | None


@dataclass(slots=True)
class RatingSpec:
    rating: int  # 0 (not at all) to 10 (fully)
    rated_at: datetime
    recorded_by: int


@dataclass(frozen=True, slots=True)
class GoalSpec:
    patient: int
    episode: int
    text: str
    created_by: int
    created_at: datetime
    closed_at: datetime | None  # achieved and closed
    ratings: tuple[RatingSpec, ...]


@dataclass(slots=True)
class CareCoordination:
    appointments: list[AppointmentSpec] = field(default_factory=list)
    barriers: list[BarrierSpec] = field(default_factory=list)
    goals: list[GoalSpec] = field(default_factory=list)
    referrals: list[ReferralSpec] = field(default_factory=list)
    reminders: list[ReminderSpec] = field(default_factory=list)


def seed_of(region: Region) -> int:
    """A seed derived from the region itself, for callers that were not given one: the same
    region (same seed, size and date) gives the same number."""
    first = region.patients[0].record_number if region.patients else ""
    return zlib.crc32(f"{len(region.patients)}:{first}".encode())


class _Table:
    """Codes drawn by weight, with the cumulative weights worked out once. Codes of the file
    without a weight are never drawn (new vocabulary terms stay out of synthetic data)."""

    __slots__ = ("codes", "cumulative", "total")

    def __init__(self, weights: Mapping[str, float], codes: Sequence[str]) -> None:
        kept = [c for c in codes if weights.get(c, 0) > 0]
        self.codes = kept
        self.cumulative = list(itertools.accumulate(weights[c] for c in kept))
        self.total = self.cumulative[-1] if kept else 0.0

    def draw(self, rng: random.Random) -> str:
        """A code by weight; "" when no code has a weight."""
        if not self.codes:
            return ""
        return self.codes[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
# Local start times of appointments, as minutes after midnight: on the quarter hour.
_SLOTS = tuple(
    h * 60 + m for h in range(_WORK_HOURS[0], _WORK_HOURS[1] + 1) for m in (0, 15, 30, 45)
)


class _Builder:
    """Shared lookups while the coordination of one region is built."""

    def __init__(
        self,
        region: Region,
        rules: CoordinationRules,
        kinds: Sequence[str],
        actions: Sequence[str],
        rng: random.Random,
        now: datetime,
    ) -> None:
        self.region, self.rules, self.rng, self.now = region, rules, rng, now
        self.kinds, self.actions = tuple(kinds), tuple(actions)
        self.out = CareCoordination()
        self.zones = [rules.local_for(s.code).zone for s in region.sites]
        self.zone = rules.default.zone
        self.today = now.astimezone(self.zone).date()
        self.midnights: dict[tuple[str, date], datetime] = {}
        self.team: dict[tuple[int, str], list[int]] = {}
        self.by_role: dict[str, list[int]] = {}
        for i, s in enumerate(region.staff):
            self.by_role.setdefault(s.role, []).append(i)
            for site in s.sites:
                self.team.setdefault((site, s.role), []).append(i)
        self.by_kind: dict[str, list[int]] = {}
        for i, spec in enumerate(region.sites):
            self.by_kind.setdefault(spec.kind, []).append(i)
        self.peer_of = {m.patient: m.peer for m in region.matches}
        self.modality_tables = {
            (matched, over): _Table(_modality_weights(matched, over), list(rules.modalities))
            for matched in (False, True)
            for over in (False, True)
        }
        attendance = list(rules.attendance)
        self.attendance_tables = {
            "usual": _Table(_ATTENDANCE_WEIGHTS, attendance),
            "dropout": _Table(
                {**_ATTENDANCE_WEIGHTS, "did-not-attend": _DROPOUT_NO_SHOW}, attendance
            ),
            "attended": _Table({"attended": 1}, attendance),
            "missed": _Table({"did-not-attend": 2, "cancelled-patient": 1}, attendance),
        }
        reasons = list(rules.cancellation_reasons)
        self.reason_tables = {
            "cancelled-patient": _Table(_PATIENT_REASONS, reasons),
            "cancelled-service": _Table(_SERVICE_REASONS, reasons),
        }
        self.kind_tables = {
            language: _Table(
                {**_BARRIER_WEIGHTS, **({} if language == "es" else {"language": 0})}, self.kinds
            )
            for language in ("en", "es")
        }
        self.travelled = {code for code, m in rules.modalities.items() if m.in_person}
        self.locations = [
            SiteLocation(i, s.latitude, s.longitude) for i, s in enumerate(region.sites)
        ]
        groups = [i for i, s in enumerate(region.sites) if _offers_groups(s.services)]
        self.group_site = {
            i: min(groups, key=lambda g: _distance(region, i, g)) if groups else None
            for i in range(len(region.sites))
        }
        # Per patient: (from when, modality, barrier index) once an action changed things.
        self.after_action: dict[int, tuple[datetime, str, int]] = {}
        self.connectivity: set[int] = set()  # patients with an open connectivity barrier
        self.travel: dict[tuple[int, int], tuple[int | None, bool, tuple[str, ...]]] = {}
        self.booker: dict[int, int] = {}  # patient -> who books their appointments

    def staff(self, site: int, *roles: str) -> int:
        """Someone of the first of ``roles`` present at ``site`` (anywhere, failing that)."""
        for role in roles:
            people = self.team.get((site, role))
            if people:
                return people[int(self.rng.random() * len(people))]
        for role in roles:
            if self.by_role.get(role):
                return self.by_role[role][0]
        raise ValueError(f"the region has nobody of role {roles[0]!r}")

    def at(self, day: date, site: int | None, hour: int | None = None) -> datetime:
        """A quarter hour of working hours (of ``hour`` when given) on local ``day`` at
        ``site`` (the region's clock for None), in UTC."""
        zone = self.zone if site is None else self.zones[site]
        key = (zone.key, day)
        midnight = self.midnights.get(key)
        if midnight is None:
            # Clocks change at night: the offset at noon holds all working day.
            offset = datetime.combine(day, time(12), zone).utcoffset() or timedelta(0)
            midnight = self.midnights[key] = datetime.combine(day, time(0), UTC) - offset
        if hour is None:
            minutes = _SLOTS[int(self.rng.random() * len(_SLOTS))]
        else:
            minutes = hour * 60 + _pick(self.rng, (0, 15, 30, 45))
        return midnight + _MINUTE * minutes

    def past(self, days: int, site: int | None = None) -> datetime:
        """A working-hours moment in the last ``days`` days, before now."""
        moment = self.at(self.today - timedelta(days=_between(self.rng, 0, days)), site)
        return moment if moment < self.now else moment - timedelta(days=1)

    def after(self, start: datetime, low: float, high: float) -> datetime:
        """``low`` to ``high`` days after ``start``, but not after now."""
        gap = timedelta(days=low + self.rng.random() * (high - low))
        return min(self.now, start + gap)


def _offers_groups(services: Sequence[str]) -> bool:
    return "group-therapy" in services or "peer-groups" in services


def _distance(region: Region, a: int, b: int) -> float:
    sa, sb = region.sites[a], region.sites[b]
    return (sa.latitude - sb.latitude) ** 2 + (sa.longitude - sb.longitude) ** 2


def care_coordination(
    region: Region,
    rules: CoordinationRules,
    barrier_kinds: Sequence[str],
    barrier_actions: Sequence[str],
    *,
    seed: int,
    now: datetime,
    courses: Mapping[int, str] | None = None,
) -> CareCoordination:
    """The care coordination of ``region`` around ``now`` (aware), coded by ``rules`` (the
    parsed ``access.yaml``) and the codes of ``barriers.yaml``. ``courses`` maps episode
    indexes to their course (``assessments.COURSES``, as the assessment histories drew
    them) so goals and attendance follow it; episodes not in it draw one. Region patients
    and episodes line up one to one (``region.episodes[i].patient == i``)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    b = _Builder(
        region, rules, barrier_kinds, barrier_actions, random.Random(seed * 7927 + 31), now
    )
    course = dict(courses or {})
    open_episodes = [i for i, e in enumerate(region.episodes) if e.status in OPEN_EPISODE]
    for i in open_episodes:
        if i not in course:
            course[i] = _course(b.rng)
    for i in open_episodes:
        if b.kinds and b.rng.random() < BARRIER_SHARE:
            _barriers(b, region.episodes[i])
    for i in open_episodes:
        if b.rng.random() < REFERRAL_SHARE:
            _referral(b, i, urgent_overdue=False)
    _overdue_referrals(b, open_episodes)
    for i in open_episodes:
        _appointments(b, i, course[i])
    _referral_appointments(b)
    _today_at_every_site(b, open_episodes)
    for i in open_episodes:
        e = region.episodes[i]
        if e.first_contact_date is not None and b.rng.random() < GOAL_SHARE:
            _goals(b, i, course[i])
    _reminders(b)
    return b.out


def _course(rng: random.Random) -> str:
    total = sum(w for _, w in _COURSES)
    pick = rng.random() * total
    for name, weight in _COURSES:
        pick -= weight
        if pick < 0:
            return name
    return _COURSES[-1][0]


# --- barriers --------------------------------------------------------------------------------


def _barriers(b: _Builder, e: EpisodeSpec) -> None:
    """One barrier (now and then two) for the episode's patient, with its history."""
    table = b.kind_tables["es" if b.region.patients[e.patient].language == "es" else "en"]
    for _ in range(1 if b.rng.random() < 0.85 else 2):
        kind = table.draw(b.rng)
        if kind:
            _barrier(b, e.patient, kind)


def _barrier(b: _Builder, who: int, kind: str) -> None:
    patient = b.region.patients[who]
    rng = b.rng
    source = "chw" if rng.random() < 0.4 else "coordinator"
    raiser = b.staff(patient.site, source, "coordinator", "clinician")
    raised = b.past(PAST_DAYS, patient.site)
    age = (b.now - raised).days
    r = rng.random()
    if age < 3:
        status = "open" if r < 0.8 else "in_progress"
    else:
        status = "open" if r < 0.3 else "in_progress" if r < 0.63 else "resolved"
        if status == "resolved" and rng.random() < 0.2:
            status = "unresolved"
    actor = b.staff(patient.site, "coordinator", "chw")
    steps: list[BarrierStepSpec] = []
    if status == "open" and rng.random() < 0.35:
        steps.append(BarrierStepSpec("", "open", _OPEN_NOTE, actor, b.after(raised, 0.1, 5)))
    elif status != "open":
        action = _action_for(b, kind)
        acted = b.after(raised, 0.05, min(10, max(1, age)))
        steps.append(
            BarrierStepSpec(action, "in_progress", _ACTION_NOTES.get(action, ""), actor, acted)
        )
        if status in ("resolved", "unresolved"):
            ended = b.after(acted, 3, 30)
            note = _RESOLVED_NOTE if status == "resolved" else _UNRESOLVED_NOTE
            if ended <= acted:
                status = "in_progress"
            else:
                steps.append(BarrierStepSpec("", status, note, actor, ended))
    last_action = next((s.action for s in reversed(steps) if s.action), "")
    closed = steps[-1].at if status in ("resolved", "unresolved") else None
    number = len(b.out.barriers)
    b.out.barriers.append(
        BarrierSpec(
            patient=who,
            kind=kind,
            status=status,
            source=source,
            note=_BARRIER_NOTES.get(kind, ""),
            action=last_action,
            raised_by=raiser,
            raised_at=raised,
            updated_at=steps[-1].at if steps else raised,
            closed_at=closed,
            steps=tuple(steps),
        )
    )
    if kind == "connectivity" and status in ("open", "in_progress"):
        b.connectivity.add(who)
    modality = _MODALITY_AFTER.get(last_action, "")
    if modality in b.rules.modalities and status != "unresolved":
        b.after_action[who] = (steps[0].at, modality, number)


def _action_for(b: _Builder, kind: str) -> str:
    fitting = [a for a in _ACTIONS_FOR.get(kind, ()) if a in b.actions]
    if fitting and b.rng.random() < 0.85:
        return fitting[0] if b.rng.random() < 0.6 else _pick(b.rng, fitting)
    return _pick(b.rng, b.actions) if b.actions else ""


# --- referrals -------------------------------------------------------------------------------


def _destination(b: _Builder, from_site: int, patient: PatientSpec) -> int | None:
    kind = b.region.sites[from_site].kind
    options = _REFER_TO.get(kind, (("regional-hospital", 1),))
    for _ in range(4):
        target = _Table(dict(options), [k for k, _ in options]).draw(b.rng)
        if target == "home":
            site = patient.site
        else:
            sites = b.by_kind.get(target) or []
            if not sites:
                continue
            site = min(sites, key=lambda s: _distance(b.region, from_site, s))
        if site != from_site:
            return site
    return None


def _referral(b: _Builder, episode: int, *, urgent_overdue: bool) -> None:
    """A referral from the episode's site; ``urgent_overdue``: urgent, past its deadline
    and still waiting to be accepted."""
    rng, rules = b.rng, b.rules
    e = b.region.episodes[episode]
    patient = b.region.patients[e.patient]
    to_site = _destination(b, e.site, patient)
    if to_site is None:
        return
    urgent = urgent_overdue or rng.random() < 0.15
    urgency = "urgent" if urgent else "routine"
    if urgent_overdue:
        # Sent in working hours, days enough ago that the deadline has passed.
        days = -(-rules.referrals.accept_within_hours[urgency] // 24) + 1  # whole days, rounded up
        sent = b.at(b.today - timedelta(days=days + _between(rng, 0, 2)), e.site)
    else:
        sent = b.past(PAST_DAYS - 15, e.site)
    deadline = acceptance_deadline(sent, urgency, rules.referrals)
    spec = ReferralSpec(
        patient=e.patient,
        episode=episode,
        from_site=e.site,
        to_site=to_site,
        reason=_URGENT_REASON
        if urgent
        else _REFERRAL_REASONS.get(b.region.sites[to_site].kind, ""),
        urgency=urgency,
        status="sent",
        sent_by=b.staff(e.site, "coordinator", "clinician")
        if rng.random() < 0.6
        else b.staff(e.site, "clinician", "coordinator"),
        sent_at=sent,
        deadline_at=deadline,
        accepted_by=None,
        accepted_at=None,
        scheduled_for=None,
        seen_at=None,
        closed_at=None,
        status_note="",
        overdue_at=None,
        updated_at=sent,
    )
    if not urgent_overdue:
        spec = _referral_outcome(b, spec)
    if spec.status == "sent" and spec.deadline_at <= b.now:
        spec = replace(spec, overdue_at=min(b.now, spec.deadline_at + timedelta(minutes=5)))
    b.out.referrals.append(spec)


def _referral_outcome(b: _Builder, r: ReferralSpec) -> ReferralSpec:
    """Where the referral got to by now: within its deadline most are still waiting; past
    it most were accepted and many seen, a few declined or cancelled, a few still wait."""
    rng = b.rng
    x = rng.random()
    if r.deadline_at > b.now:
        status = (
            "sent"
            if x < 0.55
            else "accepted"
            if x < 0.85
            else "scheduled"
            if x < 0.95
            else "declined"
        )
    else:
        status = (
            "seen"
            if x < 0.35
            else "scheduled"
            if x < 0.6
            else "accepted"
            if x < 0.74
            else "declined"
            if x < 0.86
            else "cancelled"
            if x < 0.92
            else "sent"
        )
        if status == "sent" and r.urgency == "urgent":
            status = "accepted"
    if status == "sent":
        return r
    window = (min(r.deadline_at, b.now) - r.sent_at).total_seconds() / 86400
    answered = b.after(r.sent_at, window * 0.05, window * 0.9)
    if status in ("declined", "cancelled"):
        note = _DECLINED_NOTE if status == "declined" else _CANCELLED_NOTE
        return replace(r, status=status, closed_at=answered, status_note=note, updated_at=answered)
    accepter = b.staff(r.to_site, "coordinator", "clinician")
    r = replace(
        r, status="accepted", accepted_by=accepter, accepted_at=answered, updated_at=answered
    )
    if status == "accepted":
        return r
    return _scheduled(b, r, see=status == "seen")


def _scheduled(b: _Builder, r: ReferralSpec, *, see: bool) -> ReferralSpec:
    """Booked at the receiving site: seen already (``see``) when there was time, else
    upcoming."""
    assert r.accepted_at is not None
    booked = b.after(r.accepted_at, 0.02, 2)
    day = r.accepted_at.astimezone(b.zones[r.to_site]).date() + timedelta(
        days=_between(b.rng, 3, 21)
    )
    when = b.at(_weekday(day), r.to_site)
    if see and when + timedelta(hours=1) < b.now:
        seen = min(b.now, when + timedelta(minutes=45 + _between(b.rng, 0, 180)))
        return replace(r, status="seen", scheduled_for=when, seen_at=seen, updated_at=seen)
    if when <= b.now:
        when = b.at(_weekday(b.today + timedelta(days=_between(b.rng, 1, AHEAD_DAYS))), r.to_site)
    return replace(r, status="scheduled", scheduled_for=when, updated_at=booked)


def _overdue_referrals(b: _Builder, open_episodes: Sequence[int]) -> None:
    """A couple of urgent referrals past their deadline, still waiting, at every clinic (two
    at the demo coordinator's), so the overdue flag shows on each coordinator's home."""
    demo = next((s for s in b.region.staff if s.username == "demo-coordinator"), None)
    demo_site = demo.sites[0] if demo and demo.sites else None
    for site in b.by_kind.get("primary-care", []):
        here = [i for i in open_episodes if b.region.episodes[i].site == site]
        for i in here[: 2 if site == demo_site else 1]:
            _referral(b, i, urgent_overdue=True)


# --- appointments ----------------------------------------------------------------------------


def _weekday(day: date) -> date:
    """``day``, or the Monday after when it falls on a weekend."""
    return day + timedelta(days=7 - day.weekday()) if day.weekday() >= 5 else day


def _appointments(b: _Builder, episode: int, course: str) -> None:
    """Appointments at the step's pace from first contact (or the window's start) to
    ``AHEAD_DAYS`` ahead; for an episode still waiting for first contact, an intake."""
    e = b.region.episodes[episode]
    end = b.today + timedelta(days=AHEAD_DAYS)
    first = e.first_contact_date
    if first is None:
        _intake(b, episode, end)
        return
    start = b.today - timedelta(days=PAST_DAYS)
    low, high = _CADENCE.get(e.current_step, _CADENCE[2])
    day = first if first >= start else start + timedelta(days=_between(b.rng, 0, high))
    if e.current_step == 1 and b.rng.random() >= _STEP_ONE_BOOKED:
        end = min(end, first)  # the first visit only
    while day <= end:
        slot = day if day == first else _weekday(day)
        if slot > end:
            break
        _book(b, episode, slot, course, attended=slot == first)
        day = slot + timedelta(days=_between(b.rng, low, high))


def _intake(b: _Builder, episode: int, end: date) -> None:
    """Referred, not seen yet: an intake booked ahead, after a missed one now and then."""
    if b.rng.random() >= 0.65:
        return
    e = b.region.episodes[episode]
    missed = e.referral_date + timedelta(days=_between(b.rng, 2, 20))
    recent = b.today - timedelta(days=PAST_DAYS) <= missed < b.today
    if recent and b.rng.random() < 0.2:
        _book(b, episode, _weekday(missed), "dropout", modality="in-person", missed=True)
    day = _weekday(b.today + timedelta(days=_between(b.rng, 1, AHEAD_DAYS)))
    if day <= end:
        _book(b, episode, day, "non-responder", modality="in-person")


def _travel(b: _Builder, patient: int, site: int) -> tuple[int | None, bool, tuple[str, ...]]:
    """(one-way minutes, over the travel limits, modalities suggested instead) from the
    patient's home to ``site``, as ``appointment_book`` works them out."""
    key = (patient, site)
    found = b.travel.get(key)
    if found is None:
        p = b.region.patients[patient]
        rows = travel_to_sites((p.latitude, p.longitude), [b.locations[site]], b.rules.travel)
        if rows:
            advice = suggest(
                rows[0], b.rules.travel, connectivity_barrier=patient in b.connectivity
            )
            found = (rows[0].minutes, advice.over_limit, advice.modalities)
        else:
            found = (None, False, ())
        b.travel[key] = found
    return found


def _modality_weights(matched: bool, over_limit: bool) -> dict[str, float]:
    """Peer contacts only with a peer supporter; fewer trips when travel is over limits."""
    weights: dict[str, float] = dict(_MODALITY_WEIGHTS)
    if not matched:
        weights["peer-contact"] = 0
    if over_limit:
        weights["in-person"] /= 4
        weights["group"] /= 4
    return weights


def _place(
    b: _Builder, e: EpisodeSpec, modality: str, site: int | None
) -> tuple[int | None, int | None]:
    """(site, staff) of a contact: the episode's site and lead clinician; a CHW at home;
    the nearest group to home; the patient's peer supporter. ``site``: it happens there
    (a referral's receiving site, today's list of a site)."""
    patient = b.region.patients[e.patient]
    if modality == "home-visit":
        return None, b.staff(patient.site, "chw", "clinician")
    if modality == "peer-contact":
        return None, b.peer_of.get(e.patient)
    roles = ("chw", "clinician") if modality == "group" else ("clinician", "coordinator")
    if site is not None and site != e.site:
        return site, b.staff(site, *roles)
    if modality == "group":
        near = b.group_site.get(patient.site)
        where = e.site if near is None or site is not None else near
        return where, b.staff(where, *roles)
    if modality == "phone" and b.rng.random() < 0.4:
        return e.site, b.staff(e.site, "chw", "coordinator", "clinician")
    return e.site, e.clinician


def _book(
    b: _Builder,
    episode: int,
    day: date,
    course: str,
    *,
    modality: str = "",
    attended: bool = False,
    missed: bool = False,
    site: int | None = None,
    starts: datetime | None = None,
    referral: int | None = None,
) -> None:
    """One appointment on local ``day`` (at ``starts`` when given); its attendance when it
    is over by now (``attended``: it was; ``missed``: it did not happen)."""
    rng = b.rng
    e = b.region.episodes[episode]
    barrier = None
    if not modality:
        over = _travel(b, e.patient, e.site)[1]
        modality = b.modality_tables[e.patient in b.peer_of, over].draw(rng)
        change = b.after_action.get(e.patient)
        if change is not None and change[0].date() < day:
            modality, barrier = change[1], change[2]
            del b.after_action[e.patient]  # the first one after the action carries the link
    where, staff = _place(b, e, modality, site)
    if starts is None:
        starts = b.at(day, where if where is not None else e.site)
    minutes = _pick(rng, _MINUTES.get(modality, (45,)))
    booked = starts - _DAY * _between(rng, 1, 28) - _HOUR * _between(rng, 0, 6)
    latest = b.now - _MINUTE * _between(rng, 5, 600)
    booked = booked if booked < latest else latest
    booker = b.booker.get(e.patient)
    if booker is None:  # each patient's bookings are made by the same person of their site
        booker = b.booker[e.patient] = b.staff(
            b.region.patients[e.patient].site, "coordinator", "chw", "clinician"
        )
    attendance, reason, at = _outcome(
        b, course, starts, minutes, booked, attended=attended, missed=missed
    )
    recorder = None
    if attendance:
        in_team = staff is not None and b.region.staff[staff].role in CARE_TEAM
        recorder = staff if in_team and attendance not in CANCELLED else booker
    travel_minutes: int | None = None
    suggested: tuple[str, ...] = ()
    if where is not None and modality in b.travelled:
        travel_minutes, over, instead = _travel(b, e.patient, where)
        suggested = instead if over else ()
    b.out.appointments.append(
        AppointmentSpec(  # positional: keywords cost more than the rest of a row here
            e.patient,
            episode,
            modality,
            where,
            staff,
            starts,
            minutes,
            travel_minutes,
            suggested,
            booker,
            booked,
            attendance,
            reason,
            recorder,
            at,
            barrier,
            referral,
        )
    )


def _outcome(
    b: _Builder,
    course: str,
    starts: datetime,
    minutes: int,
    booked: datetime,
    *,
    attended: bool,
    missed: bool,
) -> tuple[str, str, datetime | None]:
    """(attendance, cancellation reason, when recorded) of an appointment over by now;
    nothing for one still to come or under way."""
    rng = b.rng
    ends = starts + _MINUTE * minutes
    if ends > b.now:
        return "", "", None
    variant = (
        "attended"
        if attended
        else "missed"
        if missed
        else "dropout"
        if course == "dropout"
        else "usual"
    )
    attendance = b.attendance_tables[variant].draw(rng)
    if not attendance:
        return "", "", None
    if attendance not in CANCELLED:
        recorded = ends + _MINUTE * _between(rng, 5, 240)
        return attendance, "", recorded if recorded < b.now else b.now
    reason = b.reason_tables[attendance].draw(rng) if attendance in b.reason_tables else ""
    at = max(booked + 30 * _MINUTE, starts - _HOUR * _between(rng, 2, 72))
    return attendance, reason, min(at, starts - 5 * _MINUTE)


def _referral_appointments(b: _Builder) -> None:
    """The booked visit of every scheduled or seen referral, at the receiving site."""
    for k, r in enumerate(b.out.referrals):
        if r.scheduled_for is None:
            continue
        local = r.scheduled_for.astimezone(b.zones[r.to_site])
        _book(
            b,
            r.episode,
            local.date(),
            "non-responder",
            modality="in-person",
            attended=r.status == "seen",
            site=r.to_site,
            starts=r.scheduled_for,
            referral=k,
        )


def _today_at_every_site(b: _Builder, open_episodes: Sequence[int]) -> None:
    """Top every site up to ``TODAY_PER_SITE`` appointments today, for patients in care
    there (treated there first, then registered there)."""
    counts: dict[int, int] = {}
    busy: set[int] = set()
    for a in b.out.appointments:
        if a.site is not None and a.starts_at.astimezone(b.zones[a.site]).date() == b.today:
            counts[a.site] = counts.get(a.site, 0) + 1
            busy.add(a.patient)
    episodes, patients = b.region.episodes, b.region.patients
    treated: dict[int, list[int]] = {}
    registered: dict[int, list[int]] = {}
    for i in open_episodes:
        treated.setdefault(episodes[i].site, []).append(i)
        home = patients[episodes[i].patient].site
        if home != episodes[i].site:
            registered.setdefault(home, []).append(i)
    # Patients treated at a site first, everywhere; then patients registered there.
    for pool in (treated, registered):
        for site, spec in enumerate(b.region.sites):
            modality = {"community-centre": "group", "telehealth-hub": "video"}.get(
                spec.kind, "in-person"
            )
            for i in pool.get(site, ()):
                if counts.get(site, 0) >= TODAY_PER_SITE:
                    break
                if episodes[i].patient in busy:
                    continue
                busy.add(episodes[i].patient)
                _book(b, i, b.today, "non-responder", modality=modality, site=site)
                counts[site] = counts.get(site, 0) + 1


# --- goals -----------------------------------------------------------------------------------


def _goals(b: _Builder, episode: int, course: str) -> None:
    """One goal, now and then two, set soon after first contact and rated every few weeks."""
    rng = b.rng
    e = b.region.episodes[episode]
    patient = b.region.patients[e.patient]
    first = e.first_contact_date
    assert first is not None
    language = "es" if patient.language == "es" else "en"
    chosen: list[int] = []
    for _ in range(1 if rng.random() < 0.75 else 2):
        k = int(rng.random() * len(GOALS))
        if k in chosen:
            continue
        chosen.append(k)
        created = b.at(first + timedelta(days=_between(rng, 0, 14)), patient.site)
        if created >= b.now:
            continue
        author = (
            e.clinician
            if rng.random() < 0.4
            else b.staff(patient.site, "coordinator" if rng.random() < 0.65 else "chw", "clinician")
        )
        ratings = _ratings(b, course, created, author)
        closed = None
        if course == "improver" and ratings[-1].rating >= 8 and rng.random() < 0.4:
            closed = min(b.now, ratings[-1].rated_at + timedelta(minutes=10))
        b.out.goals.append(
            GoalSpec(e.patient, episode, GOALS[k][language], author, created, closed, ratings)
        )


def _ratings(b: _Builder, course: str, created: datetime, author: int) -> tuple[RatingSpec, ...]:
    """A first rating when the goal is set, then every four to eight weeks over the last
    ``_GOAL_RATING_DAYS`` days: rising for improvers, falling for deteriorators, about
    level otherwise; dropouts stop rating."""
    rng = b.rng
    value = float(_between(rng, 1, 4))
    out = [RatingSpec(int(value), created, author)]
    when = max(created, b.now - timedelta(days=_GOAL_RATING_DAYS)) + timedelta(
        days=_between(rng, 28, 56)
    )
    limit = 1 if course == "dropout" else 6
    while when < b.now and len(out) <= limit:
        if course == "improver":
            value += 0.3 + rng.random() * 1.1
        elif course == "deteriorator":
            value -= rng.random() * 0.9
        else:
            value += _pick(rng, (-1.0, -0.5, 0.0, 0.0, 0.5, 1.0))
        value = min(10.0, max(0.0, value))
        out.append(RatingSpec(round(value), when, author))
        when += timedelta(days=_between(rng, 28, 56))
    return tuple(out)


# --- reminders -------------------------------------------------------------------------------


def _reminders(b: _Builder) -> None:
    """The reminders of every appointment still to come, for patients who get messages:
    planned when due later; handed to the outbox when due already (a few failed)."""
    leads = b.rules.reminders.lead_hours
    patients = b.region.patients
    failed_at: set[int] = set()  # registered sites with a failed reminder
    for k, a in enumerate(b.out.appointments):
        if a.starts_at <= b.now or a.attendance:
            continue
        p = patients[a.patient]
        if p.channel not in ("sms", "email"):
            continue
        local = b.rules.local_for(b.region.sites[a.site if a.site is not None else p.site].code)
        for lead, planned in reminder_times(a.starts_at, leads, a.booked_at):
            send_at = outside_quiet_hours(planned, local)
            if is_stale(starts_at=a.starts_at, send_at=send_at):
                continue
            b.out.reminders.append(_reminder(b, k, lead, p, send_at, a.booked_at, failed_at))


def _reminder(
    b: _Builder,
    appointment: int,
    lead: int,
    patient: PatientSpec,
    send_at: datetime,
    booked: datetime,
    failed_at: set[int],
) -> ReminderSpec:
    if send_at > b.now:
        return ReminderSpec(
            appointment, lead, patient.channel, send_at, "planned", "", "", booked, None
        )
    handled = min(b.now, send_at + timedelta(seconds=_between(b.rng, 5, 90)))
    # At least one failure among each site's patients, for every coordinator to see.
    fails = b.rng.random() < FAILED_SHARE or patient.site not in failed_at
    if fails:
        failed_at.add(patient.site)
    return ReminderSpec(
        appointment,
        lead,
        patient.channel,
        send_at,
        "queued",
        "failed" if fails else "sent",
        _FAILED_ERRORS.get(patient.channel, "") if fails else "",
        booked,
        handled,
    )
