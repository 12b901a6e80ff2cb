"""Reading clinical content files (plain dicts from YAML) with errors that name the file and
the field: ``content/protocols/default.yaml: rules.step_up.after_days: must be int, not str``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

LANGUAGES = ("en", "es")
Text = dict[str, str]  # language code -> text; always has every code in LANGUAGES


class ContentFileError(ValueError):
    """A content file is malformed; the message starts with the file and the field."""


class FileReader:
    """Typed access to one parsed file. ``error`` is the exception class raised."""

    error: type[ContentFileError] = ContentFileError

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> ContentFileError:
        return self.error(f"{self.source}: {path}: {message}")

    def get(self, data: Any, key: str, path: str, kind: type | tuple[type, ...]) -> Any:
        if not isinstance(data, dict) or key not in data:
            raise self.fail(path, "is required")
        value = data[key]
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(path, f"must be a number, not {value!r}")
        if not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.fail(path, f"must be {names}, not {type(value).__name__}")
        return value

    def optional(
        self, data: Any, key: str, path: str, kind: type | tuple[type, ...], default: Any
    ) -> Any:
        if not isinstance(data, dict) or key not in data:
            return default
        return self.get(data, key, path, kind)

    def text(self, data: Any, key: str, path: str) -> Text:
        value = self.get(data, key, path, dict)
        return self.text_value(value, path)

    def text_value(self, value: Any, path: str) -> Text:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a mapping of languages, not {type(value).__name__}")
        out = {}
        for lang in LANGUAGES:
            entry = value.get(lang)
            if not isinstance(entry, str) or not entry.strip():
                raise self.fail(f"{path}.{lang}", "a non-empty text is required")
            out[lang] = entry
        return out

    def sentences(
        self, data: object, expected: Mapping[str, frozenset[str]], emitter: str
    ) -> dict[str, Text]:
        """The file's ``texts`` table: one sentence per code in ``expected`` (code → the
        placeholders it may use), in every language; no other code. ``emitter`` names what
        emits the codes, for the messages ("the engine", "the optimiser")."""
        raw = self.get(data, "texts", "texts", dict)
        out = {}
        for code, params in expected.items():
            if code not in raw:
                raise self.fail(f"texts.{code}", f"is required ({emitter} emits it)")
            text = self.text_value(raw[code], f"texts.{code}")
            for lang, template in text.items():
                try:
                    names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
                except ValueError as exc:
                    raise self.fail(f"texts.{code}.{lang}", f"bad placeholder: {exc}") from None
                unknown = names - params
                if unknown:
                    allowed = ", ".join(sorted(params)) or "none"
                    raise self.fail(
                        f"texts.{code}.{lang}",
                        f"unknown placeholder {{{sorted(unknown)[0]}}} (allowed: {allowed})",
                    )
            out[code] = text
        for code in raw:
            if code not in expected:
                raise self.fail(f"texts.{code}", f"is not a code {emitter} emits")
        return out
