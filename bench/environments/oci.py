"""``oci``: no daemon. An OCI runtime (runc) runs each sample from a generated bundle.

The bundle is a ``config.json`` over the benchmark image's own root filesystem
(:func:`bench.image.ensure_rootfs`, mounted read-only with a private ``/tmp``), and every
mechanism is a switch of that config (settings in ``OciKind.options``):

- ``pid``, ``ipc``, ``uts``: own namespaces (on by default; the mount namespace always is,
  runc needs it to enter the root filesystem);
- ``userns=on``: a user namespace, container root mapped to unprivileged host IDs
  (``USERNS_HOST_ID`` and up);
- ``net``: ``host`` (the host's network namespace), ``veth`` (a fresh namespace per
  sample, as an engine makes per container, joined to the host by a veth pair with a /30 of
  ``VETH_NET``; made before the timed region), ``none`` (loopback only);
- ``seccomp=default``: the engines' default profile (containers-common's
  ``seccomp.json``, derived from Docker's) converted to the OCI form for the capabilities
  granted; ``unconfined`` by default;
- ``caps``: Docker's default capability set, or all;
- the cgroup: always one per sample, ``/bench/<container id>`` in every hierarchy (the
  depth and parent of ``native[cgroup=own]``), ``cpuset.cpus`` = the measured CPUs, plus a
  CFS quota with ``quota=<fraction>``.

Small on purpose: this module writes a config and calls the runtime; runc does the work.
``runc run --keep`` leaves the exited container, with its cgroup, until ``runc delete``, so
the cgroup's final counters are read after the exit (bench.metrics.ContainerWatch).
Containers live in runc's state directory ``RUNTIME_ROOT`` (not the system one), named
``bench-<run id>-<seq>``, so leftovers of the project are found and removed there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from bench import image, numa
from bench.cpulist import format_cpus
from bench.environments import base, roles
from bench.environments.container import CONTAINER_DATA_DIR, ContainerEnvironment
from bench.environments.kind import EnvironmentKind
from bench.environments.native import make_host_data_dir, remove_host_data_dir, storage_record
from bench.errors import UserError
from bench.health import Check
from bench.metrics import ContainerWatch, SamplingConfig
from bench.metrics.server import ServerWatch
from bench.results import Sample
from bench.variants import Variant
from bench.workloads import Workload, image_packages

#: runc's state directory for the project's containers (``runc --root``).
RUNTIME_ROOT = Path("/run/bench/runc")
#: Where the per-sample bundles (config.json) are written.
BUNDLES = Path("/run/bench/oci")
#: The default seccomp profile of podman/containers (Docker's, in the same JSON form).
SECCOMP_PROFILE = Path("/usr/share/containers/seccomp.json")
SECCOMP_PACKAGE = "golang-github-containers-common"
#: The cgroup parent, shared with native[cgroup=own] (bench.metrics.OwnCgroup).
CGROUP_PARENT = "/bench"
#: Container root is host UID/GID USERNS_HOST_ID under userns=on (65536 IDs mapped).
USERNS_HOST_ID = 200000
USERNS_SIZE = 65536
#: /30 subnets for net=veth are taken from 10.213.0.0/16.
VETH_NET = "10.213"

#: Docker's default capabilities (moby oci/caps/defaults.go), in runc's names.
DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
#: Every capability, in the kernel's numbering (linux/capability.h).
ALL_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
#: What Docker hides and makes read-only under /proc and /sys.
MASKED_PATHS = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/proc/scsi", "/sys/firmware")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
#: Go architecture names of the profiles' "arches", per seccomp architecture.
_ARCHES = {"SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X32": "x32",
           "SCMP_ARCH_AARCH64": "arm64", "SCMP_ARCH_ARM": "arm"}


def runtime() -> str:
    """The OCI runtime's path: runc (what Docker runs), installed when missing (root)."""
    found = shutil.which("runc")
    if found is None:
        image.ensure_host_packages(["runc"])
        found = shutil.which("runc")
    if found is None:
        raise UserError("no OCI runtime: install Debian's runc ('apt-get install runc')")
    return found


