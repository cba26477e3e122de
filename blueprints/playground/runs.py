"""A run feeding its stream: in this process's memory only while the stream lasts.

A run holds the key (decrypted or pasted) and the prompt only until its stream ends; between the
POST and the stream it exists only sealed (pending.py), and nothing about it is written to a log
line. Its stream URL works once: EventSource reconnects by itself, and a replayed prompt would
cost the user money.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from .build import Spec


@dataclass
class Run:
    """One submitted run: where it goes, with which key, and the calls in flight."""

    owner: str
    base_url: str
    provider: str
    key: str = field(repr=False)
    masked: str
    spec: Spec
    prices: dict[str, tuple[float, float]]
    unit: str | None
    id: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    claimed: bool = False
    stopped: threading.Event = field(default_factory=threading.Event)
    calls: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, call) -> bool:
        """Track a call so stop() reaches it; False when the run was stopped already."""
        with self.lock:
            if self.stopped.is_set():
                return False
            self.calls.append(call)
            return True

    def stop(self) -> None:
        """Stop every call of the run now (closes their upstream connections)."""
        with self.lock:
            self.stopped.set()
            calls = list(self.calls)
        for call in calls:
            call.stop()

    def forget(self) -> None:
        """Drop the secret and the prompt once the stream is over."""
        self.key = ""
        self.spec.prompt_text = ""
        for column in self.spec.columns:
            column.body, column.data = {}, b""


class Registry:
    """Thread-safe map of the runs this process streams now (Stop reaches them at once; a Stop
    that lands on another worker goes through the run's row, see pending.py)."""

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()

    def add(self, run: Run) -> Run:
        """Track a run whose stream starts in this process."""
        with self._lock:
            self._runs[run.id] = run
        return run

    def find(self, run_id: str, owner: str) -> Run | None:
        """A live run of this owner (for Stop)."""
        with self._lock:
            run = self._runs.get(run_id)
            return run if run is not None and run.owner == owner else None

    def finish(self, run: Run) -> None:
        """Remove a run whose stream ended, and wipe its secrets."""
        with self._lock:
            self._runs.pop(run.id, None)
        run.forget()

    def clear(self) -> None:
        """Drop every run (tests)."""
        with self._lock:
            runs = list(self._runs.values())
            self._runs.clear()
        for run in runs:
            run.stop()
            run.forget()

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)


RUNS = Registry()
