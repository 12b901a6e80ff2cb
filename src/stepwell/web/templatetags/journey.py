"""The patient record's goals/referrals/journey section loads its own data, so the record's
view and template stay as they are but for one ``{% include %}`` line."""

from __future__ import annotations

from typing import Any

from django import template

from stepwell.apps.patients.selectors import PatientRecord
from stepwell.web.journey import PatientSection, patient_section

register = template.Library()


@register.simple_tag(takes_context=True)
def patient_journey(context: Any, record: PatientRecord) -> PatientSection | None:
    """``{% patient_journey record as section %}``: the section for ``record`` (None when
    the viewer's role does not see it in full)."""
    request = context.get("request")
    if request is None or record is None:
        return None
    return patient_section(request, record)
