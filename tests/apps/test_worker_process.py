"""A real ``stepwell worker`` process killed with SIGKILL in the middle of a send, then
restarted: the message is delivered once and marked sent. Runs on its own SQLite file (the
worker is another process and cannot see the test's transaction)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEPWELL = str(Path(sys.executable).with_name("stepwell"))

SETUP = """
from django.utils import timezone
from stepwell.apps.accounts.models import User
from stepwell.apps.outbox.services import notification_enqueue
u = User.objects.create_user(username="oncall", role="clinician", phone="+15550001")
notification_enqueue(key="safety-event:1:user:1:sms", channel="sms", recipient=u,
    subject="", body="Safety task 1 (High) needs your response", ref_type="safety-task",
    ref_id=1, now=timezone.now())
"""


def _wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def _status(db: Path) -> tuple[str, int]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status, attempts FROM outbox_notification").fetchone()
    return row[0], row[1]


def test_killed_mid_send_then_restarted_delivers_once(tmp_path: Path) -> None:
    db = tmp_path / "worker.sqlite3"
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{db}",
        "STEPWELL_SMS_GATEWAY": "tests.fault_gateway.HangingGateway",
        "STEPWELL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "STEPWELL_OUTBOX_LEASE_SECONDS": "1",
        "FAULT_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }

    def run(*args: str) -> str:
        done = subprocess.run(
            [STEPWELL, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        return done.stdout

    run("migrate", "--no-input", "-v", "0")
    run("shell", "-c", SETUP)
    (tmp_path / "hang").touch()
    worker = subprocess.Popen(
        [STEPWELL, "worker", "--interval", "0.2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(tmp_path / "handed")
        # The provider has the message; the worker dies before marking it sent.
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert _status(db) == ("claimed", 0)
    (tmp_path / "hang").unlink()
    time.sleep(1.2)  # past the claim's lease
    assert "sent 1" in run("worker", "--once")
    assert _status(db) == ("sent", 1)
    handed = (tmp_path / "handed").read_text().split()
    assert handed == ["safety-event:1:user:1:sms"] * 2  # handed over twice …
    delivered = (tmp_path / "outbox" / "sms.jsonl").read_text().splitlines()
    assert [json.loads(line)["address"] for line in delivered] == ["+15550001"]  # … sent once
