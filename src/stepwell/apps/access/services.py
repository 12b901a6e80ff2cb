"""Break-the-glass grants: emergency access for a reason, audited, time-limited."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction

from stepwell.apps.access.models import BreakGlassGrant
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.core.errors import Forbidden, InvalidInput
from stepwell.apps.patients.models import Patient
from stepwell.domain.access.break_glass import BreakGlassRefused, grant_window
from stepwell.domain.access.policy import policy_for
from stepwell.domain.records import FieldProblem


@transaction.atomic
def break_glass_grant(
    *, user: User, record_number: str, reason: str, now: datetime
) -> BreakGlassGrant:
    """Grant ``user`` emergency access to the patient with ``record_number``.

    Raises Forbidden for roles without the right, InvalidInput for an unknown record number
    or a reason too short to review.
    """
    if not policy_for(user.role).may_break_glass:
        raise Forbidden("this role cannot use break-the-glass access")
    try:
        granted_at, expires_at = grant_window(
            now=now, hours=settings.STEPWELL_BREAK_GLASS_HOURS, reason=reason
        )
    except BreakGlassRefused as exc:
        raise InvalidInput([FieldProblem(exc.field, exc.message)]) from None
    patient = Patient.objects.filter(record_number=record_number.strip()).first()
    if patient is None:
        raise InvalidInput([FieldProblem("record_number", "no patient has this record number")])
    grant = BreakGlassGrant.objects.create(
        user=user,
        patient=patient,
        reason=reason.strip(),
        granted_at=granted_at,
        expires_at=expires_at,
    )
    audit_record(
        actor=user,
        action="access.break_glass_granted",
        now=now,
        patient_id=patient.pk,
        object_type="break_glass_grant",
        object_id=grant.pk,
        reason=grant.reason,
        via_break_glass=True,
        details={"expires_at": expires_at.isoformat()},
    )
    return grant
