"""The outbox: queue a message in the caller's transaction, deliver it later, exactly once.

Delivery is claim → send → mark, each step committed (the marks of one claim together):
- a claim is a compare-and-set on rows still claimable, so two workers never take one row;
- a claim older than the lease is claimable again (the worker that took it died);
- the gateway gets the message key as an idempotency key (see ``gateways``), so a message
  sent just before a crash and sent again after it reaches its recipient once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.core.errors import NotFound
from stepwell.apps.outbox.gateways import OutgoingMessage, gateway_for
from stepwell.apps.outbox.models import DeliveryStatus, Notification, OutChannel
from stepwell.domain.access.policy import Role

log = logging.getLogger(__name__)


def claim_lease() -> timedelta:
    """How old a claim must be before another worker takes it over (its worker died)."""
    return timedelta(seconds=settings.STEPWELL_OUTBOX_LEASE_SECONDS)


def notification_enqueue(
    *,
    key: str,
    channel: str,
    recipient: User | None,
    subject: str,
    body: str,
    ref_type: str,
    ref_id: int,
    now: datetime,
    address: str | None = None,
) -> Notification:
    """Queue one message (idempotent on ``key``). Call inside the transaction that caused
    it. The address is the recipient user's (phone for SMS, e-mail otherwise) unless
    ``address`` is given (a patient's, or the number an SMS came from). A message without an
    address gets a row marked failed at once, so the gap shows on the undelivered list
    instead of vanishing."""
    existing = Notification.objects.filter(key=key).first()
    if existing is not None:
        return existing
    if address is None:
        assert recipient is not None, "a message needs a recipient user or an address"
        address = recipient.phone if channel == OutChannel.SMS else recipient.email
    missing = not address.strip()
    return Notification.objects.create(
        key=key,
        channel=channel,
        recipient=recipient,
        address=address.strip(),
        subject=subject,
        body=body,
        ref_type=ref_type,
        ref_id=ref_id,
        status=DeliveryStatus.FAILED if missing else DeliveryStatus.PENDING,
        last_error=(
            ("no phone number on file" if channel == OutChannel.SMS else "no e-mail on file")
            if missing
            else ""
        ),
        next_attempt_at=now,
        created_at=now,
    )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message for ``notification_enqueue_many``: to an address already checked."""

    key: str
    channel: str
    recipient_id: int | None
    address: str
    subject: str
    body: str
    ref_type: str
    ref_id: int


def notification_enqueue_many(messages: Sequence[NewMessage], *, now: datetime) -> dict[str, int]:
    """Queue many messages in a few statements (idempotent on each key: a key queued before
    keeps its first message). Returns each key's notification id. Call inside the
    transaction that caused them; addresses must be present (callers check, and skip)."""
    if not messages:
        return {}
    Notification.objects.bulk_create(
        [
            Notification(
                key=m.key,
                channel=m.channel,
                recipient_id=m.recipient_id,
                address=m.address,
                subject=m.subject,
                body=m.body,
                ref_type=m.ref_type,
                ref_id=m.ref_id,
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                created_at=now,
            )
            for m in messages
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    keys = [m.key for m in messages]
    return dict(Notification.objects.filter(key__in=keys).values_list("key", "id"))


def _claimable(now: datetime, lease: timedelta) -> Q:
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.CLAIMED, claimed_at__lt=now - lease
    )


def outbox_claim(
    *, now: datetime, limit: int = 100, lease: timedelta | None = None
) -> list[Notification]:
    """Take up to ``limit`` due messages for this worker; the claim is committed at once."""
    lease = lease or claim_lease()
    ids = list(
        Notification.objects.filter(_claimable(now, lease))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return []
    token = uuid4().hex
    Notification.objects.filter(_claimable(now, lease), id__in=ids).update(
        status=DeliveryStatus.CLAIMED, claimed_at=now, claim_token=token
    )
    return list(Notification.objects.filter(claim_token=token, status=DeliveryStatus.CLAIMED))


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0  # attempts that failed (retried later or given up)


def outbox_deliver(
    *,
    now: datetime,
    retry_delay: Callable[[int], timedelta | None],
    limit: int = 100,
    lease: timedelta | None = None,
) -> DeliveryReport:
    """Claim due messages and hand each to its channel's gateway.

    ``retry_delay(attempts)`` is the wait after that many failed attempts, or None to give
    up (status failed; it stays on the undelivered list, from which an admin may retry).
    """
    report = DeliveryReport()
    delivered: list[tuple[Any, ...]] = []
    for n in outbox_claim(now=now, limit=limit, lease=lease):
        message = OutgoingMessage(n.key, n.channel, n.address, n.subject, n.body)
        try:
            provider_id = gateway_for(n.channel).send(message)
        except Exception as exc:  # any gateway failure is retried, never lost
            attempts = n.attempts + 1
            delay = retry_delay(attempts)
            Notification.objects.filter(pk=n.pk, claim_token=n.claim_token).update(
                status=DeliveryStatus.FAILED if delay is None else DeliveryStatus.PENDING,
                attempts=attempts,
                next_attempt_at=now + (delay or timedelta(0)),
                last_error=f"{type(exc).__name__}: {exc}"[:300],
                claimed_at=None,
                claim_token="",
            )
            report.failed += 1
            # Ids and the error class only: the error text may quote an address.
            log.warning(
                "notification %s attempt %s failed (%s)", n.pk, attempts, type(exc).__name__
            )
            continue
        delivered.append((now, str(provider_id)[:100], n.pk, n.claim_token))
        report.sent += 1
    _mark_sent(delivered)
    return report


def _mark_sent(rows: list[tuple[Any, ...]]) -> None:
    """Mark a claim's delivered messages sent in one transaction (one statement, many rows).
    A crash before it leaves them claimed: after the lease they are handed to the gateway
    again with the same key, which delivers each once (see ``gateways``)."""
    if not rows:
        return
    table = connection.ops.quote_name(Notification._meta.db_table)
    sql = (
        f"UPDATE {table} SET status = %s, attempts = attempts + 1, sent_at = %s, "  # noqa: S608
        "provider_id = %s, last_error = '', claim_token = '' WHERE id = %s AND claim_token = %s"
    )
    params = [
        (DeliveryStatus.SENT.value, connection.ops.adapt_datetimefield_value(at), pid, pk, token)
        for at, pid, pk, token in rows
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, params)


def notification_retry(*, actor: User, notification_id: int, now: datetime) -> Notification:
    """Put a failed message back in the queue (an admin action after fixing an address).
    Audited ``notification.retried``; NotFound for other roles, as for a missing message."""
    n = Notification.objects.filter(pk=notification_id).select_related("recipient").first()
    if n is None or actor.role != Role.ADMIN:
        raise NotFound("notification")
    if n.status != DeliveryStatus.FAILED:
        return n
    if n.recipient is not None:
        n.address = (
            n.recipient.phone if n.channel == OutChannel.SMS else n.recipient.email
        ).strip()
    n.status = DeliveryStatus.PENDING if n.address else DeliveryStatus.FAILED
    n.next_attempt_at = now
    n.save(update_fields=["address", "status", "next_attempt_at"])
    audit_record(
        actor=actor,
        action="notification.retried",
        now=now,
        object_type="notification",
        object_id=n.pk,
        details={"status": n.status},
    )
    return n
