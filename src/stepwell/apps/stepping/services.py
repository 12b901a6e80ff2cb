"""Reviews (the engine run over stored episodes) and step decisions.

One code path reviews one episode (``episode_review``, for a clinician) or every open
episode (``episodes_review_all``, for ``stepwell review --all``): load in bulk, evaluate with
the pure engine, replace the episodes' open recommendations, flags and next review dates.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.util import Finalize

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

from stepwell.apps.access.selectors import visible_patients
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.coordination.content import coordination_rules
from stepwell.apps.core.bulk import (
    analyze,
    bulk_insert,
    cyclic_gc_paused,
    id_list_condition,
)
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.measurement.registry import instruments
from stepwell.apps.patients.models import Episode, EpisodeStatus
from stepwell.apps.patients.services import episode_discharge, episode_step_change
from stepwell.apps.stepping.inputs import (
    EpisodeInput,
    contacts_by_patient,
    last_assessment_at,
    measurements_by_patient,
    open_episode_ids,
    open_episodes,
)
from stepwell.apps.stepping.models import (
    Decision,
    EpisodeFlag,
    EpisodeReview,
    Recommendation,
    RecommendationStatus,
    StepDecision,
)
from stepwell.apps.stepping.protocols import active_protocol
from stepwell.apps.stepping.selectors import reason_texts
from stepwell.domain.access.policy import View, policy_for
from stepwell.domain.records import FieldProblem
from stepwell.domain.stepping.engine import Contact, Review, review_series
from stepwell.domain.stepping.protocol import Protocol

_CHUNK = 2000  # episodes evaluated and written per batch


@dataclass(frozen=True, slots=True)
class ReviewSummary:
    episodes: int
    recommendations: int
    flags: int
    protocol: str
    workers: int = 1  # processes that shared the work


def _measured_instruments(protocol: Protocol) -> tuple[list[str], list[str]]:
    """Instruments the engine reads: (every assessment of) the primary measures of any step
    and any instrument with safety rules (a signal on any of them escalates); (the first
    assessment of) the functional measure, which only the starting step looks at."""
    codes = set(protocol.primary_measures)
    for step in protocol.steps.values():
        codes.update(step.primary_measures)
    codes.update(code for code, inst in instruments().items() if inst.safety)
    first_only = [] if protocol.functional_measure in codes else [protocol.functional_measure]
    return sorted(codes), first_only


def _evaluate(
    episodes: Sequence[EpisodeInput], protocol: Protocol, now: datetime
) -> list[tuple[EpisodeInput, Review]]:
    """Evaluate ``episodes`` with the engine; their measurements are read in bulk.

    Any completed questionnaire counts as a contact with the care team; so do attended
    appointments and answered check-ins, while no-shows and unanswered check-ins count
    towards ``disengaged``.
    """
    patients = [e.patient_id for e in episodes]
    series, first_only = _measured_instruments(protocol)
    measured = measurements_by_patient(patients, series, first_only, now)
    last_seen = last_assessment_at(patients, now)
    rules = coordination_rules()
    booked = contacts_by_patient(
        patients,
        now,
        outcome_of={a.code: a.contact for a in rules.attendance.values() if a.contact},
        reply_window_days=rules.reminders.check_in_reply_days,
    )
    table = instruments()
    out = []
    for e in episodes:
        seen = last_seen.get(e.patient_id)
        contacts = [Contact(seen, "assessment", "answered")] if seen is not None else []
        contacts += booked.get(e.patient_id, ())
        out.append(
            (e, review_series(protocol, table, e.state, measured[e.patient_id], contacts, now))
        )
    return out


def _store(
    results: Sequence[tuple[EpisodeInput, Review]], protocol: Protocol, now: datetime
) -> int:
    """Replace the episodes' open recommendations, flags and review dates. Returns flags.

    New rows take their ids from the database (sequence or rowid), so a clinician's review
    and a region-wide run may write at the same time.
    """
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    where, ids = id_list_condition("episode_id", [e.id for e, _ in results])
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(Recommendation._meta.db_table)} SET status = %s "  # noqa: S608
            f"WHERE {where} AND status = %s",
            [RecommendationStatus.SUPERSEDED.value, ids, RecommendationStatus.OPEN.value],
        )
        for model in (EpisodeFlag, EpisodeReview):
            cursor.execute(f"DELETE FROM {qn(model._meta.db_table)} WHERE {where}", [ids])  # noqa: S608
    bulk_insert(
        Recommendation,
        (
            "episode_id",
            "action",
            "to_step",
            "reasons",
            "evidence",
            "review_within_days",
            "protocol_code",
            "protocol_version",
            "status",
            "created_at",
        ),
        (
            (
                e.id,
                r.action,
                r.to_step,
                dumps([x.as_dict() for x in r.reasons]),
                dumps(list(r.evidence)),
                r.review_within_days,
                protocol.code,
                r.protocol_version,
                RecommendationStatus.OPEN.value,
                now,
            )
            for e, rv in results
            for r in rv.recommendations
        ),
    )
    flags = bulk_insert(
        EpisodeFlag,
        (
            "episode_id",
            "code",
            "reasons",
            "evidence",
            "protocol_code",
            "protocol_version",
            "raised_at",
        ),
        (
            (
                e.id,
                f.code,
                dumps([x.as_dict() for x in f.reasons]),
                dumps(list(f.evidence)),
                protocol.code,
                protocol.version,
                now,
            )
            for e, rv in results
            for f in rv.flags
        ),
    )
    bulk_insert(
        EpisodeReview,
        (
            "episode_id",
            "reviewed_at",
            "next_review",
            "flag_count",
            "protocol_code",
            "protocol_version",
        ),
        (
            (e.id, now, rv.next_review, len(rv.flags), protocol.code, protocol.version)
            for e, rv in results
        ),
    )
    return flags


@transaction.atomic
def episode_review(*, actor: User, episode_id: int, now: datetime) -> list[Recommendation]:
    """Review one open episode the actor may see in full; returns its new recommendations.

    Audited (``episode.reviewed``) with the protocol version.
    """
    policy = policy_for(actor.role)
    if policy.view is not View.FULL:
        raise NotFound("episode")
    # Locked: a decision recorded meanwhile would otherwise be judged by a stale review.
    episode = (
        Episode.objects.exclude(status=EpisodeStatus.DISCHARGED)
        .filter(pk=episode_id, patient__in=visible_patients(actor, now=now))
        .select_for_update(of=("self",))
        .only("id", "patient_id")
        .first()
    )
    if episode is None:
        raise NotFound("episode")
    protocol = active_protocol()
    _store(_evaluate(open_episodes([episode.pk]), protocol, now), protocol, now)
    audit_record(
        actor=actor,
        action="episode.reviewed",
        now=now,
        patient_id=episode.patient_id,
        object_type="episode",
        object_id=episode.pk,
        details={"protocol": protocol.label},
    )
    return list(
        Recommendation.objects.filter(episode=episode, status=RecommendationStatus.OPEN).order_by(
            "id"
        )
    )


def episodes_review_all(
    *,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    workers: int = 0,
    chunk_size: int = _CHUNK,
) -> ReviewSummary:
    """Re-evaluate every open episode (a scheduled job: no user, one audit event).

    Works in chunks of ``chunk_size`` episodes: each is read, evaluated, then stored in its
    own short transaction, so a long run holds no lock for long and a crash loses at most
    the chunks in flight (re-running is idempotent). ``workers`` processes share the chunks
    (0: one per CPU, at most ``_MAX_WORKERS``); one process when called inside a transaction
    (children could not see its uncommitted rows) or on an in-memory SQLite database.
    ``progress`` is called in this process with the episodes of each finished chunk.
    """
    protocol = active_protocol()
    ids = open_episode_ids()
    chunks = [ids[start : start + chunk_size] for start in range(0, len(ids), chunk_size)]
    processes = _worker_count(workers, len(chunks))
    recs = flags = 0
    with cyclic_gc_paused():
        for chunk_recs, chunk_flags, episodes in _review_chunks(chunks, now, processes):
            recs += chunk_recs
            flags += chunk_flags
            if progress:
                progress(episodes)
    analyze([Recommendation, EpisodeFlag, EpisodeReview])
    audit_record(
        actor=None,
        action="episodes.reviewed_all",
        now=now,
        object_type="protocol",
        object_id=protocol.code,
        details={"protocol": protocol.label, "episodes": len(ids), "flags": flags},
    )
    return ReviewSummary(len(ids), recs, flags, protocol.label, processes)


_MAX_WORKERS = 4


def _worker_count(asked: int, chunks: int) -> int:
    if asked < 0:
        raise ValueError(f"workers: {asked} is not 0 (one per CPU) or a positive number")
    wanted = asked or min(os.cpu_count() or 1, _MAX_WORKERS)
    db = connections[DEFAULT_DB_ALIAS]
    shared_database = not (isinstance(db, SQLiteWrapper) and db.is_in_memory_db())
    if connection.in_atomic_block or not shared_database or "fork" not in get_all_start_methods():
        return 1
    return max(1, min(wanted, chunks))


def _review_chunk(episode_ids: Sequence[int], now: datetime) -> tuple[int, int, int]:
    """Review one chunk; returns (recommendations, flags, episodes).

    Read and evaluated outside the writing transaction: on SQLite a transaction holds the
    database's write lock from its start, and a second worker would wait for the whole
    chunk instead of only its writes.
    """
    protocol = active_protocol()
    results = _evaluate(open_episodes(episode_ids), protocol, now)
    with transaction.atomic():
        flags = _store(results, protocol, now)
    return sum(len(r.recommendations) for _, r in results), flags, len(results)


def _review_chunks(
    chunks: Sequence[Sequence[int]], now: datetime, processes: int
) -> Iterator[tuple[int, int, int]]:
    """Each chunk's counts as it finishes: here, or in ``processes`` forked workers."""
    if processes <= 1:
        for chunk in chunks:
            yield _review_chunk(chunk, now)
        return
    # Forked children must not share this process's database connections (one socket, two
    # clients): close them first; each child opens its own and closes it on exit.
    connections.close_all()
    with ProcessPoolExecutor(
        max_workers=processes, mp_context=get_context("fork"), initializer=_worker_started
    ) as pool:
        futures = [pool.submit(_review_chunk, chunk, now) for chunk in chunks]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _worker_started() -> None:
    # Runs at the worker's normal exit (multiprocessing's finalizers), so the database sees
    # a clean disconnect rather than a dropped socket.
    Finalize(None, connections.close_all, exitpriority=10)


