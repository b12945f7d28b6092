"""Workload declarations (``workloads/*.toml``), variants and CLI options -> a validated Plan.

A workload file declares one measured program and its primary metric::

    name = "cpu.sysbench"             # category.tool, unique
    category = "cpu"
    description = "sysbench CPU test: primes up to 20000"
    command = ["sysbench", "cpu", "--threads={threads}", "--time={duration}", "run"]
    binaries = ["sysbench"]           # hashed on the host and in the image (same bits)
    packages = ["sysbench"]           # Debian packages, installed on host and in the image
    duration = 5                      # seconds, substituted for {duration}
    quick_duration = 2                # used by --quick
    timeout = 120                     # per sample, seconds
    read_only_root = true             # containers: read-only root, private tmpfs /tmp

    [metric]
    name = "events_per_second"
    unit = "events/s"
    better = "higher"                 # or "lower"
    parser = "sysbench-cpu"           # see bench.parsers.PARSERS, or "wall_time"
    options = {}                      # parser options, e.g. {stressor = "matrix"}

``{threads}`` is the number of measured CPUs; ``{data}`` a fresh data directory per sample
(disk workloads: native uses the host's filesystem, ``docker[storage=...]`` the container's
writable layer, a volume, a bind mount or a tmpfs). Every error names the file and the key.
"""

from __future__ import annotations

import fnmatch
import os
import re
import string
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import parsers, stats
from bench.environments import registry
from bench.errors import UsageError
from bench.guard import RetakeRule

#: Built-in workload declarations shipped with the project.
WORKLOADS_DIR = Path(__file__).resolve().parent.parent / "workloads"

BETTER = ("higher", "lower")
#: Defaults shared by the CLI and the asv benchmarks (benchmarks/measure.py).
QUICK_BLOCKS = 5
DEFAULT_BLOCKS = 10
ADAPTIVE_MAX_BLOCKS = 30
#: --quick: an adaptive run with a measurement budget (README, "The quick run").
QUICK_BUDGET_S = 300.0
QUICK_MIN_BLOCKS = 6
QUICK_MAX_BLOCKS = 30
DEFAULT_VARIANTS = "native,docker"
#: ``{data}``: the sample's data directory, chosen by the environment (disk workloads;
#: ``docker[storage=...]`` decides which filesystem it is on).
PLACEHOLDERS = {"threads", "duration", "data"}
#: Filled in by the harness for two-role workloads: where the server listens, where the
#: client connects.
ROLE_PLACEHOLDERS = {"server": {"port", "bind"}, "client": {"host", "port"}}

_TOP_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "category": (str,),
    "description": (str,),
    "command": (list,),
    "binaries": (list,),
    "packages": (list,),
    "duration": (int, float),
    "quick_duration": (int, float),
    "timeout": (int, float),
    "read_only_root": (bool,),
    "metric": (dict,),
    "server": (dict,),
    "client": (dict,),
    "variants": (list,),
    "suites": (list,),
    "image": (str,),
    "dockerfile": (str,),
}
#: Named workload sets: quick (<= 5 min: one workload per category), standard (<= 30 min),
#: full (everything; a workload without ``suites`` is only in full).
SUITES = ("quick", "standard", "full")
_REQUIRED_TOP = ("name", "category", "metric")
_ROLE_KEYS: dict[str, dict[str, tuple[type, ...]]] = {
    "server": {"command": (list,), "port": (int,), "ready_timeout": (int, float)},
    "client": {"command": (list,)},
}
_METRIC_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "unit": (str,),
    "better": (str,),
    "parser": (str,),
    "options": (dict,),
}
_REQUIRED_METRIC = ("name", "unit", "better", "parser")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Metric:
    """The one primary metric of a workload."""

    name: str
    unit: str
    better: str
    parser: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Role:
    """One side of a two-role workload. The server is the role under test: it runs in the
    variant's environment; the client runs natively on the harness CPUs and its output
    holds the metric."""

    command: tuple[str, ...]
    port: int = 0
    ready_timeout: float = 30.0


