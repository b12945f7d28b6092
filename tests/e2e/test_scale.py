"""A 100,000-sample run through the fake environment: the harness stays under 300 MB."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench import results

pytestmark = pytest.mark.e2e

LIMIT_MB = 300


def test_hundred_thousand_samples_in_bounded_memory(tmp_path):
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--variants", "fake,fake[scale=1.01]",
         "-w", "cpu.sysbench", "--blocks", "50000", "--warmup", "0", "--seed", "2",
         "--out", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    elapsed = time.monotonic() - started
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    print(f"\n100,000 samples: peak RSS {peak_mb:.0f} MB, {elapsed:.0f} s (run + analysis "
          "+ report)")
    assert proc.returncode == 0, stderr[-2000:]
    (folder,) = tmp_path.iterdir()
    loaded = results.load_run(folder)
    assert len(loaded.samples) == 100_000
    assert peak_mb < LIMIT_MB, f"peak RSS {peak_mb:.0f} MB >= {LIMIT_MB} MB"
