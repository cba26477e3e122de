"""The fake relay in its own process, so its threads do not share the poller's GIL.

`RelayProcess(keys, latency)` starts it and talks to it over a pipe: url, reset(), and
limited_times() — when each request to a per-IP-limited path arrived, as the relay saw it.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakerelay import NA_PLUS, FakeRelay  # noqa: E402

LIMITED = ("/api/", "/v1/dashboard/", "/dashboard/")


def serve(conn, keys: list[str], latency: float, remain_quota: int) -> None:
    """Child process: run the relay and answer the parent's commands until "stop"."""
    fake = FakeRelay(NA_PLUS, fault_sleep=2.0)
    fake.add_tokens(keys, remain_quota=remain_quota)
    fake.set_latency(latency)
    fake.start()
    conn.send(fake.url)
    while True:
        command = conn.recv()
        if command == "reset":
            fake.reset()
            fake.set_latency(latency)
            conn.send(True)
        elif command == "limited":
            with fake._lock:
                times = [r.at for r in fake.requests if r.path.startswith(LIMITED)]
            conn.send((times, len(fake.requests)))
        else:
            fake.stop()
            conn.send(True)
            return


class RelayProcess:
    """Parent-side handle of the relay process."""

    def __init__(self, keys: list[str], latency: float, remain_quota: int = 500000 * 10):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=serve, args=(child, keys, latency, remain_quota), daemon=True
        )
        self._proc.start()
        self.url: str = self._conn.recv()

    def reset(self) -> None:
        """Forget recorded requests (tokens stay)."""
        self._conn.send("reset")
        self._conn.recv()

    def limited_times(self) -> tuple[list[float], int]:
        """(arrival times of limited-path requests, total requests) since the last reset."""
        self._conn.send("limited")
        return self._conn.recv()

    def stop(self) -> None:
        """Stop the relay and its process."""
        self._conn.send("stop")
        self._conn.recv()
        self._proc.join(10)