@dataclass(frozen=True)
class Workload:
    """One measured program, run with the same binary in every environment."""

    name: str
    category: str
    command: tuple[str, ...]
    metric: Metric
    description: str = ""
    binaries: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    duration: float = 5.0
    quick_duration: float = 2.0
    timeout: float = 120.0
    read_only_root: bool = True
    server: Role | None = None
    client: Role | None = None
    #: The workload's default variant matrix (its category's mechanisms), and its suites.
    variants: tuple[str, ...] = ()
    suites: tuple[str, ...] = ()
    #: Docker variants: run in this local image instead of the benchmark image (a user's
    #: own program); its binaries are hashed there and compared with the host's.
    image: str = ""
    #: Or build that image from this Dockerfile (absolute path), FROM the benchmark image
    #: (bench.image.build_user_image); the runner sets ``image`` to the built tag.
    dockerfile: str = ""
    source: str = ""

    @property
    def two_role(self) -> bool:
        return self.server is not None

    @property
    def uses_data(self) -> bool:
        """Whether the command names a data directory (``{data}``): a disk workload."""
        return any(f == "data" for arg in self.command
                   for _, f, _, _ in string.Formatter().parse(arg))

    def argv(self, threads: int, quick: bool = False, command: tuple[str, ...] | None = None,
             **values: str) -> list[str]:
        """``command`` (default: the workload's) with its placeholders filled in:
        ``{threads}``, ``{duration}``, ``data=`` (``{data}``, the sample's data directory) and
        the role values (``{host}``, ``{port}``, ...)."""
        duration = self.quick_duration if quick else self.duration
        values = {"threads": str(threads), "duration": f"{duration:g}", **values}
        return [arg.format(**values) for arg in (self.command if command is None else command)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (lists, not tuples), as stored in run.json's plan."""
        data = asdict(self)
        for key in ("command", "binaries", "packages", "variants", "suites"):
            data[key] = list(data[key])
        if not data["command"]:
            del data["command"]  # two-role workloads keep their commands in the roles
        for role in ("server", "client"):
            if data[role] is None:
                del data[role]
            else:
                data[role]["command"] = list(data[role]["command"])
                if role == "client":
                    data[role] = {"command": data[role]["command"]}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "run.json") -> Workload:
        try:
            return _build_workload(dict(data), where)
        except UsageError:
            raise
        except (TypeError, KeyError, ValueError) as err:
            raise UsageError(f"{where}: bad workload entry: {err}") from None


def _check_types(table: dict[str, Any], spec: dict[str, tuple[type, ...]], where: str,
                 prefix: str = "") -> None:
    for key, value in table.items():
        if key not in spec:
            known = ", ".join(sorted(spec))
            raise UsageError(f"{where}: unknown key '{prefix}{key}' (known keys: {known})")
        types = spec[key]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in types)
            raise UsageError(f"{where}: key '{prefix}{key}' must be {wanted}, "
                             f"got {type(value).__name__}")


def _string_list(value: list[Any], where: str, key: str, allow_empty: bool = True,
                 empty_items: bool = False) -> tuple[str, ...]:
    if not allow_empty and not value:
        raise UsageError(f"{where}: key '{key}' must not be empty")
    for item in value:
        if not isinstance(item, str) or not (item or empty_items):
            kind = "strings" if empty_items else "non-empty strings"
            raise UsageError(f"{where}: key '{key}' must be a list of {kind}")
    if empty_items and not value[0]:
        raise UsageError(f"{where}: key '{key}': the program name must not be empty")
    return tuple(value)


def _command(value: list[Any], where: str, key: str, allowed: set[str]) -> tuple[str, ...]:
    """A command list whose placeholders are all in ``allowed``."""
    # Arguments may be empty strings (e.g. redis-server --save ""); the program may not.
    command = _string_list(value, where, key, allow_empty=False, empty_items=True)
    for arg in command:
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(arg) if f is not None}
        except ValueError as err:
            raise UsageError(f"{where}: key '{key}': bad placeholder in {arg[:60]!r}: {err} "
                             "(write a literal brace as {{ or }})") from None
        unknown = fields - allowed
        if unknown:
            known = ", ".join(f"{{{p}}}" for p in sorted(allowed))
            name = ascii(sorted(unknown)[0])[1:-1]  # one line, whatever the file held
            raise UsageError(f"{where}: key '{key}': unknown placeholder "
                             f"'{{{name}}}' (known: {known})")
    return command


def _variant_list(value: list[Any], where: str) -> tuple[str, ...]:
    specs = _string_list(value, where, "variants")
    try:
        return tuple(v.id for v in parse_variants(list(specs))) if specs else ()
    except UsageError as err:
        raise UsageError(f"{where}: key 'variants': {str(err).removeprefix('--variants: ')}"
                         ) from None


