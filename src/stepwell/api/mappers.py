"""Model → API dictionaries, applying the field policy of the caller's view."""

from __future__ import annotations

from typing import Any

from stepwell.apps.patients.models import Episode, Patient
from stepwell.domain.access.policy import View, peer_fields

_ALL_FIELDS = (
    "id",
    "record_number",
    "given_name",
    "family_name",
    "preferred_language",
    "preferred_channel",
    "phone",
    "email",
    "birth_date",
    "sex",
    "gender",
    "current_step",
    "episode_status",
    "consent_peer_support",
    "consent_share_with_peer",
    "consent_sms",
    "consent_email",
    "home_latitude",
    "home_longitude",
)


def patient_dict(patient: Patient, view: View) -> dict[str, Any]:
    """The caller's view of a patient; hidden fields come out as None."""
    allowed = (
        set(_ALL_FIELDS) | {"site"}
        if view is View.FULL
        else peer_fields(consented_to_share=patient.consent_share_with_peer)
    )
    out: dict[str, Any] = {
        name: getattr(patient, name, None) if name in allowed else None for name in _ALL_FIELDS
    }
    out["view"] = view.value
    out["site"] = {"id": patient.site.pk, "name": patient.site.name} if "site" in allowed else None
    return out


def episode_dict(episode: Episode) -> dict[str, Any]:
    return {
        "id": episode.pk,
        "patient_id": episode.patient_id,
        "site": {"id": episode.site.pk, "name": episode.site.name},
        "referral_source": episode.referral_source,
        "referral_date": episode.referral_date,
        "first_contact_date": episode.first_contact_date,
        "current_step": episode.current_step,
        "status": episode.status,
        "discharge_reason": episode.discharge_reason,
        "discharge_date": episode.discharge_date,
        "step_history": [
            {
                "from_step": c.from_step,
                "to_step": c.to_step,
                "changed_at": c.changed_at,
                "reason": c.reason,
                "decided_by": c.decided_by.username if c.decided_by else None,
                "protocol_version": c.protocol_version,
            }
            for c in episode.step_changes.all()
        ],
        "care_team": [m.user.username for m in episode.team.all()],
    }
