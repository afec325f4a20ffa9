"""A local ``nostr-relay`` on 127.0.0.1, for the demo and the tests (ARCHITECTURE §5, §6).

The relay program is the ``nostr-relay`` console script of the project's environment
(next to ``sys.executable``). It runs in its own process group, on a free port, with a
temporary config and SQLite file in ``workdir``; :meth:`RelayProcess.stop` ends the group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

RELAY_BIN = Path(sys.executable).parent / "nostr-relay"

CONFIG = """\
DEBUG: false
relay_name: lnhive test relay
storage:
  sqlalchemy.url: sqlite+aiosqlite:///{db}
  validators:
    - nostr_relay.validators.is_not_too_large
    - nostr_relay.validators.is_signed
    - nostr_relay.validators.is_recent
max_event_size: 262144
gunicorn:
  bind: 127.0.0.1:{port}
  workers: 1
  loglevel: warning
  reload: false
authentication:
  enabled: false
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RelayProcess:
    """``RelayProcess(workdir).start()`` … ``.stop()``; ``url`` is its ``ws://`` address."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> RelayProcess:
        """Start it and wait until it accepts connections (``RuntimeError`` if it cannot)."""
        if not RELAY_BIN.exists():
            raise RuntimeError(f"{RELAY_BIN} not found (is the project environment set up?)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "relay.yaml"
        config.write_text(CONFIG.format(db=self.workdir / "relay.sqlite3", port=self.port))
        log = open(self.workdir / "relay.log", "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [str(RELAY_BIN), "-c", str(config), "serve"],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError(
                    f"nostr-relay exited: {(self.workdir / 'relay.log').read_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nostr-relay did not start")

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(5)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None
