"""Two-role workloads (a server and its client), shared by every environment.

The server is the role under test: it runs in the variant's environment, pinned to the
measured CPUs. The client runs natively by default, pinned to the harness CPUs (the ones
not measured), so both sides are pinned and the client is the same in every variant;
``docker[net=container]`` runs the client in a container too. One sample: start the
server, wait until its port accepts a TCP connection (with a timeout), run the client,
read the metric from the client's output, stop the server. Traffic goes only to loopback
or to the run's own containers (:func:`check_address`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import numa
from bench.environments.base import (
    WORKDIR,
    WORKLOAD_ENV,
    RawResult,
    SampleContext,
    finish_sample,
    now,
    wrap,
)
from bench.metrics import OwnCgroup
from bench.metrics.server import ServerWatch
from bench.results import Sample
from bench.variants import Variant
from bench.workloads import Workload


class UnsafeAddress(ValueError):
    """A benchmark would have sent traffic somewhere it must not."""


def check_address(host: str, own: set[str] | None = None) -> str:
    """``host`` if it is loopback or an address of the run's own containers; else raise."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UnsafeAddress(f"not an IP address: {host!r}") from None
    if address.is_loopback or host in (own or set()):
        return host
    raise UnsafeAddress(f"{host} is neither loopback nor one of the run's own containers")


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(host: str, port: int, timeout: float, alive: Callable[[], bool]) -> str | None:
    """Wait until ``host:port`` accepts a TCP connection; None when ready, else why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return "the server exited before it was ready"
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return None
        time.sleep(0.05)
    return f"the server did not accept connections on {host}:{port} within {timeout:g} s"


@dataclass
class Server:
    """A running server: where the client connects, and how to stop it."""

    host: str
    port: int
    instance: str
    alive: Callable[[], bool]
    stop: Callable[[], RawResult]  # stops it and returns what it printed
    network: str | None = None  # docker network the client must join (net=container)
    #: Where readiness is checked, when not where the client connects: a userland proxy
    #: in front of a published port accepts before the server itself listens.
    ready_at: tuple[str, int] | None = None
    #: Starts measuring the server's resources (right before the client runs).
    watch: Callable[[], ServerWatch] | None = None


def child_setup(group: OwnCgroup | None, cpus: tuple[int, ...]) -> Callable[[], None]:
    """What a native child does between fork and exec, so the workload never runs
    elsewhere: into its cgroup first (joining a cpuset resets the affinity), then pinned,
    and on a host with several NUMA nodes its memory bound to the measured CPUs' node."""
    allowed = set(cpus)
    node = numa.binding(cpus)

    def setup() -> None:
        if group is not None:
            group.join()
        os.sched_setaffinity(0, allowed)
        if node is not None:
            numa.bind_memory(node)

    return setup


def run_native(argv: list[str], cpus: tuple[int, ...], timeout: float) -> RawResult:
    """A short-lived native process pinned to ``cpus`` (the client side)."""
    started_at, start = now()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(WORKLOAD_ENV), cwd=WORKDIR, start_new_session=True,
                                preexec_fn=lambda: os.sched_setaffinity(0, set(cpus)))
    except OSError as err:
        return RawResult.not_started(f"cannot start the client: {err}", started_at)
    error = None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        error = f"client timed out after {timeout:g} s"
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return RawResult(proc.returncode, out.decode(errors="replace"),
                     err.decode(errors="replace"), now()[1] - start, started_at,
                     f"pid:{proc.pid}", error)


