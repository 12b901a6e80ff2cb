"""The protocol in force: ``settings.STEPWELL_PROTOCOL_FILE``, re-read when it changes.

A changed file that fails validation does not replace the protocol in force: the last good
one stays, and ``protocol_error()`` says what is wrong (file and field) for pages and the CLI.
Only a process that has never loaded a good protocol fails (ProtocolFileError).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.conf import settings

from stepwell.apps.measurement.registry import instruments
from stepwell.domain.stepping.protocol import Protocol, ProtocolFileError, parse_protocol

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _State:
    key: tuple[str, float] | None = None
    protocol: Protocol | None = None
    error: str = ""


_state = _State()


def load_protocol_file(path: Path) -> Protocol:
    """Parse and validate one protocol file. Raises ProtocolFileError naming file and field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProtocolFileError(f"{path}: cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ProtocolFileError(f"{path}: not valid YAML: {exc}") from None
    return parse_protocol(data, source=str(path), instruments=instruments())


def active_protocol() -> Protocol:
    """The protocol in force (the last file that validated)."""
    path = Path(settings.STEPWELL_PROTOCOL_FILE)
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        key = (str(path), -1.0)
    if key != _state.key:
        _state.key = key
        try:
            _state.protocol = load_protocol_file(path)
            _state.error = ""
        except ProtocolFileError as exc:
            _state.error = str(exc)
            log.error("protocol file rejected, previous protocol stays in force: %s", exc)
    if _state.protocol is None:
        raise ProtocolFileError(_state.error)
    return _state.protocol


def protocol_error() -> str:
    """Why the current protocol file was rejected ("" when it is the one in force)."""
    active_protocol()
    return _state.error
