"""The real services the tests talk to: started here when installed but not running.

Each service is found on its usual loopback port; when nothing answers there and the service is
installed, it is started with the same command the machine uses at boot. A test run uses its own
databases (and, in later suites, its own queues and topics), so runs never collide.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Service:
    name: str
    host: str
    port: int
    binary: str
    start: tuple[str, ...]

    def answering(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def ensure(self, timeout: float = 30.0) -> bool:
        """True once the service answers; starts it if installed and silent."""
        if self.answering():
            return True
        if shutil.which(self.binary) is None and not Path(self.binary).exists():
            return False
        subprocess.run(self.start, check=False, capture_output=True, timeout=60)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.answering():
                return True
            time.sleep(0.2)
        return False


def _postgres_start() -> tuple[str, ...]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else ["15"]
    return ("pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start")


POSTGRES = Service("postgresql", "127.0.0.1", 5432, "pg_ctlcluster", _postgres_start())
REDIS = Service(
    "redis",
    "127.0.0.1",
    6379,
    "redis-server",
    (
        "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
        "--save", "", "--appendonly", "no", "--dir", "/tmp",
    ),
)
MOSQUITTO = Service(
    "mosquitto", "127.0.0.1", 1883, "mosquitto", ("mosquitto", "-d", "-c", "/etc/mosquitto/mosquitto.conf")
)

POSTGRES_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def run_id() -> str:
    """A name part unique to this test run (pytest-xdist workers included)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{os.getpid()}_{worker}_{uuid.uuid4().hex[:6]}"
