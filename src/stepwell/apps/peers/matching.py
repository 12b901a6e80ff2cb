"""Matching runs: waiting patients and available peers → the optimiser → a proposal that a
supervisor approves (or edits) before any peer gains access to anyone.

``matching_run_create`` proposes (grants nothing); ``matching_run_approve`` turns the
approved pairs into active ``PeerMatch`` rows, which is what ``apps/access`` reads.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from django.db import transaction

from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.core.content import WatchedFile, content_path, read_content_yaml
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.peers.content import peer_content
from stepwell.apps.peers.models import (
    MatchingRun,
    MatchProposal,
    MatchStatus,
    PeerMatch,
    PeerProfile,
    PeerSupportRequest,
    RematchRequest,
    RunStatus,
)
from stepwell.apps.peers.selectors import (
    PROGRAMME_STAFF,
    certification_of,
    last_supervision_of,
    match_counts,
    runs_of,
    staff_site_ids,
)
from stepwell.domain.access.policy import Role
from stepwell.domain.matching import (
    MatchingConfig,
    MatchingConfigError,
    MatchResult,
    PatientNeed,
    PeerOffer,
    greedy_match,
    match,
    parse_matching_config,
)
from stepwell.domain.peers.eligibility import PeerState as EligibilityState
from stepwell.domain.peers.eligibility import capacity, match_eligibility
from stepwell.domain.peers.reasons import Reason as PeerReason
from stepwell.domain.records import FieldProblem

APPROVE_ROLES = frozenset({Role.PEER_SUPERVISOR, Role.ADMIN})


def _load_config(path: Path) -> MatchingConfig:
    return parse_matching_config(read_content_yaml(path, MatchingConfigError), source=str(path))


_config = WatchedFile(
    lambda: content_path("peers", "matching.yaml"),
    _load_config,
    MatchingConfigError,
    "matching configuration",
)


def matching_config() -> MatchingConfig:
    return _config.get()


def _site_ids(actor: User) -> list[int] | None:
    """The actor's sites; None for an administrator (every site)."""
    sites = staff_site_ids(actor)
    return None if sites is None else list(sites)


