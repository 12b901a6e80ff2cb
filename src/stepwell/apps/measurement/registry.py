"""The instruments available here: every ``*.yaml`` in the instrument directories.

Directories come from ``settings.STEPWELL_INSTRUMENT_DIRS`` (``content/instruments`` plus any
named in ``STEPWELL_INSTRUMENT_DIRS`` in the environment), so adding an instrument is adding a
file. Files are read once per process and re-read when one changes.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings

from stepwell.domain.instruments.model import Instrument
from stepwell.domain.instruments.parse import InstrumentFileError, parse_instrument

_cache: dict[tuple[tuple[str, float], ...], dict[str, Instrument]] = {}


def _files() -> list[Path]:
    files: list[Path] = []
    for directory in settings.STEPWELL_INSTRUMENT_DIRS:
        files.extend(sorted(Path(directory).glob("*.yaml")))
    return files


def _load(path: Path) -> Instrument:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InstrumentFileError(f"{path}: not valid YAML: {exc}") from None
    return parse_instrument(data, source=str(path))


def instruments() -> dict[str, Instrument]:
    """All instruments by code. Raises InstrumentFileError naming a bad file and field."""
    files = _files()
    key = tuple((str(f), f.stat().st_mtime) for f in files)
    found = _cache.get(key)
    if found is None:
        found = {}
        for path in files:
            instrument = _load(path)
            if instrument.code in found:
                raise InstrumentFileError(f"{path}: code: {instrument.code!r} is defined twice")
            found[instrument.code] = instrument
        _cache.clear()
        _cache[key] = found
    return found


def instrument(code: str) -> Instrument | None:
    """The instrument with this code (case-insensitive), or None."""
    all_ = instruments()
    return all_.get(code) or next((i for c, i in all_.items() if c.lower() == code.lower()), None)
