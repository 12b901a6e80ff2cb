"""The safety plan's sections check, and the crisis-lines content file's validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stepwell.domain.safety.plan import (
    MAX_ENTRIES,
    MAX_ENTRY_CHARS,
    SECTIONS,
    CrisisLinesError,
    SafetyPlanError,
    parse_crisis_lines,
    validate_sections,
)
from tests.domain.content_edits import DELETE, edited

ROOT = Path(__file__).resolve().parents[2]
LINES_FILE = ROOT / "content" / "safety" / "crisis_lines.yaml"
RAW = yaml.safe_load(LINES_FILE.read_text(encoding="utf-8"))
SOURCE = "content/safety/crisis_lines.yaml"


def _fields(data: Any) -> list[str]:
    with pytest.raises(SafetyPlanError) as caught:
        validate_sections(data)
    assert isinstance(caught.value, ValueError)
    return [p.field for p in caught.value.field_problems()]


def test_sections_are_the_seven_stanley_brown_steps_in_order() -> None:
    assert SECTIONS == (
        "warning_signs",
        "coping_strategies",
        "distraction_people_places",
        "people_to_ask_for_help",
        "professionals_and_crisis_lines",
        "making_environment_safe",
        "reasons_for_living",
    )


def test_valid_sections_come_back_complete_in_order_stripped_without_blanks() -> None:
    clean = validate_sections(
        {
            "reasons_for_living": ["  my daughter ", "", "   ", "the garden"],
            "warning_signs": ["Not sleeping"],
        }
    )
    assert list(clean) == list(SECTIONS)
    assert clean["reasons_for_living"] == ["my daughter", "the garden"]
    assert clean["warning_signs"] == ["Not sleeping"]
    assert clean["coping_strategies"] == []


def test_empty_input_and_empty_sections_are_allowed() -> None:
    assert validate_sections({}) == {code: [] for code in SECTIONS}
    assert validate_sections({"warning_signs": []})["warning_signs"] == []
    assert validate_sections({"warning_signs": [" ", "\t"]})["warning_signs"] == []


def test_limits_are_inclusive() -> None:
    most = ["x" * MAX_ENTRY_CHARS] * MAX_ENTRIES
    assert validate_sections({"coping_strategies": most})["coping_strategies"] == most
    # Blank entries do not count towards the limit; spaces around an entry do not count.
    padded = [*most, "", "  "]
    assert len(validate_sections({"coping_strategies": padded})["coping_strategies"]) == 20
    assert validate_sections({"warning_signs": ["  " + "y" * MAX_ENTRY_CHARS + "  "]})


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"warning_sign": ["x"]}, ["sections.warning_sign"]),
        ({"warning_signs": "Not sleeping"}, ["sections.warning_signs"]),
        ({"warning_signs": {"0": "x"}}, ["sections.warning_signs"]),
        (
            {"coping_strategies": ["walk", 3, None]},
            [
                "sections.coping_strategies[1]",
                "sections.coping_strategies[2]",
            ],
        ),
        (
            {"reasons_for_living": ["", "z" * (MAX_ENTRY_CHARS + 1)]},
            ["sections.reasons_for_living[1]"],
        ),
        ({"warning_signs": ["one\ntwo"]}, ["sections.warning_signs[0]"]),
        (
            {"people_to_ask_for_help": ["p"] * (MAX_ENTRIES + 1)},
            ["sections.people_to_ask_for_help"],
        ),
        (["warning_signs"], ["sections"]),
        (None, ["sections"]),
    ],
)
def test_problems_name_the_section_and_entry(data: Any, fields: list[str]) -> None:
    assert _fields(data) == fields


def test_every_problem_is_reported_at_once_with_its_reason() -> None:
    with pytest.raises(SafetyPlanError) as caught:
        validate_sections(
            {
                "hobbies": ["x"],
                "warning_signs": ["ok", "w" * 501],
                "reasons_for_living": ["r"] * 21,
            }
        )
    problems = {p.field: p.message for p in caught.value.field_problems()}
    assert problems["sections.hobbies"].startswith("unknown section; use one of warning_signs")
    assert problems["sections.warning_signs[1]"] == "is 501 characters long; at most 500"
    assert problems["sections.reasons_for_living"] == "has 21 entries; at most 20"
    assert "sections.warning_signs[1]: is 501 characters long" in str(caught.value)


# --- Crisis lines ------------------------------------------------------------------------


def test_the_shipped_file_is_valid_and_starts_with_the_emergency_number() -> None:
    lines = parse_crisis_lines(RAW, source=SOURCE)
    assert lines.version
    first = lines.default[0]
    assert (first.code, first.phone) == ("emergency", "911")
    assert all(line.name["es"] and line.hours["es"] for line in lines.default)


def _file(**sites: Any) -> dict[str, Any]:
    line = {"name": {"en": "N", "es": "N"}, "hours": {"en": "H", "es": "H"}}
    return {
        "version": "t",
        "default": [
            line | {"code": "emergency", "phone": "911"},
            line | {"code": "crisis", "phone": "988"},
        ],
        "sites": sites,
    }


def test_a_site_replaces_lines_of_the_same_code_in_place_and_adds_the_others() -> None:
    line = {"name": {"en": "Local", "es": "Local"}, "hours": {"en": "H", "es": "H"}}
    data = _file(
        north=[
            line | {"code": "clinic", "phone": "+1 555 010 0142"},
            line | {"code": "crisis", "phone": "(555) 010-0199"},
        ]
    )
    lines = parse_crisis_lines(data, source=SOURCE)
    assert [(x.code, x.phone) for x in lines.for_site("north")] == [
        ("emergency", "911"),
        ("crisis", "(555) 010-0199"),
        ("clinic", "+1 555 010 0142"),
    ]
    assert [x.code for x in lines.for_site("south")] == ["emergency", "crisis"]
    assert [x.code for x in lines.for_site(None)] == ["emergency", "crisis"]
    assert lines.for_site("north")[2].dial == "+15550100142"
    assert lines.for_site("north")[1].dial == "5550100199"


def test_sites_are_optional() -> None:
    data = _file()
    del data["sites"]
    assert len(parse_crisis_lines(data, source=SOURCE).default) == 2


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["version"], DELETE, "version: is required"),
        (["default"], [], "default: must list at least one line"),
        (["default"], {"code": "x"}, "default: must be list"),
        (["default", 0], "911", "default[0]: must be a mapping"),
        (["default", 1, "phone"], 988, "default[1].phone: must be str, not int"),
        (["default", 1, "phone"], "call us", "default[1].phone: 'call us' is not a phone"),
        (["default", 0, "name", "es"], DELETE, "default[0].name.es: a non-empty text"),
        (["default", 2, "hours"], "24/7", "default[2].hours: must be dict, not str"),
        (["default", 1, "code"], "emergency", "default[1].code: 'emergency' is listed twice"),
        (["default", 0, "code"], "Emergency!", "default[0].code: 'Emergency!' is not a code"),
        (["default", 0, "hour"], {"en": "x"}, "default[0].hour: unknown field"),
        (["sites"], ["a"], "sites: must be dict"),
        (["sites", "clinic-pinecrest"], [], "sites.clinic-pinecrest: must be a non-empty list"),
        (["sites", "clinic-pinecrest", 0, "phone"], DELETE, "sites.clinic-pinecrest[0].phone: is"),
    ],
)
def test_a_broken_crisis_lines_file_names_the_file_and_field(
    path: list[Any], value: Any, field: str
) -> None:
    with pytest.raises(CrisisLinesError) as caught:
        parse_crisis_lines(edited(RAW, path, value), source=SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: {field}")


def test_a_file_that_is_not_a_mapping() -> None:
    with pytest.raises(CrisisLinesError, match=r"^content/safety/crisis_lines.yaml: version: is"):
        parse_crisis_lines(["911"], source=SOURCE)
