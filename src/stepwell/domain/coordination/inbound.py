"""What an SMS received from a patient asks for.

A reply is one of: stop messages (an opt-out keyword such as STOP or BAJA, alone), start
them again (START, ALTA), a short questionnaire answer ("PHQ2 1 2": a keyword, then the
answers as whole numbers), or something not understood (with a reason code, never the
text). Keywords are those of ``inbound`` in ``content/coordination/access.yaml``.

Phones and people vary, so the body is folded before it is read: Unicode compatibility
forms decomposed (fullwidth digits become ASCII), accents and other combining marks and
invisible format characters (zero-width joiners) dropped, upper-cased, runs of white space
made one space. "báJa" is BAJA; "phq-2: 1,2" is PHQ2 with answers 1 and 2.

Whether the answers fit the instrument (how many, which range) is checked later, when they
are scored; here a number is only a whole number from 0 to 99.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rules imports this module; the annotation needs no import at run time
    from stepwell.domain.coordination.rules import InboundRules

# Three concatenated SMS segments. Anything longer is not a reply in the short format (and
# is not worth reading for a keyword: an opt-out is a keyword alone).
MAX_BODY_CHARS = 160 * 3
NOT_UNDERSTOOD_REASONS = ("empty", "too-long", "unknown-keyword", "bad-number")
_SEPARATORS = re.compile(r"[\s,;:/]+")  # between a keyword and its answers
_NUMBER = re.compile(r"[0-9]{1,2}\Z")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


@dataclass(frozen=True, slots=True)
class OptOut:
    keyword: str  # folded, e.g. "BAJA"


@dataclass(frozen=True, slots=True)
class OptIn:
    keyword: str


@dataclass(frozen=True, slots=True)
class ShortScore:
    instrument: str  # the instrument code the keyword stands for
    values: tuple[int, ...]  # the answers in order, each 0 to 99; possibly none ("PHQ2:")


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    reason: str  # one of NOT_UNDERSTOOD_REASONS


InboundCommand = OptOut | OptIn | ShortScore | NotUnderstood


def fold(text: str) -> str:
    """``text`` as keywords are compared: compatibility-decomposed, combining marks and
    format characters dropped, upper case, white space collapsed and trimmed."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cf"))
    return " ".join(kept.upper().split())


def parse_sms(body: str, rules: InboundRules) -> InboundCommand:
    """Read one SMS body (any text, as received) against the inbound keywords."""
    if len(body.strip()) > MAX_BODY_CHARS:
        return NotUnderstood("too-long")
    text = fold(body)
    if not text:
        return NotUnderstood("empty")
    # "Stop.", "¡Baja!", "STOP 🙏": punctuation and symbols around the words do not count.
    core = _strip_edges(text)
    if core in rules.opt_out:
        return OptOut(core)
    if core in rules.opt_in:
        return OptIn(core)
    tokens = [t for t in _SEPARATORS.split(core) if t]
    found = _short_score_keyword(tokens, rules)
    if found is None:
        return NotUnderstood("unknown-keyword")
    keyword, answers = found
    if not all(_NUMBER.match(t) for t in answers):
        return NotUnderstood("bad-number")
    return ShortScore(rules.short_scores[keyword], tuple(int(t) for t in answers))


def _strip_edges(text: str) -> str:
    """``text`` without leading and trailing punctuation, symbols (emoji) and spaces."""
    start, end = 0, len(text)
    while start < end and _is_edge(text[start]):
        start += 1
    while end > start and _is_edge(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_edge(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in ("P", "S")


def _short_score_keyword(tokens: list[str], rules: InboundRules) -> tuple[str, list[str]] | None:
    """The short-score keyword the reply starts with and the tokens after it, or None.
    "PHQ-2" and "PHQ 2" both read as PHQ2 (hyphen dropped; a split keyword joined)."""
    for width in (1, 2):
        if len(tokens) < width:
            return None
        keyword = _NOT_ALNUM.sub("", "".join(tokens[:width]))
        if keyword in rules.short_scores:
            return keyword, tokens[width:]
    return None
