"""Stepped care through the REST API: review, decide, caseload; the CLI; protocol versions."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stepwell.api.stepping import CaseloadOut
from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.patients.models import Episode, StepChange
from stepwell.apps.stepping import protocols
from stepwell.apps.stepping.models import EpisodeFlag, Recommendation, StepDecision
from stepwell.apps.stepping.services import episodes_review_all
from tests.conftest import Network, open_episode, record_phq9, register, token_for

ROOT = Path(__file__).resolve().parents[2]
STEPWELL = str(Path(sys.executable).with_name("stepwell"))


def _auth(client: Client, network: Network, who: str = "clinician") -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client, network.users[who])}"}


def _episode(network: Network, name: str) -> Episode:
    return network.patients[name].episodes.get()


def _age_step(episode: Episode, days: int) -> None:
    """Pretend the episode's current step began ``days`` ago."""
    StepChange.objects.filter(episode=episode).update(
        changed_at=timezone.now() - timedelta(days=days)
    )


def _phq9(network: Network, patient: str, days_ago: int, answers: list[int]) -> int:
    return record_phq9(network, patient, answers, days_ago=days_ago).pk


def _not_improving(network: Network) -> tuple[Episode, list[int]]:
    """a1 at step 2 for 56 days, PHQ-9 14 → 13 (hand-summed answers)."""
    episode = _episode(network, "a1")
    _age_step(episode, 56)
    ids = [
        _phq9(network, "a1", 56, [2, 2, 2, 2, 2, 2, 1, 1, 0]),  # 14
        _phq9(network, "a1", 0, [2, 2, 2, 2, 2, 1, 1, 1, 0]),  # 13
    ]
    return episode, ids


def _first_recommendation(client: Client, h: dict[str, str], episode: Episode) -> dict[str, Any]:
    response = client.post(f"/api/v1/episodes/{episode.pk}/review", headers=h)
    assert response.status_code == 200, response.content
    first: dict[str, Any] = response.json()["recommendations"][0]
    return first


def test_review_recommends_with_reasons_in_words(network: Network) -> None:
    episode, ids = _not_improving(network)
    client = Client()
    h = _auth(client, network)
    body = client.post(f"/api/v1/episodes/{episode.pk}/review?lang=en", headers=h).json()
    assert body["protocol"] == "stepwell-default"
    assert body["protocol_version"] == "1.0"
    (rec,) = body["recommendations"]
    assert rec["action"] == "step-up"
    assert rec["to_step"] == 3
    assert rec["evidence"] == ids
    assert rec["reasons"][0]["code"] == "no-reliable-improvement"
    assert rec["reasons"][0]["text"] == (
        "PHQ-9 14 → 13 after 8 weeks at step 2: no reliable improvement (needs a fall of 6); "
        "consider step 3"
    )
    assert {f["code"] for f in body["flags"]} == {"not-improving", "review-due"}
    spanish = client.post(f"/api/v1/episodes/{episode.pk}/review?lang=es", headers=h).json()
    assert spanish["recommendations"][0]["reasons"][0]["text"].startswith(
        "PHQ-9 14 → 13 tras 8 semanas en el escalón 2"
    )
    # The second review superseded the first one's recommendation.
    assert Recommendation.objects.filter(episode=episode, status="superseded").count() == 1
    assert Recommendation.objects.filter(episode=episode, status="open").count() == 1
    assert AuditEvent.objects.filter(action="episode.reviewed", patient_id=episode.patient_id)


def test_accepting_changes_the_step_with_the_protocol_version(network: Network) -> None:
    episode, _ = _not_improving(network)
    client = Client()
    h = _auth(client, network)
    rec = _first_recommendation(client, h, episode)
    response = client.post(
        f"/api/v1/episodes/{episode.pk}/step-decisions",
        {"recommendation_id": rec["id"], "decision": "accept"},
        content_type="application/json",
        headers=h,
    )
    assert response.status_code == 201, response.content
    assert response.json()["to_step"] == 3
    episode.refresh_from_db()
    assert episode.current_step == 3
    change = StepChange.objects.filter(episode=episode).latest("changed_at")
    assert (change.from_step, change.to_step) == (2, 3)
    assert change.protocol_version == "stepwell-default 1.0"
    assert change.reason.startswith("PHQ-9 14 → 13 after 8 weeks at step 2")
    assert Recommendation.objects.get(pk=rec["id"]).status == "accepted"
    assert AuditEvent.objects.filter(action="episode.step_decided").count() == 1
    # A decided recommendation cannot be decided again.
    again = client.post(
        f"/api/v1/episodes/{episode.pk}/step-decisions",
        {"recommendation_id": rec["id"], "decision": "accept"},
        content_type="application/json",
        headers=h,
    )
    assert again.status_code == 422
    assert "is accepted, not open" in again.json()["errors"][0]["message"]


