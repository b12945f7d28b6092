"""Results on disk: ``results/<run-id>/run.json`` and ``samples.jsonl``.

Never lose a result (hyperfine exports after every benchmark): each Sample is appended to
samples.jsonl, flushed and fsync'd as soon as it exists; a run folder is never overwritten.
Versioned like pyperf and asv: ``schema_version`` is an integer; older files are migrated
by one function per bump, newer ones are refused with a clear message.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import tempfile
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, overload

from bench.errors import UsageError

SCHEMA_VERSION = 1
RUN_FILE = "run.json"
SAMPLES_FILE = "samples.jsonl"

#: Migrations: MIGRATIONS[n] turns a schema-n run.json dict into schema n+1.
MIGRATIONS: dict[int, Any] = {}


@dataclass(frozen=True, slots=True)
class Sample:
    """One execution of a workload in one variant."""

    run_id: str
    seq: int
    workload: str
    variant: str
    env: str
    block: int
    position: int
    warmup: bool
    status: str  # "ok" | "failed"
    value: float | None
    unit: str
    error: str | None = None
    requested_cpus: list[int] = field(default_factory=list)
    affinity: list[int] | None = None
    wall_s: float = 0.0
    started_at: float = 0.0
    instance: str = ""
    exit_code: int | None = None
    stdout_tail: str | None = None
    stderr_tail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def contaminated(self) -> bool:
        """Marked by the contamination guard (``bench.guard``): kept, never estimated on."""
        return isinstance(self.extra.get("contaminated"), dict)

    @property
    def usable(self) -> bool:
        """A measured value the statistics use: ok, not warmup, not contaminated."""
        return self.ok and not self.warmup and self.value is not None \
            and not self.contaminated

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        """Build a Sample from stored JSON; ValueError names the first bad field."""
        names = {f.name for f in fields(cls)}
        sample = cls(**{k: v for k, v in data.items() if k in names})
        sample.check()
        return sample

    def check(self) -> None:
        """Types a reader relies on (a results file may have been edited or damaged)."""
        def ints(value: Any) -> bool:
            return isinstance(value, list) and all(_is_int(v) for v in value)

        problems = [
            ("run_id", isinstance(self.run_id, str)), ("seq", _is_int(self.seq)),
            ("workload", isinstance(self.workload, str) and bool(self.workload)),
            ("variant", isinstance(self.variant, str) and bool(self.variant)),
            ("env", isinstance(self.env, str)), ("block", _is_int(self.block)),
            ("position", _is_int(self.position)), ("warmup", isinstance(self.warmup, bool)),
            ("status", self.status in ("ok", "failed")),
            ("value", self.value is None or (_is_number(self.value) and self.value > 0)),
            ("value", self.status != "ok" or self.value is not None),
            ("unit", isinstance(self.unit, str)),
            ("error", self.error is None or isinstance(self.error, str)),
            ("requested_cpus", ints(self.requested_cpus)),
            ("affinity", self.affinity is None or ints(self.affinity)),
            ("wall_s", _is_number(self.wall_s)), ("started_at", _is_number(self.started_at)),
            ("extra", isinstance(self.extra, dict)),
        ]
        for name, ok in problems:
            if not ok:
                raise ValueError(f"field '{name}' has a bad value: {getattr(self, name)!r:.60}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def new_run_id() -> str:
    """Sortable and unique: ``20261127-214500-3fa2``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON file so that a reader never sees half of it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunStore:
    """The writer of one run folder: nothing else writes results."""

    def __init__(self, folder: Path, run_id: str) -> None:
        self.folder = folder
        self.run_id = run_id
        self._samples = None

    @classmethod
    def create(cls, results_dir: Path, run_id: str | None = None) -> RunStore:
        """Make a new run folder; refuses to reuse an existing one."""
        run_id = run_id or new_run_id()
        folder = results_dir / run_id
        try:
            results_dir.mkdir(parents=True, exist_ok=True)
            folder.mkdir()
        except FileExistsError:
            raise UsageError(f"{folder}: run folder already exists; runs are never "
                             "overwritten") from None
        except OSError as err:
            raise UsageError(f"{folder}: cannot create run folder: {err.strerror}") from None
        return cls(folder, run_id)

    def write_run(self, run: dict[str, Any]) -> None:
        """(Re)write run.json atomically, stamped with the schema version."""
        write_json_atomic(self.folder / RUN_FILE,
                          {"schema_version": SCHEMA_VERSION, "run_id": self.run_id, **run})

    def append(self, sample: Sample) -> None:
        """Append one sample and make it durable before returning."""
        if self._samples is None:
            self._samples = open(self.folder / SAMPLES_FILE, "a", encoding="utf-8")  # noqa: SIM115
        self._samples.write(json.dumps(sample.to_dict(), separators=(",", ":")) + "\n")
        self._samples.flush()
        os.fsync(self._samples.fileno())

    def close(self) -> None:
        if self._samples is not None:
            self._samples.close()
            self._samples = None


class SampleTable(Sequence[Sample]):
    """The samples of a run, read from samples.jsonl on access (columnar in spirit: only
    the byte offset of each valid line stays in memory, 8 bytes a sample).

    A run of 100,000 samples is analysed in bounded memory; every pass re-reads and
    decodes the file, which the page cache makes cheap.
    """

    def __init__(self, path: Path | None = None, offsets: array[int] | None = None) -> None:
        self._path = path
        self._offsets = offsets if offsets is not None else array("q")

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        if isinstance(index, slice):
            return list(self._read(self._offsets[index]))
        return next(self._read([self._offsets[index]]))

    def __iter__(self) -> Iterator[Sample]:
        return self._read(self._offsets)

    def _read(self, offsets: Sequence[int]) -> Iterator[Sample]:
        if self._path is None or not len(offsets):
            return
        with open(self._path, "rb") as handle:
            for offset in offsets:
                handle.seek(offset)
                yield _decode(handle.readline())


