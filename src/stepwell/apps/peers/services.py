"""Peer programme writes: profiles and lifecycle, training, supervision, support requests,
encounters (with their barriers and concerns) and groups. Matching runs are in
``matching.py``. Every write is atomic and audited; access is checked here, not in views.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from django.db import IntegrityError, transaction

from stepwell.apps.access.selectors import visibility_for
from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.coordination.content import barrier_vocabulary
from stepwell.apps.coordination.services import barrier_record
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.patients.models import Patient
from stepwell.apps.peers.content import peer_content
from stepwell.apps.peers.models import (
    GroupSession,
    MatchStatus,
    PeerEncounter,
    PeerGroup,
    PeerMatch,
    PeerProfile,
    PeerState,
    PeerSupportRequest,
    RematchRequest,
    SupervisionSession,
    TrainingCompletion,
)
from stepwell.apps.peers.selectors import (
    PROGRAMME_STAFF,
    certification_of,
    peers_of,
    staff_site_ids,
)
from stepwell.apps.safety.models import SafetyEvent
from stepwell.apps.safety.services import MAX_NOTE as SAFETY_NOTE_MAX
from stepwell.apps.safety.services import concern_raise
from stepwell.domain.access.policy import Role, View
from stepwell.domain.peers.curriculum import completion_for
from stepwell.domain.peers.lifecycle import LifecycleError, lifecycle_transition
from stepwell.domain.peers.profile import PeerEncounter as EncounterCheck
from stepwell.domain.peers.profile import PeerProfile as ProfileCheck
from stepwell.domain.peers.profile import check_encounter, check_profile
from stepwell.domain.records import FieldProblem

MAX_TEXT = 4000
CONCERN_MAX = SAFETY_NOTE_MAX  # a concern becomes a safety event's note


def _require(actor: User, roles: frozenset[Role], what: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"this role cannot {what}")


def _peer(peer_id: int) -> User:
    peer = User.objects.filter(pk=peer_id, role=Role.PEER).first()
    if peer is None:
        raise NotFound("peer")
    return peer


def _staff_peer(actor: User, peer_id: int, what: str) -> User:
    """A peer of the actor's sites, for programme staff (admins: any peer)."""
    _require(actor, PROGRAMME_STAFF, what)
    peer = peers_of(actor).filter(pk=peer_id).first()
    if peer is None:
        raise NotFound("peer")
    return peer


def _text(
    field: str,
    value: str,
    problems: list[FieldProblem],
    *,
    required: bool = False,
    limit: int = MAX_TEXT,
) -> str:
    value = (value or "").strip()
    if required and not value:
        problems.append(FieldProblem(field, "required"))
    elif len(value) > limit:
        problems.append(FieldProblem(field, f"{len(value)} characters; at most {limit}"))
    return value


# --- profiles and lifecycle ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileInput:
    languages: Sequence[str]
    lived_experience: Sequence[str]
    gender: str
    modalities: Sequence[str]
    availability: Sequence[str]
    max_patients: int | None = None
    remote_ok: bool = True
    home_latitude: float | None = None
    home_longitude: float | None = None
    travel_km: float | None = None


@transaction.atomic
def peer_profile_save(
    *, actor: User, peer_id: int, profile: ProfileInput, now: datetime
) -> PeerProfile:
    """Create or update a peer's profile. Programme staff of the peer's site, or the peer
    themself (their own profile; the lifecycle state is never changed here)."""
    peer = _peer(peer_id)
    if actor.pk != peer.pk:
        _staff_peer(actor, peer_id, "edit peer profiles")
    content = peer_content()
    check = ProfileCheck(
        languages=tuple(profile.languages),
        lived_experience=tuple(profile.lived_experience),
        gender=profile.gender,
        modalities=tuple(profile.modalities),
        availability=tuple(profile.availability),
        max_patients=profile.max_patients,
        home_latitude=profile.home_latitude,
        home_longitude=profile.home_longitude,
        travel_km=profile.travel_km,
    )
    problems = check_profile(check, content.vocabulary, content.programme)
    if problems:
        raise InvalidInput(problems)
    fields = {
        "languages": list(profile.languages),
        "lived_experience": list(profile.lived_experience),
        "gender": profile.gender,
        "modalities": list(profile.modalities),
        "availability": list(profile.availability),
        "max_patients": profile.max_patients,
        "remote_ok": profile.remote_ok,
        "home_latitude": profile.home_latitude,
        "home_longitude": profile.home_longitude,
        "travel_km": profile.travel_km,
    }
    saved, created = PeerProfile.objects.select_for_update().update_or_create(
        user=peer,
        defaults=fields,
        create_defaults={**fields, "state_changed_at": now, "created_at": now},
    )
    audit_record(
        actor=actor,
        action="peer.profile_created" if created else "peer.profile_updated",
        now=now,
        object_type="peer",
        object_id=peer.pk,
    )
    return saved


