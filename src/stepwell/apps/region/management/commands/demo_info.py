"""``stepwell demo_info``: where the demo runs and how to log in as each role."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from stepwell.apps.accounts.models import User
from stepwell.apps.region.services import DEMO_PASSWORD

_ROLES = (
    ("demo-clinician", "clinician: patients of Pinecrest Health Post, safety tasks, steps"),
    (
        "demo-coordinator",
        "care coordinator: their site's caseload; today's appointments, open barriers and "
        "urgent referrals on the home page; all referrals at /referrals/",
    ),
    ("demo-chw", "community health worker: patients of their catchment"),
    ("demo-peer", "peer supporter: matched patients (only what they shared), a tele-group"),
    ("demo-supervisor", "peer supervisor: their peers, the waiting list and matching runs"),
    ("demo-manager", "programme manager: aggregates only"),
    ("demo-admin", "administrator: sites, users, on-call roster, undelivered messages"),
    ("demo-patient", "patient: their own record"),
)


class Command(BaseCommand):
    help = "Print the demo URL and the log-in of each role."

    def handle(self, *args: Any, **opts: Any) -> None:
        port = os.environ.get("PORT", "8000")
        present = set(
            User.objects.filter(username__startswith="demo-").values_list("username", flat=True)
        )
        self.stdout.write(f"\nStepwell demo: http://127.0.0.1:{port}/")
        self.stdout.write(f"API docs:      http://127.0.0.1:{port}/api/v1/docs")
        self.stdout.write(f"Log in with any of these (password: {DEMO_PASSWORD}):")
        for username, what in _ROLES:
            if username in present:
                self.stdout.write(f"  {username:<18} {what}")
        self.stdout.write(
            f"Notifications (SMS, e-mail) are written to {settings.STEPWELL_OUTBOX_DIR}/ by "
            "`stepwell worker`, which `make demo` runs beside the server."
        )
        self.stdout.write("")
