"""``stepwell assessments import FILE --as USERNAME``: record completed questionnaires from CSV.

All or nothing: every row goes through ``assessment_record`` (scoring, validation, visibility,
audit) inside one transaction, each row in its own savepoint so that the rows after a bad one
are still checked. If any row fails, every problem is printed to stderr as
``FILE:LINE: field: message``, the whole import is rolled back and the exit code is 2.

Patient data never reaches the output: no names, no answers, no record numbers (line numbers
say which row). The format is in docs/importing-assessments.md.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from stepwell.apps.access.selectors import visible_patients
from stepwell.apps.accounts.models import User
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.measurement.models import Assessment, CaptureMode
from stepwell.apps.measurement.registry import instrument as find_instrument
from stepwell.apps.measurement.services import assessment_record
from stepwell.domain.access.policy import Role, View, policy_for
from stepwell.domain.instruments.model import NA, Instrument
from stepwell.domain.instruments.parse import InstrumentFileError
from stepwell.domain.instruments.scoring import Answer, AnswerError, score
from stepwell.domain.records import FieldProblem

COLUMNS = ("record_number", "instrument", "taken_at", "mode", "answers")
ANSWER_SEPARATOR = ";"
# Staff enter paper forms or another system's records; the patient modes (portal, SMS) are
# for answers the patient gave here.
STAFF_MODES = (CaptureMode.CHW.value, CaptureMode.CLINICIAN.value)
_EXAMPLE_TIME = "2026-11-20T10:00:00+01:00"
# A wrong answer is shown to say what is wrong with it, unless it may be a patient's words.
_SHOWN_MAX = 12
_LOOKUP_CHUNK = 500  # record numbers per query: well under every database's parameter limit


class _Failed(Exception):
    """A file-level problem: the import cannot start."""


@dataclass(frozen=True, slots=True)
class _Row:
    line: int  # the line in the file where the row starts (1-based)
    values: dict[str, str]  # by column; empty when the row has the wrong number of values
    width: int  # how many values the row has


@dataclass(frozen=True, slots=True)
class _Parsed:
    patient_id: int
    definition: Instrument
    taken_at: datetime
    mode: str
    answers: list[Answer]


@dataclass(frozen=True, slots=True)
class _Outcome:
    imported: Counter[str]
    with_safety_signal: int
    problems: list[tuple[int, FieldProblem]]


class Command(BaseCommand):
    help = "Import completed questionnaires: stepwell assessments import FILE --as USERNAME"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser(
            "import",
            help="record every row of a CSV file, or none if any row is bad (exit 2)",
        )
        imp.add_argument("file", type=Path, help="CSV, UTF-8; see docs/importing-assessments.md")
        imp.add_argument(
            "--as",
            dest="as_user",
            required=True,
            metavar="USERNAME",
            help="the staff user (CHW or clinician) the assessments are recorded by",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        name = str(opts["file"])
        try:
            actor = _recorder(opts["as_user"])
            rows = _read_rows(opts["file"], name)
            outcome = _import(rows, actor=actor, now=timezone.now())
        except (_Failed, InstrumentFileError) as exc:
            raise CommandError(str(exc), returncode=2) from None
        if outcome.problems:
            for line, problem in outcome.problems:
                self.stderr.write(f"{name}:{line}: {problem.field}: {problem.message}")
            count = len(outcome.problems)
            raise CommandError(
                ngettext(
                    "%(count)d problem in %(file)s; nothing was imported.",
                    "%(count)d problems in %(file)s; nothing was imported.",
                    count,
                )
                % {"count": count, "file": name},
                returncode=2,
            )
        self.stdout.write(_summary(outcome, name))


def _summary(outcome: _Outcome, name: str) -> str:
    total = sum(outcome.imported.values())
    detail = ", ".join(f"{code}: {n}" for code, n in sorted(outcome.imported.items()))
    text = ngettext(
        "Imported %(count)d assessment from %(file)s (%(detail)s).",
        "Imported %(count)d assessments from %(file)s (%(detail)s).",
        total,
    ) % {"count": total, "file": name, "detail": detail}
    flagged = outcome.with_safety_signal
    if flagged:
        text += " " + ngettext(
            "%(count)d of them has a safety item answered above zero: assess risk today.",
            "%(count)d of them have a safety item answered above zero: assess risk today.",
            flagged,
        ) % {"count": flagged}
    return text


# --- who records ------------------------------------------------------------------------


def _recorder(username: str) -> User:
    """The staff user named by ``--as``; refused up front rather than once per row."""
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise _Failed(_("--as: no active user is named %(username)r") % {"username": username})
    policy = policy_for(user.role)
    if user.role == Role.PATIENT or not policy.may_record_assessments or policy.view != View.FULL:
        raise _Failed(
            _("--as: %(username)s (role %(role)s) may not record assessments for patients")
            % {"username": username, "role": user.role}
        )
    return user


# --- reading the file -------------------------------------------------------------------


def _read_rows(path: Path, name: str) -> list[_Row]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _Failed(
            _("%(file)s: cannot read the file (%(reason)s)")
            % {"file": name, "reason": exc.strerror or type(exc).__name__}
        ) from None
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark, as spreadsheets write, is fine
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _Failed(
            _("%(file)s:%(line)d: not UTF-8 text; save the file as CSV in UTF-8")
            % {"file": name, "line": line}
        ) from None
    if not text.strip():
        raise _Failed(_("%(file)s: the file is empty") % {"file": name})
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records = list(_records(reader))
    except csv.Error as exc:
        raise _Failed(
            _("%(file)s:%(line)d: not valid CSV (%(reason)s)")
            % {"file": name, "line": reader.line_num, "reason": exc}
        ) from None
    if not records:
        raise _Failed(_("%(file)s: the file is empty") % {"file": name})
    (header_line, header), *body = records
    columns = _columns(header, header_line, name)
    if not body:
        raise _Failed(_("%(file)s: no rows after the header") % {"file": name})
    return [
        _Row(
            line,
            dict(zip(columns, record, strict=True)) if len(record) == len(columns) else {},
            len(record),
        )
        for line, record in body
    ]


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on (a quoted value may span lines)."""
    previous = 0
    for record in reader:
        start, previous = previous + 1, reader.line_num
        if any(value.strip() for value in record):
            yield start, record


