"""``stepwell protocol validate FILE`` and ``stepwell protocol show``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stepwell.apps.stepping.protocols import active_protocol, load_protocol_file, protocol_error
from stepwell.domain.stepping.protocol import ProtocolFileError


class Command(BaseCommand):
    help = "Validate a protocol file, or show the protocol in force."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        validate = sub.add_parser("validate", help="check a protocol file; exit 2 if it is bad")
        validate.add_argument("file", type=Path)
        show = sub.add_parser("show", help="the protocol in force, step by step")
        show.add_argument("--lang", choices=["en", "es"], default="en")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "validate":
            try:
                protocol = load_protocol_file(opts["file"])
            except ProtocolFileError as exc:
                raise CommandError(str(exc), returncode=2) from None
            self.stdout.write(f"{opts['file']}: valid ({protocol.label})")
            return
        try:
            protocol = active_protocol()
        except ProtocolFileError as exc:
            raise CommandError(str(exc), returncode=2) from None
        lang = opts["lang"]
        self.stdout.write(f"{protocol.name[lang]} — {protocol.label}")
        if protocol.status:
            self.stdout.write(f"Status: {protocol.status}")
        rejected = protocol_error()
        if rejected:
            self.stderr.write(f"A changed file was rejected; this one stays in force: {rejected}")
        self.stdout.write(f"Primary measures: {', '.join(protocol.primary_measures)}")
        for number, step in sorted(protocol.steps.items()):
            self.stdout.write(
                f"Step {number}: {step.name[lang]} (check-in every {step.check_in_days} days, "
                f"review after {step.review_days} days)"
            )
            for item in step.interventions:
                self.stdout.write(f"  - {item[lang]}")
        r = protocol
        self.stdout.write(
            "Rules: step up after "
            f"{r.step_up_after_days} days without reliable improvement; review within "
            f"{r.deterioration_review_days} days of reliable deterioration; step down after "
            f"{r.step_down_assessments} assessments below caseness at least "
            f"{r.step_down_min_days_apart} days apart; case conference at step(s) "
            f"{', '.join(map(str, r.case_conference_steps))} between days "
            f"{r.case_conference_from_days} and {r.case_conference_to_days}; urgent escalation "
            f"on {', '.join(r.urgent_safety_signals)}."
        )