@transaction.atomic
def peer_enrol(*, actor: User, peer_id: int, profile: ProfileInput, now: datetime) -> PeerProfile:
    """Enrol a peer user in the programme (an applicant with this profile): programme staff
    of the peer's site. A peer already enrolled is refused (edit the profile instead)."""
    _staff_peer(actor, peer_id, "enrol peers")
    if PeerProfile.objects.filter(user_id=peer_id).exists():
        raise InvalidInput(
            [FieldProblem("peer_id", f"peer {peer_id} is already enrolled; edit the profile")]
        )
    return peer_profile_save(actor=actor, peer_id=peer_id, profile=profile, now=now)


@transaction.atomic
def peer_state_change(
    *, actor: User, peer_id: int, target: str, reason: str, now: datetime
) -> PeerProfile:
    """Move a peer along the lifecycle (``content/peers/programme.yaml``); becoming
    certified needs the certification curriculum complete. Pausing or retiring a peer does
    not end their matches here: the supervisor reassigns them through a matching run."""
    _staff_peer(actor, peer_id, "change a peer's status")
    profile = PeerProfile.objects.select_for_update().filter(user_id=peer_id).first()
    if profile is None:
        raise InvalidInput([FieldProblem("peer_id", f"peer {peer_id} has no profile yet")])
    content = peer_content()
    problems: list[FieldProblem] = []
    reason = _text("reason", reason, problems)
    if problems:
        raise InvalidInput(problems)
    certification = certification_of([peer_id], content, now)[peer_id]
    try:
        lifecycle_transition(profile.state, target, content.programme, certification=certification)
    except LifecycleError as exc:
        raise InvalidInput(
            [FieldProblem("state", exc.reason.text(content.programme.sentences, "en"))]
        ) from None
    before = profile.state
    profile.state = PeerState(target)
    profile.state_changed_at = now
    profile.save(update_fields=["state", "state_changed_at"])
    audit_record(
        actor=actor,
        action="peer.state_changed",
        now=now,
        object_type="peer",
        object_id=peer_id,
        reason=reason,
        details={"from": before, "to": target},
    )
    return profile


# --- training and supervision -------------------------------------------------------------


@transaction.atomic
def training_completion_record(
    *,
    actor: User,
    user_id: int,
    curriculum: str,
    module: str,
    completed_on: date,
    passed: bool,
    now: datetime,
) -> TrainingCompletion:
    """An assessed attempt at a training module, for a peer or a clinician of the actor's
    sites; the actor is the assessor. Expiry follows the module's ``valid_for_days``."""
    _require(actor, PROGRAMME_STAFF | {Role.CLINICIAN}, "record training")
    trainees = User.objects.filter(pk=user_id, is_active=True)
    sites = staff_site_ids(actor)
    if sites is not None:  # people of the actor's sites (an administrator: anyone)
        trainees = trainees.filter(memberships__site_id__in=sites)
    trainee = trainees.distinct().first()
    if trainee is None:
        raise NotFound("user")
    content = peer_content()
    problems: list[FieldProblem] = []
    known = content.curricula.get(curriculum)
    if known is None:
        problems.append(
            FieldProblem(
                "curriculum",
                f"{curriculum!r} is not one of " + ", ".join(sorted(content.curricula)),
            )
        )
    elif module not in {m.code for m in known.modules}:
        problems.append(
            FieldProblem("module", f"{module!r} is not a module of curriculum {curriculum}")
        )
    elif trainee.role not in known.certifies:
        problems.append(
            FieldProblem("curriculum", f"{curriculum} is not a curriculum for {trainee.role}")
        )
    if completed_on > now.date():
        problems.append(FieldProblem("completed_on", f"{completed_on} is in the future"))
    if problems or known is None:
        raise InvalidInput(problems)
    made = completion_for(
        known.module(module), completed_on=completed_on, assessor_id=actor.pk, passed=passed
    )
    row = TrainingCompletion.objects.create(
        user=trainee,
        curriculum=curriculum,
        module=module,
        completed_on=completed_on,
        passed=passed,
        expires_on=made.expires_on,
        assessor=actor,
        recorded_at=now,
    )
    audit_record(
        actor=actor,
        action="training.recorded",
        now=now,
        object_type="training",
        object_id=row.pk,
        details={"user": user_id, "module": module, "passed": passed},
    )
    return row


