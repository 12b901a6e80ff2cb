"""``stepwell review --all``: re-evaluate every open episode and write the registry flags."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from stepwell.apps.patients.models import Episode, EpisodeStatus
from stepwell.apps.stepping.services import episodes_review_all
from stepwell.domain.stepping.protocol import ProtocolFileError


class Command(BaseCommand):
    help = "Run the stepped-care protocol over open episodes; writes recommendations and flags."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="every open episode (required)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--workers",
            type=int,
            default=0,
            help="processes sharing the work (default 0: one per CPU, at most 4)",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=2000,
            help="episodes read, evaluated and written per transaction (default 2000)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["workers"] < 0:
            raise CommandError(f"--workers: {opts['workers']} is not 0 or a positive number")
        if opts["chunk_size"] < 1:
            raise CommandError(f"--chunk-size: {opts['chunk_size']} is not a positive number")
        if not opts["all"]:
            raise CommandError(
                "say --all (reviewing one episode is POST /api/v1/episodes/{id}/review)"
            )
        total = Episode.objects.exclude(status=EpisodeStatus.DISCHARGED).count()
        started = time.perf_counter()
        try:
            with tqdm(
                total=total, unit="episodes", desc="reviewing", disable=opts["no_progress"]
            ) as bar:

                def advance(count: int) -> None:
                    bar.update(count)

                summary = episodes_review_all(
                    now=timezone.now(),
                    progress=advance,
                    workers=opts["workers"],
                    chunk_size=opts["chunk_size"],
                )
        except ProtocolFileError as exc:
            raise CommandError(str(exc), returncode=2) from None
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Reviewed {summary.episodes} open episodes under {summary.protocol}: "
            f"{summary.recommendations} recommendations, {summary.flags} flags "
            f"in {seconds:.1f} s ({summary.workers} worker processes)."
        )
