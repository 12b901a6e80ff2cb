"""``stepwell worker``: escalate overdue safety tasks and deliver queued SMS/e-mail, forever
(or ``--once``). Safe to kill at any moment and to run twice: see apps/outbox/services.py."""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone

from stepwell.apps.safety.worker import TickReport, worker_tick

log = logging.getLogger("stepwell.worker")


class Command(BaseCommand):
    help = "Escalate overdue safety tasks and deliver queued notifications (SMS, e-mail)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="seconds between passes (default 5)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["interval"] <= 0:
            raise CommandError("--interval: must be more than 0 seconds", returncode=2)
        stop = False

        def ask_to_stop(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True  # finish the pass in hand, then leave

        signal.signal(signal.SIGTERM, ask_to_stop)
        signal.signal(signal.SIGINT, ask_to_stop)
        while True:
            report = self._pass()
            if opts["once"]:
                if report is None:
                    raise SystemExit(1)
                self.stdout.write(
                    f"escalated {report.escalated}, sent {report.sent}, failed {report.failed}"
                )
                return
            close_old_connections()
            deadline = time.monotonic() + opts["interval"]
            while not stop and time.monotonic() < deadline:
                time.sleep(0.2)
            if stop:
                return

    def _pass(self) -> TickReport | None:
        """One pass; None when the database failed (logged, connection dropped)."""
        try:
            report = worker_tick(now=timezone.now())
        except DatabaseError as exc:
            # The database went away (restart, failover): drop the connection and try again
            # next pass. Nothing is lost: every step of delivery is a committed row.
            log.warning("worker pass failed, retrying: %s", type(exc).__name__)
            for conn in connections.all():
                conn.close()
            return None
        if report.escalated or report.sent or report.failed:
            log.info(
                "escalated %s, sent %s, failed %s", report.escalated, report.sent, report.failed
            )
        return report