@transaction.atomic
def supervision_session_record(
    *,
    actor: User,
    format: str,
    held_on: date,
    minutes: int,
    attendee_ids: Sequence[int],
    topics: str,
    actions: str,
    encounter_ids: Sequence[int] = (),
    now: datetime,
) -> SupervisionSession:
    """A supervision session held by the actor (a peer supervisor) with peers of their
    sites, and the attendees' encounters it reviewed."""
    _require(actor, frozenset({Role.PEER_SUPERVISOR}), "record supervision")
    content = peer_content()
    problems: list[FieldProblem] = []
    formats = content.vocabulary.codes("supervision_formats")
    if format not in formats:
        problems.append(FieldProblem("format", f"{format!r} is not one of " + ", ".join(formats)))
    if held_on > now.date():
        problems.append(FieldProblem("held_on", f"{held_on} is in the future"))
    longest = content.programme.supervision_max_minutes
    if not 1 <= minutes <= longest:
        problems.append(FieldProblem("minutes", f"{minutes} is not between 1 and {longest}"))
    wanted = list(dict.fromkeys(attendee_ids))
    peers = list(peers_of(actor).filter(pk__in=wanted))
    if not wanted:
        problems.append(FieldProblem("attendee_ids", "at least one peer attended"))
    for pid in sorted(set(wanted) - {p.pk for p in peers}):
        problems.append(FieldProblem("attendee_ids", f"{pid} is not a peer you supervise"))
    encounters = list(PeerEncounter.objects.filter(pk__in=encounter_ids, peer_id__in=attendee_ids))
    missing = set(encounter_ids) - {e.pk for e in encounters}
    if missing:
        problems.append(
            FieldProblem(
                "encounter_ids",
                "not encounters of the attendees: " + ", ".join(map(str, sorted(missing))),
            )
        )
    topics = _text("topics", topics, problems)
    actions = _text("actions", actions, problems)
    if problems:
        raise InvalidInput(problems)
    session = SupervisionSession.objects.create(
        supervisor=actor,
        format=format,
        held_on=held_on,
        minutes=minutes,
        topics=topics,
        actions=actions,
        recorded_at=now,
    )
    session.attendees.set(peers)
    session.encounters_reviewed.set(encounters)
    audit_record(
        actor=actor,
        action="supervision.recorded",
        now=now,
        object_type="supervision",
        object_id=session.pk,
        details={"attendees": sorted(attendee_ids), "encounters": sorted(encounter_ids)},
    )
    return session


# --- patients waiting for a peer ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PreferenceInput:
    gender_preference: str = ""
    languages: Sequence[str] = ()
    lived_experience: Sequence[str] = ()
    modalities: Sequence[str] = ()
    availability: Sequence[str] = ()
    remote_ok: bool = True


def _care_team_patient(actor: User, patient_id: int, now: datetime) -> tuple[Patient, bool]:
    """A patient the actor's care-team role sees in full, and whether by break-the-glass."""
    vis = visibility_for(actor, now=now)
    if vis.policy.view is not View.FULL or actor.role == Role.PATIENT:
        raise Forbidden("only the care team does this")
    patient = vis.patients.filter(pk=patient_id).first()
    if patient is None:
        raise NotFound("patient")
    return patient, patient.pk in vis.break_glass_ids


def _preference_problems(prefs: PreferenceInput) -> list[FieldProblem]:
    vocabulary = peer_content().vocabulary
    problems: list[FieldProblem] = []
    for field, kind, values in (
        ("languages", "languages", prefs.languages),
        ("lived_experience", "lived_experience", prefs.lived_experience),
        ("modalities", "modalities", prefs.modalities),
        ("availability", "availability", prefs.availability),
    ):
        known = vocabulary.codes(kind)
        for value in values:
            if value not in known:
                problems.append(FieldProblem(field, f"{value!r} is not a known code"))
    genders = vocabulary.codes("genders")
    if prefs.gender_preference and prefs.gender_preference not in genders:
        problems.append(
            FieldProblem(
                "gender_preference",
                f"{prefs.gender_preference!r} is not one of " + ", ".join(genders),
            )
        )
    return problems


