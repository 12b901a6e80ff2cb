"""``stepwell instruments``: list the instruments defined in content files."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from stepwell.apps.measurement.registry import instruments
from stepwell.domain.instruments.parse import InstrumentFileError


class Command(BaseCommand):
    help = "List the instruments (code, version, items, range, name)."

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            found = instruments()
        except InstrumentFileError as exc:
            raise CommandError(str(exc)) from None
        for code, inst in sorted(found.items()):
            low, high = inst.range
            self.stdout.write(
                f"{code:<14} v{inst.version:<5} {len(inst.items):>2} items  "
                f"{low}-{high:<3} {inst.name['en']}"
            )
