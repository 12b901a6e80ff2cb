"""What a review reads from the database: the first functional score for the starting step,
any questionnaire as a contact, ids numbered by the database."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from stepwell.apps.measurement.services import assessment_record
from stepwell.apps.patients.models import Episode
from stepwell.apps.stepping.models import EpisodeFlag, Recommendation
from stepwell.apps.stepping.services import episodes_review_all
from tests.conftest import Network


def _record(network: Network, patient: str, code: str, answers: list[int], days_ago: int) -> int:
    now = timezone.now()
    return assessment_record(
        actor=network.users["clinician"],
        patient_id=network.patients[patient].pk,
        instrument_code=code,
        answers=answers,
        taken_at=now - timedelta(days=days_ago),
        mode="clinician",
        now=now,
    ).pk


def _episode(network: Network, name: str) -> Episode:
    return network.patients[name].episodes.get()


def test_the_starting_step_judges_the_first_functional_score(network: Network) -> None:
    # a1 starts at step 2 (never reviewed). Baseline: no symptoms, but WSAS 25 (> 20):
    # step 3. A later WSAS of 5 must not replace the baseline.
    _record(network, "a1", "PHQ-9", [0] * 9, 20)
    _record(network, "a1", "GAD-7", [0] * 7, 20)
    _record(network, "a1", "PHQ-15", [0] * 15, 20)
    first = _record(network, "a1", "WSAS", [5, 5, 5, 5, 5], 20)
    later = _record(network, "a1", "WSAS", [1, 1, 1, 1, 1], 2)
    episodes_review_all(now=timezone.now())
    rec = Recommendation.objects.get(episode=_episode(network, "a1"), status="open")
    assert (rec.action, rec.to_step) == ("step-up", 3)
    assert rec.reasons[0]["code"] == "start-functional"
    assert first in rec.evidence
    assert later not in rec.evidence


def test_any_completed_questionnaire_counts_as_a_contact(network: Network) -> None:
    # a1 at step 2 (check-ins every 14 days): last PHQ-9 40 days ago is overdue ...
    _record(network, "a1", "PHQ-9", [1] * 9, 40)
    episodes_review_all(now=timezone.now())
    episode = _episode(network, "a1")
    assert EpisodeFlag.objects.filter(episode=episode, code="contact-overdue").exists()
    # ... until a loneliness questionnaire (not a stepping measure) is answered yesterday.
    _record(network, "a1", "UCLA-3", [1, 1, 1], 1)
    episodes_review_all(now=timezone.now())
    assert not EpisodeFlag.objects.filter(episode=episode, code="contact-overdue").exists()


def test_review_rows_take_ids_the_database_hands_out(network: Network) -> None:
    # Reviews insert without explicit ids; an ordinary insert afterwards must not collide.
    episodes_review_all(now=timezone.now())
    episode = _episode(network, "a2")
    made = Recommendation.objects.create(
        episode=episode,
        action="stay",
        to_step=episode.current_step,
        reasons=[],
        evidence=[],
        protocol_code="stepwell-default",
        protocol_version="1.0",
        status="superseded",
        created_at=timezone.now(),
    )
    assert made.pk > max(Recommendation.objects.exclude(pk=made.pk).values_list("pk", flat=True))
    episodes_review_all(now=timezone.now())
    assert Recommendation.objects.filter(status="open").count() >= 5


def test_bulk_written_times_compare_like_orm_written_ones(network: Network) -> None:
    # The bulk path must store datetimes in the ORM's format, or an exact filter on the
    # review time (and SQL ordering against ORM-written rows) would miss them on SQLite.
    now = timezone.now()
    episodes_review_all(now=now)
    assert Recommendation.objects.filter(created_at=now).count() == 5
    assert EpisodeFlag.objects.filter(raised_at__gte=now).count() == EpisodeFlag.objects.count()
