"""The protocol in force: ``settings.STEPWELL_PROTOCOL_FILE``, re-read when it changes.

A changed file that fails validation does not replace the protocol in force: the last good
one stays, and ``protocol_error()`` says what is wrong (file and field) for pages and the CLI.
Only a process that has never loaded a good protocol fails (ProtocolFileError).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from stepwell.apps.core.content import WatchedFile, read_content_yaml
from stepwell.apps.measurement.registry import instruments
from stepwell.domain.stepping.protocol import Protocol, ProtocolFileError, parse_protocol


def load_protocol_file(path: Path) -> Protocol:
    """Parse and validate one protocol file. Raises ProtocolFileError naming file and field."""
    data = read_content_yaml(path, ProtocolFileError)
    return parse_protocol(data, source=str(path), instruments=instruments())


_protocol = WatchedFile(
    lambda: Path(settings.STEPWELL_PROTOCOL_FILE),
    load_protocol_file,
    ProtocolFileError,
    "protocol file",
)


def active_protocol() -> Protocol:
    """The protocol in force (the last file that validated)."""
    return _protocol.get()


def protocol_error() -> str:
    """Why the current protocol file was rejected ("" when it is the one in force)."""
    return _protocol.error()
