"""The peer programme's content files: the shipped ones load, and every class of bad input is
refused with an error naming the file and the field. Other test_peer_* modules import the
loaded content from here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stepwell.domain.peers.content import (
    CURRICULA_DIR,
    PROGRAMME_FILE,
    VOCABULARY_FILE,
    PeerContent,
    parse_peer_content,
)
from stepwell.domain.peers.curriculum import parse_curricula, parse_curriculum
from stepwell.domain.peers.files import (
    CurriculumFileError,
    PeerContentError,
    ProgrammeFileError,
    VocabularyFileError,
)
from stepwell.domain.peers.programme import parse_programme
from stepwell.domain.peers.vocabulary import KINDS, parse_vocabulary
from tests.domain.content_edits import DELETE, edited

CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"
VOCABULARY_PATH = CONTENT_DIR.joinpath(*VOCABULARY_FILE)
PROGRAMME_PATH = CONTENT_DIR.joinpath(*PROGRAMME_FILE)
CURRICULA_PATHS = sorted(CONTENT_DIR.joinpath(*CURRICULA_DIR).glob("*.yaml"))


def _read(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


RAW_VOCABULARY: dict[str, Any] = _read(VOCABULARY_PATH)
RAW_PROGRAMME: dict[str, Any] = _read(PROGRAMME_PATH)
RAW_CURRICULA: dict[str, dict[str, Any]] = {p.stem: _read(p) for p in CURRICULA_PATHS}


def load_content() -> PeerContent:
    return parse_peer_content(
        vocabulary=(str(VOCABULARY_PATH), RAW_VOCABULARY),
        curricula=[(str(p), RAW_CURRICULA[p.stem]) for p in CURRICULA_PATHS],
        programme=(str(PROGRAMME_PATH), RAW_PROGRAMME),
    )


CONTENT = load_content()
VOCABULARY = CONTENT.vocabulary
CURRICULA = CONTENT.curricula
RULES = CONTENT.programme
PEER_CURRICULUM = CONTENT.peer_curriculum
CLINICIAN_CURRICULUM = CURRICULA["clinician"]


# --- the shipped files -----------------------------------------------------------------------


def test_the_shipped_files_load_and_refer_to_each_other() -> None:
    assert set(CURRICULA) == {"peer-supporter", "clinician"}
    assert RULES.certification_curriculum == "peer-supporter"
    assert PEER_CURRICULUM.certifies == ("peer",)
    assert set(CLINICIAN_CURRICULUM.certifies) == {"clinician", "peer_supervisor"}


def test_the_peer_curriculum_has_the_modules_of_the_product_spec() -> None:
    required = {m.code: m for m in PEER_CURRICULUM.required}
    assert set(required) == {
        "role-and-boundaries",
        "confidentiality",
        "crisis-protocol",
        "trauma-informed-care",
        "cultural-sensitivity",
        "psychosomatic-concepts",
        "communication",
    }
    assert required["crisis-protocol"].valid_for_days == 365
    assert {m.valid_for_days for m in required.values()} == {365, 730, None}
    assert any(not m.required for m in PEER_CURRICULUM.modules)


def test_the_clinician_curriculum_has_supervision_protocol_and_safety_modules() -> None:
    codes = {m.code for m in CLINICIAN_CURRICULUM.required}
    assert {"tele-supervision", "protocol-updates", "safety-escalation-refresher"} <= codes


def test_the_shipped_programme_rules_are_those_of_the_brief() -> None:
    life = RULES.lifecycle
    assert life.states == ("applicant", "in_training", "certified", "active", "paused", "retired")
    assert life.initial == "applicant"
    assert life.final == {"retired"}
    assert RULES.matchable_states == {"active"}
    assert RULES.certification_required
    assert RULES.supervision_required
    assert RULES.supervision_overdue_after_days == 30


def test_every_vocabulary_kind_has_terms_labelled_in_english_and_spanish() -> None:
    for kind in KINDS:
        codes = VOCABULARY.codes(kind)
        assert codes, kind
        for code in codes:
            en, es = (VOCABULARY.text(kind, code, lang) for lang in ("en", "es"))
            assert en.strip(), (kind, code)
            assert es.strip(), (kind, code)
            assert en != code, (kind, code)
    assert VOCABULARY.mood_values() == (1, 2, 3, 4, 5)


def test_the_vocabulary_speaks_the_patients_codes() -> None:
    # Patients' preferred languages and genders (apps/patients/models.py) must be matchable.
    assert {"en", "es"} <= set(VOCABULARY.codes("languages"))
    assert set(VOCABULARY.codes("genders")) == {
        "woman",
        "man",
        "non-binary",
        "other",
        "undisclosed",
    }


def test_availability_is_every_weekday_times_three_periods() -> None:
    slots = VOCABULARY.availability
    assert len(slots) == 21
    assert VOCABULARY.text("availability", "tue-evening", "en") == "Tuesday evening"
    assert VOCABULARY.text("availability", "tue-evening", "es") == "martes por la tarde-noche"


def test_unknown_codes_and_languages_fall_back() -> None:
    assert VOCABULARY.text("lived_experience", "retired-tag", "es") == "retired-tag"
    assert VOCABULARY.text("lived_experience", "chronic-pain", "fr") == "Chronic pain"
    boundary = VOCABULARY.rematch_reason("boundary-concern")
    assert boundary is not None
    assert boundary.supervisor_review
    schedule = VOCABULARY.rematch_reason("schedule")
    assert schedule is not None
    assert not schedule.supervisor_review


# --- bad vocabulary ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["lived_experience", 3, "label", "es"], DELETE, "lived_experience[3].label.es: a non"),
        (["lived_experience", 0, "label", "es"], "  ", "lived_experience[0].label.es: a non"),
        (["languages", 1, "label"], "Spanish", "languages[1].label: must be dict, not str"),
        (["modalities", 1, "code"], "in-person", "modalities[1].code: 'in-person' appears twice"),
        (["encounter_topics", 0, "code"], "Coping", "encounter_topics[0].code: 'Coping' is not"),
        (["genders"], [], "genders: needs at least one entry"),
        (["group_kinds"], DELETE, "group_kinds: is required"),
        (["availability", 0, "code"], "monday-am", "availability[0].code: must be mon-morning"),
        (["availability", 0, "day"], "lun", "availability[0].day: 'lun' is not a day"),
        (["mood_scale", 1, "value"], 3, "mood_scale[1].value: must be 2"),
        (["mood_scale"], [{"value": 1, "label": {"en": "a", "es": "b"}}], "at least 3 points"),
        (["rematch_reasons", 0, "supervisor_review"], "yes", "supervisor_review: must be bool"),
        (["lived_experiences"], [], "lived_experiences: is not a field of this file"),
    ],
)
def test_a_bad_vocabulary_names_the_file_and_the_field(
    path: list[Any], value: Any, message: str
) -> None:
    with pytest.raises(VocabularyFileError) as error:
        parse_vocabulary(edited(RAW_VOCABULARY, path, value), source="x/vocabulary.yaml")
    assert str(error.value).startswith("x/vocabulary.yaml: ")
    assert message in str(error.value)
    assert isinstance(error.value, PeerContentError)


def test_a_vocabulary_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(VocabularyFileError, match=r"^v\.yaml: \(top level\): must be a mapping"):
        parse_vocabulary(["not", "a", "mapping"], source="v.yaml")


# --- bad curricula -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["modules", 2, "code"], "role-and-boundaries", "modules[2].code: 'role-and-boundaries' "),
        (["modules", 0, "title", "es"], DELETE, "modules[0].title.es: a non-empty text"),
        (["modules", 1, "summary"], DELETE, "modules[1].summary: is required"),
        (["modules", 0, "hours"], 0, "modules[0].hours: must be more than 0"),
        (["modules", 0, "hours"], "six", "modules[0].hours: must be int or float"),
        (["modules", 0, "required"], "yes", "modules[0].required: must be bool"),
        (["modules", 0, "valid_for_days"], DELETE, "modules[0].valid_for_days: is required"),
        (["modules", 0, "valid_for_days"], 0, "modules[0].valid_for_days: must be at least 1"),
        (["modules", 0, "valid_for_days"], 365.5, "modules[0].valid_for_days: must be int"),
        (["modules", 0, "assessment"], "exam", "modules[0].assessment: 'exam' is not an assess"),
        (["certifies", 0], "volunteer", "certifies[0]: 'volunteer' is not a role"),
        (["certifies"], [], "certifies: must name at least one role"),
        (["code"], "Peer Supporter", "code: 'Peer Supporter' is not a code"),
        (["title"], DELETE, "title: is required"),
        (["modules"], [], "modules: needs at least one required module"),
    ],
)
def test_a_bad_curriculum_names_the_file_and_the_field(
    path: list[Any], value: Any, message: str
) -> None:
    with pytest.raises(CurriculumFileError) as error:
        parse_curriculum(
            edited(RAW_CURRICULA["peer-supporter"], path, value),
            source="x/peer.yaml",
            vocabulary=VOCABULARY,
        )
    assert str(error.value).startswith("x/peer.yaml: ")
    assert message in str(error.value)


def test_a_curriculum_of_only_optional_modules_is_refused() -> None:
    raw = RAW_CURRICULA["clinician"]
    modules = [{**m, "required": False} for m in raw["modules"]]
    with pytest.raises(CurriculumFileError, match="modules: needs at least one required module"):
        parse_curriculum({**raw, "modules": modules}, source="c.yaml", vocabulary=VOCABULARY)


def test_a_module_code_reused_in_another_curriculum_is_refused() -> None:
    clinician = edited(RAW_CURRICULA["clinician"], ["modules", 1, "code"], "crisis-protocol")
    with pytest.raises(CurriculumFileError) as error:
        parse_curricula(
            [("a/peer.yaml", RAW_CURRICULA["peer-supporter"]), ("a/clin.yaml", clinician)],
            vocabulary=VOCABULARY,
        )
    message = str(error.value)
    assert message.startswith("a/clin.yaml: modules[1].code: 'crisis-protocol' is already")
    assert "peer-supporter (a/peer.yaml)" in message


def test_two_curricula_with_one_code_are_refused() -> None:
    clinician = edited(RAW_CURRICULA["clinician"], ["code"], "peer-supporter")
    with pytest.raises(CurriculumFileError, match=r"^a/clin\.yaml: code: 'peer-supporter' is"):
        parse_curricula(
            [("a/peer.yaml", RAW_CURRICULA["peer-supporter"]), ("a/clin.yaml", clinician)],
            vocabulary=VOCABULARY,
        )


# --- bad programme -----------------------------------------------------------------------------


def _state(code: str) -> int:
    return [s["code"] for s in RAW_PROGRAMME["lifecycle"]["states"]].index(code)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["lifecycle", "states", _state("paused"), "next", 0],
            "on_leave",
            f"lifecycle.states[{_state('paused')}].next[0]: 'on_leave' is not a lifecycle state",
        ),
        (
            ["lifecycle", "states", _state("retired"), "next"],
            ["active"],
            "lifecycle.final: must list exactly the states with no next state",
        ),
        (["lifecycle", "final"], [], "lifecycle.final: must list exactly"),
        (["lifecycle", "final"], ["retired", "retired"], "lifecycle.final[1]: 'retired' appears"),
        (
            ["lifecycle", "states", _state("active"), "next"],
            ["active", "retired"],
            "'active' cannot move to itself",
        ),
        (["lifecycle", "initial"], "volunteer", "lifecycle.initial: 'volunteer' is not a"),
        (["lifecycle", "initial"], "retired", "lifecycle.initial: 'retired' is final"),
        (
            ["lifecycle", "states", _state("applicant"), "next"],
            ["retired"],
            f"lifecycle.states[{_state('in_training')}]: 'in_training' cannot be reached",
        ),
        (
            ["lifecycle", "states", 0, "code"],
            "Applicant",
            "lifecycle.states[0].code: 'Applicant' is not a code (snake_case)",
        ),
        (
            ["lifecycle", "states", 1, "label", "es"],
            DELETE,
            "lifecycle.states[1].label.es: a non-empty text is required",
        ),
        (
            ["lifecycle", "requires_certification", 0],
            "qualified",
            "lifecycle.requires_certification[0]: 'qualified' is not",
        ),
        (["matching", "states", 0], "retired", "matching.states[0]: 'retired' is final"),
        (["matching", "states"], [], "matching.states: needs at least one state"),
        (
            ["matching", "certification_curriculum"],
            "peer-basics",
            "matching.certification_curriculum: 'peer-basics' is not a loaded curriculum",
        ),
        (
            ["matching", "certification_curriculum"],
            "clinician",
            "matching.certification_curriculum: clinician does not certify peers",
        ),
        (["matching", "certification_required"], "yes", "matching.certification_required: must"),
        (["supervision", "overdue_after_days"], 0, "supervision.overdue_after_days: must be at"),
        (
            ["supervision", "overdue_after_days"],
            "30",
            "supervision.overdue_after_days: must be int",
        ),
        (["capacity", "default_max_patients"], 11, "capacity.default_max_patients: must not be"),
        (["capacity"], DELETE, "capacity: is required"),
        (["encounters", "max_minutes"], True, "encounters.max_minutes: must be a number"),
        (["texts", "at-capacity"], DELETE, "texts.at-capacity: is required"),
        (["texts", "at-capacity", "es"], DELETE, "texts.at-capacity.es: a non-empty text"),
        (
            ["texts", "supervision-overdue", "es"],
            "Supervisión atrasada desde {fecha}",
            "texts.supervision-overdue.es: unknown placeholder {fecha} (allowed: days, last",
        ),
        (["texts", "not-active", "en"], "Status {state", "texts.not-active.en: bad placeholder"),
        (["texts", "not-active", "en"], "Status {}", "texts.not-active.en: unknown placeholder {}"),
        (["texts", "on-holiday"], {"en": "x", "es": "y"}, "texts.on-holiday: is not a reason"),
        (["supervisor"], {}, "supervisor: is not a field of this file"),
    ],
)
def test_a_bad_programme_names_the_file_and_the_field(
    path: list[Any], value: Any, message: str
) -> None:
    with pytest.raises(ProgrammeFileError) as error:
        parse_programme(
            edited(RAW_PROGRAMME, path, value), source="x/prog.yaml", curricula=CURRICULA
        )
    assert str(error.value).startswith("x/prog.yaml: ")
    assert message in str(error.value)


def test_the_bundle_stops_at_the_first_bad_file() -> None:
    bad = edited(RAW_CURRICULA["clinician"], ["modules", 0, "assessment"], "exam")
    with pytest.raises(CurriculumFileError, match=r"^c\.yaml: modules\[0\]\.assessment"):
        parse_peer_content(
            vocabulary=("v.yaml", RAW_VOCABULARY),
            curricula=[("c.yaml", bad)],
            programme=("p.yaml", RAW_PROGRAMME),
        )
    # Without the peer curriculum the programme file refers to nothing.
    with pytest.raises(ProgrammeFileError, match=r"^p\.yaml: matching\.certification_curriculum: "):
        parse_peer_content(
            vocabulary=("v.yaml", RAW_VOCABULARY),
            curricula=[("c.yaml", RAW_CURRICULA["clinician"])],
            programme=("p.yaml", RAW_PROGRAMME),
        )
