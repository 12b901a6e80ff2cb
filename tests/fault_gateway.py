"""A gateway for the worker-kill test, run inside a real ``stepwell worker`` process.

It delivers through the file gateway (which honours message keys), and while the file
``<FAULT_DIR>/hang`` exists it then hangs, as a worker does when it is killed after the
provider took the message but before the row was marked sent. ``<FAULT_DIR>/handed`` gets a
line per hand-over, so the test knows when to kill.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from stepwell.apps.outbox.gateways import FileGateway, OutgoingMessage


class HangingGateway(FileGateway):
    def send(self, message: OutgoingMessage) -> str:
        fault = Path(os.environ["FAULT_DIR"])
        with (fault / "handed").open("a", encoding="utf-8") as fh:
            fh.write(message.key + "\n")
        provider_id = super().send(message)
        while (fault / "hang").exists():
            time.sleep(0.05)
        return provider_id
