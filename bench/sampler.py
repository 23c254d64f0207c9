"""Measurement for the benchmark: `Sampler`, a thread polling psutil every 100 ms for each
watched process's RSS (peaks per measurement window) and CPU time (the process, its reaped
children, and live descendants), and `machine_cpu()` for the whole machine.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field

import psutil

MB = 1024 * 1024


def _own_cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass
class _Watched:
    role: str
    proc: psutil.Process
    tree: bool = True  # count reaped children and live descendants too
    descendants: dict[int, float] = field(default_factory=dict)  # pid -> last seen CPU seconds
    last_own: float = 0.0


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores."""
    times = psutil.cpu_times()
    total = sum(times)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


class Sampler(threading.Thread):
    """Polls every watched process every `interval` seconds.

    RSS: the peak of each process's own `memory_info().rss`, kept per open window.
    CPU: `cpu_seconds(role)` = user+system of the process, of its reaped children, and of its
    live descendants (last value seen for each). With `watch_postgres(db)`, the role "postgres"
    sums the backends serving that database (found by process title every 0.5 s).
    """

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.interval = interval
        self._lock = threading.Lock()
        self._watched: dict[str, _Watched] = {}
        self._windows: dict[str, dict[str, int]] = {}
        self._closed: dict[str, dict[str, int]] = {}
        self._halt = threading.Event()
        self._pg_db: str | None = None
        self._pg: dict[int, float] = {}

    def watch(self, role: str, pid: int, *, tree: bool = True) -> None:
        with self._lock:
            self._watched[role] = _Watched(role, psutil.Process(pid), tree)
        self._sample_one(self._watched[role])

    def watch_postgres(self, database: str) -> None:
        with self._lock:
            self._pg_db, self._pg = database, {}
        self._sample_postgres()

    def unwatch_all(self) -> None:
        with self._lock:
            self._watched.clear()
            self._pg_db, self._pg = None, {}

    def _sample_postgres(self) -> None:
        database = self._pg_db
        if database is None:
            return
        needle = f" {database} "
        found: dict[int, float] = {}
        for proc in psutil.process_iter(["name", "cmdline"]):
            try:
                title = " ".join(proc.info["cmdline"] or ())
                if title.startswith("postgres:") and needle in title:
                    times = proc.cpu_times()
                    found[proc.pid] = times.user + times.system
            except psutil.Error:
                continue
        with self._lock:
            if self._pg_db == database:
                self._pg.update(found)  # exited backends keep their last value

    def open_window(self, name: str) -> None:
        with self._lock:
            self._windows[name] = {}
        self.sample()

    def close_window(self, name: str) -> dict[str, int]:
        self.sample()
        with self._lock:
            peaks = self._windows.pop(name, {})
            self._closed[name] = peaks
            return dict(peaks)

    def _sample_one(self, watched: _Watched) -> None:
        try:
            rss = watched.proc.memory_info().rss
            if not watched.tree:
                times = watched.proc.cpu_times()
                watched.last_own = times.user + times.system
            else:
                watched.last_own = _own_cpu(watched.proc)
            live = {}
            for child in watched.proc.children(recursive=True) if watched.tree else ():
                with contextlib.suppress(psutil.Error):
                    times = child.cpu_times()
                    live[child.pid] = times.user + times.system
            watched.descendants = live
        except psutil.Error:
            return
        with self._lock:
            for peaks in self._windows.values():
                if rss > peaks.get(watched.role, 0):
                    peaks[watched.role] = rss

    def sample(self) -> None:
        with self._lock:
            watched = list(self._watched.values())
        for item in watched:
            self._sample_one(item)

    def cpu_seconds(self) -> dict[str, float]:
        self.sample()
        self._sample_postgres()
        with self._lock:
            cpu = {
                role: w.last_own + sum(w.descendants.values()) for role, w in self._watched.items()
            }
            if self._pg_db is not None:
                cpu["postgres"] = sum(self._pg.values())
            return cpu

    def run(self) -> None:
        tick = 0
        while not self._halt.wait(self.interval):
            self.sample()
            tick += 1
            if tick % 5 == 0:
                self._sample_postgres()

    def stop(self) -> None:
        self._halt.set()
