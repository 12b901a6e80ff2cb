"""The safety plan (Stanley-Brown style): its sections, the check of what a person wrote,
and the crisis contact numbers printed with it (``content/safety/crisis_lines.yaml``).

Pure: no database, no clock. Section titles and prompts are translated at the edge; here a
section is a code and its entries are short lines of the patient's own words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stepwell.domain.content_files import ContentFileError, FileReader, Text
from stepwell.domain.records import FieldProblem

# In the order the plan is worked through with the patient and printed.
SECTIONS: tuple[str, ...] = (
    "warning_signs",
    "coping_strategies",
    "distraction_people_places",
    "people_to_ask_for_help",
    "professionals_and_crisis_lines",
    "making_environment_safe",
    "reasons_for_living",
)
MAX_ENTRIES = 20  # per section, after blank entries are dropped
MAX_ENTRY_CHARS = 500  # per entry, after surrounding spaces are stripped

# Problem codes, so each edge can say them in its own words (and language).
UNKNOWN_SECTION = "unknown-section"
NOT_A_MAPPING = "not-a-mapping"
NOT_A_LIST = "not-a-list"
NOT_TEXT = "not-text"
LINE_BREAK = "line-break"
TOO_LONG = "too-long"
TOO_MANY = "too-many"


@dataclass(frozen=True, slots=True)
class PlanProblem:
    """One thing wrong with submitted sections.

    ``section`` is the key as sent ("" for the whole input); ``index`` the 0-based position of
    the entry as sent (blank entries included), or None for the whole section.
    """

    code: str
    section: str = ""
    index: int | None = None
    limit: int | None = None
    actual: int | None = None

    @property
    def field(self) -> str:
        if not self.section:
            return "sections"
        at = f"[{self.index}]" if self.index is not None else ""
        return f"sections.{self.section}{at}"

    @property
    def message(self) -> str:
        match self.code:
            case "unknown-section":
                return "unknown section; use one of " + ", ".join(SECTIONS)
            case "not-a-mapping":
                return "must be a mapping of section code to a list of entries"
            case "not-a-list":
                return "must be a list of texts"
            case "not-text":
                return "must be a text"
            case "line-break":
                return "must be one line (no line breaks)"
            case "too-long":
                return f"is {self.actual} characters long; at most {self.limit}"
            case "too-many":
                return f"has {self.actual} entries; at most {self.limit}"
        return self.code

    def as_field_problem(self) -> FieldProblem:
        return FieldProblem(self.field, self.message)


class SafetyPlanError(ValueError):
    """Submitted sections are not a valid plan; ``problems`` names each section and entry."""

    def __init__(self, problems: Sequence[PlanProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))

    def field_problems(self) -> list[FieldProblem]:
        return [p.as_field_problem() for p in self.problems]


def empty_sections() -> dict[str, list[str]]:
    return {code: [] for code in SECTIONS}


def validate_sections(data: Any) -> dict[str, list[str]]:
    """Every section (in ``SECTIONS`` order) with its entries stripped and blank ones dropped.

    Missing and empty sections are allowed (an empty list). Raises SafetyPlanError listing
    every problem at once: unknown section, not a list of texts, an entry with a line break
    or over ``MAX_ENTRY_CHARS`` characters, more than ``MAX_ENTRIES`` entries in a section.
    """
    if not isinstance(data, Mapping):
        raise SafetyPlanError([PlanProblem(NOT_A_MAPPING)])
    problems: list[PlanProblem] = []
    clean = empty_sections()
    for key, entries in data.items():
        section = str(key)
        if section not in clean:
            problems.append(PlanProblem(UNKNOWN_SECTION, section))
            continue
        kept, found = _entries(section, entries)
        problems.extend(found)
        clean[section] = kept
    if problems:
        raise SafetyPlanError(problems)
    return clean


def _entries(section: str, entries: Any) -> tuple[list[str], list[PlanProblem]]:
    if not isinstance(entries, list):
        return [], [PlanProblem(NOT_A_LIST, section)]
    problems: list[PlanProblem] = []
    kept: list[str] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, str):
            problems.append(PlanProblem(NOT_TEXT, section, index))
            continue
        text = entry.strip()
        if not text:
            continue
        if "\n" in text or "\r" in text:
            problems.append(PlanProblem(LINE_BREAK, section, index))
        elif len(text) > MAX_ENTRY_CHARS:
            problems.append(PlanProblem(TOO_LONG, section, index, MAX_ENTRY_CHARS, len(text)))
        kept.append(text)
    if len(kept) > MAX_ENTRIES:
        problems.append(PlanProblem(TOO_MANY, section, None, MAX_ENTRIES, len(kept)))
    return kept, problems


# --- Crisis contact numbers -------------------------------------------------------------

_PHONE = re.compile(r"\+?\(?[0-9][0-9 ()./-]{0,29}")
_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_LINE_KEYS = frozenset({"code", "name", "phone", "hours"})


class CrisisLinesError(ContentFileError):
    """The crisis-lines file is malformed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class CrisisLine:
    code: str  # stable within the file: a site's line with the same code replaces it
    name: Text
    phone: str  # as printed, e.g. "988" or "+1 555 010 0199"
    hours: Text

    @property
    def dial(self) -> str:
        """The number for a ``tel:`` link: digits and a leading +."""
        return ("+" if self.phone.startswith("+") else "") + re.sub(r"\D", "", self.phone)


