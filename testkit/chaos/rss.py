"""Memory of the services during a soak: the resident set (``VmRSS`` of /proc/<pid>/status)
of every service's process, sampled every few seconds by a thread, and per service the slope
(MB per hour, least squares) over the second half of the run and the peak.

A service restarted by a fault starts again from a small RSS: the slope is taken over the
samples of the process instance that covers most of the second half (one pid), so a restart
does not look like memory given back (or a leak).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Each sample: (monotonic s, service, pid, RSS MB).
Sample = tuple[float, str, int, float]


def rss_mb(pid: int) -> float | None:
    """The resident set of *pid* in MB (None: it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (s, MB) points in MB per hour (None: fewer than 3 points)."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mt) * (v - mv) for t, v in points)
    return cov / var * 3600


@dataclass
class RssSampler:
    """Samples ``pids()`` (service -> pid, the live ones) every *every* s until stopped."""

    pids: Callable[[], dict[str, int]]
    every: float = 5.0
    #: Called at each sample (e.g. a request to the API, so that it does some work).
    also: Callable[[], None] | None = None
    samples: list[Sample] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                pids = self.pids()
            except Exception:
                pids = {}
            for name, pid in pids.items():
                mb = rss_mb(pid)
                if mb is not None:
                    self.samples.append((now, name, pid, mb))
            if self.also is not None:
                with contextlib.suppress(Exception):
                    self.also()
            self._stop.wait(self.every)

    def figures(self, start: float, end: float) -> dict[str, float]:
        """Per service: ``rss_slope_mb_h.<service>`` over the second half of [start, end]
        (after the warm-up), ``rss_peak_mb.<service>`` over all of it, and the samples."""
        half = start + (end - start) / 2
        out: dict[str, float] = {"rss_samples": len(self.samples)}
        for name in sorted({s[1] for s in self.samples}):
            mine = [s for s in self.samples if s[1] == name]
            out[f"rss_peak_mb.{name}"] = round(max(s[3] for s in mine), 1)
            late = [s for s in mine if half <= s[0] <= end]
            by_pid: dict[int, list[tuple[float, float]]] = {}
            for t, _, pid, mb in late:
                by_pid.setdefault(pid, []).append((t, mb))
            longest = max(by_pid.values(), key=len, default=[])
            slope = slope_per_hour(longest)
            out[f"rss_slope_mb_h.{name}"] = round(slope, 2) if slope is not None else -1
            out[f"rss_last_mb.{name}"] = round(longest[-1][1], 1) if longest else -1
        return out
