"""The production gateways against local fake servers: an SMS provider's HTTP API
(``http.server`` in a thread) and an SMTP server (``aiosmtpd``). Nothing leaves 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from stepwell.apps.outbox.gateways import (
    DeliveryError,
    HttpSmsGateway,
    OutgoingMessage,
    SmtpEmailGateway,
    email_message_id,
)
from stepwell.apps.outbox.models import Notification
from stepwell.apps.outbox.services import notification_enqueue, outbox_deliver
from tests.conftest import NOW, make_user

PHONE = "+15550199"
BODY = "Safety task 12 needs you: open Stepwell"
KEY = "safety-event:12:user:7:sms"
SMS = OutgoingMessage(KEY, "sms", PHONE, "", BODY)


# --- a fake SMS provider ---------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    payload: Any


@dataclass
class FakeSms:
    """Answers each POST with the next of ``answers`` ("ok" once they run out):
    ``ok`` 200 {"id"}, ``ok-message-id`` 200 {"message_id"}, ``503``, ``409``, ``302``,
    ``slow`` (no answer until released), ``garbage`` (200, not JSON), ``empty`` (202)."""

    url: str
    answers: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _sms_handler(fake: FakeSms) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            fake.received.append(Received(dict(self.headers.items()), json.loads(raw)))
            answer = fake.answers.pop(0) if fake.answers else "ok"
            n = len(fake.received)
            # Providers echo the request in their errors: the gateway must not pass that on.
            echo = json.dumps({"error": f"could not send to {PHONE}: {BODY}"}).encode()
            if answer == "slow":
                fake.release.wait(5)
                return
            if answer == "ok":
                self._answer(200, json.dumps({"id": f"prov-{n}"}).encode())
            elif answer == "ok-message-id":
                self._answer(201, json.dumps({"message_id": 4242, "to": PHONE}).encode())
            elif answer == "garbage":
                self._answer(200, f"<html>sent to {PHONE}</html>".encode(), "text/html")
            elif answer == "empty":
                self._answer(202, b"")
            elif answer == "302":
                self._answer(302, b"", extra={"Location": fake.url + "elsewhere"})
            else:
                self._answer(int(answer), echo)

        def _answer(
            self,
            status: int,
            body: bytes,
            content_type: str = "application/json",
            extra: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_sms() -> Iterator[FakeSms]:
    fake = FakeSms(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _sms_handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1/messages"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _error(gateway: Any, message: OutgoingMessage = SMS) -> str:
    with pytest.raises(DeliveryError) as caught:
        gateway.send(message)
    text = str(caught.value)
    assert message.address not in text
    assert message.body not in text
    assert caught.value.__cause__ is None
    # Tracebacks do not show the original exception either (it may quote the request).
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    return text


# --- HttpSmsGateway --------------------------------------------------------------------


def test_sms_posts_json_with_the_key_and_a_bearer_token(fake_sms: FakeSms) -> None:
    gateway = HttpSmsGateway(fake_sms.url, token="tok-123", user="", password="")
    assert gateway.send(SMS) == "prov-1"
    [request] = fake_sms.received
    assert request.payload == {"to": PHONE, "body": BODY, "idempotency_key": KEY}
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["Content-Type"] == "application/json"


def test_sms_basic_auth_and_a_message_id_field(fake_sms: FakeSms) -> None:
    fake_sms.answers = ["ok-message-id"]
    gateway = HttpSmsGateway(fake_sms.url, token="", user="stepwell", password="s3cr:et")
    assert gateway.send(SMS) == "4242"
    auth = fake_sms.received[0].headers["Authorization"]
    assert auth == "Basic " + base64.b64encode(b"stepwell:s3cr:et").decode()


def test_sms_reads_its_settings(fake_sms: FakeSms, settings: Any) -> None:
    settings.STEPWELL_SMS_HTTP_URL = fake_sms.url
    settings.STEPWELL_SMS_HTTP_USER = "u"
    settings.STEPWELL_SMS_HTTP_PASSWORD = "p"
    settings.STEPWELL_SMS_HTTP_TOKEN = ""
    settings.STEPWELL_SMS_HTTP_TIMEOUT = 0.3
    fake_sms.answers = ["empty"]
    gateway = HttpSmsGateway()
    assert gateway.timeout == 0.3
    assert gateway.send(SMS) == KEY  # 202 without a body: accepted, the key is the id
    assert (
        fake_sms.received[0].headers["Authorization"]
        == "Basic " + base64.b64encode(b"u:p").decode()
    )


def test_sms_409_for_a_seen_key_counts_as_delivered(fake_sms: FakeSms) -> None:
    fake_sms.answers = ["409"]
    assert HttpSmsGateway(fake_sms.url, token="t").send(SMS) == KEY


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("503", "SMS gateway answered 503"),
        ("400", "SMS gateway answered 400"),
        ("302", "SMS gateway answered 302"),  # not followed: it would carry the credentials
        ("garbage", "SMS gateway answered 200 with a body that is not JSON"),
        ("slow", "SMS gateway did not answer within 0.3 s"),
    ],
)
def test_sms_failures_name_the_status_and_never_the_number_or_text(
    fake_sms: FakeSms, answer: str, expected: str
) -> None:
    fake_sms.answers = [answer]
    assert _error(HttpSmsGateway(fake_sms.url, token="t", timeout=0.3)) == expected
    assert len(fake_sms.received) == 1


def test_sms_refused_connection_and_missing_url() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1/messages"
    assert _error(HttpSmsGateway(url, timeout=1)) == (
        "SMS gateway unreachable (ConnectionRefusedError)"
    )
    assert _error(HttpSmsGateway("")) == "STEPWELL_SMS_HTTP_URL is not set"
    assert _error(HttpSmsGateway("file:///etc/passwd")) == (
        "STEPWELL_SMS_HTTP_URL must start with http:// or https://"
    )


@pytest.mark.django_db
def test_outbox_retries_a_503_then_delivers_with_the_same_key(
    fake_sms: FakeSms, settings: Any
) -> None:
    settings.STEPWELL_SMS_GATEWAY = "stepwell.apps.outbox.gateways.HttpSmsGateway"
    settings.STEPWELL_SMS_HTTP_URL = fake_sms.url
    settings.STEPWELL_SMS_HTTP_TOKEN = "tok"
    settings.STEPWELL_SMS_HTTP_TIMEOUT = 2
    user = make_user("on-call", "clinician")
    user.phone = PHONE
    user.save()
    notification_enqueue(
        key=KEY,
        channel="sms",
        recipient=user,
        subject="",
        body=BODY,
        ref_type="safety-task",
        ref_id=12,
        now=NOW,
    )
    fake_sms.answers = ["503"]

    def retry_delay(attempts: int) -> timedelta:
        return timedelta(minutes=1)

    first = outbox_deliver(now=NOW, retry_delay=retry_delay)
    n = Notification.objects.get(key=KEY)
    assert (first.sent, first.failed) == (0, 1)
    assert (n.status, n.attempts) == ("pending", 1)
    assert n.last_error == "DeliveryError: SMS gateway answered 503"
    assert PHONE not in n.last_error
    # Not due again until the retry delay has passed.
    assert outbox_deliver(now=NOW + timedelta(seconds=30), retry_delay=retry_delay).sent == 0
    second = outbox_deliver(now=NOW + timedelta(minutes=1, seconds=1), retry_delay=retry_delay)
    n.refresh_from_db()
    assert (second.sent, second.failed) == (1, 0)
    assert (n.status, n.attempts, n.provider_id, n.last_error) == ("sent", 2, "prov-2", "")
    assert [r.headers["Idempotency-Key"] for r in fake_sms.received] == [KEY, KEY]
    assert [r.payload["idempotency_key"] for r in fake_sms.received] == [KEY, KEY]


# --- SmtpEmailGateway ------------------------------------------------------------------


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return f"550 5.1.1 no such user {address}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if b"Subject: Refuse me" in envelope.content:
            return f"554 5.7.1 rejected mail to {envelope.rcpt_tos[0]}"
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 OK"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[_Inbox]:
    inbox = _Inbox()
    port = _closed_port()  # free a moment ago; aiosmtpd's controller cannot take port 0
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    # pytest-django switches to the in-memory backend; these tests want the real SMTP one.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "Stepwell <noreply@clinic.example>"
    settings.STEPWELL_EMAIL_MESSAGE_ID_DOMAIN = ""
    yield inbox
    controller.stop()


EMAIL = OutgoingMessage(
    "safety-event:12:user:7:email", "email", "clin@example.org", "Safety task 12", BODY
)


def test_smtp_sends_with_the_key_in_message_id_and_header(smtp_server: _Inbox) -> None:
    provider_id = SmtpEmailGateway().send(EMAIL)
    assert provider_id == email_message_id(EMAIL.key, "clinic.example")
    assert provider_id.startswith("<stepwell.")
    assert provider_id.endswith("@clinic.example>")
    [(mail_from, rcpt_tos, mail)] = smtp_server.messages
    assert (mail_from, rcpt_tos) == ("noreply@clinic.example", ["clin@example.org"])
    assert mail["To"] == "clin@example.org"
    assert mail["Subject"] == "Safety task 12"
    assert mail["X-Stepwell-Key"] == EMAIL.key
    assert mail["Message-ID"] == provider_id
    assert mail.get_payload(decode=True).decode().strip() == BODY  # type: ignore[union-attr]
    # The same key gives the same Message-ID, so a receiving system can drop a re-send.
    assert SmtpEmailGateway().send(EMAIL) == provider_id
    assert smtp_server.messages[1][2]["Message-ID"] == provider_id


def test_smtp_message_id_domain_setting(smtp_server: _Inbox, settings: Any) -> None:
    settings.STEPWELL_EMAIL_MESSAGE_ID_DOMAIN = "mail.stepwell.example"
    assert SmtpEmailGateway().send(EMAIL).endswith("@mail.stepwell.example>")


def test_smtp_refused_connection_names_the_error_class_only(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _closed_port()
    settings.EMAIL_TIMEOUT = 2
    assert _error(SmtpEmailGateway(), EMAIL) == "SMTP delivery failed (ConnectionRefusedError)"


def test_smtp_refusals_name_the_code_or_class_never_the_address(smtp_server: _Inbox) -> None:
    nobody = OutgoingMessage("k:1", "email", "nobody@example.org", "Safety task 12", BODY)
    assert _error(SmtpEmailGateway(), nobody) == "SMTP delivery failed (SMTPRecipientsRefused)"
    refused = OutgoingMessage("k:2", "email", "clin@example.org", "Refuse me", BODY)
    assert _error(SmtpEmailGateway(), refused) == "SMTP server answered 554 (SMTPDataError)"
    assert smtp_server.messages == []


def test_file_gateway_sees_keys_another_process_appended(tmp_path: Path) -> None:
    """The gateway remembers the keys it has read; a line appended since by another worker
    process still counts, and a replaced file is read afresh."""
    from stepwell.apps.outbox.gateways import FileGateway, OutgoingMessage

    gateway = FileGateway(tmp_path)
    first = OutgoingMessage("k-1", "sms", "+15550100001", "", "one")
    gateway.send(first)
    path = tmp_path / "sms.jsonl"
    # Another process appends k-2 directly.
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"key": "k-2", "channel": "sms"}) + "\n")
    gateway.send(OutgoingMessage("k-2", "sms", "+15550100001", "", "two"))
    gateway.send(first)
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["k-1", "k-2"]
    # The file is rotated away: the same key is written to the new file.
    path.rename(tmp_path / "sms.jsonl.1")
    gateway.send(first)
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["k-1"]
