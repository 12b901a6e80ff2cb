"""Safety plans: saving a new version (care team), reading the current one with the crisis
numbers for the patient's site (care team and the patient), and the list of versions.

A plan is never edited in place: every save is a new ``SafetyPlan`` row, version last + 1.
Reads start from the patient selector (so scope, break-the-glass and the audit follow the
same rules as every patient read); peers never see a plan (404, like a patient out of scope).

The crisis numbers come from ``settings.STEPWELL_CRISIS_LINES_FILE``, re-read when it
changes; a changed file that does not validate is refused and the last good one stays.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from stepwell.apps.access.selectors import active_break_glass, visibility_for
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.core.content import WatchedFile, read_content_yaml
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.patients.models import Patient
from stepwell.apps.patients.selectors import PatientRecord, patient_detail
from stepwell.apps.safety.models import SafetyPlan
from stepwell.domain.access.policy import Role, View, policy_for
from stepwell.domain.safety.plan import (
    SECTIONS,
    CrisisLine,
    CrisisLines,
    CrisisLinesError,
    SafetyPlanError,
    parse_crisis_lines,
    validate_sections,
)

log = logging.getLogger(__name__)

# Who writes a plan with the patient. The patient does not edit it in this version; admins
# reach a record only through break-the-glass, which is for reading.
EDITOR_ROLES: frozenset[str] = frozenset({Role.CLINICIAN, Role.COORDINATOR, Role.CHW})


def may_edit_safety_plans(role: str) -> bool:
    return role in EDITOR_ROLES and policy_for(role).view is View.FULL


# --- Crisis numbers ----------------------------------------------------------------------


def load_crisis_lines_file(path: Path) -> CrisisLines:
    """Parse and validate one crisis-lines file. Raises CrisisLinesError naming file and field."""
    return parse_crisis_lines(read_content_yaml(path, CrisisLinesError), source=str(path))


_crisis_lines = WatchedFile(
    lambda: Path(settings.STEPWELL_CRISIS_LINES_FILE),
    load_crisis_lines_file,
    CrisisLinesError,
    "crisis-lines file",
)


def crisis_lines() -> CrisisLines:
    """The crisis numbers in force (the last file that validated).

    Raises CrisisLinesError only when this process has never read a good file.
    """
    return _crisis_lines.get()


def crisis_lines_error() -> str:
    """Why the current crisis-lines file was refused ("" when it is the one in use)."""
    return _crisis_lines.error()


# --- Writes ------------------------------------------------------------------------------


@transaction.atomic
def safety_plan_save(
    *, actor: User, patient_id: int, sections: Mapping[str, Any], now: datetime
) -> SafetyPlan:
    """Store ``sections`` as the patient's next safety-plan version; audited.

    Raises NotFound (patient out of scope, or a peer), Forbidden (a role that does not edit
    plans, e.g. the patient), InvalidInput naming ``sections.<code>[<index>]`` (nothing is
    stored; the SafetyPlanError rides along as the cause).
    """
    vis = visibility_for(actor, now=now)
    patient = vis.patients.filter(pk=patient_id).first()
    if patient is None or vis.policy.view is not View.FULL:
        raise NotFound("patient")
    if not may_edit_safety_plans(actor.role):
        raise Forbidden("this role cannot edit safety plans")
    try:
        clean = validate_sections(sections)
    except SafetyPlanError as exc:
        raise InvalidInput(exc.field_problems()) from exc
    # Two saves at once would both pick the same number: serialise them on the patient row
    # (PostgreSQL; SQLite lets one writer in at a time anyway).
    list(Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk", flat=True))
    last = SafetyPlan.objects.filter(patient_id=patient.pk).aggregate(n=Max("version"))["n"]
    plan = SafetyPlan.objects.create(
        patient=patient,
        version=(last or 0) + 1,
        sections=clean,
        created_at=now,
        created_by=actor,
    )
    via_glass = patient.pk in vis.break_glass_ids
    reason = ""
    if via_glass:
        grant = active_break_glass(actor, now=now).filter(patient_id=patient.pk).first()
        reason = grant.reason if grant else ""
    audit_record(
        actor=actor,
        action="safety_plan.saved",
        now=now,
        patient_id=patient.pk,
        object_type="safety_plan",
        object_id=plan.pk,
        reason=reason,
        via_break_glass=via_glass,
        details={"version": plan.version},
    )
    return plan


# --- Reads -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CurrentSafetyPlan:
    """The newest plan (``plan`` None when there is none yet) with every section in order,
    and the crisis numbers for the patient's registered site."""

    record: PatientRecord
    plan: SafetyPlan | None
    sections: dict[str, list[str]]
    crisis_lines: tuple[CrisisLine, ...]
    crisis_lines_version: str

    @property
    def version(self) -> int | None:
        return self.plan.version if self.plan else None


@dataclass(frozen=True, slots=True)
class SafetyPlanVersion:
    version: int
    created_at: datetime
    created_by: str  # the author's full name, else user name ("" if the account is gone)


def _plan_record(*, actor: User, patient_id: int, now: datetime, action: str) -> PatientRecord:
    # Peers are refused before the patient read, so no "viewed" event is written for them.
    if policy_for(actor.role).view is not View.FULL:
        raise NotFound("patient")
    record = patient_detail(
        user=actor, patient_id=patient_id, now=now, with_episodes=False, action=action
    )
    if record.view is not View.FULL:
        raise NotFound("patient")
    return record


def plan_sections(plan: SafetyPlan | None) -> dict[str, list[str]]:
    """Every section code in order, with the plan's entries (empty lists without a plan)."""
    stored: dict[str, Any] = plan.sections if plan is not None else {}
    return {code: [str(e) for e in stored.get(code) or []] for code in SECTIONS}


def safety_plan_current(
    *, actor: User, patient_id: int, now: datetime, action: str = "safety_plan.viewed"
) -> CurrentSafetyPlan:
    """The patient's newest safety plan and crisis numbers; audited as ``action``
    (``safety_plan.viewed``, or ``safety_plan.printed`` for the printable page).

    For full-view roles that can see the patient (the patient: their own record only).
    NotFound when out of scope, and for peers.
    """
    record = _plan_record(actor=actor, patient_id=patient_id, now=now, action=action)
    plan = (
        SafetyPlan.objects.filter(patient_id=record.patient.pk)
        .select_related("created_by")
        .order_by("-version")
        .first()
    )
    lines = crisis_lines()
    return CurrentSafetyPlan(
        record=record,
        plan=plan,
        sections=plan_sections(plan),
        crisis_lines=lines.for_site(record.patient.site.code),
        crisis_lines_version=lines.version,
    )


def safety_plan_versions(*, actor: User, patient_id: int, now: datetime) -> list[SafetyPlanVersion]:
    """Every version of the patient's plan, newest first (number, when, by whom).

    Same access as ``safety_plan_current``; audited ``safety_plan.versions_listed``.
    """
    _plan_record(actor=actor, patient_id=patient_id, now=now, action="safety_plan.versions_listed")
    rows = (
        SafetyPlan.objects.filter(patient_id=patient_id)
        .select_related("created_by")
        .defer("sections")
        .order_by("-version")
    )
    return [
        SafetyPlanVersion(
            version=p.version,
            created_at=p.created_at,
            created_by=_author(p.created_by),
        )
        for p in rows
    ]


def _author(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.username