@transaction.atomic
def peer_request_open(
    *, actor: User, patient_id: int, preferences: PreferenceInput, now: datetime
) -> PeerSupportRequest:
    """Put a patient on the waiting list for a peer supporter (the care team, for a patient
    who consented to peer support). Replaces the preferences of an open request."""
    patient, glass = _care_team_patient(actor, patient_id, now)
    problems = _preference_problems(preferences)
    if not patient.consent_peer_support:
        problems.append(FieldProblem("patient_id", "the patient has not consented to peer support"))
    if problems:
        raise InvalidInput(problems)
    fields = {
        "gender_preference": preferences.gender_preference,
        "languages": list(preferences.languages),
        "lived_experience": list(preferences.lived_experience),
        "modalities": list(preferences.modalities),
        "availability": list(preferences.availability),
        "remote_ok": preferences.remote_ok,
    }
    request, created = PeerSupportRequest.objects.select_for_update().update_or_create(
        patient=patient,
        matched_at__isnull=True,
        defaults=fields,
        create_defaults={**fields, "patient": patient, "requested_at": now, "created_by": actor},
    )
    audit_record(
        actor=actor,
        action="peer_request.opened" if created else "peer_request.updated",
        now=now,
        patient_id=patient.pk,
        object_type="peer_request",
        object_id=request.pk,
        via_break_glass=glass,
    )
    return request


@transaction.atomic
def rematch_request_record(
    *, actor: User, patient_id: int, reason: str, note: str, now: datetime
) -> RematchRequest:
    """The patient asked for a different peer: the active match ends, the pair is never
    proposed again, and the patient waits again with the preferences they had."""
    patient, glass = _care_team_patient(actor, patient_id, now)
    vocabulary = peer_content().vocabulary
    problems: list[FieldProblem] = []
    if vocabulary.rematch_reason(reason) is None:
        problems.append(
            FieldProblem(
                "reason",
                f"{reason!r} is not one of " + ", ".join(vocabulary.codes("rematch_reasons")),
            )
        )
    note = _text("note", note, problems)
    match = (
        PeerMatch.objects.select_for_update()
        .filter(patient=patient, status=MatchStatus.ACTIVE)
        .order_by("-approved_at")
        .first()
    )
    if match is None:
        problems.append(FieldProblem("patient_id", "the patient has no active peer match"))
    if problems or match is None:
        raise InvalidInput(problems)
    match.status = MatchStatus.ENDED
    match.ended_at = now
    match.end_reason = "patient-asked-for-another"
    match.save(update_fields=["status", "ended_at", "end_reason"])
    made = RematchRequest.objects.create(
        patient=patient,
        peer_id=match.peer_id,
        reason=reason,
        note=note,
        recorded_by=actor,
        recorded_at=now,
    )
    last = PeerSupportRequest.objects.filter(patient=patient).order_by("-requested_at").first()
    if not PeerSupportRequest.objects.filter(patient=patient, matched_at__isnull=True).exists():
        PeerSupportRequest.objects.create(
            patient=patient,
            gender_preference=last.gender_preference if last else "",
            languages=last.languages if last else [],
            lived_experience=last.lived_experience if last else [],
            modalities=last.modalities if last else [],
            availability=last.availability if last else [],
            remote_ok=last.remote_ok if last else True,
            requested_at=now,
            created_by=actor,
        )
    audit_record(
        actor=actor,
        action="peer_match.rematch_requested",
        now=now,
        patient_id=patient.pk,
        object_type="peer_match",
        object_id=match.pk,
        reason=reason,
        via_break_glass=glass,
    )
    return made


# --- encounters -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EncounterInput:
    occurred_at: datetime
    modality: str
    minutes: int
    topics: Sequence[str]
    mood_before: int | None = None
    mood_after: int | None = None
    note: str = ""
    barriers: Sequence[str] = ()
    concern: str = ""
    concern_urgency: str = "soon"
    next_contact_on: date | None = None
    client_uuid: UUID | None = None


@dataclass(frozen=True, slots=True)
class EncounterRecorded:
    encounter: PeerEncounter
    created: bool  # False: the same client_uuid was recorded before (a retried send)
    barrier_ids: tuple[int, ...]
    safety_event_id: int | None


