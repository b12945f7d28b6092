#!/usr/bin/env python3
"""Sequential A/A pairs of sysbench memory at fixed sizes, native on CPU 1 (issue 12): the
per-pair sd and the standard error reachable per minute, 40 s per size and repetition.

Usage: sample_length.py SIZE... (e.g. 2G 8G 32G)
"""

import math
import re
import statistics
import subprocess
import sys
import time


def run(size: str) -> tuple[float, float]:
    started = time.perf_counter()
    out = subprocess.run(["taskset", "-c", "1", "sysbench", "memory", "--threads=1",
                          "--time=0", "--memory-block-size=256M",
                          f"--memory-total-size={size}", "--memory-oper=write", "run"],
                         capture_output=True, text=True).stdout
    bandwidth = float(re.search(r"\(([\d.]+) MiB/sec\)", out).group(1))
    return bandwidth, time.perf_counter() - started


def main() -> None:
    for size in sys.argv[1:]:
        for _ in range(2):
            diffs: list[float] = []
            wall = 0.0
            began = time.perf_counter()
            while time.perf_counter() - began < 40:
                (a, wall_a), (b, wall_b) = run(size), run(size)
                wall += wall_a + wall_b
                diffs.append(math.log(a / b))
            sd = statistics.stdev(diffs)
            per_minute = sd / math.sqrt(len(diffs) * 60 / 40)
            print(f"size {size}: {len(diffs)} pairs, sd {100 * sd:.2f}%, "
                  f"{wall / len(diffs):.2f} s per pair, SE per minute {100 * per_minute:.2f}%")


if __name__ == "__main__":
    main()
