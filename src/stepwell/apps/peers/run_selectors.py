"""Reading a matching run: the proposal a supervisor reviews, with who is in it.

Reasons stay codes here; the caller says them in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record_many
from stepwell.apps.core.errors import NotFound
from stepwell.apps.patients.models import Patient
from stepwell.apps.peers.models import MatchingRun, MatchProposal
from stepwell.apps.peers.selectors import PROGRAMME_STAFF, runs_of


@dataclass(frozen=True, slots=True)
class RunDetail:
    run: MatchingRun
    proposals: list[MatchProposal]  # patient and peer loaded
    record_numbers: dict[int, str]  # every patient of the run (proposed or unmatched)
    peer_names: dict[int, str]  # every peer of the run (proposed or excluded)
    unmatched: list[tuple[int, list[dict[str, Any]]]]  # (patient id, stored reasons)
    excluded: list[tuple[int, list[dict[str, Any]]]]  # (peer id, stored reasons)


def _display(user: User) -> str:
    return user.get_full_name() or user.username


def matching_run_detail(*, user: User, run_id: int, now: datetime) -> RunDetail:
    """A run for programme staff of the sites of its author (every run for an admin);
    anyone else is told it does not exist. Audited per patient shown (``matching_run.read``).
    """
    if user.role not in PROGRAMME_STAFF:
        raise NotFound("matching run")
    run = runs_of(user).filter(pk=run_id).first()
    if run is None:
        raise NotFound("matching run")
    proposals = list(
        run.proposals.select_related("patient", "peer").order_by("patient__record_number", "id")
    )
    unmatched = [(int(u["patient"]), _items(u.get("reasons"))) for u in _items(run.unmatched)]
    excluded = [(int(x["peer"]), _items(x.get("reasons"))) for x in _items(run.excluded_peers)]
    unmatched_ids = [pid for pid, _ in unmatched]
    excluded_ids = [pid for pid, _ in excluded]
    record_numbers = {p.patient_id: p.patient.record_number for p in proposals}
    record_numbers.update(
        Patient.objects.filter(pk__in=unmatched_ids).values_list("id", "record_number")
    )
    peer_names = {p.peer_id: _display(p.peer) for p in proposals}
    peer_names.update((u.pk, _display(u)) for u in User.objects.filter(pk__in=excluded_ids))
    if record_numbers:
        audit_record_many(
            actor=user, action="matching_run.read", now=now, patient_ids=sorted(record_numbers)
        )
    return RunDetail(run, proposals, record_numbers, peer_names, unmatched, excluded)


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