@dataclass(frozen=True, slots=True)
class CrisisLines:
    version: str
    default: tuple[CrisisLine, ...]
    sites: Mapping[str, tuple[CrisisLine, ...]]

    def for_site(self, site_code: str | None) -> tuple[CrisisLine, ...]:
        """The region's lines, with the site's replacing those of the same code in place and
        its other lines after them."""
        own = self.sites.get(site_code or "", ())
        if not own:
            return self.default
        by_code = {line.code: line for line in own}
        merged = [by_code.pop(line.code, line) for line in self.default]
        return (*merged, *(line for line in own if line.code in by_code))


def parse_crisis_lines(data: Any, *, source: str) -> CrisisLines:
    """Validate a parsed crisis-lines file; errors name ``source`` and the field."""
    r = FileReader(source)
    r.error = CrisisLinesError
    version = r.get(data, "version", "version", str)
    default = _lines(r, r.get(data, "default", "default", list), "default")
    if not default:
        raise r.fail("default", "must list at least one line")
    raw_sites = r.optional(data, "sites", "sites", dict, {})
    sites: dict[str, tuple[CrisisLine, ...]] = {}
    for site_code, lines in raw_sites.items():
        path = f"sites.{site_code}"
        if not isinstance(site_code, str) or not site_code.strip():
            raise r.fail(path, "a site code (text) is required")
        if not isinstance(lines, list) or not lines:
            raise r.fail(path, "must be a non-empty list of lines")
        sites[site_code] = _lines(r, lines, path)
    return CrisisLines(version, default, sites)


def _lines(r: FileReader, raw: list[Any], path: str) -> tuple[CrisisLine, ...]:
    lines: list[CrisisLine] = []
    seen: set[str] = set()
    for k, item in enumerate(raw):
        at = f"{path}[{k}]"
        if not isinstance(item, dict):
            raise r.fail(at, f"must be a mapping, not {type(item).__name__}")
        unknown = sorted(str(key) for key in set(item) - _LINE_KEYS)
        if unknown:
            raise r.fail(f"{at}.{unknown[0]}", "unknown field; use code, name, phone, hours")
        code = r.get(item, "code", f"{at}.code", str)
        if not _CODE.fullmatch(code):
            raise r.fail(f"{at}.code", f"{code!r} is not a code (a-z, 0-9, -)")
        if code in seen:
            raise r.fail(f"{at}.code", f"{code!r} is listed twice")
        seen.add(code)
        phone = r.get(item, "phone", f"{at}.phone", str).strip()
        if not _PHONE.fullmatch(phone):
            raise r.fail(f"{at}.phone", f"{phone!r} is not a phone number (digits, + ( ) - .)")
        lines.append(
            CrisisLine(
                code=code,
                name=r.text(item, "name", f"{at}.name"),
                phone=phone,
                hours=r.text(item, "hours", f"{at}.hours"),
            )
        )
    return tuple(lines)