def _columns(header: list[str], line: int, name: str) -> list[str]:
    columns = [h.strip().lower() for h in header]
    faults = []
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        faults.append(_("missing %(columns)s") % {"columns": ", ".join(missing)})
    unknown = [repr(c) for c in columns if c not in COLUMNS]
    if unknown:
        faults.append(_("unknown %(columns)s") % {"columns": ", ".join(unknown)})
    repeated = sorted({c for c in columns if c in COLUMNS and columns.count(c) > 1})
    if repeated:
        faults.append(_("repeated %(columns)s") % {"columns": ", ".join(repeated)})
    if faults:
        raise _Failed(
            _("%(file)s:%(line)d: columns: %(faults)s (expected: %(expected)s)")
            % {
                "file": name,
                "line": line,
                "faults": "; ".join(faults),
                "expected": ", ".join(COLUMNS),
            }
        )
    return columns


# --- importing --------------------------------------------------------------------------


def _import(rows: list[_Row], *, actor: User, now: datetime) -> _Outcome:
    """Record every row in one transaction; roll it all back if any row has a problem."""
    patient_ids = _visible_patient_ids(
        actor, now, {r.values.get("record_number", "") for r in rows}
    )
    instruments: dict[str, Instrument | None] = {}
    imported: Counter[str] = Counter()
    flagged = 0
    problems: list[tuple[int, FieldProblem]] = []
    with transaction.atomic():
        for row in rows:
            parsed, found = _parse(row, patient_ids, instruments)
            if parsed is not None:
                assessment, found = _record(parsed, actor=actor, now=now)
                if assessment is not None:
                    imported[assessment.instrument] += 1
                    flagged += bool(assessment.safety)
            problems.extend((row.line, problem) for problem in found)
        if problems:
            transaction.set_rollback(True)
    return _Outcome(imported, flagged, problems)