def _suite_list(value: list[Any], where: str) -> tuple[str, ...]:
    suites = _string_list(value, where, "suites")
    for suite in suites:
        if suite not in SUITES:
            raise UsageError(f"{where}: key 'suites': unknown suite '{suite}' "
                             f"(known: {', '.join(SUITES)})")
    return suites


def select_suite(workloads: list[Workload], suite: str) -> list[Workload]:
    """The workloads of a named suite (full: all of them)."""
    if suite not in SUITES:
        raise UsageError(f"--suite: unknown suite '{suite}' (known: {', '.join(SUITES)})")
    if suite == "full":
        return list(workloads)
    return [w for w in workloads if suite in w.suites]


def _build_role(table: dict[str, Any], role: str, where: str) -> Role:
    _check_types(table, _ROLE_KEYS[role], where, prefix=f"{role}.")
    if "command" not in table:
        raise UsageError(f"{where}: missing key '{role}.command'")
    command = _command(table["command"], where, f"{role}.command",
                       PLACEHOLDERS | ROLE_PLACEHOLDERS[role])
    if role == "server":
        if not 0 < table.get("port", 0) < 65536:
            raise UsageError(f"{where}: key 'server.port' must be a TCP port (1-65535)")
        if not table.get("ready_timeout", 30) > 0:
            raise UsageError(f"{where}: key 'server.ready_timeout' must be positive")
    return Role(command, int(table.get("port", 0)), float(table.get("ready_timeout", 30.0)))


def _build_workload(data: dict[str, Any], where: str) -> Workload:
    source = data.pop("source", None) or where
    _check_types(data, _TOP_KEYS, where)
    for key in _REQUIRED_TOP:
        if key not in data:
            raise UsageError(f"{where}: missing key '{key}'")
    metric_table = data["metric"]
    _check_types(metric_table, _METRIC_KEYS, where, prefix="metric.")
    for key in _REQUIRED_METRIC:
        if key not in metric_table:
            raise UsageError(f"{where}: missing key 'metric.{key}'")
    if metric_table["better"] not in BETTER:
        raise UsageError(f"{where}: key 'metric.better' must be 'higher' or 'lower', "
                         f"got '{metric_table['better']}'")
    parser = metric_table["parser"]
    if parser not in parsers.PARSERS and parser != parsers.WALL_TIME:
        known = ", ".join([*sorted(parsers.PARSERS), parsers.WALL_TIME])
        raise UsageError(f"{where}: key 'metric.parser': unknown parser '{parser}' "
                         f"(known: {known})")
    problem = parsers.check_options(parser, metric_table.get("options", {}))
    if problem:
        raise UsageError(f"{where}: key 'metric.options': {problem}")
    name = data["name"]
    if not _NAME_RE.match(name):
        raise UsageError(f"{where}: key 'name' must look like 'category.tool' "
                         f"(lowercase letters, digits, '-', '_'), got '{name}'")
    if name.split(".", 1)[0] != data["category"]:
        raise UsageError(f"{where}: key 'name' must start with its category "
                         f"'{data['category']}.', got '{name}'")
    roles = {role: _build_role(data[role], role, where) for role in ("server", "client")
             if role in data}
    if len(roles) == 1:
        raise UsageError(f"{where}: a two-role workload needs both [server] and [client]")
    if roles and "command" in data:
        raise UsageError(f"{where}: key 'command': a two-role workload has its commands in "
                         "[server] and [client]")
    if not roles and "command" not in data:
        raise UsageError(f"{where}: missing key 'command' (or [server] and [client])")
    command = () if roles else _command(data["command"], where, "command", PLACEHOLDERS)
    for key in ("duration", "quick_duration", "timeout"):
        if key in data and not data[key] > 0:
            raise UsageError(f"{where}: key '{key}' must be positive, got {data[key]}")
    metric = Metric(
        name=metric_table["name"],
        unit=metric_table["unit"],
        better=metric_table["better"],
        parser=parser,
        options=dict(metric_table.get("options", {})),
    )
    return Workload(
        name=name,
        category=data["category"],
        command=command,
        metric=metric,
        description=data.get("description", ""),
        binaries=_string_list(data.get("binaries", []), where, "binaries"),
        packages=_string_list(data.get("packages", []), where, "packages"),
        duration=float(data.get("duration", 5.0)),
        quick_duration=float(data.get("quick_duration", 2.0)),
        timeout=float(data.get("timeout", 120.0)),
        read_only_root=data.get("read_only_root", True),
        server=roles.get("server"),
        client=roles.get("client"),
        variants=_variant_list(data.get("variants", []), where),
        suites=_suite_list(data.get("suites", []), where),
        image=data.get("image", ""),
        dockerfile=_dockerfile(data, where),
        source=source,
    )