def peer_encounter_record(
    *, actor: User, patient_id: int, encounter: EncounterInput, now: datetime
) -> EncounterRecorded:
    """A peer documents an encounter with a patient they are actively matched to. Each
    disclosed barrier becomes a barrier record for the coordinator, and a concern becomes a
    safety event with its escalation task, in the same transaction. A retried send with
    the same ``client_uuid`` returns the first record unchanged."""
    _require(actor, frozenset({Role.PEER}), "record peer encounters")
    if encounter.client_uuid is not None:
        earlier = PeerEncounter.objects.filter(
            client_uuid=encounter.client_uuid, peer=actor
        ).first()
        if earlier is not None:
            return _recorded_before(earlier)
    try:
        return _encounter_store(actor, patient_id, encounter, now)
    except IntegrityError:
        # The same client_uuid stored meanwhile by a concurrent retry.
        earlier = PeerEncounter.objects.filter(client_uuid=encounter.client_uuid).first()
        if earlier is None or earlier.peer_id != actor.pk:
            raise
        return _recorded_before(earlier)


def _recorded_before(earlier: PeerEncounter) -> EncounterRecorded:
    """A retried send answers as the first did: the same barrier records and safety event."""
    barrier_ids = tuple(earlier.barrier_records.order_by("id").values_list("id", flat=True))
    event_id = (
        SafetyEvent.objects.filter(key=f"peer-encounter:{earlier.pk}")
        .values_list("id", flat=True)
        .first()
    )
    return EncounterRecorded(earlier, False, barrier_ids, event_id)


@transaction.atomic
def _encounter_store(
    actor: User, patient_id: int, encounter: EncounterInput, now: datetime
) -> EncounterRecorded:
    patient = visibility_for(actor, now=now).patients.filter(pk=patient_id).first()
    if patient is None:
        raise NotFound("patient")
    content = peer_content()
    problems = check_encounter(
        EncounterCheck(
            occurred_at=encounter.occurred_at,
            modality=encounter.modality,
            minutes=encounter.minutes,
            topics=tuple(encounter.topics),
            mood_before=encounter.mood_before,
            mood_after=encounter.mood_after,
        ),
        content.vocabulary,
        content.programme,
        now=now,
    )
    note = _text("note", encounter.note, problems)
    concern = _text("concern", encounter.concern, problems, limit=CONCERN_MAX)
    barrier_kinds = list(dict.fromkeys(encounter.barriers))
    known_barriers = barrier_vocabulary().kinds
    problems.extend(
        FieldProblem("barriers", f"{kind!r} is not one of " + ", ".join(known_barriers))
        for kind in barrier_kinds
        if kind not in known_barriers
    )
    if encounter.next_contact_on is not None and encounter.next_contact_on < now.date():
        problems.append(
            FieldProblem("next_contact_on", f"{encounter.next_contact_on} is in the past")
        )
    if problems:
        raise InvalidInput(problems)
    made = PeerEncounter.objects.create(
        patient=patient,
        peer=actor,
        occurred_at=encounter.occurred_at,
        modality=encounter.modality,
        minutes=encounter.minutes,
        topics=list(encounter.topics),
        mood_before=encounter.mood_before,
        mood_after=encounter.mood_after,
        note=note,
        barriers=barrier_kinds,
        concern=concern,
        next_contact_on=encounter.next_contact_on,
        recorded_at=now,
        client_uuid=encounter.client_uuid,
    )
    barrier_ids = tuple(
        barrier_record(
            actor=actor,
            patient_id=patient.pk,
            kind=kind,
            source="peer-encounter",
            note="",
            now=now,
            peer_encounter_id=made.pk,
        ).pk
        for kind in barrier_kinds
    )
    event_id = None
    if concern:
        event = concern_raise(
            actor=actor,
            patient_id=patient.pk,
            text=concern,
            urgency=encounter.concern_urgency,
            now=now,
            key=f"peer-encounter:{made.pk}",
        )
        event_id = event.pk
    audit_record(
        actor=actor,
        action="peer_encounter.recorded",
        now=now,
        patient_id=patient.pk,
        object_type="peer_encounter",
        object_id=made.pk,
        details={"barriers": barrier_kinds, "concern": bool(concern)},
    )
    return EncounterRecorded(made, True, barrier_ids, event_id)


# --- groups -------------------------------------------------------------------------------