@transaction.atomic
def step_decision_record(
    *,
    actor: User,
    episode_id: int,
    recommendation_id: int,
    decision: str,
    to_step: int | None,
    reason: str,
    now: datetime,
) -> StepDecision:
    """Accept or override an open recommendation; a change of step goes through
    ``episode_step_change`` (step history, audit) with the recommendation's protocol version.

    Accepting takes the recommendation's step (``to_step`` may repeat it); overriding needs
    a reason and says which step the episode stays at or moves to.
    """
    if not policy_for(actor.role).may_decide_steps:
        raise Forbidden("only clinicians decide steps")
    episode = (
        Episode.objects.select_for_update()
        .filter(pk=episode_id, patient__in=visible_patients(actor, now=now))
        .first()
    )
    if episode is None:
        raise NotFound("episode")
    rec = (
        Recommendation.objects.select_for_update()
        .filter(pk=recommendation_id, episode_id=episode.pk)
        .first()
    )
    reason = reason.strip()
    if rec is None:
        raise InvalidInput(
            [
                FieldProblem(
                    "recommendation_id",
                    f"{recommendation_id} is not a recommendation for episode {episode_id}",
                )
            ]
        )
    target, problems = _decision_target(rec, episode.current_step, decision, to_step, reason)
    if problems:
        raise InvalidInput(problems)
    protocol_version = rec.protocol_version
    from_step = episode.current_step
    if decision == Decision.ACCEPT and rec.action == "discharge":
        # Below caseness at step 1, accepted: the episode ends as recovered.
        episode_discharge(actor=actor, episode_id=episode.pk, discharge_reason="recovered", now=now)
    elif target != from_step:
        words = reason or _accepted_reason(rec)
        episode_step_change(
            actor=actor,
            episode_id=episode.pk,
            to_step=target,
            reason=words,
            now=now,
            protocol_version=f"{rec.protocol_code} {protocol_version}",
        )
    rec.status = (
        RecommendationStatus.ACCEPTED
        if decision == Decision.ACCEPT
        else RecommendationStatus.OVERRIDDEN
    )
    rec.save(update_fields=["status"])
    made = StepDecision.objects.create(
        episode=episode,
        recommendation=rec,
        decision=decision,
        from_step=from_step,
        to_step=target,
        reason=reason,
        decided_by=actor,
        decided_at=now,
        protocol_version=protocol_version,
    )
    audit_record(
        actor=actor,
        action="episode.step_decided",
        now=now,
        patient_id=episode.patient_id,
        object_type="step_decision",
        object_id=made.pk,
        reason=reason,
        details={
            "recommendation": rec.pk,
            "action": rec.action,
            "decision": decision,
            "from_step": from_step,
            "to_step": target,
            "protocol_version": protocol_version,
        },
    )
    return made