def _visible_patient_ids(actor: User, now: datetime, numbers: set[str]) -> dict[str, int]:
    """Record number → patient id, for the patients ``actor`` may see. Others are absent, so
    a patient outside the actor's scope reads exactly like one that does not exist."""
    wanted = sorted(n.strip() for n in numbers if n.strip())
    visible = visible_patients(actor, now=now)
    found: dict[str, int] = {}
    for i in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[i : i + _LOOKUP_CHUNK]
        found.update(
            visible.filter(record_number__in=chunk).order_by().values_list("record_number", "pk")
        )
    return found


def _record(
    parsed: _Parsed, *, actor: User, now: datetime
) -> tuple[Assessment | None, list[FieldProblem]]:
    """One row through the service, in a savepoint so a failure leaves the others usable."""
    try:
        with transaction.atomic():
            assessment = assessment_record(
                actor=actor,
                patient_id=parsed.patient_id,
                instrument_code=parsed.definition.code,
                answers=parsed.answers,
                taken_at=parsed.taken_at,
                mode=parsed.mode,
                now=now,
            )
            _refuse_duplicate(assessment)
    except InvalidInput as exc:
        return None, exc.problems
    except NotFound:
        return None, [FieldProblem("record_number", _not_visible())]
    except Forbidden:
        return None, [FieldProblem("--as", _("this user may not record assessments"))]
    return assessment, []


def _refuse_duplicate(assessment: Assessment) -> None:
    """The same questionnaire at the same moment twice is a file imported twice (or a row
    repeated), which would count double in the stepping rules."""
    twin = Assessment.objects.filter(
        patient_id=assessment.patient_id,
        instrument=assessment.instrument,
        taken_at=assessment.taken_at,
    ).exclude(pk=assessment.pk)
    if twin.exists():
        message = _(
            "this patient already has a %(instrument)s assessment taken at this time "
            "(imported twice?)"
        ) % {"instrument": assessment.instrument}
        raise InvalidInput([FieldProblem("taken_at", message)])


def _not_visible() -> str:
    return _("no patient you may see has this record number")


# --- one row's values -------------------------------------------------------------------


def _parse(
    row: _Row, patient_ids: dict[str, int], instruments: dict[str, Instrument | None]
) -> tuple[_Parsed | None, list[FieldProblem]]:
    """The row's values ready for the service, or the problems found in them."""
    values = row.values
    if not values:
        message = ngettext(
            "%(count)d value, expected %(expected)d (one per column)",
            "%(count)d values, expected %(expected)d (one per column)",
            row.width,
        ) % {"count": row.width, "expected": len(COLUMNS)}
        return None, [FieldProblem("columns", message)]
    problems: list[FieldProblem] = []
    patient_id = _patient_id(values["record_number"], patient_ids, problems)
    definition = _instrument(values["instrument"], instruments, problems)
    taken_at = _taken_at(values["taken_at"], problems)
    mode = _mode(values["mode"], problems)
    answers = _answers(definition, values["answers"]) if definition else []
    if definition is not None:
        # The service checks them again; checking here too reports every problem of a row
        # at once, whichever other field is wrong.
        problems.extend(_answer_problems(definition, answers))
    if patient_id is None or definition is None or taken_at is None or mode is None or problems:
        return None, problems
    return _Parsed(patient_id, definition, taken_at, mode, answers), problems


def _required(field: str, problems: list[FieldProblem]) -> None:
    problems.append(FieldProblem(field, _("required")))


