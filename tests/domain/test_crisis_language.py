"""Crisis-language screening against a labelled set of example messages (English and
Spanish, with negations and benign look-alikes), and the lexicon file's validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stepwell.domain.safety.crisis import (
    REVIEW,
    CrisisLexiconError,
    normalise,
    parse_lexicon,
    screen,
)
from tests.domain.content_edits import DELETE, edited

ROOT = Path(__file__).resolve().parents[2]
LEXICON_FILE = ROOT / "content" / "safety" / "crisis_language.yaml"
RAW = yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8"))
LEXICON = parse_lexicon(RAW, source=str(LEXICON_FILE))
MESSAGES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "crisis_messages.yaml").read_text(encoding="utf-8")
)


def test_the_labelled_set_is_large_enough_and_bilingual() -> None:
    assert len(MESSAGES) >= 60
    for lang in ("en", "es"):
        ours = [m for m in MESSAGES if m["lang"] == lang]
        assert any(m["crisis"] for m in ours)
        assert any(not m["crisis"] for m in ours)
        assert any(m.get("severity") == REVIEW for m in ours)  # negations in both


def test_recall_on_crisis_messages_and_measured_precision(
    capsys: pytest.CaptureFixture[str],
) -> None:
    flagged = {id(m): screen(m["text"], LEXICON) is not None for m in MESSAGES}
    crisis = [m for m in MESSAGES if m["crisis"]]
    true_pos = sum(flagged[id(m)] for m in crisis)
    false_pos = sum(flagged[id(m)] for m in MESSAGES if not m["crisis"])
    recall = true_pos / len(crisis)
    precision = true_pos / (true_pos + false_pos)
    with capsys.disabled():
        print(
            f"\ncrisis-language screening ({LEXICON.label}) on {len(MESSAGES)} labelled "
            f"messages: recall {recall:.3f} ({true_pos}/{len(crisis)}), "
            f"precision {precision:.3f} ({false_pos} benign messages flagged)"
        )
    missed = [m["text"] for m in crisis if not flagged[id(m)]]
    assert recall >= 0.95, f"missed: {missed}"


@pytest.mark.parametrize(
    "message", [m for m in MESSAGES if "severity" in m], ids=lambda m: m["text"][:40]
)
def test_severity(message: dict[str, Any]) -> None:
    found = screen(message["text"], LEXICON)
    assert found is not None
    assert found.severity == message["severity"]
    assert found.negated is (message["severity"] == REVIEW)
    assert found.lexicon_version == "1.0"


def test_an_unnegated_match_outranks_a_negated_one() -> None:
    found = screen("I won't hurt myself... but I want to end my life", LEXICON)
    assert found is not None
    assert (found.severity, found.negated) == ("high", False)
    assert found.phrases == ("end my life",)


def test_normalisation() -> None:
    assert normalise("  Mañana  YA no voy a ESTAR!! ") == "manana ya no voy a estar"
    assert normalise("I don\u2019t wanna diiiie") == "i dont wanna die"  # typographic apostrophe
    assert normalise("") == ""
    assert screen("   ...   ", LEXICON) is None


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["patterns", "high", "en", 0], "kill(myself", "patterns.high.en[0]: not a valid pattern"),
        (["patterns", "extreme"], {"en": ["x"], "es": ["y"]}, "patterns.extreme: unknown"),
        (["patterns", "moderate", "es"], DELETE, "patterns.moderate.es: is required"),
        (["patterns", "high", "en", 1], "", "patterns.high.en[1]: must be a non-empty"),
        (["negation", "window_words"], -1, "negation.window_words: must be 0 or more"),
        (["negation", "window_words"], "three", "negation.window_words: must be int"),
        (["negation", "cues", "es"], DELETE, "negation.cues.es: is required"),
        (["version"], 1, "version: must be str"),
    ],
)
def test_a_broken_lexicon_names_the_file_and_field(path: list[Any], value: Any, field: str) -> None:
    with pytest.raises(CrisisLexiconError) as caught:
        parse_lexicon(edited(RAW, path, value), source="content/safety/crisis_language.yaml")
    assert str(caught.value).startswith(f"content/safety/crisis_language.yaml: {field}")