def _decode(line: bytes) -> Sample:
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return Sample.from_dict(data)


@dataclass
class LoadedRun:
    """A run folder read back: run.json as a dict, the samples, and load warnings."""

    folder: Path
    run: dict[str, Any]
    samples: Sequence[Sample]
    warnings: list[str] = field(default_factory=list)


def require_samples(loaded: LoadedRun) -> None:
    """UsageError naming samples.jsonl when a run folder holds no sample to analyse."""
    if not len(loaded.samples):
        raise UsageError(f"{loaded.folder / SAMPLES_FILE}: no samples (the file is missing "
                         "or empty): nothing to analyse")


#: ``bench analyze latest``: the run started last under the results directory.
LATEST = "latest"


def resolve_run(given: Path | str, results_dir: Path = Path("results")) -> Path:
    """The run folder a user means: a run folder, a file inside one (``RUN/run.json``), or
    a run id (or ``latest``) under ``results_dir``. UsageError when it is none of them.

    One rule for every command that takes a run (analyze, report, compare, run --resume
    and --replay, clean --run), so a path that tab-completion gives and the id that
    ``bench run`` prints both work.
    """
    path = Path(given)
    if path.is_dir():
        return path
    if path.is_file():
        return path.parent
    if path.is_absolute():
        raise UsageError(f"{given}: no such run folder")
    inside = results_dir / path
    if inside.is_dir():
        return inside
    if str(given) == LATEST:
        runs = [p.parent for p in results_dir.glob(f"*/{RUN_FILE}")]
        if runs:
            return max(runs, key=_started_at)
    raise UsageError(f"{given}: no such run folder (looked in {results_dir}/ too)")


def _started_at(folder: Path) -> float:
    """When a run started (run.json's ``started_at``; else when run.json was written)."""
    run_path = folder / RUN_FILE
    try:
        started = json.loads(run_path.read_text(encoding="utf-8")).get("started_at")
    except (OSError, ValueError, UnicodeDecodeError, AttributeError):
        started = None
    return started if _is_number(started) else run_path.stat().st_mtime


def run_id_of(given: str, results_dir: Path = Path("results")) -> str:
    """The run id of a run given by path or id (``bench clean --run``): its run.json's
    ``run_id``. A bare id whose folder is gone (or never was here) is taken as it is, since
    what a run left in an engine outlives its folder."""
    try:
        folder = resolve_run(given, results_dir)
    except UsageError:
        if Path(given).name != given:  # a path, not an id
            raise
        return given
    run_id = _read_run_json(folder).get("run_id")
    return run_id if isinstance(run_id, str) and run_id else folder.name


def _read_run_json(folder: Path) -> dict[str, Any]:
    """run.json of a run folder, migrated; UsageError naming the file when malformed."""
    run_path = folder / RUN_FILE
    try:
        run = json.loads(run_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{run_path}: missing; not a run folder") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise UsageError(f"{run_path}: not valid JSON: {err}") from None
    if not isinstance(run, dict):
        raise UsageError(f"{run_path}: expected a JSON object")
    return migrate(run, str(run_path))


def load_run(folder: Path | str, results_dir: Path = Path("results")) -> LoadedRun:
    """Read a run folder (given as :func:`resolve_run` takes it); UsageError naming the
    file for anything malformed.

    A truncated last line in samples.jsonl (the run was killed mid-write) is skipped
    with a warning; every complete line is kept.
    """
    folder = resolve_run(folder, results_dir)
    run = _read_run_json(folder)
    offsets: array[int] = array("q")
    warnings: list[str] = []
    samples_path = folder / SAMPLES_FILE
    if samples_path.exists():
        # Streamed line by line: memory grows with the samples kept, not the file text.
        with open(samples_path, "rb") as handle:
            offset = 0
            for number, line in enumerate(handle, start=1):
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                try:
                    _decode(line)  # validated now, decoded again on each access
                    offsets.append(start)
                except (ValueError, TypeError, UnicodeDecodeError) as err:
                    if not line.endswith(b"\n") and not handle.peek(1):
                        warnings.append(f"{samples_path}:{number}: truncated last line "
                                        "skipped (the run was probably interrupted while "
                                        "writing)")
                    else:
                        raise UsageError(f"{samples_path}:{number}: not a valid sample: "
                                         f"{err}") from None
    return LoadedRun(folder, run, SampleTable(samples_path, offsets), warnings)


def migrate(run: dict[str, Any], where: str) -> dict[str, Any]:
    """Bring a run.json dict up to SCHEMA_VERSION; refuse newer files."""
    version = run.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise UsageError(f"{where}: 'schema_version' missing or not an integer")
    if version > SCHEMA_VERSION:
        raise UsageError(f"{where}: schema_version {version} is newer than this bench "
                         f"understands ({SCHEMA_VERSION}); upgrade bench to read it")
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise UsageError(f"{where}: schema_version {version} is too old to migrate")
        run = MIGRATIONS[version](run)
        version += 1
        run["schema_version"] = version
    return run