def _dockerfile(data: dict[str, Any], where: str) -> str:
    """The ``dockerfile`` key, already made absolute by load_workload; checked here."""
    dockerfile = data.get("dockerfile", "")
    if not dockerfile:
        return ""
    if data.get("image"):
        raise UsageError(f"{where}: keys 'image' and 'dockerfile' exclude each other: run in "
                         "an image you built, or let bench build one from a Dockerfile")
    if not Path(dockerfile).is_file():
        raise UsageError(f"{where}: key 'dockerfile': no such file: {dockerfile}")
    return dockerfile


def load_workload(path: Path) -> Workload:
    """Read and validate one workload file; UsageError names the file and key."""
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as err:
        raise UsageError(f"{where}: cannot read: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{where}: not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not valid TOML: not UTF-8 text") from None
    if isinstance(data.get("dockerfile"), str) and data["dockerfile"]:
        data["dockerfile"] = str((path.parent / data["dockerfile"]).resolve())
    return _build_workload(data, where)


def load_workloads(dirs: list[Path] | None = None) -> list[Workload]:
    """All workloads of the built-in directory plus ``dirs``, sorted by name."""
    found: dict[str, Workload] = {}
    for directory in [WORKLOADS_DIR, *(dirs or [])]:
        if not directory.is_dir():
            raise UsageError(f"{directory}: workload directory not found")
        for path in sorted(directory.glob("*.toml")):
            workload = load_workload(path)
            if workload.name in found:
                raise UsageError(f"{path}: workload '{workload.name}' is already declared "
                                 f"in {found[workload.name].source}")
            found[workload.name] = workload
    return sorted(found.values(), key=lambda w: w.name)


def image_packages(workloads: list[Workload] | tuple[Workload, ...] = ()) -> list[str]:
    """Debian packages of the benchmark image: every built-in workload's plus those of
    ``workloads`` (e.g. a user's), so one image serves every suite."""
    return sorted({p for w in [*load_workloads(), *workloads] for p in w.packages})


def select_workloads(workloads: list[Workload], patterns: list[str]) -> list[Workload]:
    """Workloads whose name matches any glob in ``patterns`` (all when empty)."""
    if not patterns:
        return list(workloads)
    chosen = [w for w in workloads if any(fnmatch.fnmatchcase(w.name, p) for p in patterns)]
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(w.name, pattern) for w in workloads):
            names = ", ".join(w.name for w in workloads)
            raise UsageError(f"--workload '{pattern}' matches no workload (known: {names})")
    return chosen


# --- variants ---------------------------------------------------------------------------

_VARIANT_RE = re.compile(r"^([a-z]+)(?:\[(.*)\])?$")

#: ``--variants ladder``: from a native process to a Docker container with a published
#: port, one change per rung. Each rung is compared with the rung before it (bench.ladder),
#: so each step's added overhead gets its own confidence interval. Docker uses neither a
#: user namespace nor a veth of its own on the host network, so the ladder takes those off
#: again (on the oci side) before the engine's step, which then adds only the engine's own
#: mechanisms.
LADDER: tuple[tuple[str, str], ...] = (
    ("native", "native process"),
    ("native[cgroup=own]", "+ cgroup of its own (cpuset)"),
    ("oci", "+ pid, mount, ipc, uts, cgroup namespaces, the image's read-only root, "
            "Docker's capability set and masked paths (runc, no daemon)"),
    ("oci[userns=on]", "+ user namespace"),
    ("oci[userns=on,net=veth]", "+ network namespace with a veth pair"),
    ("oci[userns=on,net=veth,seccomp=default]", "+ default seccomp profile"),
    ("oci[seccomp=default]", "- user namespace, - veth: the host's network again, as "
                             "docker[net=host] has"),
    ("docker[net=host]", "+ the Docker engine: containerd-shim, overlay root, Docker's own "
                         "seccomp profile, AppArmor where enabled"),
    ("docker[port=direct]", "+ bridge network, client at the container's address"),
    ("docker", "+ published port on 127.0.0.1 (userland proxy / NAT)"),
)
VARIANT_SETS = {"ladder": tuple(v for v, _ in LADDER)}


