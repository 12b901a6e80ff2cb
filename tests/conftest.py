"""Shared fixtures: a small two-site network with one user of every role.

Built through the services where they exist, so tests exercise the real write paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.measurement.services import assessment_record
from stepwell.apps.network.models import Site
from stepwell.apps.outbox.gateways import OutgoingMessage
from stepwell.apps.patients.models import CareTeamMember, Patient
from stepwell.apps.patients.services import (
    EpisodeInput,
    PatientInput,
    episode_create,
    patient_create,
)
from stepwell.apps.peers.models import PeerMatch
from stepwell.apps.safety.models import OnCallShift, SafetyCover

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@dataclass
class Network:
    site_a: Site
    site_b: Site
    users: dict[str, User]
    patients: dict[str, Patient]

    def ids(self, *names: str) -> set[int]:
        return {self.patients[n].pk for n in names}


def make_user(username: str, role: str, *sites: Site) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, role=role)
    for site in sites:
        SiteMembership.objects.create(user=user, site=site)
    return user


def make_site(code: str, lat: float = 37.6) -> Site:
    return Site.objects.create(
        code=code,
        name=f"Site {code}",
        kind="primary-care",
        latitude=lat,
        longitude=-106.0,
        steps_offered=[1, 2],
        services=["primary-care"],
    )


def register(actor: User, site: Site, given: str, family: str, **extra: object) -> Patient:
    data = PatientInput(
        given_name=given,
        family_name=family,
        birth_date=date(1980, 5, 17),
        sex="female",
        gender="woman",
        preferred_language="es",
        site_id=site.pk,
        phone="+15550100",
        **extra,  # type: ignore[arg-type]
    )
    return patient_create(actor=actor, data=data, now=NOW)


def open_episode(actor: User, patient: Patient, site: Site, step: int = 2) -> None:
    episode_create(
        actor=actor,
        data=EpisodeInput(
            patient_id=patient.pk,
            site_id=site.pk,
            referral_source="primary-care",
            referral_date=date(2026, 9, 1),
            first_contact_date=date(2026, 9, 10),
            step=step,
            reason="Baseline in the moderate range.",
        ),
        now=NOW,
    )


def record_phq9(
    network: Network, patient: str, answers: list[int], days_ago: int = 0, who: str = "clinician"
) -> Assessment:
    """A PHQ-9 for ``patient`` taken ``days_ago`` days ago, through the real service."""
    now = timezone.now()
    return assessment_record(
        actor=network.users[who],
        patient_id=network.patients[patient].pk,
        instrument_code="PHQ-9",
        answers=answers,
        taken_at=now - timedelta(days=days_ago),
        mode="clinician",
        now=now,
    )


@pytest.fixture(autouse=True)
def fast_password_hashing(request: pytest.FixtureRequest, settings: object) -> None:
    """Argon2 is deliberately slow; tests use a fast hasher unless marked ``real_hashing``."""
    if "real_hashing" not in request.keywords:
        settings.PASSWORD_HASHERS = [  # type: ignore[attr-defined]
            "django.contrib.auth.hashers.MD5PasswordHasher"
        ]


@pytest.fixture
def network(db: None) -> Network:
    """Site A and site B; patients a1, a2 (site A), b1 (site B), b2 (site B, treated at A),
    b3 (site B, clinician A on the care team). The peer is matched (active) to a1 and has a
    proposal only for a2; the other peer has no matches."""
    a, b = make_site("a"), make_site("b", lat=37.9)
    users = {
        "clinician": make_user("clin-a", "clinician", a),
        "clinician_b": make_user("clin-b", "clinician", b),
        "coordinator": make_user("coord-a", "coordinator", a),
        "coordinator_b": make_user("coord-b", "coordinator", b),
        "chw": make_user("chw-a", "chw", a),
        "peer": make_user("peer-a", "peer", a),
        "peer_unmatched": make_user("peer-x", "peer", a),
        "peer_supervisor": make_user("super-a", "peer_supervisor", a),
        "manager": make_user("manager", "manager"),
        "admin": make_user("admin", "admin"),
    }
    coord_a, coord_b = users["coordinator"], users["coordinator_b"]
    patients = {
        "a1": register(
            coord_a, a, "Ana", "Testwell", consent_peer_support=True, consent_share_with_peer=True
        ),
        "a2": register(coord_a, a, "Bea", "Mockford", consent_peer_support=True),
        "b1": register(coord_b, b, "Cruz", "Sampleton"),
        "b2": register(coord_b, b, "Dario", "Fakeley"),
        "b3": register(coord_b, b, "Eva", "Prueba"),
    }
    open_episode(coord_a, patients["a1"], a, step=2)
    open_episode(coord_a, patients["a2"], a, step=1)
    open_episode(coord_b, patients["b1"], b, step=3)
    # b2 is registered at B but treated at A: site-A staff see b2 through the episode.
    SiteMembership.objects.create(user=coord_b, site=a)
    open_episode(coord_b, patients["b2"], a, step=4)
    SiteMembership.objects.filter(user=coord_b, site=a).delete()
    open_episode(coord_b, patients["b3"], b, step=2)
    episode = patients["b3"].episodes.get()
    CareTeamMember.objects.create(episode=episode, user=users["clinician"], role="consultant")
    PeerMatch.objects.create(
        peer=users["peer"],
        patient=patients["a1"],
        status="active",
        created_at=NOW,
        approved_by=users["peer_supervisor"],
        approved_at=NOW,
    )
    PeerMatch.objects.create(
        peer=users["peer"], patient=patients["a2"], status="proposed", created_at=NOW
    )
    # The patient who logs in is a1.
    users["patient"] = make_user("pat-a1", "patient")
    Patient.objects.filter(pk=patients["a1"].pk).update(user=users["patient"])
    patients["a1"].refresh_from_db()
    return Network(a, b, users, patients)


def token_for(client: Client, user: User) -> str:
    response = client.post(
        "/api/v1/auth/token",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


@pytest.fixture
def api_client() -> Client:
    return Client(enforce_csrf_checks=True)


class RecordingGateway:
    """The outside world: remembers what it was given; fails while ``failing`` is set."""

    sent: list[OutgoingMessage] = []  # reset by the ``cover`` fixture
    failing = False

    def send(self, message: OutgoingMessage) -> str:
        if RecordingGateway.failing:
            raise ConnectionError("gateway timed out")
        RecordingGateway.sent.append(message)
        return f"provider-{len(RecordingGateway.sent)}"


@dataclass
class Cover:
    on_call: Any
    fallback: Any
    shift_start: datetime


@pytest.fixture
def cover(network: Network, settings: Any) -> Cover:
    """Clinician A on call at site A for the next day; a second clinician is the fallback."""
    settings.STEPWELL_SMS_GATEWAY = "tests.conftest.RecordingGateway"
    settings.STEPWELL_EMAIL_GATEWAY = "tests.conftest.RecordingGateway"
    RecordingGateway.sent = []
    RecordingGateway.failing = False
    on_call = network.users["clinician"]
    on_call.phone, on_call.email = "+15550001", "clin-a@example.org"
    on_call.save()
    fallback = make_user("clin-a-lead", "clinician", network.site_a)
    fallback.phone, fallback.email = "+15550002", "lead@example.org"
    fallback.save()
    start = timezone.now() - timedelta(hours=1)
    OnCallShift.objects.create(
        site=network.site_a, clinician=on_call, starts_at=start, ends_at=start + timedelta(days=1)
    )
    SafetyCover.objects.create(site=network.site_a, fallback_owner=fallback)
    return Cover(on_call, fallback, start)
