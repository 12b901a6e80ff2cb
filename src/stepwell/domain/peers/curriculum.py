"""Training curricula (``content/curricula/*.yaml``), module completions and certification.

The same machinery serves peer supporters and clinicians: a curriculum names the roles it
certifies and its modules; a person is certified for it while every **required** module has
a passed, unexpired completion.

Day conventions (whole calendar days; "today" is ``now``'s date in ``now``'s zone):

- a pass completed on day *C* of a module valid for *N* days counts on days *C* … *C+N-1*
  and **expires on** *C+N*, the first day it no longer counts (a 365-day module completed on
  2026-01-01 counts through 2026-12-31 and expires on 2027-01-01);
- a module with no ``valid_for_days`` never expires;
- ``expires_on`` is fixed when the completion is recorded: a later change of
  ``valid_for_days`` applies to new completions, not to stored ones;
- a completion dated after today does not count yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from stepwell.domain.access.policy import Role
from stepwell.domain.content_files import Text
from stepwell.domain.peers.days import today_of
from stepwell.domain.peers.files import CurriculumFileError, Reader
from stepwell.domain.peers.vocabulary import Vocabulary

ROLES = tuple(r.value for r in Role)


@dataclass(frozen=True, slots=True)
class Module:
    code: str
    title: Text
    summary: Text
    hours: float  # contact/teaching hours, > 0
    required: bool  # required for certification (else optional, recorded but not needed)
    valid_for_days: (
        int | None
    )  # whole days a pass counts, from its completion day; None: never expires
    assessment: str  # an ``assessment_kinds`` code of the vocabulary

    def expires_on(self, completed_on: date) -> date | None:
        """The first day a pass completed on ``completed_on`` no longer counts (None: never)."""
        if self.valid_for_days is None:
            return None
        return completed_on + timedelta(days=self.valid_for_days)


@dataclass(frozen=True, slots=True)
class Curriculum:
    code: str
    version: str
    title: Text
    certifies: tuple[str, ...]  # role codes (domain.access.policy.Role)
    modules: tuple[Module, ...]  # file order, which is the teaching order

    @property
    def label(self) -> str:
        return f"{self.code} {self.version}"

    @property
    def required(self) -> tuple[Module, ...]:
        return tuple(m for m in self.modules if m.required)

    @property
    def required_hours(self) -> float:
        return sum(m.hours for m in self.required)

    def module(self, code: str) -> Module:
        """The module ``code``; KeyError naming it and the curriculum when there is none."""
        for m in self.modules:
            if m.code == code:
                return m
        raise KeyError(f"{code!r} is not a module of {self.label}")


@dataclass(frozen=True, slots=True)
class Completion:
    """One assessed attempt at a module. Build it with ``completion_for`` so ``expires_on``
    follows the module's ``valid_for_days``; a failed attempt never counts."""

    module: str
    completed_on: date
    assessor_id: int
    passed: bool
    expires_on: date | None  # first day it no longer counts; None: never expires


@dataclass(frozen=True, slots=True)
class ExpiredModule:
    module: str
    expired_on: date  # the first day its latest pass no longer counted


@dataclass(frozen=True, slots=True)
class ValidModule:
    module: str
    completed_on: date
    expires_on: date | None


@dataclass(frozen=True, slots=True)
class CertificationStatus:
    """Where a person stands against one curriculum on one day.

    ``certified``: every required module has a counting pass. ``valid_until``: when
    certified, the day certification lapses unless a module is renewed — the earliest
    ``expires_on`` among the required modules, itself **not** a certified day; None when not
    certified or when no required module expires. ``missing``: required modules never passed
    (curriculum order). ``expired``: required modules whose latest pass has expired. ``valid``:
    every module (required or optional) with a counting pass.
    """

    curriculum: str
    version: str
    certified: bool
    valid_until: date | None
    missing: tuple[str, ...]
    expired: tuple[ExpiredModule, ...]
    valid: tuple[ValidModule, ...]

    @property
    def last_certified_day(self) -> date | None:
        """The last day still certified (the day before ``valid_until``), for display."""
        return None if self.valid_until is None else self.valid_until - timedelta(days=1)

    @property
    def lacking(self) -> tuple[str, ...]:
        """Required modules to pass (again) before certification holds: missing, then
        expired."""
        return self.missing + tuple(e.module for e in self.expired)


def completion_for(
    module: Module, *, completed_on: date, assessor_id: int, passed: bool
) -> Completion:
    """A completion of ``module`` with its expiry computed from ``valid_for_days``."""
    return Completion(
        module=module.code,
        completed_on=completed_on,
        assessor_id=assessor_id,
        passed=passed,
        expires_on=module.expires_on(completed_on),
    )


def _latest_pass(completions: Iterable[Completion], today: date) -> dict[str, Completion]:
    """Per module, the pass completed most recently on or before ``today`` (on the same
    day, the one that lasts longest). A later failed attempt does not undo a pass."""
    latest: dict[str, Completion] = {}
    for c in completions:
        if not c.passed or c.completed_on > today:
            continue
        best = latest.get(c.module)
        if best is None or _later(c, best):
            latest[c.module] = c
    return latest


def _later(a: Completion, b: Completion) -> bool:
    if a.completed_on != b.completed_on:
        return a.completed_on > b.completed_on
    if b.expires_on is None:
        return False
    return a.expires_on is None or a.expires_on > b.expires_on


