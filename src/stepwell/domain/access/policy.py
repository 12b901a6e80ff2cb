"""Who may see which patients, and how much of each: PRODUCT.md §2 as one table.

The Django selectors translate a role's ``scope`` into a query; nothing else decides
visibility. Field sets say which patient attributes each kind of view exposes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PATIENT = "patient"
    CHW = "chw"
    CLINICIAN = "clinician"
    COORDINATOR = "coordinator"
    PEER = "peer"
    PEER_SUPERVISOR = "peer_supervisor"
    MANAGER = "manager"
    ADMIN = "admin"


class Scope(StrEnum):
    """How a role reaches patient records."""

    OWN_RECORD = "own-record"  # the patient linked to the user account
    SITES = "sites"  # patients registered at, or treated at, the user's sites
    SITES_AND_CARE_TEAM = "sites-and-care-team"  # SITES, plus episodes naming the user
    MATCHED = "matched"  # patients with an active, approved peer match to the user
    NONE = "none"  # no patient-level access (break-the-glass may still apply)


class View(StrEnum):
    """How much of a visible patient record is shown."""

    FULL = "full"
    PEER = "peer"


@dataclass(frozen=True, slots=True)
class RolePolicy:
    scope: Scope
    view: View
    may_break_glass: bool = False
    may_register_patients: bool = False
    may_open_episodes: bool = False
    may_decide_steps: bool = False
    may_record_assessments: bool = False
    may_plan_conferences: bool = False
    sees_aggregates: bool = False


POLICY: dict[Role, RolePolicy] = {
    Role.PATIENT: RolePolicy(Scope.OWN_RECORD, View.FULL, may_record_assessments=True),
    Role.CHW: RolePolicy(
        Scope.SITES, View.FULL, may_register_patients=True, may_record_assessments=True
    ),
    Role.CLINICIAN: RolePolicy(
        Scope.SITES_AND_CARE_TEAM,
        View.FULL,
        may_break_glass=True,
        may_register_patients=True,
        may_open_episodes=True,
        may_decide_steps=True,
        may_record_assessments=True,
        may_plan_conferences=True,
    ),
    Role.COORDINATOR: RolePolicy(
        Scope.SITES,
        View.FULL,
        may_register_patients=True,
        may_open_episodes=True,
        may_plan_conferences=True,
    ),
    Role.PEER: RolePolicy(Scope.MATCHED, View.PEER),
    Role.PEER_SUPERVISOR: RolePolicy(Scope.NONE, View.PEER),
    Role.MANAGER: RolePolicy(Scope.NONE, View.FULL, sees_aggregates=True),
    Role.ADMIN: RolePolicy(Scope.NONE, View.FULL, may_break_glass=True),
}

# What a peer supporter always sees of a matched patient: enough to make contact in the
# patient's language. Never clinical notes, birth date or episode history.
PEER_FIELDS: frozenset[str] = frozenset(
    {
        "id",
        "record_number",
        "given_name",
        "family_name",
        "preferred_language",
        "preferred_channel",
        "phone",
    }
)
# Added when the patient consented to share with their peer supporter.
PEER_CONSENTED_FIELDS: frozenset[str] = frozenset({"current_step", "site"})


def policy_for(role: str) -> RolePolicy:
    """The policy of a role code; an unknown role has no access at all."""
    try:
        return POLICY[Role(role)]
    except ValueError:
        return RolePolicy(Scope.NONE, View.PEER)


def peer_fields(*, consented_to_share: bool) -> frozenset[str]:
    """The patient fields a matched peer may read."""
    return PEER_FIELDS | PEER_CONSENTED_FIELDS if consented_to_share else PEER_FIELDS