@transaction.atomic
def peer_group_create(
    *,
    actor: User,
    name: str,
    kind: str,
    site_id: int,
    schedule: str,
    facilitator_ids: Sequence[int],
    now: datetime,
) -> PeerGroup:
    """A peer support or tele-support group at one of the actor's sites, facilitated by
    peers of that site."""
    _require(actor, PROGRAMME_STAFF, "create groups")
    problems: list[FieldProblem] = []
    name = _text("name", name, problems, required=True, limit=120)
    schedule = _text("schedule", schedule, problems, required=True, limit=200)
    kinds = peer_content().vocabulary.codes("group_kinds")
    if kind not in kinds:
        problems.append(FieldProblem("kind", f"{kind!r} is not one of " + ", ".join(kinds)))
    if (
        actor.role != Role.ADMIN
        and not SiteMembership.objects.filter(user=actor, site_id=site_id).exists()
    ):
        problems.append(FieldProblem("site_id", f"{site_id} is not one of your sites"))
    facilitators = list(
        User.objects.filter(
            pk__in=facilitator_ids, role=Role.PEER, memberships__site_id=site_id
        ).distinct()
    )
    if not facilitator_ids or len(facilitators) != len(set(facilitator_ids)):
        problems.append(
            FieldProblem("facilitator_ids", "every facilitator must be a peer of the group's site")
        )
    if problems:
        raise InvalidInput(problems)
    group = PeerGroup.objects.create(
        name=name, kind=kind, site_id=site_id, schedule=schedule, created_at=now
    )
    group.facilitators.set(facilitators)
    audit_record(
        actor=actor,
        action="peer_group.created",
        now=now,
        object_type="peer_group",
        object_id=group.pk,
    )
    return group


def _group_for(actor: User, group_id: int) -> PeerGroup:
    group = PeerGroup.objects.filter(pk=group_id).first()
    if group is None:
        raise NotFound("group")
    facilitates = group.facilitators.filter(pk=actor.pk).exists()
    staff = actor.role in PROGRAMME_STAFF and (
        actor.role == Role.ADMIN
        or SiteMembership.objects.filter(user=actor, site_id=group.site_id).exists()
    )
    if not (facilitates or staff):
        raise NotFound("group")
    return group


@transaction.atomic
def peer_group_members_set(
    *, actor: User, group_id: int, patient_ids: Sequence[int], now: datetime
) -> PeerGroup:
    """The group's roster: patients who consented to peer support, seen by the actor (the
    care team, or a facilitator for patients matched to them)."""
    group = _group_for(actor, group_id)
    visible = visibility_for(actor, now=now).patients
    found = {p.pk: p for p in visible.filter(pk__in=patient_ids).only("id", "consent_peer_support")}
    problems = [
        FieldProblem("patient_ids", f"{pid} is not a patient you can add")
        for pid in patient_ids
        if pid not in found
    ] + [
        FieldProblem("patient_ids", f"{pid} has not consented to peer support")
        for pid, p in found.items()
        if not p.consent_peer_support
    ]
    if problems:
        raise InvalidInput(problems)
    before = set(group.members.values_list("id", flat=True))
    group.members.set(list(found.values()))
    for pid in sorted(before.symmetric_difference(found)):
        audit_record(
            actor=actor,
            action="peer_group.member_added" if pid in found else "peer_group.member_removed",
            now=now,
            patient_id=pid,
            object_type="peer_group",
            object_id=group.pk,
        )
    return group


@transaction.atomic
def group_session_record(
    *,
    actor: User,
    group_id: int,
    held_at: datetime,
    attended_ids: Sequence[int],
    note: str,
    now: datetime,
) -> GroupSession:
    """One meeting of a group: attendance (members only) and the session note."""
    group = _group_for(actor, group_id)
    problems: list[FieldProblem] = []
    note = _text("note", note, problems)
    if held_at > now:
        problems.append(FieldProblem("held_at", f"{held_at.isoformat()} is in the future"))
    members = set(group.members.values_list("id", flat=True))
    for pid in attended_ids:
        if pid not in members:
            problems.append(FieldProblem("attended_ids", f"{pid} is not on the group's roster"))
    if problems:
        raise InvalidInput(problems)
    session = GroupSession.objects.create(
        group=group, held_at=held_at, note=note, recorded_by=actor, recorded_at=now
    )
    session.attended.set(list(dict.fromkeys(attended_ids)))
    for pid in sorted(set(attended_ids)):
        audit_record(
            actor=actor,
            action="group_session.attended",
            now=now,
            patient_id=pid,
            object_type="group_session",
            object_id=session.pk,
        )
    return session
