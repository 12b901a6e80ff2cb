"""The structured risk screen recorded on an escalation task (``content/safety/risk_screen.yaml``):
yes/no questions, each indicating a minimum risk level. Pure: no Django, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stepwell.domain.content_files import ContentFileError, FileReader, Text

LEVELS = ("none", "low", "moderate", "high")  # lowest first


class RiskScreenError(ContentFileError):
    """The risk-screen file is malformed; the message names the file and the field."""


class ScreenAnswerError(ValueError):
    """Screen answers are incomplete or wrong; ``field`` names the question."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class Question:
    code: str
    level: str
    text: Text


@dataclass(frozen=True, slots=True)
class RiskScreen:
    code: str
    version: str
    questions: tuple[Question, ...]

    def indicated_level(self, answers: Mapping[str, object]) -> str:
        """The lowest risk level the answers allow. Every question must be answered with a
        boolean; unknown codes are refused (ScreenAnswerError naming the question)."""
        known = {q.code for q in self.questions}
        for code in answers:
            if code not in known:
                raise ScreenAnswerError(f"screen.{code}", "is not a question of the screen")
        level = "none"
        for q in self.questions:
            if q.code not in answers:
                raise ScreenAnswerError(f"screen.{q.code}", "needs an answer (yes or no)")
            value = answers[q.code]
            if not isinstance(value, bool):
                raise ScreenAnswerError(f"screen.{q.code}", f"{value!r} is not yes or no")
            if value and LEVELS.index(q.level) > LEVELS.index(level):
                level = q.level
        return level


def parse_risk_screen(data: Any, *, source: str) -> RiskScreen:
    """Validate a parsed risk-screen file. Raises RiskScreenError naming file and field."""
    r = FileReader(source)
    r.error = RiskScreenError
    if r.get(data, "levels", "levels", list) != list(LEVELS):
        raise r.fail("levels", "must be exactly " + ", ".join(LEVELS))
    questions = []
    seen: set[str] = set()
    for n, raw in enumerate(r.get(data, "questions", "questions", list)):
        path = f"questions[{n}]"
        code = r.get(raw, "code", f"{path}.code", str)
        if code in seen:
            raise r.fail(f"{path}.code", f"{code!r} appears twice")
        seen.add(code)
        level = r.get(raw, "level", f"{path}.level", str)
        if level not in LEVELS[1:]:
            raise r.fail(f"{path}.level", f"{level!r} is not one of low, moderate, high")
        questions.append(Question(code, level, r.text(raw, "text", f"{path}.text")))
    if not questions:
        raise r.fail("questions", "needs at least one question")
    return RiskScreen(
        code=r.get(data, "code", "code", str),
        version=str(r.get(data, "version", "version", (str, int, float))),
        questions=tuple(questions),
    )
