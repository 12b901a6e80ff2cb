"""Instruments, scoring and assessments through the REST API and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client
from django.utils import timezone

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.measurement.models import Assessment
from tests.conftest import Network, token_for

STEPWELL = str(Path(sys.executable).with_name("stepwell"))
TOY = {
    "code": "TOY-2",
    "version": "0.1",
    "name": {"en": "Toy scale", "es": "Escala de juguete"},
    "source": "Stepwell tests",
    "licence": "test only",
    "recall_period": {"en": "Today", "es": "Hoy"},
    "options": [{"value": v, "label": {"en": f"en{v}", "es": f"es{v}"}} for v in (0, 1, 2)],
    "items": [
        {"id": "a", "text": {"en": "First?", "es": "¿Primera?"}},
        {"id": "b", "text": {"en": "Second?", "es": "¿Segunda?"}},
    ],
    "scoring": {
        "range": [0, 4],
        "missing": {"max_missing": 0},
        "bands": [
            {"code": "calm", "min": 0, "max": 1, "label": {"en": "C", "es": "C"}},
            {"code": "busy", "min": 2, "max": 4, "label": {"en": "B", "es": "B"}},
        ],
        "reliable_change": {"threshold": 2},
    },
}


def _client(network: Network, role: str = "clinician") -> tuple[Client, dict[str, str]]:
    client = Client()
    return client, {"Authorization": f"Bearer {token_for(client, network.users[role])}"}


def _post(client: Client, url: str, body: Any, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(url, body, content_type="application/json", headers=headers)


def test_instrument_list_and_spanish_text(network: Network) -> None:
    client, h = _client(network)
    codes = [i["code"] for i in client.get("/api/v1/instruments", headers=h).json()]
    assert {"PHQ-9", "GAD-7", "PHQ-15", "SSS-8", "WSAS", "UCLA-3"} <= set(codes)
    en = client.get("/api/v1/instruments/PHQ-9", headers=h).json()
    es = client.get("/api/v1/instruments/PHQ-9?lang=es", headers=h).json()
    assert es["language"] == "es"
    assert len(es["items"]) == 9
    assert all(e["text"] != s["text"] for e, s in zip(en["items"], es["items"], strict=True))
    assert es["items"][0]["options"][0]["value"] == 0
    assert [b["code"] for b in es["bands"]] == [
        "minimal",
        "mild",
        "moderate",
        "moderately-severe",
        "severe",
    ]
    assert client.get("/api/v1/instruments/NOPE", headers=h).status_code == 404
    assert client.get("/api/v1/instruments/PHQ-9?lang=fr", headers=h).status_code == 422


def test_score_endpoint(network: Network) -> None:
    client, h = _client(network)
    body = {"answers": [1, 2, None, 1, 0, 0, 1, 2, 1]}
    response = _post(client, "/api/v1/instruments/PHQ-9/score", body, h)
    assert response.status_code == 200
    # 8 over 8 answered x 9 = 9
    assert response.json() | {"version": "x"} == {
        "instrument": "PHQ-9",
        "version": "x",
        "total": 9,
        "band": "mild",
        "caseness": False,
        "prorated": True,
        "missing": ["3"],
        "not_applicable": [],
        "safety": ["item-9"],
    }
    bad = _post(
        client, "/api/v1/instruments/PHQ-9/score", {"answers": [0, 0, 4, 0, 0, 0, 0, 0, 0]}, h
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"field": "answers", "message": "PHQ-9 item 3: 4 is not one of 0, 1, 2, 3"}
    ]
    assert (
        _post(client, "/api/v1/instruments/PHQ-9/score", {"answers": [0], "x": 1}, h).status_code
        == 422
    )


def test_record_and_list_assessments_audited(network: Network) -> None:
    client, h = _client(network)
    a1 = network.patients["a1"]
    body = {
        "instrument": "GAD-7",
        "answers": [3, 3, 3, 0, 0, 0, None],
        "taken_at": "2026-11-20T10:00:00Z",
        "mode": "clinician",
    }
    response = _post(client, f"/api/v1/patients/{a1.pk}/assessments", body, h)
    assert response.status_code == 201, response.content
    saved = response.json()
    assert (saved["total"], saved["band"], saved["prorated"]) == (11, "moderate", True)
    assert saved["episode_id"] == a1.episodes.get().pk
    assert AuditEvent.objects.filter(action="assessment.recorded", patient=a1).count() == 1
    listed = client.get(f"/api/v1/patients/{a1.pk}/assessments?instrument=GAD-7", headers=h)
    assert [a["id"] for a in listed.json()] == [saved["id"]]
    assert AuditEvent.objects.filter(action="assessment.listed", patient=a1).count() == 1
    assert (
        client.get(f"/api/v1/patients/{a1.pk}/assessments?instrument=PHQ-9", headers=h).json() == []
    )


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"answers": [0, 0, 9, 0, 0, 0, 0]}, "answers", "GAD-7 item 3: 9 is not one of"),
        ({"instrument": "XYZ"}, "instrument", "'XYZ' is not an instrument"),
        ({"taken_at": "2999-01-01T00:00:00Z"}, "taken_at", "in the future"),
        ({"taken_at": "2026-02-30T10:00:00Z"}, "taken_at", "datetime"),
        ({"mode": "portal"}, "mode", "does not fit a clinician"),
        ({"mode": "pigeon"}, "mode", "portal"),
        ({"extra": 1}, "extra", "unknown field"),
    ],
)
def test_bad_assessments_are_refused_and_nothing_is_stored(
    network: Network, change: dict[str, Any], field: str, words: str
) -> None:
    client, h = _client(network)
    body = {
        "instrument": "GAD-7",
        "answers": [0] * 7,
        "taken_at": "2026-11-20T10:00:00Z",
        "mode": "clinician",
    } | change
    response = _post(client, f"/api/v1/patients/{network.patients['a1'].pk}/assessments", body, h)
    assert response.status_code == 422, response.content
    assert any(e["field"] == field and words in e["message"] for e in response.json()["errors"]), (
        response.json()
    )
    assert not Assessment.objects.exists()


def test_out_of_scope_and_peers_get_404(network: Network) -> None:
    body = {
        "instrument": "GAD-7",
        "answers": [0] * 7,
        "taken_at": "2026-11-20T10:00:00Z",
        "mode": "clinician",
    }
    client, h = _client(network, "clinician_b")
    assert (
        _post(
            client, f"/api/v1/patients/{network.patients['a1'].pk}/assessments", body, h
        ).status_code
        == 404
    )
    client, h = _client(network, "peer")
    url = f"/api/v1/patients/{network.patients['a1'].pk}/assessments"
    assert _post(client, url, body, h).status_code == 404
    assert client.get(url, headers=h).status_code == 404
    client, h = _client(network, "coordinator")
    assert _post(client, url, body, h).status_code == 403
    assert not Assessment.objects.exists()


def test_patient_records_own_questionnaire_in_the_portal_mode(network: Network) -> None:
    client, h = _client(network, "patient")
    url = f"/api/v1/patients/{network.patients['a1'].pk}/assessments"
    body = {
        "instrument": "PHQ-9",
        "answers": [1] * 9,
        "taken_at": timezone.now().isoformat(),
        "mode": "portal",
    }
    assert _post(client, url, body, h).status_code == 201
    other = f"/api/v1/patients/{network.patients['a2'].pk}/assessments"
    assert _post(client, other, body, h).status_code == 404


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"} | env
    return subprocess.run(
        [STEPWELL, *args], capture_output=True, text=True, env=full, timeout=60, check=False
    )


def test_cli_score_prints_json_and_names_bad_items() -> None:
    ok = _run("score", "PHQ-9", "--answers", "1,2,0,,3,1,0,2,1")
    assert ok.returncode == 0, ok.stderr
    # 10 over 8 answered x 9 = 11.25 -> 11
    assert json.loads(ok.stdout) == {
        "instrument": "PHQ-9",
        "version": json.loads(ok.stdout)["version"],
        "total": 11,
        "band": "moderate",
        "caseness": True,
        "prorated": True,
        "missing": ["4"],
        "not_applicable": [],
        "safety": ["item-9"],
    }
    bad = _run("score", "PHQ-9", "--answers", "1,2,4,0,0,0,0,0,0")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "PHQ-9 item 3: 4 is not one of 0, 1, 2, 3"
    unknown = _run("score", "NOPE", "--answers", "1")
    assert unknown.returncode == 2
    assert "no such instrument" in unknown.stderr


def test_a_toy_instrument_file_is_enough(tmp_path: Path, network: Network, settings: Any) -> None:
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(TOY, allow_unicode=True), encoding="utf-8")
    listed = _run("instruments", STEPWELL_INSTRUMENT_DIRS=str(tmp_path))
    assert "TOY-2" in listed.stdout
    scored = _run("score", "TOY-2", "--answers", "1,2", STEPWELL_INSTRUMENT_DIRS=str(tmp_path))
    assert json.loads(scored.stdout)["band"] == "busy"
    settings.STEPWELL_INSTRUMENT_DIRS = [*settings.STEPWELL_INSTRUMENT_DIRS, tmp_path]
    client, h = _client(network)
    es = client.get("/api/v1/instruments/TOY-2?lang=es", headers=h).json()
    assert es["items"][0]["text"] == "¿Primera?"
    result = _post(client, "/api/v1/instruments/TOY-2/score", {"answers": [0, 1]}, h).json()
    assert (result["total"], result["band"]) == (1, "calm")


def test_a_broken_instrument_file_is_named(tmp_path: Path) -> None:
    broken = TOY | {"scoring": TOY["scoring"] | {"range": [0, 9]}}
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = _run("instruments", STEPWELL_INSTRUMENT_DIRS=str(tmp_path))
    assert result.returncode != 0
    assert f"{tmp_path / 'broken.yaml'}: scoring.range" in result.stderr