def bounding_caps() -> tuple[str, ...]:
    """Every capability the harness itself may grant (its bounding set): ``caps=all``."""
    try:
        status = Path("/proc/self/status").read_text()
        mask = int(next(line.split()[1] for line in status.splitlines()
                        if line.startswith("CapBnd:")), 16)
    except (OSError, StopIteration, ValueError):
        return DEFAULT_CAPS
    return tuple(name for bit, name in enumerate(ALL_CAPS) if mask >> bit & 1)


def runtime_version(runc: str) -> str:
    result = subprocess.run([runc, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.splitlines()[0] if result.stdout else "unknown"


def seccomp_config(profile: dict[str, Any], caps: tuple[str, ...],
                   kernel: tuple[int, int] | None = None) -> dict[str, Any]:
    """An engine seccomp profile (Docker's / containers' JSON form) as the OCI config's
    ``linux.seccomp`` for a container granted ``caps``, as the engines convert it: rules
    kept when their ``includes`` hold (architecture, capabilities, minimum kernel) and
    their ``excludes`` do not."""
    arch_map = profile.get("archMap") or []
    machine = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}.get(
        os.uname().machine, "SCMP_ARCH_X86_64")
    architectures = [machine]
    for entry in arch_map:
        if entry.get("architecture") == machine:
            architectures += entry.get("subArchitectures") or []
    arches = {_ARCHES.get(a, a) for a in architectures}
    kernel = kernel or _kernel_version()

    def applies(rule: dict[str, Any]) -> bool:
        inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
        if inc.get("arches") and not arches & set(inc["arches"]):
            return False
        if inc.get("caps") and not set(inc["caps"]) <= set(caps):
            return False
        if inc.get("minKernel"):
            major, minor = (int(x) for x in inc["minKernel"].split(".")[:2])
            if kernel < (major, minor):
                return False
        if exc.get("arches") and arches & set(exc["arches"]):
            return False
        return not (exc.get("caps") and set(exc["caps"]) & set(caps))

    syscalls = []
    for rule in profile.get("syscalls") or []:
        if not applies(rule):
            continue
        entry: dict[str, Any] = {"names": rule["names"], "action": rule["action"]}
        if rule.get("args"):
            entry["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op")}
                             for a in rule["args"]]
        if rule.get("errnoRet") is not None:
            entry["errnoRet"] = rule["errnoRet"]
        syscalls.append(entry)
    config: dict[str, Any] = {"defaultAction": profile["defaultAction"],
                              "architectures": architectures, "syscalls": syscalls}
    if profile.get("defaultErrnoRet") is not None:
        config["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return config


def hosts_file(hostname: str | None, address: str | None) -> str:
    """A container's /etc/hosts, as Docker writes one: loopback names, and the container's
    own name at its address (its veth address, or 127.0.1.1 as Debian does without one)."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    if hostname:
        lines.append(f"{address or '127.0.1.1'}\t{hostname}")
    return "\n".join(lines) + "\n"


def _kernel_version() -> tuple[int, int]:
    parts = os.uname().release.split(".")
    return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)


class OciEnvironment(ContainerEnvironment):
    """Each sample: a bundle written, ``runc run`` in the foreground, the bundle removed."""

    name = "oci"

    def __init__(self, variant: Variant, recipe: image.Recipe, run_id: str,
                 client: Any = None) -> None:
        super().__init__(variant)
        self.recipe = recipe
        self.run_id = run_id
        self.client = client  # an engine that has the image, to export its files (optional)
        self.root: Path | None = None
        self.runc = ""
        self.net = variant.setting("net", "host")
        self.userns = variant.setting("userns") == "on"
        self.caps = bounding_caps() if variant.setting("caps") == "all" else DEFAULT_CAPS
        self.seccomp: dict[str, Any] | None = None
        if self.userns and "off" in (variant.setting("pid"), variant.setting("ipc")):
            raise UserError(f"--variants: '{variant.id}': a user namespace needs its own pid "
                            "and ipc namespaces (/proc and mqueue are mounted inside it)")
        quota, period_us = base.cfs_settings(variant)
        self.quota, self.period_us = quota, period_us or 100_000  # Docker's default period

    # --- set-up ------------------------------------------------------------------------

    def prepare(self, workloads: list[Workload]) -> None:
        if os.geteuid() != 0:
            raise UserError("oci variants run runc directly, which needs root")
        self.runc = runtime()
        self.root = image.ensure_rootfs(self.recipe, self.client)
        # The mount point of each container's own /etc/hosts (an engine's export has it
        # already; a debootstrapped tree has none).
        (self.root / "etc" / "hosts").touch(exist_ok=True)
        for workload in workloads:
            if workload.image or workload.dockerfile:
                raise UserError(f"{workload.source}: oci variants run in the benchmark "
                                "root filesystem, not in image "
                                f"'{workload.image or workload.dockerfile}'")
        self.check_network(workloads)
        if self.variant.setting("seccomp") == "default":
            if not SECCOMP_PROFILE.is_file():
                image.ensure_host_packages([SECCOMP_PACKAGE])
            try:
                profile = json.loads(SECCOMP_PROFILE.read_text())
            except (OSError, ValueError) as err:
                raise UserError(f"cannot read the default seccomp profile "
                                f"{SECCOMP_PROFILE}: {err}") from None
            self.seccomp = seccomp_config(profile, self.caps)
        for workload in workloads:
            # Disk workloads write to their {data} directory, a bind mount here: fine.
            if not workload.read_only_root and not workload.uses_data:
                raise UserError(f"{workload.source}: read_only_root = false: oci variants "
                                "share one read-only root filesystem; run it in docker")
        RUNTIME_ROOT.mkdir(parents=True, exist_ok=True)
        BUNDLES.mkdir(parents=True, exist_ok=True)

    # --- net=veth ----------------------------------------------------------------------

    def veth(self, cid: str) -> Veth:
        """The sample's network namespace, veth pair and /30 (names from the container id)."""
        digest = hashlib.sha256(cid.encode()).digest()
        tag = digest[:3].hex()
        return Veth(f"{cid}-net"[:60], f"bh{tag}", f"bc{tag}",
                    f"{VETH_NET}.{digest[3]}.{digest[4] // 4 * 4}")

    @contextlib.contextmanager
    def _network(self, cid: str) -> Iterator[Veth | None]:
        """net=veth: a fresh namespace and veth pair for one sample, removed after it."""
        if self.net != "veth":
            yield None
            return
        veth = self.veth(cid)
        veth.remove()  # what a killed run left under the same name
        try:
            veth.make()
            yield veth
        finally:
            veth.remove()

    # --- the bundle --------------------------------------------------------------------

    def config(self, argv: list[str], cid: str, cpus: tuple[int, ...],
               data: str | None = None, read_only: bool = True,
               veth: Veth | None = None) -> dict[str, Any]:
        """The bundle's config.json: the OCI runtime spec with this variant's switches."""
        assert self.root is not None
        namespaces: list[dict[str, str]] = [{"type": "mount"}]
        for axis, kind in (("pid", "pid"), ("ipc", "ipc"), ("uts", "uts")):
            if self.variant.setting(axis, "on") == "on":
                namespaces.append({"type": kind})
        if self.net == "veth":
            name = (veth or self.veth(cid)).netns
            namespaces.append({"type": "network", "path": f"/run/netns/{name}"})
        elif self.net == "none":
            namespaces.append({"type": "network"})
        namespaces.append({"type": "cgroup"})
        sysfs: dict[str, Any] = {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                                 "options": ["nosuid", "noexec", "nodev", "ro"]}
        if self.userns:
            namespaces.append({"type": "user"})
            if self.net != "none":  # sysfs needs a network namespace of the user namespace
                sysfs = {"destination": "/sys", "type": "none", "source": "/sys",
                         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
        mounts: list[dict[str, Any]] = [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            sysfs,
            {"destination": base.WORKDIR, "type": "tmpfs", "source": "tmpfs",
             "options": ["rw", "exec", "nosuid", "size=512m", "mode=1777"]},
        ]
        # Its own /etc/hosts, as an engine gives each container (bench._bundle writes it):
        # programs look up localhost and their own name (mariadb-install-db does).
        mounts.append({"destination": "/etc/hosts", "type": "none",
                       "source": str(BUNDLES / cid / "hosts"), "options": ["rbind", "ro"]})
        if data is not None:
            mounts.append({"destination": CONTAINER_DATA_DIR, "type": "none", "source": data,
                           "options": ["rbind", "rw"]})
        resources: dict[str, Any] = {"cpu": {"cpus": format_cpus(cpus)}} if cpus else {}
        node = numa.binding(cpus) if cpus else None
        if node is not None:  # several NUMA nodes: memory on the measured CPUs' node
            resources["cpu"]["mems"] = str(node)
        if cpus and self.quota is not None:
            resources.setdefault("cpu", {}).update(
                {"period": self.period_us,
                 "quota": int(self.quota * len(cpus) * self.period_us)})
        linux: dict[str, Any] = {
            "namespaces": namespaces,
            "cgroupsPath": f"{CGROUP_PARENT}/{cid}",
            "resources": resources,
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        }
        if self.userns:
            mapping = [{"containerID": 0, "hostID": USERNS_HOST_ID, "size": USERNS_SIZE}]
            linux["uidMappings"] = mapping
            linux["gidMappings"] = mapping
        if self.seccomp is not None:
            linux["seccomp"] = self.seccomp
        caps = list(self.caps)
        return {
            "ociVersion": "1.0.2",
            "process": {
                "terminal": False,
                "user": {"uid": 0, "gid": 0},
                "args": argv,
                "env": [f"{k}={v}" for k, v in base.WORKLOAD_ENV.items()],
                "cwd": base.WORKDIR,
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                "noNewPrivileges": True,
            },
            "root": {"path": str(self.root), "readonly": read_only},
            "hostname": cid[:63] if self.variant.setting("uts", "on") == "on" else None,
            "mounts": mounts,
            "linux": linux,
        }

    # --- running -----------------------------------------------------------------------

    def _bundle(self, cid: str, config: dict[str, Any], veth: Veth | None = None) -> Path:
        bundle = BUNDLES / cid
        shutil.rmtree(bundle, ignore_errors=True)  # left by an interrupted run
        bundle.mkdir(parents=True)
        hostname = config.get("hostname")
        if hostname is None:
            config.pop("hostname", None)
        (bundle / "hosts").write_text(hosts_file(hostname, veth.container if veth else None))
        (bundle / "config.json").write_text(json.dumps(config, indent=1))
        return bundle

    def _runc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.runc, "--root", str(RUNTIME_ROOT), *args],
                              capture_output=True, text=True, check=False)

    def _remove(self, cid: str) -> None:
        """The container (killed if running) and its bundle; safe when already gone."""
        self._runc("delete", "--force", cid)
        shutil.rmtree(BUNDLES / cid, ignore_errors=True)

    def _start(self, cid: str, out: Any, err: Any) -> subprocess.Popen[bytes]:
        """``runc run`` of the bundle written for ``cid`` (a leftover of that name, from a
        killed run, is removed first)."""
        self._runc("delete", "--force", cid)
        for path in _cgroup_dirs(cid):  # one runc could not see (cut-short creation)
            _clear_cgroup(path)
        bundle = BUNDLES / cid
        return subprocess.Popen(
            [self.runc, "--root", str(RUNTIME_ROOT), "run", "--keep", "--bundle", str(bundle),
             "--pid-file", str(bundle / "pid"), cid],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=str(bundle),
            start_new_session=True)

    @staticmethod
    def _container_pid(bundle: Path, proc: subprocess.Popen[bytes],
                       timeout: float = 10.0) -> int:
        """The container's init PID, from runc's pid file (0 if it never appeared)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                return int((bundle / "pid").read_text())
            time.sleep(0.002)
        return 0

    def _run(self, argv: list[str], cid: str, cpus: tuple[int, ...], timeout: float,
             sampling: SamplingConfig | None = None, data: str | None = None,
             read_only: bool = True) -> base.RawResult:
        """One container from start to exit; always removed. The bundle and the network
        are made before the timed region, as an engine's are before ``start``."""
        with (tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err,
              self._network(cid) as veth):
            try:
                self._bundle(cid, self.config(argv, cid, cpus, data, read_only, veth), veth)
                return self._run_in(cid, cpus, timeout, sampling, out, err)
            finally:
                self._remove(cid)

    def _run_in(self, cid: str, cpus: tuple[int, ...], timeout: float,
                sampling: SamplingConfig | None, out: Any, err: Any) -> base.RawResult:
        started_at, start = base.now()
        try:
            proc = self._start(cid, out, err)
        except OSError as exc:
            return base.RawResult.not_started(f"cannot run runc: {exc}", started_at)
        watch = error = None
        try:
            if sampling is not None:
                pid = self._container_pid(BUNDLES / cid, proc)
                watch = ContainerWatch(pid, cid, cpus, sampling)
            try:
                code = proc.wait(timeout=max(0.1, timeout - (base.now()[1] - start)))
            except subprocess.TimeoutExpired:
                code = self._kill(cid, proc)
                error = f"timed out after {timeout:g} s"
            wall = base.now()[1] - start
            metrics = watch.finish() if watch is not None else {}
        except BaseException:
            self._kill(cid, proc)
            raise
        finally:
            if watch is not None:
                watch.stop()
        texts = []
        for handle in (out, err):
            handle.seek(0)
            texts.append(handle.read().decode(errors="replace"))
        if error is None and code == 137:
            error = "killed (exit 137, SIGKILL): killed from outside or by the kernel"
        return base.RawResult(code, texts[0], texts[1], wall, started_at, f"runc:{cid}",
                              error, extra=metrics)

    def _kill(self, cid: str, proc: subprocess.Popen[bytes]) -> int | None:
        """Stop a running container: runc kill (so runc still tears it down), then, if runc
        itself does not end, SIGKILL to its process group."""
        self._runc("kill", cid, "KILL")
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait()

    def execute(self, workload: Workload, ctx: base.SampleContext) -> Sample:
        cid = f"bench-{ctx.run_id}-{ctx.seq}"
        if workload.two_role:
            return roles.two_role_sample(
                workload, self.variant, ctx, self._start_server,
                lambda argv, server, ctx, timeout: roles.run_native(
                    argv, ctx.client_cpus or ctx.cpus, timeout),
                lambda: {self.veth(f"{cid}-server").container} if self.net == "veth"
                else set())
        data = None
        if workload.uses_data:
            try:
                data = make_host_data_dir(ctx.run_id, ctx.seq)
            except OSError as err:
                return self.not_started(workload, ctx, f"cannot make the data directory: {err}")
            if self.userns:  # the container's root is an unprivileged host user
                os.chown(data, USERNS_HOST_ID, USERNS_HOST_ID)
        try:
            argv = self.container_argv(workload, ctx, data)
            raw = self._run(argv, cid, ctx.cpus, workload.timeout, ctx.sampling, data,
                            read_only=True)
        finally:
            if data is not None:
                remove_host_data_dir(data)
        extra = storage_record("bind", raw.stderr, host_path=data) if data else None
        return base.finish_sample(workload, self.variant, ctx, raw, extra=extra)

    def _start_server(self, workload: Workload, ctx: base.SampleContext) -> roles.Server:
        """The server container: on the host's loopback (net=host) or at the container's
        veth address (net=veth)."""
        assert workload.server is not None
        role = workload.server
        cid = f"bench-{ctx.run_id}-{ctx.seq}-server"
        stack = contextlib.ExitStack()
        out = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - stop() closes
        err = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - stop() closes
        try:
            veth = stack.enter_context(self._network(cid))
            stack.callback(self._remove, cid)  # the container goes before its network
            if veth is not None:
                host, port, values = veth.container, role.port, {
                    "port": str(role.port), "bind": "0.0.0.0"}
            else:
                port = roles.free_port()
                host, values = "127.0.0.1", {"port": str(port), "bind": "127.0.0.1"}
            argv = base.wrap(workload.argv(len(ctx.cpus), ctx.quick, command=role.command,
                                           **values))
            self._bundle(cid, self.config(argv, cid, ctx.cpus, veth=veth), veth)
            started_at, start = base.now()
            proc = self._start(cid, out, err)
        except BaseException:
            stack.close()
            raise

        def stop() -> base.RawResult:
            with stack:  # SIGKILL at once, as for docker servers (see there)
                code = self._kill(cid, proc)
                texts = []
                for handle in (out, err):
                    handle.seek(0)
                    texts.append(handle.read().decode(errors="replace"))
                return base.RawResult(code, texts[0], texts[1], base.now()[1] - start,
                                      started_at, f"runc:{cid}")

        def watch() -> ServerWatch:  # the container's cgroup, from runc's pid file
            return ServerWatch(self._container_pid(BUNDLES / cid, proc), True, ctx.cpus,
                               container_id=cid, config=ctx.sampling)

        return roles.Server(host, port, f"runc:{cid}", lambda: proc.poll() is None, stop,
                            watch=watch)

    # --- facts and cleanup -------------------------------------------------------------

    def binary_hashes(self, binaries: list[str]) -> dict[str, dict[str, str]]:
        """Hashed in the root filesystem itself (the files the containers run)."""
        assert self.root is not None
        found: dict[str, dict[str, str]] = {}
        from bench.environments.base import sha256_file

        for binary in binaries:
            for directory in base.WORKLOAD_ENV["PATH"].split(":"):
                path = self.root / directory.lstrip("/") / binary
                if path.is_file() or path.is_symlink():
                    real = _resolve_in(self.root, path)
                    if real is not None and real.is_file():
                        found[binary] = {"path": "/" + str(real.relative_to(self.root)),
                                         "sha256": sha256_file(str(real))}
                        break
        return self.hash_table(binaries, found)

    def facts(self) -> dict[str, Any]:
        names = [n["type"] for n in self.config(["true"], "facts", (0,))["linux"]["namespaces"]]
        return {
            "runtime": f"{self.runc} ({runtime_version(self.runc)})",
            "root_filesystem": f"{self.root} (read-only; the files of {self.recipe.tag})",
            "namespaces": names,
            "user_namespace": f"root = host uid {USERNS_HOST_ID} ({USERNS_SIZE} ids)"
            if self.userns else "none",
            "network": {"host": "the host's network namespace",
                        "none": "own namespace, loopback only",
                        "veth": "a fresh namespace per sample (made before the timed region), "
                                f"joined to the host by a veth pair with a /30 of "
                                f"{VETH_NET}.0.0/16"}[self.net],
            "seccomp": f"default ({SECCOMP_PROFILE})" if self.seccomp else "unconfined",
            "capabilities": "docker default" if self.caps == DEFAULT_CAPS
            else f"all of the harness's bounding set ({len(self.caps)})",
            "cgroup": f"{CGROUP_PARENT}/<container id>, cpuset = measured CPUs"
            + (f", CFS quota {self.quota:g} of them per {self.period_us // 1000} ms"
               if self.quota else ""),
            "container_per": "sample (a fresh runc container per block and variant)",
        }

    def teardown(self) -> None:
        remove_leftovers(self.run_id)


