"""Sampling settings and where sampling threads run."""

from __future__ import annotations

import math
import os
import select
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench.errors import UsageError

#: Seconds between two polls of a running sample (gauges, frequency, optional series).
#: Totals never depend on it: they are read once at the start and once at the exit.
DEFAULT_INTERVAL_S = 0.5
INTERVAL_ENV = "BENCH_METRICS_INTERVAL"
SERIES_ENV = "BENCH_METRICS_SERIES"


@dataclass(frozen=True)
class SamplingConfig:
    """How often a running sample is polled, and whether each poll is kept as a series."""

    interval_s: float = DEFAULT_INTERVAL_S
    series: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.interval_s) and 0.01 <= self.interval_s <= 60):
            raise UsageError(f"metrics interval must be between 0.01 and 60 s "
                             f"(got {self.interval_s:g})")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> SamplingConfig:
        """Read ``BENCH_METRICS_INTERVAL`` (seconds) and ``BENCH_METRICS_SERIES`` (0/1)."""
        text = environ.get(INTERVAL_ENV, "").strip()
        try:
            interval = float(text) if text else DEFAULT_INTERVAL_S
        except ValueError:
            raise UsageError(f"{INTERVAL_ENV}: expected seconds, got '{text}'") from None
        series = environ.get(SERIES_ENV, "").strip().lower() in ("1", "true", "yes", "on")
        return cls(interval, series)


def sampler_cpus(measured: tuple[int, ...] | list[int]) -> set[int]:
    """CPUs for sampling threads: the allowed ones minus the measured ones, if any remain."""
    allowed = os.sched_getaffinity(0)
    return (allowed - set(measured)) or allowed


def pin_off(measured: tuple[int, ...] | list[int]) -> None:
    """Move the calling thread (only) off the measured CPUs where the host has others."""
    os.sched_setaffinity(0, sampler_cpus(measured))


class Poller:
    """A thread that calls ``tick`` every interval until stopped or until ``fd`` (a pidfd)
    becomes readable, then calls ``on_fd`` once. It runs off the measured CPUs and
    measures its own CPU time (``cpu_s``, from CLOCK_THREAD_CPUTIME_ID)."""

    def __init__(self, name: str, interval_s: float, measured: tuple[int, ...],
                 tick: Callable[[], None], fd: int | None = None,
                 on_fd: Callable[[], None] | None = None) -> None:
        self.interval_ms = max(1, round(interval_s * 1000))
        self.measured = measured
        self.tick, self.fd, self.on_fd = tick, fd, on_fd
        self.cpu_s = 0.0
        self.error: Exception | None = None
        self._wake = os.eventfd(0, os.EFD_CLOEXEC)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start = time.thread_time()
        try:
            pin_off(self.measured)
            poll = select.poll()
            poll.register(self._wake, select.POLLIN)
            if self.fd is not None:
                poll.register(self.fd, select.POLLIN)
            while True:
                ready = {fd for fd, _ in poll.poll(self.interval_ms)}
                if self._wake in ready:
                    break
                if self.fd in ready:
                    if self.on_fd is not None:
                        self.on_fd()
                    break
                self.tick()
        except Exception as err:  # a bug: re-raised by the owner in its own thread
            self.error = err
        finally:
            self.cpu_s = time.thread_time() - start

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end by itself (``fd`` readable); True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """End the thread now; safe to call twice."""
        if self._wake >= 0:
            os.eventfd_write(self._wake, 1)
            self._thread.join()
            os.close(self._wake)
            self._wake = -1
