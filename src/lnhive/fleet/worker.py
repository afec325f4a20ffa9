"""The background thread of cl-hive: handle queued frames, periodic work, the outbox.

The ``custommsg`` hook only queues (:meth:`lnhive.fleet.hive.Hive.receive`) and calls
:meth:`HiveWorker.wake`; this thread then verifies and handles the frames (node RPCs
such as ``checkmessage`` never run on the hook's thread), runs :meth:`Hive.tick`
(gossip when due, intents to commit or expire) and sends whatever became due.
Without traffic it still wakes every ``tick_s``.
"""

from __future__ import annotations

import threading

from lnhive.fleet.hive import Hive


class HiveWorker:
    def __init__(self, hive: Hive, *, tick_s: float = 5.0) -> None:
        self.hive = hive
        self.tick_s = tick_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cl-hive-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.tick_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.hive.process()
                self.hive.tick()
                self.hive.flush_outbox()
            except Exception as exc:  # the loop must survive anything
                self.hive.log("warn", f"worker: {type(exc).__name__}: {exc}")
