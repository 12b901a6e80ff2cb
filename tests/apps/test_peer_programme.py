"""The peer programme through its services: eligibility with reasons, matching runs that
grant nothing until approved, encounters whose barriers and concerns reach the care team."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from stepwell.apps.access.selectors import visible_patients
from stepwell.apps.accounts.models import User
from stepwell.apps.coordination.selectors import barriers_open
from stepwell.apps.core.errors import InvalidInput
from stepwell.apps.peers.content import peer_content
from stepwell.apps.peers.matching import matching_run_approve, matching_run_create
from stepwell.apps.peers.models import MatchingRun, PeerMatch
from stepwell.apps.peers.services import (
    EncounterInput,
    PreferenceInput,
    ProfileInput,
    peer_encounter_record,
    peer_profile_save,
    peer_request_open,
    peer_state_change,
    supervision_session_record,
    training_completion_record,
)
from stepwell.apps.safety.models import EscalationTask
from tests.conftest import Network, make_user

PROFILE = ProfileInput(
    languages=["es", "en"],
    lived_experience=["chronic-pain"],
    gender="woman",
    modalities=["phone", "in-person"],
    availability=["tue-evening"],
    max_patients=3,
    home_latitude=37.6,
    home_longitude=-106.0,
)


def _certify(network: Network, peer_id: int, *, days_ago: int = 10) -> None:
    now = timezone.now()
    curriculum = peer_content().peer_curriculum
    for module in curriculum.required:
        training_completion_record(
            actor=network.users["peer_supervisor"],
            user_id=peer_id,
            curriculum=curriculum.code,
            module=module.code,
            completed_on=now.date() - timedelta(days=days_ago),
            passed=True,
            now=now,
        )


def _supervise(network: Network, peer_id: int, held_on: date) -> None:
    supervision_session_record(
        actor=network.users["peer_supervisor"],
        format="group-tele",
        held_on=held_on,
        minutes=60,
        attendee_ids=[peer_id],
        topics="boundaries",
        actions="",
        now=timezone.now(),
    )


def _active_peer(network: Network, username: str) -> int:
    now = timezone.now()
    peer = make_user(username, "peer", network.site_a)
    peer_profile_save(
        actor=network.users["peer_supervisor"], peer_id=peer.pk, profile=PROFILE, now=now
    )
    for state in ("in_training", "certified", "active"):
        if state == "certified":
            _certify(network, peer.pk)
        peer_state_change(
            actor=network.users["peer_supervisor"],
            peer_id=peer.pk,
            target=state,
            reason="",
            now=now,
        )
    return peer.pk


def test_an_uncertified_or_unsupervised_peer_is_excluded_with_the_reason(
    network: Network,
) -> None:
    now = timezone.now()
    ready = _active_peer(network, "peer-ready")
    lapsed = _active_peer(network, "peer-lapsed")
    _supervise(network, ready, now.date() - timedelta(days=3))
    _supervise(network, lapsed, now.date() - timedelta(days=45))
    peer_request_open(
        actor=network.users["coordinator"],
        patient_id=network.patients["a2"].pk,
        preferences=PreferenceInput(lived_experience=["chronic-pain"]),
        now=now,
    )
    run = matching_run_create(actor=network.users["peer_supervisor"], now=now)
    excluded = {x["peer"]: [r["code"] for r in x["reasons"]] for x in run.excluded_peers}
    assert "supervision-overdue" in excluded[lapsed]
    assert ready not in excluded
    proposal = run.proposals.get()
    assert proposal.peer_id == ready
    # A proposal grants nothing ...
    assert not PeerMatch.objects.filter(peer_id=ready, status="active").exists()
    ready_user = User.objects.get(pk=ready)
    assert network.patients["a2"].pk not in set(
        visible_patients(ready_user, now=now).values_list("pk", flat=True)
    )
    # ... until approved.
    made = matching_run_approve(actor=network.users["peer_supervisor"], run_id=run.pk, now=now)
    assert [m.patient_id for m in made] == [network.patients["a2"].pk]
    assert network.patients["a2"].pk in set(
        visible_patients(ready_user, now=now).values_list("pk", flat=True)
    )
    assert MatchingRun.objects.get(pk=run.pk).status == "approved"


def test_only_a_supervisor_approves_and_a_run_is_approved_once(network: Network) -> None:
    now = timezone.now()
    run = matching_run_create(actor=network.users["coordinator"], now=now)
    with pytest.raises(Exception, match="only a peer supervisor"):
        matching_run_approve(actor=network.users["coordinator"], run_id=run.pk, now=now)
    matching_run_approve(actor=network.users["peer_supervisor"], run_id=run.pk, now=now)
    with pytest.raises(InvalidInput, match="approved, not awaiting approval"):
        matching_run_approve(actor=network.users["peer_supervisor"], run_id=run.pk, now=now)


def test_an_encounter_barrier_reaches_the_coordinator_and_a_concern_opens_a_task(
    network: Network,
) -> None:
    now = timezone.now()
    patient = network.patients["a1"]  # actively matched to network.users["peer"]
    recorded = peer_encounter_record(
        actor=network.users["peer"],
        patient_id=patient.pk,
        encounter=EncounterInput(
            occurred_at=now - timedelta(hours=1),
            modality="phone",
            minutes=25,
            topics=["coping"],
            mood_before=2,
            mood_after=3,
            barriers=["transport"],
            concern="Said she sees no way out lately",
            concern_urgency="urgent",
        ),
        now=now,
    )
    assert recorded.created
    assert len(recorded.barrier_ids) == 1
    rows = barriers_open(user=network.users["coordinator"], now=now, language="en")
    assert [(r.patient_id, r.kind, r.source) for r in rows] == [
        (patient.pk, "transport", "peer-encounter")
    ]
    assert EscalationTask.objects.filter(patient=patient).exclude(status="resolved").exists()


def test_a_peer_cannot_document_an_unmatched_patient_and_bad_input_names_the_field(
    network: Network,
) -> None:
    now = timezone.now()
    from stepwell.apps.core.errors import NotFound

    with pytest.raises(NotFound):
        peer_encounter_record(
            actor=network.users["peer"],
            patient_id=network.patients["a2"].pk,  # only proposed, not approved
            encounter=EncounterInput(
                occurred_at=now, modality="phone", minutes=10, topics=["coping"]
            ),
            now=now,
        )
    with pytest.raises(InvalidInput) as bad:
        peer_encounter_record(
            actor=network.users["peer"],
            patient_id=network.patients["a1"].pk,
            encounter=EncounterInput(
                occurred_at=now,
                modality="telepathy",
                minutes=10,
                topics=["coping"],
                barriers=["dragons"],
            ),
            now=now,
        )
    fields = {p.field for p in bad.value.problems}
    # Every problem at once: the barrier code is checked with the rest, not after.
    assert {"modality", "barriers"} <= fields


def test_match_dry_run_prints_the_proposal_and_stores_nothing(network: Network) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    now = timezone.now()
    ready = _active_peer(network, "peer-dry")
    _supervise(network, ready, now.date() - timedelta(days=1))
    peer_request_open(
        actor=network.users["coordinator"],
        patient_id=network.patients["a2"].pk,
        preferences=PreferenceInput(lived_experience=["chronic-pain"]),
        now=now,
    )
    out = StringIO()
    call_command("match", "--dry-run", "--as", "super-a", "--lang", "es", stdout=out)
    text = out.getvalue()
    assert "Proposed 1 pairs" in text
    assert f"patient {network.patients['a2'].pk} - peer {ready}" in text
    assert "dolor crónico" in text  # the reasons in Spanish
    assert not MatchingRun.objects.exists()
    with pytest.raises(CommandError, match="say --dry-run"):
        call_command("match", "--as", "super-a", stdout=StringIO())
    with pytest.raises(CommandError, match="cannot run matching"):
        call_command("match", "--dry-run", "--as", "peer-a", stdout=StringIO())
