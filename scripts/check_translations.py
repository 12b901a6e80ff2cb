"""Lint for translations: every catalogue complete, no fuzzy entries, .mo matching its .po.

Compiles with Babel (pure Python) so a fresh machine needs no gettext tools. With ``--write``
it (re)writes the .mo files instead of checking them.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parents[1] / "src" / "stepwell" / "locale"


def main(write: bool) -> int:
    problems: list[str] = []
    catalogues = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))
    if not catalogues:
        problems.append(f"no catalogues under {LOCALE}")
    for po_path in catalogues:
        with po_path.open("rb") as fh:
            catalogue = read_po(fh)
        for message in catalogue:
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if not all(strings):
                problems.append(f"{po_path}: untranslated: {message.id!r}")
            if message.fuzzy:
                problems.append(f"{po_path}: fuzzy: {message.id!r}")
        buffer = io.BytesIO()
        write_mo(buffer, catalogue, use_fuzzy=False)
        mo_path = po_path.with_suffix(".mo")
        if write:
            mo_path.write_bytes(buffer.getvalue())
        elif not mo_path.exists() or mo_path.read_bytes() != buffer.getvalue():
            problems.append(f"{mo_path}: out of date; run `make messages`")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(write="--write" in sys.argv[1:]))