@dataclass(frozen=True)
class Variant:
    """An environment plus settings that change one mechanism, e.g. ``docker[net=host]``."""

    env: str
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        if not self.settings:
            return self.env
        inner = ",".join(f"{k}={v}" for k, v in self.settings)
        return f"{self.env}[{inner}]"

    def setting(self, key: str, default: str = "") -> str:
        return dict(self.settings).get(key, default)


def parse_variant(text: str) -> Variant:
    """Parse ``env`` or ``env[key=value,...]``; UsageError on unknown axes or values."""
    match = _VARIANT_RE.match(text.strip())
    if match is None:
        raise UsageError(f"--variants: cannot parse '{text}' (expected e.g. 'docker[net=host]')")
    env, inner = match.group(1), match.group(2)
    if env not in registry.names():
        raise UsageError(f"--variants: unknown environment '{env}' in '{text}' "
                         f"(known: {', '.join(registry.names())})")
    axes = registry.options(env)  # each environment module declares its own
    settings: dict[str, str] = {}
    for part in filter(None, (inner or "").split(",")):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep and len(axes.get(key, ())) == 2:
            sep, value = "=", axes[key][1]  # a bare two-valued axis means its non-default
        if not sep or not key or not value:
            raise UsageError(f"--variants: expected key=value, got '{part}' in '{text}'")
        if key not in axes:
            known = ", ".join(axes) or "none"
            raise UsageError(f"--variants: unknown axis '{key}' for {env} in '{text}' "
                             f"(known: {known})")
        allowed = axes[key]
        if allowed and value not in allowed:
            raise UsageError(f"--variants: unknown value '{value}' for {env} axis '{key}' "
                             f"(known: {', '.join(allowed)})")
        if key in settings:
            raise UsageError(f"--variants: axis '{key}' given twice in '{text}'")
        settings[key] = value
    # Defaults are dropped so that docker and docker[net=bridge] are the same variant.
    canonical = tuple((k, settings[k]) for k in axes
                      if k in settings and not (axes[k] and settings[k] == axes[k][0]))
    return Variant(env, canonical)


def parse_variants(texts: list[str]) -> list[Variant]:
    """Parse a list of variant specs (each may hold several, comma-separated at top level)."""
    variants: list[Variant] = []
    for text in texts:
        specs = _split_top_level(text)
        specs = [v for spec in specs for v in VARIANT_SETS.get(spec, (spec,))]
        for spec in specs:
            variant = parse_variant(spec)
            if variant in variants:
                raise UsageError(f"--variants: '{variant.id}' given twice")
            variants.append(variant)
    if not variants:
        raise UsageError("--variants: no variant given")
    return variants


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


# --- CPUs -------------------------------------------------------------------------------

def online_cpus() -> list[int]:
    """CPUs this process may run on (online and allowed)."""
    return sorted(os.sched_getaffinity(0))


def parse_cpus(text: str) -> tuple[int, ...]:
    """Parse a CPU list such as ``1``, ``0-3`` or ``1,3-4``; check each is online."""
    cpus: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, sep, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise UsageError(f"--cpus: cannot parse '{part}' in '{text}' "
                             "(expected e.g. '1', '0-3' or '1,3')") from None
        if first < 0 or last < first:
            raise UsageError(f"--cpus: bad range '{part}' in '{text}'")
        cpus.update(range(first, last + 1))
    if not cpus:
        raise UsageError("--cpus: empty CPU list")
    online = set(online_cpus())
    missing = sorted(cpus - online)
    if missing:
        raise UsageError(f"--cpus: CPU {missing[0]} is not online or not allowed "
                         f"(available: {format_cpus(online)})")
    return tuple(sorted(cpus))


def default_cpus() -> tuple[int, ...]:
    """All allowed CPUs but the first, which stays for the harness and the engine."""
    cpus = online_cpus()
    return tuple(cpus[1:]) if len(cpus) > 1 else tuple(cpus)


