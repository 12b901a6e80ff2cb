"""Crisis-language screening of free text (messages, portal notes) against the lexicon in
``content/safety/crisis_language.yaml``.

A screening aid: it says "a person should read this now", never "this is safe". Pure: no
database, no clock. The file format is described at the top of the lexicon file and in
``docs/crisis-language.md``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from stepwell.domain.content_files import LANGUAGES, ContentFileError, FileReader

SEVERITIES = ("high", "moderate")  # in the file, most severe first
REVIEW = "review"  # a negated match: still flagged, at the lowest severity


class CrisisLexiconError(ContentFileError):
    """The lexicon file is malformed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class _Pattern:
    severity: str
    language: str
    source: str
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class CrisisLexicon:
    code: str
    version: str
    negation_window: int
    negation_cues: frozenset[str]
    patterns: tuple[_Pattern, ...]

    @property
    def label(self) -> str:
        return f"{self.code} {self.version}"


@dataclass(frozen=True, slots=True)
class CrisisMatch:
    """The most severe finding in a text. ``phrases`` are the normalised matched words;
    ``negated`` when every match at the top severity had a negation before it."""

    severity: str  # "high", "moderate" or "review"
    phrases: tuple[str, ...]
    negated: bool
    lexicon_version: str


_SQUEEZE = re.compile(r"([a-z])\1{2,}")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    """Lower case, no accents, no apostrophes, letters repeated 3+ times squeezed to one,
    every other non-alphanumeric run as one space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.replace("'", "").replace("\u2019", "")
    plain = _SQUEEZE.sub(r"\1", plain)
    return _NOT_WORD.sub(" ", plain).strip()


def parse_lexicon(data: Any, *, source: str) -> CrisisLexicon:
    """Validate a parsed lexicon file; errors name ``source`` and the field."""
    r = FileReader(source)
    r.error = CrisisLexiconError
    code = r.get(data, "code", "code", str)
    version = r.get(data, "version", "version", str)
    negation = r.get(data, "negation", "negation", dict)
    window = r.get(negation, "window_words", "negation.window_words", int)
    if window < 0:
        raise r.fail("negation.window_words", f"must be 0 or more, not {window}")
    cues_by_language = r.get(negation, "cues", "negation.cues", dict)
    cues: set[str] = set()
    for lang in LANGUAGES:
        words = r.get(cues_by_language, lang, f"negation.cues.{lang}", list)
        for k, word in enumerate(words):
            if not isinstance(word, str) or not word.strip():
                raise r.fail(f"negation.cues.{lang}[{k}]", "must be a non-empty word")
            cues.add(normalise(word))
    raw = r.get(data, "patterns", "patterns", dict)
    unknown = sorted(set(raw) - set(SEVERITIES))
    if unknown:
        raise r.fail(f"patterns.{unknown[0]}", f"unknown severity; use one of {SEVERITIES}")
    patterns = []
    for severity in SEVERITIES:
        by_language = r.get(raw, severity, f"patterns.{severity}", dict)
        for lang in LANGUAGES:
            path = f"patterns.{severity}.{lang}"
            for k, source_text in enumerate(r.get(by_language, lang, path, list)):
                if not isinstance(source_text, str) or not source_text.strip():
                    raise r.fail(f"{path}[{k}]", "must be a non-empty pattern")
                try:
                    regex = re.compile(rf"\b(?:{source_text})\b")
                except re.error as exc:
                    raise r.fail(f"{path}[{k}]", f"not a valid pattern ({exc})") from None
                patterns.append(_Pattern(severity, lang, source_text, regex))
    return CrisisLexicon(code, version, window, frozenset(cues), tuple(patterns))


def screen(text: str, lexicon: CrisisLexicon) -> CrisisMatch | None:
    """The most severe crisis language in ``text`` (any language of the lexicon), or None.

    A match preceded within ``negation.window_words`` words by a negation cue counts at
    ``review`` severity, unless the same text also has an un-negated match.
    """
    plain = normalise(text)
    if not plain:
        return None
    found: dict[str, list[tuple[str, bool]]] = {}
    for p in lexicon.patterns:
        for m in p.regex.finditer(plain):
            before = plain[: m.start()].split()
            window = before[-lexicon.negation_window :] if lexicon.negation_window else []
            negated = any(word in lexicon.negation_cues for word in window)
            found.setdefault(p.severity, []).append((m.group(0), negated))
    for severity in SEVERITIES:
        hits = found.get(severity)
        if not hits:
            continue
        plain_hits = [phrase for phrase, negated in hits if not negated]
        if plain_hits:
            return CrisisMatch(severity, tuple(dict.fromkeys(plain_hits)), False, lexicon.version)
    negated_hits = [phrase for hits in found.values() for phrase, _ in hits]
    if negated_hits:
        return CrisisMatch(REVIEW, tuple(dict.fromkeys(negated_hits)), True, lexicon.version)
    return None