@dataclasses.dataclass(frozen=True)
class Veth:
    """One sample's network namespace and veth pair: host side .1, container side .2."""

    netns: str
    host_if: str
    peer: str
    subnet: str  # the /30's network address

    def _address(self, offset: int) -> str:
        base, last = self.subnet.rsplit(".", 1)
        return f"{base}.{int(last) + offset}"

    @property
    def container(self) -> str:
        return self._address(2)

    def make(self) -> None:
        for argv in (["ip", "netns", "add", self.netns],
                     ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name",
                      self.peer, "netns", self.netns],
                     ["ip", "addr", "add", f"{self._address(1)}/30", "dev", self.host_if],
                     ["ip", "link", "set", self.host_if, "up"],
                     ["ip", "-n", self.netns, "addr", "add", f"{self.container}/30", "dev",
                      self.peer],
                     ["ip", "-n", self.netns, "link", "set", self.peer, "up"],
                     ["ip", "-n", self.netns, "link", "set", "lo", "up"]):
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise OSError(f"cannot set up the veth network ({' '.join(argv)}): "
                              f"{result.stderr.strip()}")

    def remove(self) -> None:
        """Both ends go with the namespace; the host end is removed too if it stayed."""
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)


def _resolve_in(root: Path, path: Path) -> Path | None:
    """``path`` with its symlinks resolved inside ``root`` (absolute links are the
    container's own paths)."""
    for _ in range(40):
        if not path.is_symlink():
            return path
        target = Path(os.readlink(path))
        path = root / str(target).lstrip("/") if target.is_absolute() else path.parent / target
    return None