def format_cpus(cpus: set[int] | tuple[int, ...] | list[int]) -> str:
    """Compact CPU list: ``{0, 1, 2, 5}`` -> ``0-2,5``."""
    items = sorted(cpus)
    ranges: list[str] = []
    start = prev = None
    for cpu in [*items, None]:
        if start is not None and (cpu is None or cpu != prev + 1):
            ranges.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if cpu is not None and start is None:
            start = cpu
        prev = cpu
    return ",".join(ranges)


# --- plan -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """Everything that determines what a run measures; stored in run.json for --replay."""

    workloads: tuple[Workload, ...]
    variants: tuple[Variant, ...]
    cpus: tuple[int, ...]
    blocks: int = 10
    warmup: int = 1
    seed: int = 0
    quick: bool = False
    margin: float = 0.02
    alpha: float = 0.05
    #: Adaptive mode: stop a workload once every comparison is decided (looks on
    #: ``look_grid``, see bench.schedule.StopRule); ``blocks`` is then the maximum.
    adaptive: bool = False
    min_blocks: int = 5
    #: Measurement budget of the whole run, in seconds (None: none).
    budget_s: float | None = None
    #: Per workload, the variant ids it runs in (each workload's default matrix); None:
    #: every workload runs in every variant.
    matrix: dict[str, tuple[str, ...]] | None = None
    #: Variant ids in ladder order (``--variants ladder``): each rung is also compared
    #: with the rung before it.
    ladder: tuple[str, ...] = ()
    #: The contamination guard (bench.guard), fixed before the run.
    retake: RetakeRule = field(default_factory=RetakeRule)

    @property
    def look_grid(self) -> tuple[int, ...]:
        """Paired-block counts at which an adaptive run looks (``stats.look_grid``)."""
        return stats.look_grid(self.min_blocks, self.blocks)

    def variants_for(self, workload: Workload | str) -> tuple[Variant, ...]:
        """The variants one workload runs in, in plan order."""
        name = workload if isinstance(workload, str) else workload.name
        if self.matrix is None or name not in self.matrix:
            return self.variants
        wanted = set(self.matrix[name])
        return tuple(v for v in self.variants if v.id in wanted)

    def baseline_for(self, workload: Workload | str) -> Variant:
        """``native`` when the workload runs in it, else its first variant."""
        variants = self.variants_for(workload)
        return next((v for v in variants if v.env == "native" and not v.settings),
                    variants[0])

    @property
    def baseline(self) -> Variant:
        """``native`` when present, else the first variant."""
        for variant in self.variants:
            if variant.env == "native" and not variant.settings:
                return variant
        return self.variants[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workloads": [w.to_dict() for w in self.workloads],
            "variants": [v.id for v in self.variants],
            "cpus": list(self.cpus),
            "blocks": self.blocks,
            "warmup": self.warmup,
            "seed": self.seed,
            "quick": self.quick,
            "margin": self.margin,
            "alpha": self.alpha,
            "adaptive": self.adaptive,
            "min_blocks": self.min_blocks,
            "budget_s": self.budget_s,
            "matrix": None if self.matrix is None else {k: list(v)
                                                        for k, v in self.matrix.items()},
            "ladder": list(self.ladder),
            "retake": self.retake.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "run.json") -> Plan:
        if not isinstance(data, dict):
            raise UsageError(f"{where}: 'plan' missing or not an object")
        try:
            return make_plan(
                workloads=[Workload.from_dict(w, where) for w in data["workloads"]],
                variants=parse_variants(list(data["variants"])),
                cpus=tuple(int(c) for c in data["cpus"]),
                blocks=int(data["blocks"]),
                warmup=int(data["warmup"]),
                seed=int(data["seed"]),
                quick=bool(data["quick"]),
                margin=float(data.get("margin", 0.02)),
                alpha=float(data.get("alpha", 0.05)),
                adaptive=bool(data.get("adaptive", False)),
                min_blocks=int(data.get("min_blocks", 5)),
                budget_s=None if data.get("budget_s") is None else float(data["budget_s"]),
                matrix=None if data.get("matrix") is None else {
                    str(k): tuple(str(v) for v in vs) for k, vs in data["matrix"].items()},
                ladder=tuple(str(v) for v in data.get("ladder") or ()),
                retake=RetakeRule.from_dict(data.get("retake")),
            )
        except (KeyError, TypeError, ValueError, UsageError) as err:
            raise UsageError(f"{where}: bad plan: {err!r}") from None


