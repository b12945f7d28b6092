"""This host's facts as asv's machine record, so a step in asv's history can be attributed.

asv files every result under a machine and copies the machine's fields (``os``, ``cpu``,
...) into the result's parameters; ``asv publish`` shows them as selectable parameters of
every graph. The facts that move container overhead without any commit (kernel, engine
version, storage driver, cgroup version) go into ``os``, so a change of engine or kernel
starts a new series at the commit where it happened, labelled with the new facts.

``python -m bench.tracking machine [--machine NAME]`` writes the record without asking
questions (asv's ``~/.asv-machine.json``, through asv's own MachineCollection: ``asv machine
--yes`` would keep only the fields that differ from its defaults). Run it before each
recording: asv keeps the record it was last given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from bench import engine, facts
from bench.errors import UserError


def machine_info(name: str | None = None,
                 connect: Callable[[], Any] = engine.connect) -> dict[str, str]:
    """asv's machine fields for this host, with the engine's facts in ``os``."""
    host = facts.host_facts()
    eng = engine.engine_facts(connect())
    return {
        "machine": name or host["hostname"],
        "os": (f"{host['os']}, Linux {host['kernel']}, Docker {eng['engine_version']} "
               f"({eng['storage_driver']}, cgroup {eng['cgroup_version'] or '?'}, "
               f"seccomp {'on' if eng['seccomp'] else 'off'})"),
        "arch": host["machine"],
        "cpu": f"{host['cpu_model']} (SMT {host['smt']})",
        "num_cpu": str(host["logical_cpus"]),
        "ram": str(host["memory_bytes"]),
    }


def save_machine(info: dict[str, str]) -> None:
    """Store ``info`` as asv's record of machine ``info['machine']``, every field of it."""
    from asv.machine import MachineCollection  # a development dependency, needed only here

    MachineCollection.save(info["machine"], info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tracking",
        description="Store this host's facts (kernel, engine, storage driver) as asv's "
                    "machine record.")
    sub = parser.add_subparsers(dest="command", required=True)
    machine = sub.add_parser("machine", help="store this host's facts as asv's machine record")
    machine.add_argument("--machine", metavar="NAME",
                         help="machine name in asv's results (default: the hostname)")
    args = parser.parse_args(argv)
    try:
        info = machine_info(args.machine)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    save_machine(info)
    for key, value in info.items():
        print(f"{key:>8}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
