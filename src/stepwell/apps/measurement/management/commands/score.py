"""``stepwell score CODE --answers "1,2,0,,3,…"``: score one answer set, print JSON.

Empty = missing, ``na`` = not applicable. Bad input: exit code 2 and one line naming the item
and the allowed values.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from stepwell.apps.measurement.registry import instrument
from stepwell.domain.instruments.parse import InstrumentFileError
from stepwell.domain.instruments.scoring import AnswerError, score


class Command(BaseCommand):
    help = 'Score answers with an instrument: stepwell score PHQ-9 --answers "1,2,0,,3,1,0,2,1"'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="instrument code, e.g. PHQ-9")
        parser.add_argument(
            "--answers",
            required=True,
            help="comma-separated, in item order; empty = missing, na = n/a",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            definition = instrument(opts["code"])
        except InstrumentFileError as exc:
            self._fail(str(exc))
        if definition is None:
            self._fail(f"{opts['code']}: no such instrument (see `stepwell instruments`)")
        assert definition is not None
        answers = [a.strip() or None for a in opts["answers"].split(",")]
        try:
            result = score(definition, answers)
        except AnswerError as exc:
            self._fail(str(exc))
        self.stdout.write(json.dumps(result.as_dict()))

    def _fail(self, message: str) -> None:
        print(message, file=sys.stderr)
        raise SystemExit(2)
