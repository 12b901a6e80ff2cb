"""Safety plans through the REST API: versions, bad input, who may read and write, audit,
and the crisis numbers (per site, last good file kept)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client
from django.utils import timezone

from stepwell.apps.access.services import break_glass_grant
from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.safety.models import SafetyPlan
from stepwell.domain.safety.plan import SECTIONS
from tests.conftest import Network, token_for

ROOT = Path(__file__).resolve().parents[2]
PLAN = {
    "warning_signs": ["Not sleeping for days", "Staying in bed"],
    "coping_strategies": ["Walk to the river"],
    "reasons_for_living": ["My daughter"],
}


def _url(network: Network, patient: str) -> str:
    return f"/api/v1/patients/{network.patients[patient].pk}/safety-plan"


def _h(client: Client, network: Network, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client, network.users[who])}"}


def _put(client: Client, network: Network, who: str, patient: str, body: Any) -> Any:
    return client.put(
        _url(network, patient),
        body,
        content_type="application/json",
        headers=_h(client, network, who),
    )


def _get(client: Client, network: Network, who: str, patient: str, query: str = "") -> Any:
    return client.get(_url(network, patient) + query, headers=_h(client, network, who))


def test_no_plan_yet_still_gives_every_section_and_the_crisis_numbers(
    api_client: Client, network: Network
) -> None:
    response = _get(api_client, network, "clinician", "a1", "?lang=en")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] is None
    assert body["created_at"] is None
    assert list(body["sections"]) == list(SECTIONS)
    assert all(entries == [] for entries in body["sections"].values())
    first = body["crisis_lines"][0]
    assert (first["code"], first["phone"], first["dial"]) == ("emergency", "911", "911")
    assert first["name"].startswith("Emergency services")
    assert body["crisis_lines_version"] == "2026-11"


def test_two_saves_make_two_versions_and_the_newest_is_read(
    api_client: Client, network: Network
) -> None:
    first = _put(api_client, network, "clinician", "a1", {"sections": PLAN})
    assert first.status_code == 200, first.content
    assert first.json()["version"] == 1
    changed = PLAN | {"warning_signs": ["  Not sleeping  ", "", "Drinking more"]}
    second = _put(api_client, network, "coordinator", "a1", {"sections": changed})
    assert second.status_code == 200, second.content
    saved = second.json()
    assert saved["version"] == 2
    assert saved["sections"]["warning_signs"] == ["Not sleeping", "Drinking more"]
    assert saved["created_by"] == network.users["coordinator"].username

    body = _get(api_client, network, "chw", "a1").json()
    assert body["version"] == 2
    assert body["sections"]["warning_signs"] == ["Not sleeping", "Drinking more"]
    assert body["sections"]["reasons_for_living"] == ["My daughter"]
    patient = network.patients["a1"]
    versions = SafetyPlan.objects.filter(patient=patient).order_by("version")
    assert [p.version for p in versions] == [1, 2]
    assert versions[0].sections["warning_signs"] == PLAN["warning_signs"]  # never edited


def test_the_chw_may_write_the_plan(api_client: Client, network: Network) -> None:
    response = _put(api_client, network, "chw", "a2", {"sections": {"warning_signs": ["x"]}})
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 1


@pytest.mark.parametrize(
    ("sections", "field", "message"),
    [
        ({"hobbies": ["fishing"]}, "sections.hobbies", "unknown section"),
        ({"warning_signs": "not sleeping"}, "sections.warning_signs", "must be a list"),
        ({"coping_strategies": ["walk", 7]}, "sections.coping_strategies[1]", "must be a text"),
        (
            {"reasons_for_living": ["ok", "", "x" * 501]},
            "sections.reasons_for_living[2]",
            "is 501 characters long; at most 500",
        ),
        (
            {"people_to_ask_for_help": [f"person {n}" for n in range(21)]},
            "sections.people_to_ask_for_help",
            "has 21 entries; at most 20",
        ),
        ({"warning_signs": ["one\ntwo"]}, "sections.warning_signs[0]", "one line"),
    ],
)
def test_bad_sections_are_a_422_naming_section_and_entry_and_nothing_is_stored(
    api_client: Client, network: Network, sections: dict[str, Any], field: str, message: str
) -> None:
    response = _put(api_client, network, "clinician", "a1", {"sections": sections})
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["detail"] == "invalid input"
    assert [e["field"] for e in body["errors"]] == [field]
    assert message in body["errors"][0]["message"]
    assert not SafetyPlan.objects.exists()
    assert not AuditEvent.objects.filter(action="safety_plan.saved").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sections": ["warning_signs"]}, "sections"),
        ({}, "sections"),
        ({"sections": {}, "version": 3}, "version"),
    ],
)
def test_a_malformed_body_is_a_422_in_the_same_shape(
    api_client: Client, network: Network, body: dict[str, Any], field: str
) -> None:
    response = _put(api_client, network, "clinician", "a1", body)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == field
    assert not SafetyPlan.objects.exists()


def test_a_peer_never_sees_or_writes_a_plan(api_client: Client, network: Network) -> None:
    _put(api_client, network, "clinician", "a1", {"sections": PLAN})
    # The peer is matched (active) to a1, and still gets 404 exactly like a stranger.
    assert _get(api_client, network, "peer", "a1").status_code == 404
    assert _put(api_client, network, "peer", "a1", {"sections": PLAN}).status_code == 404
    assert _get(api_client, network, "peer_supervisor", "a1").status_code == 404
    assert SafetyPlan.objects.count() == 1
    peer = network.users["peer"]
    assert not AuditEvent.objects.filter(actor=peer, action__startswith="safety_plan.").exists()


def test_the_patient_reads_their_own_plan_and_cannot_change_it(
    api_client: Client, network: Network
) -> None:
    _put(api_client, network, "clinician", "a1", {"sections": PLAN})
    own = _get(api_client, network, "patient", "a1")
    assert own.status_code == 200, own.content
    body = own.json()
    assert body["version"] == 1
    assert body["sections"]["coping_strategies"] == ["Walk to the river"]
    # The patient's own language (the user account's preference, English here) by default.
    assert body["language"] == "en"
    refused = _put(api_client, network, "patient", "a1", {"sections": {"warning_signs": ["x"]}})
    assert refused.status_code == 403
    assert SafetyPlan.objects.count() == 1
    assert _get(api_client, network, "patient", "a2").status_code == 404
    assert _put(api_client, network, "patient", "a2", {"sections": PLAN}).status_code == 404


def test_out_of_scope_staff_get_404(api_client: Client, network: Network) -> None:
    _put(api_client, network, "clinician", "a1", {"sections": PLAN})
    for who in ("clinician_b", "coordinator_b", "manager", "admin"):
        assert _get(api_client, network, who, "a1").status_code == 404, who
        assert _put(api_client, network, who, "a1", {"sections": PLAN}).status_code == 404, who
    # b3 is registered at site B, but clinician A is on b3's care team.
    assert _put(api_client, network, "clinician", "b3", {"sections": PLAN}).status_code == 200
    assert SafetyPlan.objects.count() == 2


def test_break_the_glass_reads_but_does_not_write(api_client: Client, network: Network) -> None:
    patient = network.patients["b1"]
    break_glass_grant(
        user=network.users["admin"],
        record_number=patient.record_number,
        reason="Patient in the emergency room, care team unreachable.",
        now=timezone.now(),
    )
    assert _get(api_client, network, "admin", "b1").status_code == 200
    assert _put(api_client, network, "admin", "b1", {"sections": PLAN}).status_code == 403
    viewed = AuditEvent.objects.get(action="safety_plan.viewed", patient_id=patient.pk)
    assert viewed.via_break_glass
    assert viewed.reason.startswith("Patient in the emergency room")


def test_reads_and_writes_are_audited(api_client: Client, network: Network) -> None:
    patient = network.patients["a1"]
    clinician = network.users["clinician"]
    response = _put(api_client, network, "clinician", "a1", {"sections": PLAN})
    saved = AuditEvent.objects.get(action="safety_plan.saved")
    assert (saved.actor, saved.patient_id, saved.object_type) == (
        clinician,
        patient.pk,
        "safety_plan",
    )
    assert saved.object_id == str(SafetyPlan.objects.get().pk)
    assert saved.details == {"version": response.json()["version"]}
    assert saved.request_id
    # Plan text never goes into the audit trail.
    assert "daughter" not in str(saved.details)
    _get(api_client, network, "patient", "a1")
    viewed = AuditEvent.objects.get(action="safety_plan.viewed")
    assert (viewed.actor, viewed.patient_id) == (network.users["patient"], patient.pk)


def test_crisis_numbers_in_spanish(api_client: Client, network: Network) -> None:
    body = _get(api_client, network, "clinician", "a1", "?lang=es").json()
    assert body["language"] == "es"
    assert body["crisis_lines"][0]["name"].startswith("Servicios de emergencia")
    assert body["crisis_lines"][0]["hours"] == "24 horas, todos los días"


def _write_lines(path: Path, phone: str) -> None:
    data = yaml.safe_load((ROOT / "content" / "safety" / "crisis_lines.yaml").read_text())
    data["sites"] = {
        "a": [
            {
                "code": "crisis-line",
                "name": {"en": "Site A crisis line", "es": "Línea de crisis del sitio A"},
                "phone": phone,
                "hours": {"en": "Always", "es": "Siempre"},
            }
        ]
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_a_site_has_its_own_numbers_and_a_broken_file_keeps_the_last_good_one(
    api_client: Client, network: Network, settings: Any, tmp_path: Path
) -> None:
    path = tmp_path / "crisis_lines.yaml"
    _write_lines(path, "+1 555 010 0177")
    settings.STEPWELL_CRISIS_LINES_FILE = path
    a1 = _get(api_client, network, "clinician", "a1", "?lang=en").json()["crisis_lines"]
    assert [(x["code"], x["phone"]) for x in a1][:2] == [
        ("emergency", "911"),
        ("crisis-line", "+1 555 010 0177"),
    ]
    b1 = _get(api_client, network, "clinician_b", "b1").json()["crisis_lines"]
    assert ("crisis-line", "988") in [(x["code"], x["phone"]) for x in b1]

    path.write_text("default: [{code: emergency, phone: 911}]\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # a new mtime, whatever the clock
    again = _get(api_client, network, "clinician", "a1", "?lang=en")
    assert again.status_code == 200
    assert ("crisis-line", "+1 555 010 0177") in [
        (x["code"], x["phone"]) for x in again.json()["crisis_lines"]
    ]
