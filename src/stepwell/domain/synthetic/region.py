"""A synthetic rural region: sites, staff, peers, patients and episodes, from a seed.

Pure and deterministic: the same ``patients``, ``seed`` and ``today`` give the same region.
Nothing here is real; names are plainly invented and phone numbers are in the 555-01xx
range reserved for fiction. The numbers below shape a plausible demo, they are not clinical
rules.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from stepwell.domain.synthetic.names import FAMILY_SYNTHETIC, GIVEN_EN, GIVEN_ES

_RECORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_KM_PER_DEG_LAT = 111.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SiteSpec:
    code: str
    name: str
    kind: str
    latitude: float
    longitude: float
    steps: tuple[int, ...]
    services: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StaffSpec:
    username: str
    first_name: str
    last_name: str
    role: str
    sites: tuple[int, ...]  # indexes into Region.sites
    language: str
    languages: tuple[str, ...] = ("en",)


@dataclass(slots=True)
class PatientSpec:
    record_number: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    gender: str
    language: str
    phone: str
    email: str
    channel: str
    consent_peer_support: bool
    consent_share_with_peer: bool
    latitude: float
    longitude: float
    site: int
    username: str | None = None


@dataclass(frozen=True, slots=True)
class StepSpec:
    from_step: int | None
    to_step: int
    at: datetime
    reason: str


@dataclass(slots=True)
class EpisodeSpec:
    patient: int
    site: int
    referral_source: str
    referral_date: date
    first_contact_date: date | None
    current_step: int
    status: str
    discharge_reason: str
    discharge_date: date | None
    steps: list[StepSpec]
    clinician: int  # index into Region.staff


@dataclass(frozen=True, slots=True)
class MatchSpec:
    peer: int  # index into Region.staff
    patient: int
    approved_by: int
    approved_at: datetime


@dataclass(frozen=True, slots=True)
class PeerSpec:
    """A peer supporter's place in the programme: a lifecycle state of
    ``content/peers/programme.yaml`` entered on ``state_since``. ``lapse`` marks an active
    peer who shows a matching exclusion in the demo: ``"certification"`` (a renewable module
    lapsed) or ``"supervision"`` (overdue); ``""`` for everyone else."""

    staff: int  # index into Region.staff
    state: str
    joined_on: date
    state_since: date
    max_patients: int | None  # None: the programme's default
    lapse: str = ""


@dataclass(slots=True)
class Region:
    sites: list[SiteSpec]
    staff: list[StaffSpec]
    patients: list[PatientSpec]
    episodes: list[EpisodeSpec]
    matches: list[MatchSpec]
    demo_logins: dict[str, str] = field(default_factory=dict)  # role -> username
    peers: list[PeerSpec] = field(default_factory=list)  # one per staff member of role peer


# A valley region with a market town; the tertiary centre is in the capital, far away.
_CENTRE = (37.60, -106.05)
_SITES: tuple[tuple[str, str, str, float, float, tuple[int, ...], tuple[str, ...]], ...] = (
    (
        "clinic-pinecrest",
        "Pinecrest Health Post",
        "primary-care",
        0.00,
        0.00,
        (1, 2),
        ("primary-care", "telehealth", "chw-visits"),
    ),
    (
        "clinic-dry-creek",
        "Dry Creek Clinic",
        "primary-care",
        0.35,
        -0.42,
        (1, 2),
        ("primary-care", "telehealth", "chw-visits"),
    ),
    (
        "clinic-mesa-alta",
        "Mesa Alta Family Clinic",
        "primary-care",
        -0.28,
        0.31,
        (1, 2),
        ("primary-care", "telehealth"),
    ),
    (
        "clinic-willow-bend",
        "Willow Bend Clinic",
        "primary-care",
        0.52,
        0.18,
        (1, 2),
        ("primary-care", "chw-visits"),
    ),
    (
        "clinic-san-isidro",
        "San Isidro Rural Clinic",
        "primary-care",
        -0.47,
        -0.25,
        (1, 2),
        ("primary-care", "telehealth", "chw-visits"),
    ),
    (
        "clinic-cold-springs",
        "Cold Springs Health Post",
        "primary-care",
        0.12,
        0.58,
        (1, 2),
        ("primary-care",),
    ),
    (
        "cc-valley",
        "Valley Community Centre",
        "community-centre",
        0.05,
        -0.08,
        (1, 3),
        ("workshops", "group-therapy", "peer-groups"),
    ),
    (
        "cc-north-fork",
        "North Fork Community Hall",
        "community-centre",
        0.44,
        -0.05,
        (1, 3),
        ("workshops", "peer-groups"),
    ),
    (
        "cc-la-loma",
        "La Loma Centro Comunitario",
        "community-centre",
        -0.36,
        0.02,
        (1, 3),
        ("workshops", "group-therapy", "peer-groups"),
    ),
    (
        "hub-tele",
        "Regional Telehealth Hub",
        "telehealth-hub",
        0.02,
        0.04,
        (2, 3, 4),
        ("telehealth", "telepsychiatry", "tele-groups"),
    ),
    (
        "hosp-regional",
        "Sierra Vista Regional Hospital",
        "regional-hospital",
        0.08,
        0.10,
        (2, 3, 4),
        ("psychiatry", "pain", "sleep", "group-therapy", "rehabilitation"),
    ),
    (
        "tertiary-capital",
        "Capital University Hospital",
        "tertiary-centre",
        1.65,
        0.45,
        (4,),
        ("telepsychiatry", "specialised-psychotherapy", "rehabilitation", "intake"),
    ),
)
_CLINICS = tuple(range(6))
_COMMUNITY = (6, 7, 8)
_HUB, _REGIONAL, _TERTIARY = 9, 10, 11

# Staff per site index: (role, count).
_STAFFING: dict[int, tuple[tuple[str, int], ...]] = {
    **{i: (("clinician", 2), ("coordinator", 1), ("chw", 2)) for i in _CLINICS},
    **{i: (("chw", 1), ("coordinator", 1)) for i in _COMMUNITY},
    _HUB: (("clinician", 2),),
    _REGIONAL: (("clinician", 4), ("coordinator", 1)),
    _TERTIARY: (("clinician", 3),),
}

_REFERRAL_SOURCES = (
    "primary-care",
    "primary-care",
    "primary-care",
    "self",
    "chw",
    "hospital",
    "emergency",
    "specialist",
    "peer",
)
_START_REASONS = {
    1: "Baseline below caseness on all measures: self-management and psychoeducation.",
    2: "Baseline in the moderate range: brief intervention with weekly check-ins.",
    3: "Baseline moderately severe: structured therapy and group sessions.",
    4: "Complex presentation with comorbidity: referred for complex care.",
}
_UP_REASON = "No reliable improvement after 8 weeks at step {frm}: stepped up to {to}."
_DOWN_REASON = "Below caseness at two reviews 4 weeks apart: stepped down to {to}."
# Share of peers at each lifecycle stage other than active (at least one each); the rest are
# active. Of the active peers, about LAPSE_SHARE (at least one) have a lapsed certification
# and as many overdue supervision, so a matching run has exclusions to explain.
PEER_STAGES = (
    ("applicant", 0.04),
    ("in_training", 0.08),
    ("certified", 0.04),
    ("paused", 0.05),
    ("retired", 0.05),
)
ACTIVE = "active"
LAPSE_SHARE = 0.03
_DISCHARGE = (
    ("recovered", 40),
    ("completed", 25),
    ("dropped-out", 20),
    ("declined", 6),
    ("moved", 5),
    ("transferred", 4),
)


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    # random.choice draws bits one call at a time; one float is several times faster here.
    return seq[int(rng.random() * len(seq))]


def _between(rng: random.Random, low: int, high: int) -> int:
    """A whole number from low to high inclusive."""
    return low + int(rng.random() * (high - low + 1))


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    total = sum(w for _, w in pairs)
    pick = rng.random() * total
    for value, weight in pairs:
        pick -= weight
        if pick < 0:
            return value
    return pairs[-1][0]


def _sites() -> list[SiteSpec]:
    lat0, lon0 = _CENTRE
    return [
        SiteSpec(code, name, kind, round(lat0 + dlat, 5), round(lon0 + dlon, 5), steps, services)
        for code, name, kind, dlat, dlon, steps, services in _SITES
    ]


def _name(rng: random.Random, language: str) -> tuple[str, str]:
    pool = GIVEN_ES if language == "es" else GIVEN_EN
    return _pick(rng, pool), _pick(rng, FAMILY_SYNTHETIC)


def _staff(rng: random.Random, n_peers: int) -> list[StaffSpec]:
    staff: list[StaffSpec] = []
    counters: dict[str, int] = {}

    def add(role: str, sites: tuple[int, ...], languages: tuple[str, ...]) -> None:
        counters[role] = counters.get(role, 0) + 1
        first, last = _name(rng, languages[-1])
        staff.append(
            StaffSpec(
                f"{role.replace('_', '-')}-{counters[role]:03d}",
                first,
                last,
                role,
                sites,
                languages[0],
                languages,
            )
        )

    for site, roles in _STAFFING.items():
        for role, count in roles:
            for _ in range(count):
                add(role, (site,), ("en", "es") if rng.random() < 0.5 else ("en",))
    local = _CLINICS + _COMMUNITY
    for _ in range(n_peers):
        home = _pick(rng, local)
        sites = (home,) if rng.random() < 0.7 else (home, _pick(rng, local))
        add("peer", tuple(sorted(set(sites))), ("es", "en") if rng.random() < 0.5 else ("en",))
    add("peer_supervisor", local[: len(local) // 2 + 1], ("en", "es"))
    add("peer_supervisor", local[len(local) // 2 :], ("en",))
    add("manager", (), ("en",))
    add("admin", (), ("en",))
    return staff


def _record_number(rng: random.Random, used: set[str]) -> str:
    while True:
        bits = rng.getrandbits(40)  # 8 letters of a 32-letter alphabet
        value = "SW-" + "".join(_RECORD_ALPHABET[(bits >> (5 * k)) & 31] for k in range(8))
        if value not in used:
            used.add(value)
            return value


def _patient(
    rng: random.Random, i: int, sites: list[SiteSpec], used: set[str], today: date
) -> PatientSpec:
    language = "es" if rng.random() < 0.4 else "en"
    given, family = _name(rng, language)
    r = rng.random()
    sex = "female" if r < 0.58 else "male" if r < 0.98 else "intersex" if r < 0.985 else "unknown"
    g = rng.random()
    gender = (
        "non-binary"
        if g < 0.02
        else "undisclosed"
        if g < 0.04
        else {"female": "woman", "male": "man"}.get(sex, "other")
    )
    age_days = _between(rng, 18 * 365, 86 * 365)
    c = rng.random()
    channel = "sms" if c < 0.6 else "email" if c < 0.8 else "phone" if c < 0.95 else "none"
    peer_support = rng.random() < 0.55
    site = _pick(rng, _CLINICS) if rng.random() < 0.85 else _pick(rng, _COMMUNITY)
    home = sites[site]
    # Homes scatter around the registered site; up to ~40 km in the valley.
    dist_km = abs(rng.gauss(0, 14.0))
    bearing = rng.random() * 2 * math.pi
    lat = home.latitude + dist_km * math.cos(bearing) / _KM_PER_DEG_LAT
    lon = home.longitude + dist_km * math.sin(bearing) / (
        _KM_PER_DEG_LAT * math.cos(math.radians(home.latitude))
    )
    return PatientSpec(
        record_number=_record_number(rng, used),
        given_name=given,
        family_name=family,
        birth_date=today - timedelta(days=age_days),
        sex=sex,
        gender=gender,
        language=language,
        phone=f"+1555010{int(rng.random() * 100):02d}" if channel != "email" else "",
        email=f"patient{i}@example.org" if channel == "email" or rng.random() < 0.3 else "",
        channel=channel,
        consent_peer_support=peer_support,
        consent_share_with_peer=peer_support and rng.random() < 0.7,
        latitude=round(lat, 5),
        longitude=round(lon, 5),
        site=site,
    )


def _at(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(_between(rng, 8, 17), _pick(rng, (0, 15, 30, 45))), UTC)


def _episode_site(rng: random.Random, patient_site: int, step: int) -> int:
    if step <= 2:
        return patient_site if patient_site in _CLINICS else _pick(rng, _CLINICS)
    if step == 3:
        return _pick(rng, (_REGIONAL, _HUB, _COMMUNITY[0], _COMMUNITY[2]))
    return _TERTIARY if rng.random() < 0.4 else _REGIONAL


def _episode(
    rng: random.Random,
    index: int,
    patient: PatientSpec,
    today: date,
    clinicians_by_site: dict[int, list[int]],
) -> EpisodeSpec:
    referral = today - timedelta(days=_between(rng, 5, 540))
    waited = _between(rng, 0, 60)
    first_contact: date | None = referral + timedelta(days=waited)
    assert first_contact is not None
    if first_contact > today or rng.random() < 0.04:
        first_contact = None
    s = rng.random()
    current = 1 if s < 0.35 else 2 if s < 0.70 else 3 if s < 0.90 else 4
    ups = min(current - 1, _pick(rng, (0, 0, 1, 1, 2)))
    start = current - ups
    steps: list[StepSpec] = []
    status = "referred"
    discharge_reason, discharge_date = "", None
    if first_contact is None:
        start = current = min(current, 2)
        steps.append(StepSpec(None, start, _at(referral, rng), _START_REASONS[start]))
    else:
        status = "active"
        day = first_contact
        steps.append(StepSpec(None, start, _at(day, rng), _START_REASONS[start]))
        step = start
        for _ in range(ups):
            day += timedelta(days=_between(rng, 56, 90))
            if day > today:
                break
            steps.append(
                StepSpec(step, step + 1, _at(day, rng), _UP_REASON.format(frm=step, to=step + 1))
            )
            step += 1
        if step > 1 and rng.random() < 0.08:
            day += timedelta(days=_between(rng, 56, 90))
            if day <= today:
                steps.append(
                    StepSpec(step, step - 1, _at(day, rng), _DOWN_REASON.format(to=step - 1))
                )
                step -= 1
        current = step
        end = day + timedelta(days=_between(rng, 30, 150))
        if end <= today and rng.random() < 0.45:
            status, discharge_reason, discharge_date = "discharged", _weighted(rng, _DISCHARGE), end
    site = _episode_site(rng, patient.site, current)
    team = clinicians_by_site[site]
    return EpisodeSpec(
        patient=index,
        site=site,
        referral_source=_pick(rng, _REFERRAL_SOURCES),
        referral_date=referral,
        first_contact_date=first_contact,
        current_step=current,
        status=status,
        discharge_reason=discharge_reason,
        discharge_date=discharge_date,
        steps=steps,
        clinician=team[index % len(team)],
    )


def generate_region(
    *,
    patients: int,
    seed: int,
    today: date,
    progress: Callable[[int], None] | None = None,
) -> Region:
    """Generate a region with ``patients`` patients (≥ 1), one episode each.

    ``progress`` is called with the number of patients generated since the last call.
    """
    if patients < 1:
        raise ValueError("patients must be at least 1")
    rng = random.Random(seed)
    sites = _sites()
    staff = _staff(rng, n_peers=max(16, min(1500, patients // 20)))
    clinicians_by_site: dict[int, list[int]] = {}
    for i, s in enumerate(staff):
        if s.role == "clinician":
            clinicians_by_site.setdefault(s.sites[0], []).append(i)
    for site in range(len(sites)):  # every site has someone to lead an episode
        clinicians_by_site.setdefault(site, clinicians_by_site[_REGIONAL])
    used: set[str] = set()
    people: list[PatientSpec] = []
    episodes: list[EpisodeSpec] = []
    chunk = 0
    for i in range(patients):
        p = _patient(rng, i, sites, used, today)
        people.append(p)
        episodes.append(_episode(rng, i, p, today, clinicians_by_site))
        chunk += 1
        if progress and chunk == 5000:
            progress(chunk)
            chunk = 0
    if progress and chunk:
        progress(chunk)
    region = Region(sites, staff, people, episodes, [])
    _make_demo(region, rng, today)
    region.peers = _peer_lifecycle(region, rng, today)
    region.matches = _matches(region, rng, today)
    return region


def _first(staff: list[StaffSpec], role: str) -> int:
    return next(i for i, s in enumerate(staff) if s.role == role)


def _make_demo(region: Region, rng: random.Random, today: date) -> None:
    """Name one person of each role ``demo-<role>``, all at the first clinic."""
    staff = region.staff
    home = _CLINICS[0]
    for role, key in (
        ("clinician", "clinician"),
        ("coordinator", "coordinator"),
        ("chw", "chw"),
        ("peer_supervisor", "supervisor"),
        ("manager", "manager"),
        ("admin", "admin"),
    ):
        i = next(
            i for i, s in enumerate(staff) if s.role == role and (not s.sites or home in s.sites)
        )
        s = staff[i]
        staff[i] = StaffSpec(
            f"demo-{key}", s.first_name, s.last_name, s.role, s.sites, s.language, s.languages
        )
        region.demo_logins[key] = f"demo-{key}"
    peer = _first(staff, "peer")
    s = staff[peer]
    staff[peer] = StaffSpec(
        "demo-peer",
        s.first_name,
        s.last_name,
        "peer",
        tuple(sorted({home, *s.sites})),
        "en",
        ("en", "es"),
    )
    region.demo_logins["peer"] = "demo-peer"
    # The demo patient: at the first clinic, in care, wanting peer support and sharing.
    candidates = [e.patient for e in region.episodes if e.status == "active"]
    idx = candidates[0] if candidates else 0
    p = region.patients[idx]
    p.site, p.username = home, "demo-patient"
    p.consent_peer_support = p.consent_share_with_peer = True
    ep = region.episodes[idx]
    if ep.current_step <= 2:
        ep.site = home
    region.demo_logins["patient"] = "demo-patient"


def _peer_lifecycle(region: Region, rng: random.Random, today: date) -> list[PeerSpec]:
    """Most peers active; a few at every other stage; a few active ones lapsed. The demo
    peer is active and in good standing; lapsed peers are taken first from the demo
    supervisor's sites, so the demo's matching run shows why they are left out."""
    staff = region.staff
    ids = [i for i, s in enumerate(staff) if s.role == "peer"]
    demo = next(i for i in ids if staff[i].username == "demo-peer")
    others = [i for i in ids if i != demo]
    rng.shuffle(others)
    state = dict.fromkeys(ids, ACTIVE)
    taken = 0
    for stage, share in PEER_STAGES:
        count = max(1, round(len(ids) * share))
        for i in others[taken : taken + count]:
            state[i] = stage
        taken += count
    supervised = {s for x in staff if x.username == "demo-supervisor" for s in x.sites}
    active = others[taken:]
    near = [i for i in active if supervised.intersection(staff[i].sites)]
    near_set = set(near)
    lapsing = near + [i for i in active if i not in near_set]
    per_kind = max(1, round(len(ids) * LAPSE_SHARE))
    lapse = {i: "certification" for i in lapsing[0 : 2 * per_kind : 2]}
    lapse.update({i: "supervision" for i in lapsing[1 : 2 * per_kind : 2]})
    peers = []
    for i in ids:
        peers.append(_peer_spec(rng, i, state[i], lapse.get(i, ""), today))
    d = next(k for k, p in enumerate(peers) if p.staff == demo)
    peers[d] = PeerSpec(demo, ACTIVE, today - timedelta(days=500), today - timedelta(days=400), 8)
    return peers


def _peer_spec(rng: random.Random, i: int, state: str, lapse: str, today: date) -> PeerSpec:
    """Dates that fit the state: applicants joined days ago, active peers months or years."""
    ago = {
        "applicant": (3, 40),
        "in_training": (40, 150),
        "certified": (120, 250),
        "retired": (500, 1400),
    }.get(state, (200, 1100))
    joined = today - timedelta(days=_between(rng, *ago))
    if state == "applicant":
        since = joined
    elif state == "in_training":
        since = joined + timedelta(days=_between(rng, 7, 21))
    elif state in ("certified", "paused"):
        since = today - timedelta(days=_between(rng, 2, 20 if state == "certified" else 90))
    elif state == "retired":
        since = today - timedelta(days=_between(rng, 20, 300))
    else:
        since = joined + timedelta(days=_between(rng, 60, 150))
    capacity = None if state in ("applicant", "in_training") else _between(rng, 4, 8)
    return PeerSpec(i, state, joined, since, capacity, lapse)


def _matches(region: Region, rng: random.Random, today: date) -> list[MatchSpec]:
    """Active matches for about half the patients who want peer support: an active peer
    speaking their language (of their site when there is one), below the peer's capacity
    with a place or two left over for the matching run, approved by a peer supervisor of
    the patient's site."""
    staff = region.staff
    supervisors = [i for i, s in enumerate(staff) if s.role == "peer_supervisor"]
    supervising: dict[int, list[int]] = {}
    for i in supervisors:
        for site in staff[i].sites:
            supervising.setdefault(site, []).append(i)
    active = [x for x in region.peers if x.state == ACTIVE]
    by_language: dict[str, list[int]] = {"en": [], "es": []}
    by_site: dict[tuple[int, str], list[int]] = {}
    for x in active:
        for lang in staff[x.staff].languages:
            by_language.setdefault(lang, []).append(x.staff)
            for site in staff[x.staff].sites:
                by_site.setdefault((site, lang), []).append(x.staff)
    room = {x.staff: (x.max_patients or 1) - _between(rng, 0, 2) for x in active}
    since = {x.staff: x.state_since for x in active}
    demo_peer = next(x.staff for x in active if staff[x.staff].username == "demo-peer")
    room[demo_peer] = 3  # the demo patient and two more, with places left to propose
    matches: list[MatchSpec] = []
    for e in region.episodes:
        p = region.patients[e.patient]
        if e.status != "active" or not p.consent_peer_support:
            continue
        forced = p.username == "demo-patient"
        if not forced and rng.random() >= 0.5:
            continue
        pool = (
            [demo_peer]
            if forced
            else by_site.get((p.site, p.language)) or by_language.get(p.language) or []
        )
        if not pool:
            continue
        peer = _pick(rng, pool)
        if room[peer] <= 0 and not forced:
            continue
        room[peer] -= 1
        start = max(e.first_contact_date or e.referral_date, since[peer] + timedelta(days=1))
        approved = _at(min(today, start + timedelta(days=_between(rng, 3, 21))), rng)
        approver = _pick(rng, supervising.get(p.site) or supervisors)
        matches.append(MatchSpec(peer, e.patient, approver, approved))
    return matches
