"""``stepwell seed``: generate and store a synthetic rural region (demo and benchmarks)."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from stepwell.apps.coordination.content import barrier_vocabulary
from stepwell.apps.measurement.registry import instruments
from stepwell.apps.peers.content import peer_content
from stepwell.apps.region.services import (
    DEMO_PASSWORD,
    RegionNotEmpty,
    database_is_empty,
    region_coordination,
    region_store,
)
from stepwell.apps.stepping.services import episodes_review_all
from stepwell.domain.synthetic.assessments import assessment_histories
from stepwell.domain.synthetic.peers import peer_programme
from stepwell.domain.synthetic.region import generate_region


class Command(BaseCommand):
    help = (
        "Generate a synthetic rural region (sites, staff, peers, patients, episodes and "
        "their assessment histories)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=300, help="number of patients")
        parser.add_argument(
            "--seed", type=int, default=1, help="random seed (same seed, same region)"
        )
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            default=None,
            help="the date the region is generated as of (YYYY-MM-DD)",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (exit 0) when the database already has a region",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--no-assessments",
            action="store_true",
            help="patients and episodes only, without questionnaire histories",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed makes synthetic data with demo log-ins; not in production")
        if opts["patients"] < 1:
            raise CommandError(f"--patients: {opts['patients']} is not a positive number")
        if not database_is_empty():
            if opts["if_empty"]:
                self.stdout.write("The database already has a region; not seeding.")
                return
            raise CommandError(
                "the database already has sites or patients; use an empty database (or --if-empty)"
            )
        now = timezone.now()
        today = opts["today"] or timezone.localdate(now)
        n = opts["patients"]
        started = time.perf_counter()
        with tqdm(
            total=2 * n,
            unit="patients",
            desc="seeding",
            disable=opts["no_progress"],
            unit_scale=0.5,
        ) as bar:

            def advance(count: int) -> None:
                bar.update(count)

            region = generate_region(patients=n, seed=opts["seed"], today=today, progress=advance)
            histories = (
                []
                if opts["no_assessments"]
                else assessment_histories(region, instruments(), seed=opts["seed"], today=today)
            )
            peers = peer_programme(
                region,
                peer_content(),
                tuple(barrier_vocabulary().kinds),
                seed=opts["seed"],
                today=today,
            )
            coordination = region_coordination(region, histories, now)
            try:
                result = region_store(
                    region=region,
                    now=now,
                    progress=advance,
                    assessments=histories,
                    peers=peers,
                    coordination=coordination,
                )
            except RegionNotEmpty as exc:
                raise CommandError(str(exc)) from None
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Seeded {result.sites} sites, {result.users} users, {result.patients} patients, "
            f"{result.episodes} episodes, {result.step_changes} step changes, "
            f"{result.matches} peer matches and {result.assessments} assessments "
            f"in {seconds:.1f} s "
            f"({result.patients / seconds:,.0f} patients/s)."
        )
        self.stdout.write(
            f"Peer programme: {result.peers} peers, {result.peer_requests} requests for a peer "
            f"({sum(r.matched_at is None for r in peers.requests)} waiting), "
            f"{result.peer_encounters} encounters, {result.peer_groups} groups."
        )
        self.stdout.write(
            f"Care coordination: {len(coordination.appointments)} appointments, "
            f"{len(coordination.barriers)} barriers, {len(coordination.referrals)} referrals, "
            f"{len(coordination.goals)} goals, {len(coordination.reminders)} reminders."
        )
        if histories:
            # Fill the registry: every open episode reviewed under the protocol in force.
            review = episodes_review_all(now=now)
            self.stdout.write(
                f"Reviewed {review.episodes} open episodes under {review.protocol}: "
                f"{review.flags} registry flags."
            )
        logins = ", ".join(sorted(region.demo_logins.values()))
        self.stdout.write(f"Demo log-ins (password {DEMO_PASSWORD!r}): {logins}")