def _decision_target(
    rec: Recommendation, current: int, decision: str, to_step: int | None, reason: str
) -> tuple[int, list[FieldProblem]]:
    """The step a decision leads to, and what is wrong with the decision, if anything."""
    problems: list[FieldProblem] = []
    if rec.status != RecommendationStatus.OPEN:
        problems.append(
            FieldProblem("recommendation_id", f"recommendation {rec.pk} is {rec.status}, not open")
        )
    target = current
    if decision == Decision.ACCEPT:
        target = rec.to_step if rec.to_step is not None else current
        if to_step is not None and to_step != target:
            problems.append(
                FieldProblem(
                    "to_step", f"accepting means step {target}; override to choose step {to_step}"
                )
            )
    elif decision == Decision.OVERRIDE:
        if not reason:
            problems.append(FieldProblem("reason", "overriding a recommendation needs a reason"))
        if to_step is None:
            problems.append(FieldProblem("to_step", "say which step the episode is to be at"))
        elif not 1 <= to_step <= 4:
            problems.append(FieldProblem("to_step", f"{to_step} is not a step (1-4)"))
        else:
            target = to_step
    else:
        problems.append(FieldProblem("decision", f"{decision!r} is not one of accept, override"))
    return target, problems


def _accepted_reason(rec: Recommendation) -> str:
    """The step history's reason for an accepted recommendation: its reasons, in English
    (the history is a clinical record; pages render reasons in the reader's language)."""
    return "; ".join(reason_texts(rec.reasons, "en")) or rec.action
