#!/usr/bin/env python3
"""A/A noise floor of two designs, interleaved so both see the same host (issue 12).

sequential: two native runs one after the other on CPU 1 (the design bench uses);
simultaneous: one run on CPU 0 and one on CPU 1 at the same time, CPUs swapped every pair.
Prints the sd of the log ratio per pair and of two pairs averaged (the crossed-over unit).

Usage: simultaneous.py {mem,cpu,null} PAIRS SEED
"""

import math
import random
import re
import statistics
import subprocess
import sys

COMMANDS = {
    "mem": ["sysbench", "memory", "--threads=1", "--time=1", "--memory-block-size=256M",
            "--memory-total-size=100000G", "--memory-oper=write", "run"],
    "cpu": ["sysbench", "cpu", "--threads=1", "--time=1", "run"],
    "null": ["stress-ng", "--null", "1", "-t", "1", "--metrics-brief"],
}
PATTERNS = {
    "mem": r"\(([\d.]+) MiB/sec\)",
    "cpu": r"events per second:\s+([\d.]+)",
    "null": r"null\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)",
}


def start(cpu: int, kind: str) -> subprocess.Popen:
    return subprocess.Popen(["taskset", "-c", str(cpu), *COMMANDS[kind]],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def value(proc: subprocess.Popen, kind: str) -> float:
    return float(re.search(PATTERNS[kind], proc.communicate()[0]).group(1))


def averaged(diffs: list[float]) -> list[float]:
    return [(diffs[i] + diffs[i + 1]) / 2 for i in range(0, len(diffs) - 1, 2)]


def main() -> None:
    kind, pairs, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    random.seed(seed)
    sequential: list[float] = []
    simultaneous: list[float] = []
    for i in range(pairs):
        for design in random.sample(["sequential", "simultaneous"], 2):
            if design == "sequential":
                a = value(start(1, kind), kind)
                b = value(start(1, kind), kind)
                sequential.append(math.log(a / b))
            else:
                first, second = (0, 1) if i % 2 else (1, 0)
                pa, pb = start(first, kind), start(second, kind)
                simultaneous.append(math.log(value(pa, kind) / value(pb, kind)))
    sd = statistics.stdev
    print(f"{kind}: sequential sd {100 * sd(sequential):.2f}% (two pairs averaged "
          f"{100 * sd(averaged(sequential)):.2f}%); simultaneous sd "
          f"{100 * sd(simultaneous):.2f}% (crossed pair {100 * sd(averaged(simultaneous)):.2f}%)")


if __name__ == "__main__":
    main()
