"""Workload declarations (``workloads/*.toml``): the file schema, loading, suites, selection.

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
import re
import string
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import parsers
from bench.errors import UsageError
from bench.variants import parse_variants

#: Built-in workload declarations shipped with the project.
WORKLOADS_DIR = Path(__file__).resolve().parent.parent / "workloads"

BETTER = ("higher", "lower")
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