def _patient_id(raw: str, patient_ids: dict[str, int], problems: list[FieldProblem]) -> int | None:
    number = raw.strip()
    if not number:
        _required("record_number", problems)
        return None
    found = patient_ids.get(number)
    if found is None:
        # Never the value: record numbers stay out of the output.
        problems.append(FieldProblem("record_number", _not_visible()))
    return found


def _instrument(
    raw: str, instruments: dict[str, Instrument | None], problems: list[FieldProblem]
) -> Instrument | None:
    code = raw.strip()
    if not code:
        _required("instrument", problems)
        return None
    if code not in instruments:
        instruments[code] = find_instrument(code)
    found = instruments[code]
    if found is None:
        problems.append(
            FieldProblem(
                "instrument",
                _("%(value)r is not an instrument (see `stepwell instruments`)") % {"value": code},
            )
        )
    return found


def _taken_at(raw: str, problems: list[FieldProblem]) -> datetime | None:
    text = raw.strip()
    if not text:
        _required("taken_at", problems)
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        message = _("%(value)r is not an ISO 8601 date and time, e.g. %(example)s")
    else:
        if value.tzinfo is None:
            message = _("%(value)r needs a time zone, e.g. %(example)s")
        else:
            try:
                value.astimezone(UTC)  # how it is stored; year 1 in UTC+1 does not fit
            except OverflowError:
                message = _("%(value)r is out of range")
            else:
                return value
    problems.append(FieldProblem("taken_at", message % {"value": text, "example": _EXAMPLE_TIME}))
    return None


def _mode(raw: str, problems: list[FieldProblem]) -> str | None:
    mode = raw.strip()
    if mode in STAFF_MODES:
        return mode
    if not mode:
        _required("mode", problems)
    else:
        problems.append(
            FieldProblem(
                "mode",
                _("%(value)r is not one of %(allowed)s")
                % {"value": mode, "allowed": ", ".join(STAFF_MODES)},
            )
        )
    return None


def _answers(definition: Instrument, raw: str) -> list[Answer]:
    """``1;2;;na;3`` → ``[1, 2, None, "na", 3]``, the values the questionnaire page stores.

    Empty is missing and ``na`` not applicable; a text item keeps its text. A number is read
    as the scorer reads one (``int``), so only numbers are stored; anything else stays as
    written, so that the scorer names the item and the value at fault.
    """
    items = definition.items
    answers: list[Answer] = []
    for i, part in enumerate(raw.split(ANSWER_SEPARATOR)):
        text = part.strip()
        if not text:
            answers.append(None)
        elif i < len(items) and items[i].kind == "text":
            answers.append(text)
        elif text.lower() == NA:
            answers.append(NA)
        else:
            try:
                answers.append(int(text))
            except ValueError:
                answers.append(text)
    return answers


def _answer_problems(definition: Instrument, answers: list[Answer]) -> list[FieldProblem]:
    if len(answers) == len(definition.items):
        hidden = _words_among_choices(definition, answers)
        if hidden:
            return hidden
    try:
        score(definition, answers)
    except AnswerError as exc:
        return [FieldProblem("answers", str(exc))]
    return []


def _words_among_choices(definition: Instrument, answers: list[Answer]) -> list[FieldProblem]:
    """Words where a number belongs, named by item but not shown.

    The scorer's message repeats the value at fault, which is right for ``4`` or ``x`` but
    not for a patient's comment typed into the wrong column.
    """
    problems = []
    for item, answer in zip(definition.items, answers, strict=True):
        if item.kind == "text" or not isinstance(answer, str) or answer == NA:
            continue
        if len(answer) > _SHOWN_MAX or any(c.isspace() for c in answer):
            allowed = [str(v) for v in item.values] + ([NA] if item.not_applicable else [])
            message = _(
                "%(instrument)s item %(item)s: not one of %(allowed)s (the value is not shown)"
            ) % {"instrument": definition.code, "item": item.id, "allowed": ", ".join(allowed)}
            problems.append(FieldProblem("answers", message))
    return problems