def test_override_without_a_reason_is_refused_and_nothing_changes(network: Network) -> None:
    episode, _ = _not_improving(network)
    client = Client()
    h = _auth(client, network)
    rec = _first_recommendation(client, h, episode)
    url = f"/api/v1/episodes/{episode.pk}/step-decisions"
    bad = client.post(
        url,
        {"recommendation_id": rec["id"], "decision": "override", "to_step": 2, "reason": "  "},
        content_type="application/json",
        headers=h,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"field": "reason", "message": "overriding a recommendation needs a reason"}
    ]
    episode.refresh_from_db()
    assert episode.current_step == 2
    assert not StepDecision.objects.exists()
    assert Recommendation.objects.get(pk=rec["id"]).status == "open"
    good = client.post(
        url,
        {
            "recommendation_id": rec["id"],
            "decision": "override",
            "to_step": 2,
            "reason": "Started a new job two weeks ago; wait four weeks more.",
        },
        content_type="application/json",
        headers=h,
    )
    assert good.status_code == 201
    assert Recommendation.objects.get(pk=rec["id"]).status == "overridden"
    episode.refresh_from_db()
    assert episode.current_step == 2  # staying is a decision too, recorded without a change


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"decision": "accept", "to_step": 4}, "to_step", "accepting means step 3"),
        ({"decision": "override", "reason": "x"}, "to_step", "say which step"),
        ({"decision": "override", "reason": "x", "to_step": 7}, "to_step", "7 is not a step"),
        ({"decision": "maybe"}, "decision", ""),
    ],
)
def test_bad_decisions_name_the_field(
    network: Network, body: dict[str, Any], field: str, message: str
) -> None:
    episode, _ = _not_improving(network)
    client = Client()
    h = _auth(client, network)
    rec = _first_recommendation(client, h, episode)
    response = client.post(
        f"/api/v1/episodes/{episode.pk}/step-decisions",
        {"recommendation_id": rec["id"], **body},
        content_type="application/json",
        headers=h,
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(e["field"] == field and message in e["message"] for e in errors), errors
    assert not StepDecision.objects.exists()


def test_a_recommendation_of_another_episode_is_refused(network: Network) -> None:
    episode, _ = _not_improving(network)
    other = _episode(network, "a2")
    client = Client()
    h = _auth(client, network)
    rec = _first_recommendation(client, h, episode)
    response = client.post(
        f"/api/v1/episodes/{other.pk}/step-decisions",
        {"recommendation_id": rec["id"], "decision": "accept"},
        content_type="application/json",
        headers=h,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "recommendation_id"


@pytest.mark.parametrize(("who", "status"), [("coordinator", 403), ("chw", 403), ("peer", 403)])
def test_only_clinicians_decide(network: Network, who: str, status: int) -> None:
    episode, _ = _not_improving(network)
    client = Client()
    rec = _first_recommendation(client, _auth(client, network), episode)
    response = client.post(
        f"/api/v1/episodes/{episode.pk}/step-decisions",
        {"recommendation_id": rec["id"], "decision": "accept"},
        content_type="application/json",
        headers=_auth(client, network, who),
    )
    assert response.status_code == status
    assert not StepDecision.objects.exists()


def test_review_of_an_episode_out_of_scope_is_404(network: Network) -> None:
    client = Client()
    other_site = _episode(network, "b1")
    h = _auth(client, network)
    assert client.post(f"/api/v1/episodes/{other_site.pk}/review", headers=h).status_code == 404
    peer = _auth(client, network, "peer")
    mine = _episode(network, "a1")
    assert client.post(f"/api/v1/episodes/{mine.pk}/review", headers=peer).status_code == 404


def test_caseload_lists_flags_scores_and_filters(network: Network) -> None:
    episode, _ = _not_improving(network)
    episodes_review_all(now=timezone.now())
    client = Client()
    h = _auth(client, network)
    response = client.get("/api/v1/caseload?lang=en", headers=h)
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    # The view writes its JSON itself; it must still be what the OpenAPI schema promises.
    assert CaseloadOut.model_validate(body).model_dump(mode="json") == body
    assert body["protocol"] == "stepwell-default 1.0"
    by_episode = {r["episode_id"]: r for r in body["results"]}
    row = by_episode[episode.pk]
    assert row["step"] == 2
    assert row["weeks_on_step"] == 8
    assert row["scores"]["PHQ-9"] == {"total": 13, "band": "moderate"}
    assert row["scores"]["GAD-7"] is None
    flags = {f["code"]: f for f in row["flags"]}
    assert set(flags) == {"not-improving", "review-due"}
    assert flags["not-improving"]["reasons"][0].startswith("PHQ-9 14 → 13")
    assert flags["not-improving"]["protocol_version"] == "1.0"
    # Clinician A sees a1, a2, b2 (treated at A) and b3 (on b3's care team), not b1.
    assert body["count"] == 4
    only = client.get("/api/v1/caseload?flag=not-improving", headers=h).json()
    assert [r["episode_id"] for r in only["results"]] == [episode.pk]
    assert client.get("/api/v1/caseload?step=4", headers=h).json()["count"] == 1
    bad = client.get("/api/v1/caseload?flag=sad", headers=h)
    assert bad.status_code == 422
    for who in ("peer", "manager", "patient"):
        assert (
            client.get("/api/v1/caseload", headers=_auth(client, network, who)).status_code == 404
        )
    assert AuditEvent.objects.filter(action="caseload.listed").count() >= 4


def test_caseload_query_count_does_not_grow_with_the_caseload(network: Network) -> None:
    client = Client()
    h = _auth(client, network)

    def queries() -> int:
        episodes_review_all(now=timezone.now())
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/caseload", headers=h).status_code == 200
        return len(ctx.captured_queries)

    before = queries()
    coordinator, site = network.users["coordinator"], network.site_a
    for k in range(12):
        patient = register(coordinator, site, f"Extra{k}", "Testwell")
        open_episode(coordinator, patient, site, step=1 + k % 4)
        network.patients[f"x{k}"] = patient
        _phq9(network, f"x{k}", k, [1] * 9)
    after = queries()
    assert after == before


def test_review_all_command_writes_flags(network: Network) -> None:
    _not_improving(network)
    out = StringIO()
    call_command("review", "--all", "--no-progress", stdout=out)
    assert "Reviewed 5 open episodes under stepwell-default 1.0" in out.getvalue()
    assert EpisodeFlag.objects.filter(code="not-improving").count() == 1
    assert AuditEvent.objects.filter(action="episodes.reviewed_all").count() == 1
    # Idempotent: a second run replaces the flags instead of adding to them.
    call_command("review", "--all", "--no-progress", stdout=StringIO())
    assert EpisodeFlag.objects.filter(code="not-improving").count() == 1
    with pytest.raises(CommandError, match="say --all"):
        call_command("review", stdout=StringIO())


def test_protocol_validate_cli(tmp_path: Path) -> None:
    good = subprocess.run(
        [STEPWELL, "protocol", "validate", str(ROOT / "content/protocols/default.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert "valid (stepwell-default 1.0)" in good.stdout
    data = yaml.safe_load((ROOT / "content/protocols/default.yaml").read_text("utf-8"))
    data["rules"]["step_up"]["after_days"] = "eight weeks"
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    bad = subprocess.run(
        [STEPWELL, "protocol", "validate", str(bad_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        f"CommandError: {bad_file}: rules.step_up.after_days: must be int, not str"
    )


def test_a_broken_protocol_file_leaves_the_previous_one_in_force(
    tmp_path: Path, settings: Any
) -> None:
    source = (ROOT / "content/protocols/default.yaml").read_text("utf-8")
    path = tmp_path / "protocol.yaml"
    path.write_text(source.replace('version: "1.0"', 'version: "1.1"'), encoding="utf-8")
    settings.STEPWELL_PROTOCOL_FILE = path
    assert protocols.active_protocol().version == "1.1"
    assert protocols.protocol_error() == ""
    path.write_text(source.replace("review_days: 56", "review_days: soon", 1), encoding="utf-8")
    os.utime(path, (1, 1))  # a different modification time, whatever the clock's resolution
    assert protocols.active_protocol().version == "1.1"
    assert protocols.protocol_error() == (f"{path}: steps[0].review_days: must be int, not str")