def _location(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    return (lat, lon) if lat is not None and lon is not None else None


def _waiting(site_ids: list[int] | None) -> tuple[list[PatientNeed], dict[int, int]]:
    """Patients with an open request at the sites, as the optimiser sees them, and each
    patient's request id."""
    requests = PeerSupportRequest.objects.filter(matched_at__isnull=True).select_related("patient")
    if site_ids is not None:
        requests = requests.filter(patient__site_id__in=site_ids)
    rows = list(requests.order_by("requested_at", "id"))
    ids = [r.patient_id for r in rows]
    previous: dict[int, set[int]] = defaultdict(set)
    for pid, peer in PeerMatch.objects.filter(
        patient_id__in=ids, status=MatchStatus.ENDED
    ).values_list("patient_id", "peer_id"):
        previous[pid].add(peer)
    refused: dict[int, set[int]] = defaultdict(set)
    for pid, peer in RematchRequest.objects.filter(patient_id__in=ids).values_list(
        "patient_id", "peer_id"
    ):
        refused[pid].add(peer)
    needs = []
    for r in rows:
        p = r.patient
        needs.append(
            PatientNeed(
                id=p.pk,
                languages=frozenset({p.preferred_language, *r.languages}),
                consented=p.consent_peer_support,
                gender_preference=r.gender_preference or None,
                lived_experience=frozenset(r.lived_experience),
                location=_location(p.home_latitude, p.home_longitude),
                remote_ok=r.remote_ok,
                availability=frozenset(r.availability),
                modalities=frozenset(r.modalities),
                previous_peer_ids=frozenset(previous[p.pk] - refused[p.pk]),
                refused_peer_ids=frozenset(refused[p.pk]),
            )
        )
    return needs, {r.patient_id: r.pk for r in rows}


def _offers(site_ids: list[int] | None, now: datetime) -> list[PeerOffer]:
    """Every peer of the sites with a profile, eligibility reasons computed by the programme
    rules (the optimiser lists the ineligible ones as excluded, with those reasons)."""
    content = peer_content()
    rules = content.programme
    profiles = PeerProfile.objects.filter(user__is_active=True, user__role=Role.PEER)
    if site_ids is not None:
        profiles = profiles.filter(user__memberships__site_id__in=site_ids).distinct()
    rows = list(profiles.order_by("user_id"))
    ids = [p.user_id for p in rows]
    certs = certification_of(ids, content, now)
    supervised = last_supervision_of(ids, rules.supervision_min_minutes)
    counts = match_counts(ids)
    offers = []
    for p in rows:
        active, proposed = counts[p.user_id]
        state = EligibilityState(p.state, active, proposed, p.max_patients)
        limit = capacity(state, rules)
        held = active + (proposed if rules.proposals_hold_a_place else 0)
        offers.append(
            PeerOffer(
                id=p.user_id,
                languages=frozenset(p.languages),
                capacity_left=max(0, limit - held),
                gender=p.gender or None,
                lived_experience=frozenset(p.lived_experience),
                location=_location(p.home_latitude, p.home_longitude),
                remote_ok=p.remote_ok,
                availability=frozenset(p.availability),
                modalities=frozenset(p.modalities),
                active_load=active,
                max_patients=max(1, limit),
                ineligible=match_eligibility(
                    state, certs[p.user_id], supervised.get(p.user_id), now, rules
                ),
            )
        )
    return offers


def matching_propose(*, actor: User, now: datetime) -> tuple[MatchResult, MatchResult]:
    """The optimiser's and the greedy baseline's results for the actor's sites, stored
    nowhere (``stepwell match --dry-run``)."""
    if actor.role not in PROGRAMME_STAFF:
        raise Forbidden("this role cannot run matching")
    sites = _site_ids(actor)
    needs, _ = _waiting(sites)
    offers = _offers(sites, now)
    config = matching_config()
    return match(needs, offers, config), greedy_match(needs, offers, config)


@transaction.atomic
def matching_run_create(*, actor: User, now: datetime) -> MatchingRun:
    """Run the optimiser over the actor's sites and store the proposal. Earlier proposals
    still awaiting approval are superseded (their places are released first, so this run
    sees every peer's real capacity). Grants no access."""
    if actor.role not in PROGRAMME_STAFF:
        raise Forbidden("this role cannot run matching")
    sites = _site_ids(actor)
    stale = runs_of(actor).select_for_update().filter(status=RunStatus.PROPOSED)
    stale_ids = list(stale.values_list("id", flat=True))
    MatchingRun.objects.filter(pk__in=stale_ids).update(status=RunStatus.SUPERSEDED)
    started = time.perf_counter()
    needs, requests = _waiting(sites)
    offers = _offers(sites, now)
    config = matching_config()
    result = match(needs, offers, config)
    greedy = greedy_match(needs, offers, config)
    run = MatchingRun.objects.create(
        status=RunStatus.PROPOSED,
        solver_status=result.status,
        total_cost=result.total_cost,
        greedy_cost=greedy.total_cost,
        config_version=f"{config.code} {config.version}",
        waiting=len(needs),
        available_peers=sum(1 for o in offers if not o.ineligible and o.capacity_left > 0),
        excluded_peers=[
            {"peer": x.peer_id, "reasons": [r.as_dict() for r in x.reasons]}
            for x in result.excluded_peers
        ],
        unmatched=[
            {"patient": u.patient_id, "reasons": [r.as_dict() for r in u.reasons]}
            for u in result.unmatched
        ],
        seconds=round(time.perf_counter() - started, 3),
        created_by=actor,
        created_at=now,
    )
    MatchProposal.objects.bulk_create(
        MatchProposal(
            run=run,
            request_id=requests[pair.patient_id],
            patient_id=pair.patient_id,
            peer_id=pair.peer_id,
            cost=pair.cost,
            reasons=[r.as_dict() for r in pair.reasons],
        )
        for pair in result.pairs
    )
    audit_record(
        actor=actor,
        action="matching.run_created",
        now=now,
        object_type="matching_run",
        object_id=run.pk,
        details={
            "config": run.config_version,
            "waiting": run.waiting,
            "proposed": len(result.pairs),
            "superseded": stale_ids,
        },
    )
    return run


def _run_for(actor: User, run_id: int) -> MatchingRun:
    run = runs_of(actor).select_for_update().filter(pk=run_id).first()
    if run is None:
        raise NotFound("matching run")
    return run


@transaction.atomic
def matching_run_approve(
    *,
    actor: User,
    run_id: int,
    now: datetime,
    changes: Mapping[int, int | None] | None = None,
) -> list[PeerMatch]:
    """A supervisor approves a proposal: every pair becomes an active match (and with it
    the peer's access to that patient, limited to what the patient consented to share).

    ``changes`` edits pairs first: patient id → another peer (checked against the same hard
    rules as the optimiser: eligible, free place, shared language, gender preference, not
    refused) or None to leave the patient waiting. Audited per patient matched."""
    if actor.role not in APPROVE_ROLES:
        raise Forbidden("only a peer supervisor approves matches")
    run = _run_for(actor, run_id)
    if run.status != RunStatus.PROPOSED:
        raise InvalidInput(
            [FieldProblem("run_id", f"run {run_id} is {run.status}, not awaiting approval")]
        )
    proposals = {p.patient_id: p for p in run.proposals.select_for_update()}
    changes = dict(changes or {})
    problems: list[FieldProblem] = []
    for patient_id in changes:
        if patient_id not in proposals:
            problems.append(FieldProblem("changes", f"patient {patient_id} is not in run {run_id}"))
    if problems:
        raise InvalidInput(problems)
    if any(v is not None for v in changes.values()):
        _check_edits(actor, run, proposals, changes, now, problems)
    if problems:
        raise InvalidInput(problems)
    made = []
    for patient_id, proposal in sorted(proposals.items()):
        peer_id = changes.get(patient_id, proposal.peer_id)
        if peer_id is None:
            proposal.delete()
            continue
        if peer_id != proposal.peer_id:
            proposal.peer_id = peer_id
            proposal.edited = True
            proposal.save(update_fields=["peer", "edited"])
        made.append(
            PeerMatch.objects.create(
                peer_id=peer_id,
                patient_id=patient_id,
                status=MatchStatus.ACTIVE,
                created_at=now,
                approved_by=actor,
                approved_at=now,
                run=run,
            )
        )
        PeerSupportRequest.objects.filter(pk=proposal.request_id).update(matched_at=now)
        audit_record(
            actor=actor,
            action="peer_match.approved",
            now=now,
            patient_id=patient_id,
            object_type="peer_match",
            object_id=made[-1].pk,
            details={"run": run.pk, "peer": peer_id, "edited": peer_id != proposal.peer_id},
        )
    run.status = RunStatus.APPROVED
    run.approved_by = actor
    run.approved_at = now
    run.save(update_fields=["status", "approved_by", "approved_at"])
    return made


def _check_edits(
    actor: User,
    run: MatchingRun,
    proposals: Mapping[int, MatchProposal],
    changes: Mapping[int, int | None],
    now: datetime,
    problems: list[FieldProblem],
) -> None:
    """An edited pair must pass the optimiser's hard rules: re-run them on just that pair."""
    sites = _site_ids(actor)
    needs = {n.id: n for n in _waiting(sites)[0]}
    offers = {o.id: o for o in _offers(sites, now)}
    # Places the approved proposal will take, apart from the pairs being moved.
    taken: dict[int, int] = defaultdict(int)
    for pid, proposal in proposals.items():
        taken[changes.get(pid, proposal.peer_id) or 0] += 1
    config = matching_config()
    for patient_id, peer_id in changes.items():
        if peer_id is None:
            continue
        need, offer = needs.get(patient_id), offers.get(peer_id)
        if need is None or offer is None:
            problems.append(FieldProblem("changes", f"peer {peer_id} is not a peer of your sites"))
            continue
        # Proposals of this run already hold places in ``capacity_left``: count them back.
        own = sum(1 for p in proposals.values() if p.peer_id == peer_id)
        free = offer.capacity_left + own - taken[peer_id]
        if offer.ineligible:
            sentences = peer_content().programme.sentences
            why = "; ".join(
                PeerReason(r.code, r.params).text(sentences, "en") for r in offer.ineligible
            )
        elif free < 0:
            why = "the peer has no free place"
        else:
            result = match([need], [replace(offer, capacity_left=1)], config)
            if result.pairs:
                continue
            why = "; ".join(r.text(config, "en") for r in result.unmatched[0].reasons)
        problems.append(FieldProblem("changes", f"patient {patient_id} with peer {peer_id}: {why}"))