def leftovers(run_id: str | None = None) -> dict[str, list[str]]:
    """The project's runc containers, network namespaces and container cgroups (of one
    run, or of every run)."""
    prefix = f"bench-{run_id}-" if run_id else "bench-"
    found: dict[str, list[str]] = {"containers": [], "netns": [], "cgroups": []}
    if RUNTIME_ROOT.is_dir() and shutil.which("runc"):
        result = subprocess.run(["runc", "--root", str(RUNTIME_ROOT), "list", "-q"],
                                capture_output=True, text=True, check=False)
        found["containers"] = [c for c in result.stdout.split() if c.startswith(prefix)]
    with contextlib.suppress(OSError):
        found["netns"] = sorted(p.name for p in Path("/run/netns").iterdir()
                                if p.name.startswith(prefix))
    # A container killed while runc was still making it can leave its cgroup behind.
    found["cgroups"] = sorted({str(p) for p in _cgroup_dirs(f"{prefix}*")})
    return found


def _cgroup_dirs(cid: str) -> list[Path]:
    """The cgroup directories of container ``cid`` (a glob), in every hierarchy."""
    parent = CGROUP_PARENT.strip("/")
    return [p for pattern in (f"*/{parent}/{cid}", f"{parent}/{cid}")
            for p in Path("/sys/fs/cgroup").glob(pattern) if p.is_dir()]


