"""Every shipped instrument against hand-computed cases from its published scoring rules,
plus properties that hold for any valid answer set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from stepwell.domain.instruments.model import NA, Instrument
from stepwell.domain.instruments.parse import InstrumentFileError, parse_instrument
from stepwell.domain.instruments.scoring import AnswerError, reliable_change, score

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "content" / "instruments").glob("*.yaml"))
CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).with_name("instrument_cases.yaml")).read_text(encoding="utf-8")
)


def _load(path: Path) -> Instrument:
    return parse_instrument(yaml.safe_load(path.read_text(encoding="utf-8")), source=str(path))


INSTRUMENTS = {i.code: i for i in map(_load, FILES)}


def test_the_required_instruments_are_shipped() -> None:
    assert set(INSTRUMENTS) >= {
        "PHQ-9",
        "PHQ-2",
        "GAD-7",
        "PHQ-15",
        "SSS-8",
        "WSAS",
        "UCLA-3",
        "ADHERENCE-7D",
        "SATISFACTION",
    }
    assert set(CASES) - {"errors"} == set(INSTRUMENTS)


SCORE_CASES = [
    pytest.param(code, case, id=f"{code}-{n}")
    for code, cases in CASES.items()
    if code != "errors"
    for n, case in enumerate(cases)
]


@pytest.mark.parametrize(("code", "case"), SCORE_CASES)
def test_hand_computed_scores(code: str, case: dict[str, Any]) -> None:
    result = score(INSTRUMENTS[code], case["answers"])
    assert result.total == case["total"]
    assert result.band == case["band"]
    if "caseness" in case:
        assert result.caseness is case["caseness"]
    assert result.prorated is case.get("prorated", False)
    assert list(result.missing) == case.get("missing", [])
    assert list(result.not_applicable) == case.get("not_applicable", [])
    assert list(result.safety) == case.get("safety", [])


@pytest.mark.parametrize("case", CASES["errors"], ids=lambda c: c["message"][:40])
def test_bad_answers_are_named(case: dict[str, Any]) -> None:
    with pytest.raises(AnswerError) as err:
        score(INSTRUMENTS[case["code"]], case["answers"])
    assert str(err.value) == case["message"]


def test_published_metadata() -> None:
    phq9, gad7 = INSTRUMENTS["PHQ-9"], INSTRUMENTS["GAD-7"]
    assert (phq9.loinc_panel, phq9.loinc_total) == ("44249-1", "44261-6")
    assert phq9.items[8].loinc == "44260-8"
    assert (gad7.loinc_panel, gad7.loinc_total) == ("69737-5", "70274-6")
    assert INSTRUMENTS["PHQ-15"].loinc_total == "70273-8"
    assert (phq9.caseness_min, gad7.caseness_min) == (10, 8)
    assert (phq9.reliable_change, gad7.reliable_change) == (6, 4)


def test_every_text_is_in_english_and_spanish() -> None:
    for inst in INSTRUMENTS.values():
        texts = [
            inst.name,
            inst.recall_period,
            *(i.text for i in inst.items),
            *(o.label for i in inst.items for o in i.options),
            *(b.label for b in inst.bands),
        ]
        for text in texts:
            assert text["en"].strip(), inst.code
            assert text["es"].strip(), inst.code
        assert any(i.text["es"] != i.text["en"] for i in inst.items), inst.code


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (14, 8, "improved"),
        (14, 9, "no-change"),
        (14, 13, "no-change"),
        (10, 16, "deteriorated"),
        (10, 15, "no-change"),
        (20, 14, "improved"),
    ],
)
def test_reliable_change_phq9_threshold_6(before: int, after: int, expected: str) -> None:
    assert reliable_change(INSTRUMENTS["PHQ-9"], before, after) == expected


def test_reliable_change_where_higher_is_better() -> None:
    satisfaction = INSTRUMENTS["SATISFACTION"]
    assert reliable_change(satisfaction, 8, 12) == "improved"
    assert reliable_change(satisfaction, 12, 8) == "deteriorated"


def _toy(**scoring: Any) -> dict[str, Any]:
    return {
        "code": "TOY",
        "version": "1",
        "name": {"en": "Toy", "es": "Juguete"},
        "source": "test",
        "licence": "test",
        "recall_period": {"en": "Now", "es": "Ahora"},
        "options": [{"value": v, "label": {"en": str(v), "es": str(v)}} for v in (0, 1, 2)],
        "items": [{"id": str(n), "text": {"en": f"Q{n}", "es": f"P{n}"}} for n in (1, 2, 3)],
        "scoring": {
            "range": [0, 6],
            "missing": {"max_missing": 1},
            "bands": [
                {"code": "low", "min": 0, "max": 2, "label": {"en": "L", "es": "B"}},
                {"code": "high", "min": 3, "max": 6, "label": {"en": "H", "es": "A"}},
            ],
            "reliable_change": {"threshold": 2},
        }
        | scoring,
    }


def test_jacobson_truax_threshold_from_sd_and_reliability() -> None:
    toy = parse_instrument(_toy(reliable_change={"sd": 4.5, "reliability": 0.8}), source="t")
    # 1.96 x 4.5 x sqrt(2) x sqrt(0.2) = 5.578...
    assert toy.reliable_change == pytest.approx(5.578, abs=0.001)
    assert reliable_change(toy, 14, 8) == "improved"
    assert reliable_change(toy, 14, 9) == "no-change"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"range": [0, 7]}, "scoring.range"),
        (
            {
                "bands": [
                    {"code": "a", "min": 0, "max": 2, "label": {"en": "a", "es": "a"}},
                    {"code": "b", "min": 4, "max": 6, "label": {"en": "b", "es": "b"}},
                ]
            },
            "scoring.bands[1].min",
        ),
        ({"missing": {"max_missing": 3}}, "scoring.missing.max_missing"),
        ({"reliable_change": {"sd": 4}}, "scoring.reliable_change.reliability"),
        ({"method": "mean"}, "scoring.method"),
    ],
)
def test_bad_files_name_the_field(change: dict[str, Any], path: str) -> None:
    with pytest.raises(InstrumentFileError) as err:
        parse_instrument(_toy(**change), source="toy.yaml")
    assert str(err.value).startswith(f"toy.yaml: {path}")


def test_missing_spanish_text_is_named() -> None:
    data = _toy()
    data["items"][1]["text"] = {"en": "Q2"}
    with pytest.raises(InstrumentFileError, match=r"items\[1\]\.text\.es"):
        parse_instrument(data, source="toy.yaml")


@st.composite
def _full_answers(draw: st.DrawFn) -> tuple[Instrument, list[Any]]:
    inst = draw(st.sampled_from(list(INSTRUMENTS.values())))
    answers: list[Any] = []
    for item in inst.items:
        if item.kind == "text":
            answers.append(draw(st.sampled_from([None, "", "Fine.", "Muy bien, gracias."])))
        else:
            choices: list[Any] = list(item.values)
            if item.not_applicable:
                choices.append(NA)
            answers.append(
                draw(st.sampled_from(choices))
                if item.scored
                else draw(st.sampled_from([*choices, None]))
            )
    return inst, answers


@given(_full_answers())
def test_any_full_answer_set_scores_in_range_and_one_band(
    case: tuple[Instrument, list[Any]],
) -> None:
    inst, answers = case
    result = score(inst, answers)
    low, high = inst.range
    # Not-applicable items leave the total, so only then may it fall below the lowest total.
    assert (low if not result.not_applicable else 0) <= result.total <= high
    assert sum(b.min <= result.total <= b.max for b in inst.bands) == 1
    assert not result.prorated
    assert result.missing == ()
