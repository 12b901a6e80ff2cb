"""Every reason code of the programme file says itself in English and Spanish with every
placeholder filled; codes in parameters are shown as labels."""

from __future__ import annotations

import json
import string
from datetime import UTC, date, datetime

import pytest

from stepwell.domain.peers.curriculum import certification_status, completion_for
from stepwell.domain.peers.eligibility import PeerState, match_eligibility
from stepwell.domain.peers.reasons import (
    ELIGIBILITY_PARAMS,
    LABELLED_PARAMS,
    LIFECYCLE_PARAMS,
    REASON_PARAMS,
    Reason,
)
from tests.domain.test_peer_content import PEER_CURRICULUM, RULES

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SAMPLE: dict[str, object] = {
    "state": "paused",
    "current": "active",
    "target": "certified",
    "allowed": ("paused", "retired"),
    "module": "crisis-protocol",
    "modules": ("confidentiality", "communication"),
    "date": "2026-10-01",
    "last": "2026-09-30",
    "days": 54,
    "limit": 30,
    "active": 4,
    "proposed": 1,
    "max": 5,
}
# What each sample parameter must look like once rendered, per language.
SHOWN = {
    "en": {
        "state": "Paused",
        "current": "Active",
        "target": "Certified",
        "allowed": "Paused, Retired",
        "module": "Crisis protocol",
        "modules": "Confidentiality and consent, Communication",
    },
    "es": {
        "state": "En pausa",
        "current": "Activo/a",
        "target": "Certificado/a",
        "allowed": "En pausa, Retirado/a",
        "module": "Protocolo de crisis",
        "modules": "Confidencialidad y consentimiento, Comunicación",
    },
}


def test_the_reason_codes_are_the_eligibility_and_lifecycle_ones() -> None:
    assert set(ELIGIBILITY_PARAMS) == {
        "not-active",
        "certification-missing",
        "certification-expired",
        "supervision-overdue",
        "supervision-never",
        "at-capacity",
    }
    assert set(REASON_PARAMS) == set(ELIGIBILITY_PARAMS) | set(LIFECYCLE_PARAMS)
    assert set(RULES.sentences.texts) == set(REASON_PARAMS)
    used = {p for params in REASON_PARAMS.values() for p in params}
    assert set(SAMPLE) == used
    assert set(LABELLED_PARAMS) <= used


@pytest.mark.parametrize("code", sorted(REASON_PARAMS))
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_reason_renders_with_every_placeholder_filled(code: str, lang: str) -> None:
    params = {name: SAMPLE[name] for name in REASON_PARAMS[code]}
    text = Reason(code, params).text(RULES.sentences, lang)
    assert text.strip()
    assert "{" not in text
    assert "}" not in text
    for name, value in params.items():
        shown = SHOWN[lang].get(name, str(value))
        assert shown in text, (name, text)


@pytest.mark.parametrize("code", sorted(REASON_PARAMS))
def test_the_shipped_sentences_use_every_placeholder_in_both_languages(code: str) -> None:
    for lang in ("en", "es"):
        template = RULES.sentences.texts[code][lang]
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        assert names == REASON_PARAMS[code], (code, lang)
    assert RULES.sentences.texts[code]["en"] != RULES.sentences.texts[code]["es"]


def test_reasons_from_the_rules_render_in_both_languages() -> None:
    completions = [
        completion_for(m, completed_on=date(2025, 1, 2), assessor_id=7, passed=True)
        for m in PEER_CURRICULUM.required[:-1]
    ]
    status = certification_status(PEER_CURRICULUM, completions, NOW)
    reasons = match_eligibility(PeerState("paused", 5), status, date(2026, 9, 30), NOW, RULES)
    assert [r.text(RULES.sentences, "en") for r in reasons] == [
        "Status is “Paused”; only active peers take new matches.",
        "Training not complete: Communication.",
        "Certification in “Crisis protocol” expired on 2026-01-02.",
        "Supervision overdue: last session on 2026-09-30, 54 days ago "
        "(due at least every 30 days).",
        "At capacity: 5 active matches and 0 awaiting approval, of at most 5.",
    ]
    assert [r.text(RULES.sentences, "es") for r in reasons] == [
        "Su estado es «En pausa»; solo los compañeros de apoyo activos aceptan nuevos "
        "emparejamientos.",
        "Formación incompleta: Comunicación.",
        "La certificación en «Protocolo de crisis» caducó el 2026-01-02.",
        "Supervisión atrasada: última sesión el 2026-09-30, hace 54 días "
        "(se requiere al menos cada 30 días).",
        "Sin plazas: 5 emparejamientos activos y 0 pendientes de aprobación, de un máximo de 5.",
    ]


def test_reasons_are_json_ready_and_say_the_same_after_a_round_trip() -> None:
    reason = Reason("certification-missing", {"modules": ("confidentiality",)})
    stored = json.loads(json.dumps(reason.as_dict()))
    assert stored == {"code": "certification-missing", "params": {"modules": ["confidentiality"]}}
    again = Reason(stored["code"], stored["params"])
    assert again.text(RULES.sentences, "es") == reason.text(RULES.sentences, "es")


def test_unknown_codes_show_as_themselves_and_unknown_languages_as_english() -> None:
    retired = Reason("certification-missing", {"modules": ("old-module",)})
    assert retired.text(RULES.sentences, "es") == "Formación incompleta: old-module."
    never = Reason("supervision-never", {"limit": 30})
    assert never.text(RULES.sentences, "fr") == never.text(RULES.sentences, "en")