def _clear_cgroup(path: Path, wait_s: float = 2.0) -> None:
    """Remove a leftover container cgroup, killing what is still in it first: a ``runc
    init`` whose creation was cut short (its runc state gone, so ``runc delete`` cannot
    see it) waits there for ever, and a new container of the same id would share it."""
    with contextlib.suppress(OSError, ValueError):
        for pid in (path / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # still busy: the killed tasks are exiting
            if time.monotonic() >= deadline:
                return
            time.sleep(0.02)


def remove_leftovers(run_id: str | None = None) -> int:
    """Remove what :func:`leftovers` finds (and stray bundles); returns how many."""
    left = leftovers(run_id)
    for cid in left["containers"]:
        subprocess.run(["runc", "--root", str(RUNTIME_ROOT), "delete", "--force", cid],
                       capture_output=True, check=False)
    for name in left["netns"]:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    for path in left["cgroups"]:
        _clear_cgroup(Path(path))
    prefix = f"bench-{run_id}-" if run_id else "bench-"
    with contextlib.suppress(OSError):
        for bundle in BUNDLES.iterdir():
            if bundle.name.startswith(prefix):
                shutil.rmtree(bundle, ignore_errors=True)
    return sum(len(names) for names in left.values())


_LEFTOVER_NAMES = {"containers": "runc container", "netns": "network namespace",
                   "cgroups": "cgroup"}


class OciKind(EnvironmentKind):
    """No daemon: runc on a bundle over the benchmark image's root filesystem."""

    name = "oci"
    options: ClassVar[dict[str, tuple[str, ...]]] = {
        "pid": ("on", "off"),        # own PID namespace
        "ipc": ("on", "off"),        # own IPC namespace
        "uts": ("on", "off"),        # own UTS namespace (hostname)
        "userns": ("off", "on"),     # own user namespace, root mapped to an unprivileged range
        "net": ("host", "veth", "none"),  # host's network, own namespace with a veth, none
        "seccomp": ("unconfined", "default"),  # default: the engines' default profile
        "caps": ("default", "all"),  # the engines' default capability set, or all
        "quota": (),  # free-form: CFS quota as a fraction of the measured CPUs
        "period": (),  # free-form: CFS period in ms for quota (default 100, Docker's)
        "label": (),
    }
    order = 20

    def open(self, setup: base.RunSetup) -> None:
        recipe = setup.ensure_recipe()
        setup.stage("root filesystem of the image for the oci variants")
        root = image.ensure_rootfs(recipe, setup.image_source, progress=setup.stage)
        setup.doc["oci"] = {"root_filesystem": str(root), "tag": recipe.tag}
        remove_leftovers(setup.run_id)  # a resumed run's, after a hard kill

    def create(self, variant: Variant, setup: base.RunSetup) -> OciEnvironment:
        return OciEnvironment(variant, setup.recipe, setup.run_id, setup.image_source)

    def clean(self, run_id: str | None = None, images: bool = False) -> list[str]:
        left = leftovers(run_id)
        remove_leftovers(run_id)
        removed = [f"removed {_LEFTOVER_NAMES[what]} {name}"
                   for what, names in left.items() for name in names]
        if images:
            for path in image.stale_rootfs(_current_recipe()):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(f"removed root filesystem {path}")
        return removed

    def doctor(self) -> list[Check]:
        checks = []
        runc = shutil.which("runc")
        if runc is None:
            checks.append(Check("oci", "warn", "no runc: oci variants (and the fallback when "
                                "no engine answers) cannot run", "apt-get install runc"))
        else:
            checks.append(Check("oci", "ok", f"{runtime_version(runc)} for oci variants"))
        recipe = _current_recipe()
        if recipe is not None:
            if image.rootfs_present(recipe):
                checks.append(Check("rootfs", "ok", f"root filesystem of {recipe.tag} at "
                                    f"{image.rootfs_path(recipe)}"))
            else:
                checks.append(Check("rootfs", "ok", f"root filesystem of {recipe.tag} not "
                                    "made yet; the first oci run exports or builds it"))
        stale = image.stale_rootfs(recipe)
        if stale:
            checks.append(Check("rootfs-stale", "warn", f"{len(stale)} root filesystem(s) of "
                                f"older recipes under {image.ROOTFS_DIR}",
                                "'bench clean --images' removes them"))
        names = [n for v in leftovers().values() for n in v]
        if names:
            checks.append(Check("oci-leftovers", "warn", f"{len(names)} runc container(s) or "
                                f"network namespace(s): {', '.join(names)}",
                                "'bench clean' removes them (stop running benchmarks first)"))
        return checks


def _current_recipe() -> image.Recipe | None:
    """The recipe of the benchmark image for this host's packages (None: not known)."""
    try:
        return image.recipe_for(image_packages())
    except UserError:
        return None


KIND = OciKind
