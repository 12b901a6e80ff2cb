"""``stepwell match --dry-run --as USER``: the matching proposal for USER's sites, printed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from stepwell.apps.accounts.models import User
from stepwell.apps.core.errors import Forbidden
from stepwell.apps.peers.matching import matching_config, matching_propose
from stepwell.domain.matching import explain


class Command(BaseCommand):
    help = "Propose peer-patient matches (optimal and greedy) without storing anything."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print only (required)")
        parser.add_argument("--as", dest="user", required=True, help="a supervisor's username")
        parser.add_argument("--lang", default="en", help="language of the reasons (en, es)")
        parser.add_argument("--pairs", type=int, default=10, help="pairs to print (default 10)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not opts["dry_run"]:
            raise CommandError(
                "say --dry-run (a stored proposal is POST /api/v1/matching/runs, approved by "
                "a supervisor)"
            )
        user = User.objects.filter(username=opts["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"--as: no active user {opts['user']!r}")
        try:
            optimal, greedy = matching_propose(actor=user, now=timezone.now())
        except Forbidden as exc:
            raise CommandError(f"--as: {exc}") from None
        config, lang = matching_config(), opts["lang"]
        w = self.stdout.write
        w(f"Matching under {config.code} {config.version}: solver {optimal.status}")
        w(
            f"Proposed {len(optimal.pairs)} pairs; {len(optimal.unmatched)} patients left "
            f"waiting; {len(optimal.excluded_peers)} peers excluded."
        )
        w(f"Total cost: optimal {optimal.total_cost}, greedy {greedy.total_cost}.")
        for pair in optimal.pairs[: opts["pairs"]]:
            w(
                f"  patient {pair.patient_id} - peer {pair.peer_id} (cost {pair.cost}): "
                + explain(pair.reasons, config, lang)
            )
        for left in optimal.unmatched[: opts["pairs"]]:
            w(f"  patient {left.patient_id} waits: " + explain(left.reasons, config, lang))