def certification_status(
    curriculum: Curriculum, completions: Iterable[Completion], now: datetime
) -> CertificationStatus:
    """The certification of one person against ``curriculum`` today (``now``'s date, ``now``
    timezone-aware). Completions of modules outside the curriculum are ignored, so a
    person's completions of every curriculum may be passed together."""
    today = today_of(now)
    latest = _latest_pass(completions, today)
    missing: list[str] = []
    expired: list[ExpiredModule] = []
    valid: list[ValidModule] = []
    for module in curriculum.modules:
        c = latest.get(module.code)
        if c is None:
            if module.required:
                missing.append(module.code)
        elif c.expires_on is not None and c.expires_on <= today:
            if module.required:
                expired.append(ExpiredModule(module.code, c.expires_on))
        else:
            valid.append(ValidModule(module.code, c.completed_on, c.expires_on))
    certified = not missing and not expired
    required = {m.code for m in curriculum.required}
    expiries = [v.expires_on for v in valid if v.module in required and v.expires_on is not None]
    return CertificationStatus(
        curriculum=curriculum.code,
        version=curriculum.version,
        certified=certified,
        valid_until=min(expiries) if certified and expiries else None,
        missing=tuple(missing),
        expired=tuple(expired),
        valid=tuple(valid),
    )


# --- the files -------------------------------------------------------------------------------


class _Reader(Reader):
    error = CurriculumFileError

    def hours(self, raw: Any, path: str) -> float:
        value = self.get(raw, "hours", path, (int, float))
        if not value > 0:
            raise self.fail(path, f"must be more than 0, not {value}")
        return float(value)

    def validity(self, raw: Any, path: str) -> int | None:
        # Required even when empty, so "never expires" is always a decision, not an omission.
        if not isinstance(raw, dict) or "valid_for_days" not in raw:
            raise self.fail(path, "is required (whole days, or null for no expiry)")
        if raw["valid_for_days"] is None:
            return None
        return self.positive(raw, "valid_for_days", path)

    def module(self, raw: Any, n: int, seen: set[str], vocabulary: Vocabulary) -> Module:
        path = f"modules[{n}]"
        return Module(
            code=self.code(raw, "code", f"{path}.code", seen),
            title=self.text(raw, "title", f"{path}.title"),
            summary=self.text(raw, "summary", f"{path}.summary"),
            hours=self.hours(raw, f"{path}.hours"),
            required=self.get(raw, "required", f"{path}.required", bool),
            valid_for_days=self.validity(raw, f"{path}.valid_for_days"),
            assessment=self.ref(
                self.get(raw, "assessment", f"{path}.assessment", str),
                f"{path}.assessment",
                vocabulary.codes("assessment_kinds"),
                "an assessment kind of the vocabulary",
            ),
        )


def parse_curriculum(data: Any, *, source: str, vocabulary: Vocabulary) -> Curriculum:
    """Validate one parsed curriculum file. Raises CurriculumFileError naming file and field:
    a module code repeated, hours not above 0, ``valid_for_days`` absent or below 1, an
    assessment kind or role that does not exist, no required module, a missing translation."""
    r = _Reader(source)
    top = r.top(data, ("code", "version", "title", "certifies", "modules"))
    certifies = r.refs(top, "certifies", "certifies", ROLES, "a role")
    if not certifies:
        raise r.fail("certifies", "must name at least one role")
    raw_modules = r.get(top, "modules", "modules", list)
    seen: set[str] = set()
    modules = tuple(r.module(raw, n, seen, vocabulary) for n, raw in enumerate(raw_modules))
    if not any(m.required for m in modules):
        raise r.fail("modules", "needs at least one required module")
    return Curriculum(
        code=r.code(top, "code", "code"),
        version=str(r.get(top, "version", "version", (str, int, float))),
        title=r.text(top, "title", "title"),
        certifies=certifies,
        modules=modules,
    )


def parse_curricula(
    files: Iterable[tuple[str, Any]], *, vocabulary: Vocabulary
) -> dict[str, Curriculum]:
    """Every curriculum file, as ``(source, parsed YAML)`` pairs, by curriculum code.

    Besides each file's own checks, a curriculum code or a module code may appear in only
    one file: completions are stored by module code, so a shared code would let a pass in one
    curriculum count in another.
    """
    out: dict[str, Curriculum] = {}
    sources: dict[str, str] = {}
    owners: dict[str, str] = {}  # module code -> curriculum code
    for source, data in files:
        curriculum = parse_curriculum(data, source=source, vocabulary=vocabulary)
        if curriculum.code in out:
            raise CurriculumFileError(
                f"{source}: code: {curriculum.code!r} is already the code of "
                f"{sources[curriculum.code]}"
            )
        for n, module in enumerate(curriculum.modules):
            if module.code in owners:
                other = owners[module.code]
                raise CurriculumFileError(
                    f"{source}: modules[{n}].code: {module.code!r} is already a module of "
                    f"{other} ({sources[other]}); module codes are unique across curricula"
                )
            owners[module.code] = curriculum.code
        out[curriculum.code] = curriculum
        sources[curriculum.code] = source
    return out


def module_titles(curricula: Mapping[str, Curriculum]) -> dict[str, Text]:
    """Module code -> title, across curricula (module codes are unique across them)."""
    return {m.code: m.title for c in curricula.values() for m in c.modules}
