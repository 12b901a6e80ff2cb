"""Reading the peer programme's content files: one error family, codes checked for shape and
repeats, lists of codes checked against what they refer to. Every error names the file and
the field, e.g. ``content/peers/vocabulary.yaml: lived_experience[3].label.es: …``."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from stepwell.domain.content_files import ContentFileError, FileReader

# Vocabulary, curriculum and module codes: lower-case words joined by hyphens ("tue-evening").
CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
# Lifecycle states are stored on the peer's record, so they keep the brief's snake case.
STATE = re.compile(r"[a-z]+(?:_[a-z]+)*\Z")


class PeerContentError(ContentFileError):
    """A peer-programme content file is malformed or refers to something that does not
    exist; the message starts with the file and the field."""


class VocabularyFileError(PeerContentError):
    """``content/peers/vocabulary.yaml`` is malformed."""


class CurriculumFileError(PeerContentError):
    """A ``content/curricula/*.yaml`` file is malformed (or two curricula collide)."""


class ProgrammeFileError(PeerContentError):
    """``content/peers/programme.yaml`` is malformed or refers to an unknown state,
    curriculum or sentence."""


class Reader(FileReader):
    """``FileReader`` plus the checks every peer file needs."""

    def top(self, data: Any, allowed: Collection[str]) -> dict[str, Any]:
        """The top-level mapping; an unknown key (usually a typo) is refused."""
        if not isinstance(data, dict):
            raise self.fail("(top level)", "must be a mapping")
        for key in data:
            if key not in allowed:
                raise self.fail(str(key), "is not a field of this file (typo?)")
        return data

    def code(
        self,
        data: Any,
        key: str,
        path: str,
        seen: set[str] | None = None,
        pattern: re.Pattern[str] = CODE,
    ) -> str:
        """A code of the right shape, not already in ``seen`` (which it is added to)."""
        value: str = self.get(data, key, path, str)
        if not pattern.match(value):
            shape = "lower-case words joined by '-'" if pattern is CODE else "snake_case"
            raise self.fail(path, f"{value!r} is not a code ({shape})")
        if seen is not None:
            if value in seen:
                raise self.fail(path, f"{value!r} appears twice")
            seen.add(value)
        return value

    def positive(self, data: Any, key: str, path: str) -> int:
        value: int = self.get(data, key, path, int)
        if value < 1:
            raise self.fail(path, f"must be at least 1, not {value}")
        return value

    def refs(
        self, data: Any, key: str, path: str, known: Collection[str], what: str
    ) -> tuple[str, ...]:
        """A list of codes, each one of ``known`` and none twice."""
        raw = self.get(data, key, path, list)
        out: list[str] = []
        for n, value in enumerate(raw):
            out.append(self.ref(value, f"{path}[{n}]", known, what))
            if value in out[:-1]:
                raise self.fail(f"{path}[{n}]", f"{value!r} appears twice")
        return tuple(out)

    def ref(self, value: Any, path: str, known: Collection[str], what: str) -> str:
        if not isinstance(value, str) or value not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise self.fail(path, f"{value!r} is not {what} (known: {listed})")
        return value