def make_plan(workloads: list[Workload], variants: list[Variant], cpus: tuple[int, ...],
              blocks: int = 10, warmup: int = 1, seed: int = 0, quick: bool = False,
              margin: float = 0.02, alpha: float = 0.05, adaptive: bool = False,
              min_blocks: int = 5, budget_s: float | None = None,
              matrix: dict[str, tuple[str, ...]] | None = None,
              ladder: tuple[str, ...] = (), retake: RetakeRule | None = None) -> Plan:
    """Validate options and build the Plan. ``matrix`` gives each workload its own
    variants (ids among ``variants``)."""
    if not workloads:
        raise UsageError("no workload selected")
    if blocks < 2:
        raise UsageError(f"--blocks must be at least 2 (got {blocks}): blocks are the unit "
                         "of the confidence interval")
    if warmup < 0:
        raise UsageError(f"--warmup must be 0 or more (got {warmup})")
    if not 0 < margin < 1:
        raise UsageError(f"--margin must be between 0 and 100% (got {margin * 100:g}%)")
    if not 0 < alpha < 0.5:
        raise UsageError(f"--alpha must be between 0 and 0.5 (got {alpha:g})")
    if len(variants) < 2:
        raise UsageError("--variants: need at least two variants to compare "
                         "(e.g. 'native,docker')")
    ids = {v.id for v in variants}
    for name, chosen in (matrix or {}).items():
        if len(chosen) < 2 or not set(chosen) <= ids:
            raise UsageError(f"workload '{name}': needs two or more of the plan's variants, "
                             f"got {', '.join(chosen) or 'none'}")
    if not set(ladder) <= ids:
        raise UsageError(f"ladder rungs not among the variants: "
                         f"{', '.join(sorted(set(ladder) - ids))}")
    if adaptive and not 2 <= min_blocks <= blocks:
        raise UsageError(f"--min-blocks must be between 2 and --max-blocks ({blocks}), "
                         f"got {min_blocks}")
    if budget_s is not None and not budget_s > 0:
        raise UsageError(f"--budget must be positive, got {budget_s:g} s")
    return Plan(tuple(workloads), tuple(variants), tuple(cpus), blocks, warmup, seed, quick,
                margin, alpha, adaptive, min_blocks if adaptive else min(min_blocks, blocks),
                budget_s, matrix, tuple(ladder), retake or RetakeRule())


def ladder_of(variants: list[Variant]) -> tuple[str, ...]:
    """The ladder rungs among ``variants``, in ladder order, when the whole ladder is there
    (``--variants ladder``); else ()."""
    ids = {v.id for v in variants}
    rungs = VARIANT_SETS["ladder"]
    return rungs if set(rungs) <= ids else ()


def default_matrix(workloads: list[Workload], fallback: list[Variant]
                   ) -> tuple[list[Variant], dict[str, tuple[str, ...]]]:
    """Each workload's own default variants (its TOML ``variants``, else ``fallback``):
    the union in a stable order, and the per-workload matrix."""
    union: list[Variant] = []
    matrix: dict[str, tuple[str, ...]] = {}
    for workload in workloads:
        own = parse_variants(list(workload.variants)) if workload.variants else fallback
        matrix[workload.name] = tuple(v.id for v in own)
        union.extend(v for v in own if v not in union)
    return union, matrix


def primary_only(variants: list[Variant], matrix: dict[str, tuple[str, ...]]
                 ) -> tuple[list[Variant], dict[str, tuple[str, ...]]]:
    """The quick run's matrix: each workload in ``native`` and ``docker`` only (the
    primary question, ``bench.families``); mechanism variants are for longer runs."""
    keep = ("native", "docker")
    chosen = {name: tuple(v for v in ids if v in keep) for name, ids in matrix.items()}
    chosen = {name: ids for name, ids in chosen.items() if len(ids) == 2}
    if len(chosen) < len(matrix):  # a workload without both: keep its own matrix
        chosen.update({name: ids for name, ids in matrix.items() if name not in chosen})
    used = {v for ids in chosen.values() for v in ids}
    return [v for v in variants if v.id in used], chosen


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``1.5h`` -> seconds."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if match is None:
        raise UsageError(f"--budget: cannot parse '{text}' (expected e.g. '90s', '10m', '1h')")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
