"""Gateways that deliver outbox messages. Pluggable per channel by setting
(``STEPWELL_SMS_GATEWAY``, ``STEPWELL_EMAIL_GATEWAY``): a class with ``send(message)``.

A gateway receives the message ``key`` and must treat it as an idempotency key: the worker
may hand it the same message again after a crash between "sent" and "marked sent", and the
recipient must still get it once. Real SMS providers take such a key in their API; the file
gateway below checks its own file.

A gateway's error text is stored on the message row and shown to admins: it must never quote
the address or the body (``DeliveryError`` texts below name status codes and error classes).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import http.client
import json
import os
import smtplib
import threading
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from email.utils import parseaddr
from functools import cache
from pathlib import Path
from typing import ClassVar, Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
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
    is not written again, so a retried message is delivered once. The keys already read are
    remembered per file (with the file's identity and the length read), so each send reads
    only the lines other processes appended since: sending stays cheap as the file grows.
    """

    # path -> (inode, bytes read, keys in those bytes); guarded by _index_lock in-process and
    # by the file lock across processes.
    _index: ClassVar[dict[Path, tuple[int, int, set[str]]]] = {}
    _index_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory or settings.STEPWELL_OUTBOX_DIR)

    def send(self, message: OutgoingMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = (self.directory / f"{message.channel}.jsonl").resolve()
        with FileGateway._index_lock, path.open("a+b") as fh:
            # Two workers may run: the lock makes "look for the key, then append" one step.
            fcntl.flock(fh, fcntl.LOCK_EX)
            stat = os.fstat(fh.fileno())
            inode, done, keys = self._index.get(path, (stat.st_ino, 0, set()))
            if inode != stat.st_ino or done > stat.st_size:  # replaced or truncated
                inode, done, keys = stat.st_ino, 0, set()
            fh.seek(done)
            for line in fh:
                if line.endswith(b"\n"):
                    keys.add(json.loads(line).get("key"))
                    done += len(line)
            if message.key not in keys:
                fh.seek(0, os.SEEK_END)
                line = (json.dumps(asdict(message), ensure_ascii=False) + "\n").encode("utf-8")
                fh.write(line)
                fh.flush()
                keys.add(message.key)
                done = fh.tell()
            self._index[path] = (inode, done, keys)
        return message.key


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error: following it would re-send the credentials (and
    the message) to wherever the provider, or someone in between, points."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class HttpSmsGateway:
    """POSTs each message as JSON to an SMS provider's HTTP API (``STEPWELL_SMS_HTTP_URL``).

    Body ``{"to", "body", "idempotency_key"}``, the key also as an ``Idempotency-Key`` header;
    HTTP Basic (``STEPWELL_SMS_HTTP_USER``/``_PASSWORD``) or a bearer token
    (``STEPWELL_SMS_HTTP_TOKEN``, preferred when both are set). Returns the provider's ``id``
    or ``message_id`` from the JSON answer, else the key. A 409 Conflict means the provider
    already has this key: delivered. Anything else not 2xx, a timeout, a refused connection or
    an answer that is not JSON raises ``DeliveryError`` and the worker retries.
    """

    MAX_ANSWER_BYTES = 1 << 20

    def __init__(
        self,
        url: str | None = None,
        *,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.url = settings.STEPWELL_SMS_HTTP_URL if url is None else url
        self.user = settings.STEPWELL_SMS_HTTP_USER if user is None else user
        self.password = settings.STEPWELL_SMS_HTTP_PASSWORD if password is None else password
        self.token = settings.STEPWELL_SMS_HTTP_TOKEN if token is None else token
        self.timeout = float(settings.STEPWELL_SMS_HTTP_TIMEOUT if timeout is None else timeout)

    def _headers(self, key: str) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": key,
            "User-Agent": "Stepwell",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.user:
            pair = f"{self.user}:{self.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers

    def send(self, message: OutgoingMessage) -> str:
        if not self.url:
            raise DeliveryError("STEPWELL_SMS_HTTP_URL is not set")
        if not self.url.lower().startswith(("http://", "https://")):
            raise DeliveryError("STEPWELL_SMS_HTTP_URL must start with http:// or https://")
        payload = {"to": message.address, "body": message.body, "idempotency_key": message.key}
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            self.url,
            data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers=self._headers(message.key),
            method="POST",
        )
        opener = urllib.request.build_opener(_NoRedirects)
        # Every failure is re-raised ``from None``: the original exception (and a traceback
        # that logs it) may carry the request, and with it the number and the text.
        try:
            with opener.open(request, timeout=self.timeout) as response:
                status = response.status
                raw = response.read(self.MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 409:  # the provider already took a message with this key
                return message.key
            raise DeliveryError(f"SMS gateway answered {exc.code}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self._timed_out() from None
            raise DeliveryError(f"SMS gateway unreachable ({type(exc.reason).__name__})") from None
        except TimeoutError:
            raise self._timed_out() from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise DeliveryError(f"SMS gateway request failed ({type(exc).__name__})") from None
        return self._provider_id(status, raw, message.key)

    def _timed_out(self) -> DeliveryError:
        return DeliveryError(f"SMS gateway did not answer within {self.timeout:g} s")

    @staticmethod
    def _provider_id(status: int, raw: bytes, key: str) -> str:
        if not raw.strip():  # 202/204 without a body: accepted, no id of its own
            return key
        try:
            answer = json.loads(raw)
        except ValueError:
            raise DeliveryError(
                f"SMS gateway answered {status} with a body that is not JSON"
            ) from None
        if isinstance(answer, dict):
            for field in ("id", "message_id"):
                if answer.get(field) not in (None, ""):
                    return str(answer[field])
        return key


def email_message_id(key: str, domain: str) -> str:
    """A ``Message-ID`` that is the same every time ``key`` is sent (a receiving system can
    drop the duplicate); the key is hashed because it may hold characters an id may not."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"<stepwell.{digest}@{domain}>"


class SmtpEmailGateway:
    """Sends each message through Django's e-mail framework: ``EMAIL_BACKEND`` (SMTP by
    default), ``EMAIL_HOST``/``_PORT``/``_HOST_USER``/``_HOST_PASSWORD``/``_USE_TLS``/
    ``_TIMEOUT`` and ``DEFAULT_FROM_EMAIL``. SMTP has no idempotency key, so the message
    carries one twice: a ``Message-ID`` derived from the key and an ``X-Stepwell-Key`` header.
    Returns the ``Message-ID``.
    """

    def send(self, message: OutgoingMessage) -> str:
        from_email = settings.DEFAULT_FROM_EMAIL
        domain = settings.STEPWELL_EMAIL_MESSAGE_ID_DOMAIN or (
            parseaddr(from_email)[1].rpartition("@")[2] or "localhost"
        )
        message_id = email_message_id(message.key, domain)
        try:
            email = EmailMessage(
                subject=message.subject,
                body=message.body,
                from_email=from_email,
                to=[message.address],
                headers={"Message-ID": message_id, "X-Stepwell-Key": message.key},
                connection=get_connection(fail_silently=False),
            )
            email.send(fail_silently=False)
        except smtplib.SMTPResponseException as exc:  # the server said no, with a code
            raise DeliveryError(
                f"SMTP server answered {exc.smtp_code} ({type(exc).__name__})"
            ) from None
        except (OSError, ValueError) as exc:
            # smtplib's errors are OSErrors; their text (and a bad header's) may quote the
            # address or the subject, so only the class is kept.
            raise DeliveryError(f"SMTP delivery failed ({type(exc).__name__})") from None
        return message_id


@cache
def _gateway_class(path: str) -> type:
    cls: type = import_string(path)
    return cls


def gateway_for(channel: str) -> Gateway:
    """A fresh gateway for ``channel`` as configured in settings."""
    path = settings.STEPWELL_SMS_GATEWAY if channel == "sms" else settings.STEPWELL_EMAIL_GATEWAY
    gateway: Gateway = _gateway_class(path)()
    return gateway