def start_native_server(workload: Workload, ctx: SampleContext,
                        own_cgroup: bool = False) -> Server:
    """The server as a native process on loopback, pinned to the measured CPUs; with
    ``own_cgroup`` (native[cgroup=own]) in a fresh cgroup of its own, as a container's."""
    assert workload.server is not None
    port = free_port()
    argv = wrap(workload.argv(len(ctx.cpus), ctx.quick, command=workload.server.command,
                              port=str(port), bind="127.0.0.1"))
    group = OwnCgroup(f"{ctx.run_id}-{ctx.seq}", ctx.cpus) if own_cgroup else None
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
    err = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
    try:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=dict(WORKLOAD_ENV),
                                cwd=WORKDIR, start_new_session=True,
                                preexec_fn=child_setup(group, ctx.cpus))
    except BaseException:
        out.close()
        err.close()
        if group is not None:
            group.remove()
        raise
    started_at, start = now()

    def stop() -> RawResult:
        # SIGKILL at once, as in every environment: the server is discarded after its
        # sample (containers' PID 1 would ignore SIGTERM and cost the stop timeout).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        texts = []
        for handle in (out, err):
            handle.seek(0)
            texts.append(handle.read().decode(errors="replace"))
            handle.close()
        extra: dict[str, Any] = {}
        if group is not None:
            extra["server_cgroup"] = group.group.path
            with contextlib.suppress(OSError):
                group.remove()
        return RawResult(proc.returncode, texts[0], texts[1], now()[1] - start, started_at,
                         f"pid:{proc.pid}", extra=extra)

    def watch() -> ServerWatch:  # its own cgroup when it has one, else its process tree
        return ServerWatch(proc.pid, group is not None, ctx.cpus,
                           container_id=group.group.path if group is not None else None,
                           config=ctx.sampling)

    return Server("127.0.0.1", port, f"pid:{proc.pid}", lambda: proc.poll() is None, stop,
                  watch=watch)


def two_role_sample(workload: Workload, variant: Variant, ctx: SampleContext,
                    start_server: Callable[[Workload, SampleContext], Server],
                    run_client: Callable[[list[str], Server, SampleContext, float], RawResult],
                    own_addresses: Callable[[], set[str]] = set) -> Sample:
    """One sample of a server/client workload; the server is always stopped."""
    assert workload.server is not None and workload.client is not None
    started_at, start = now()
    try:
        server = start_server(workload, ctx)
    except Exception as err:  # the engine or the OS refused: a failed sample, not a crash
        raw = RawResult(None, "", "", now()[1] - start, started_at, "",
                        f"cannot start the server: {err}")
        return finish_sample(workload, variant, ctx, raw)
    client_raw: RawResult | None = None
    server_raw: RawResult | None = None
    server_metrics: dict[str, Any] = {}
    try:
        check_address(server.host, own_addresses())
        ready_host, ready_port = server.ready_at or (server.host, server.port)
        check_address(ready_host, own_addresses())
        problem = wait_ready(ready_host, ready_port, workload.server.ready_timeout,
                             server.alive)
        if problem is None:
            argv = workload.argv(len(ctx.client_cpus or ctx.cpus), ctx.quick,
                                 command=workload.client.command, host=server.host,
                                 port=str(server.port))
            watch = server.watch() if server.watch is not None else None
            try:
                client_raw = run_client(argv, server, ctx, workload.timeout)
                if watch is not None:
                    server_metrics = watch.finish()
            finally:
                if watch is not None:
                    watch.stop()
        else:
            client_raw = RawResult(None, "", "", now()[1] - start, started_at,
                                   server.instance, problem)
    except UnsafeAddress as err:
        client_raw = RawResult(None, "", "", now()[1] - start, started_at, server.instance,
                               f"refused to connect: {err}")
    finally:
        server_raw = server.stop()
    # The metric comes from the client; the affinity probe line from the server.
    raw = RawResult(client_raw.exit_code, client_raw.stdout,
                    server_raw.stderr + client_raw.stderr, client_raw.wall_s, started_at,
                    server.instance, client_raw.error, extra=server_raw.extra)
    sample = finish_sample(workload, variant, ctx, raw)
    extra = {**sample.extra, **server_metrics,
             "server": {"host": server.host, "port": server.port,
                        "exit_code": server_raw.exit_code},
             "client_cpus": list(ctx.client_cpus or ctx.cpus)}
    if not sample.ok:
        extra["server_stderr_tail"] = server_raw.stderr[-1000:]
    return dataclasses.replace(sample, extra=extra)
