"""A Mosquitto process of one's own on a free loopback port, in a directory of one's own.

The device benchmark and the device tests start one where they need settings the shared broker
does not have (persistence they can restart, a queue deep enough for a flood, an ACL).
`max_queued_messages` is raised from Mosquitto's default of 1,000: beyond it a broker drops QoS 1
messages for a persistent session that is reading slower than devices publish, which is exactly
what a deployment must not do to the hub (set it as high in production).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from hub.bench.http import free_port


@dataclass
class PrivateBroker:
    """A mosquitto process with persistence on, in `directory`; `extra` replaces the default
    `allow_anonymous true` (e.g. password and ACL files)."""

    directory: Path
    port: int = field(default_factory=free_port)
    extra: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.directory / "mosquitto.conf"

    def start(self) -> None:
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            # as root mosquitto would drop to its own user, which cannot write the directory
            + ("user root\n" if os.geteuid() == 0 else "")
            + f"persistence true\npersistence_location {self.directory}/\nautosave_interval 1\n"
            "max_queued_messages 1000000\n"
            f"log_dest file {self.directory}/mosquitto.log\n" + (self.extra or "allow_anonymous true\n")
        )
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start on port {self.port}: {self.log()}")

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistence file and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""
