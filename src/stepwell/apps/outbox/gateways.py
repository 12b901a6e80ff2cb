"""Gateways that deliver outbox messages. Pluggable per channel by setting
(``STEPWELL_SMS_GATEWAY``, ``STEPWELL_EMAIL_GATEWAY``): a class with ``send(message)``.

A gateway receives the message ``key`` and must treat it as an idempotency key: the worker
may hand it the same message again after a crash between "sent" and "marked sent", and the
recipient must still get it once. Real SMS providers take such a key in their API; the file
gateway below checks its own file.
"""

from __future__ import annotations

import fcntl
import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    key: str
    channel: str  # "sms" or "email"
    address: str
    subject: str
    body: str


class DeliveryError(Exception):
    """The gateway refused or could not take the message; the worker retries later."""


class Gateway(Protocol):
    def send(self, message: OutgoingMessage) -> str:
        """Deliver ``message``; return the provider's id. Raise on failure."""
        ...


class FileGateway:
    """Appends each message as one JSON line to ``<STEPWELL_OUTBOX_DIR>/<channel>.jsonl``.

    The development and demo default (nothing leaves the machine). A key already in the file
    is not written again, so a retried message is delivered once.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory or settings.STEPWELL_OUTBOX_DIR)

    def send(self, message: OutgoingMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{message.channel}.jsonl"
        with path.open("a+", encoding="utf-8") as fh:
            # Two workers may run: the lock makes "look for the key, then append" one step.
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            for line in fh:
                if json.loads(line).get("key") == message.key:
                    return message.key
            fh.write(json.dumps(asdict(message), ensure_ascii=False) + "\n")
            fh.flush()
        return message.key


@cache
def _gateway_class(path: str) -> type:
    cls: type = import_string(path)
    return cls


def gateway_for(channel: str) -> Gateway:
    """A fresh gateway for ``channel`` as configured in settings."""
    path = settings.STEPWELL_SMS_GATEWAY if channel == "sms" else settings.STEPWELL_EMAIL_GATEWAY
    gateway: Gateway = _gateway_class(path)()
    return gateway
