"""A node's log: lightningd's levels, a file in the lightning-dir, and a searchable tail."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from pathlib import Path

# lightningd's levels; plugin levels map onto them.
LEVELS = ("io", "trace", "debug", "info", "unusual", "broken")
_FROM_PLUGIN = {
    "trace": "trace",
    "debug": "debug",
    "info": "info",
    "warn": "unusual",
    "error": "broken",
}


class NodeLog:
    def __init__(self, path: Path | None, node: str, keep: int = 20_000) -> None:
        self.node = node
        self._lines: deque[str] = deque(maxlen=keep)
        self._cond = threading.Condition()
        self._file = path.open("a", buffering=1, encoding="utf-8") if path else None

    def write(self, level: str, source: str, message: str) -> None:
        level = _FROM_PLUGIN.get(level, level)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        line = f"{stamp} {level.upper():<7s} {source}: {message}"
        with self._cond:
            self._lines.append(line)
            self._cond.notify_all()
        if self._file is not None:
            self._file.write(line + "\n")

    def lines(self) -> list[str]:
        with self._cond:
            return list(self._lines)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        """Block (in a test thread) until a line matches; raise TimeoutError if none does."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{self.node}: no log line matching {pattern!r} within {timeout}s"
                    )
                self._cond.wait(left)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
