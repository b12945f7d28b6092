"""A run as a tidy table: one flat record per sample, and the pandas DataFrame of
:func:`bench.load`.

One row per sample, every Sample field as a column, CPU lists as ``"1,2"`` strings, the
workload's category/metric/better from the plan, and each numeric ``extra`` entry
(resource metrics) as an ``extra.<name>`` column, so ``bench.load(RUN)`` is ready for
groupby and plots. The CSV export (``bench.report.export``) writes the same rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.results import LoadedRun, Sample, load_run

if TYPE_CHECKING:
    import pandas as pd


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def numeric_extra(sample: Sample) -> dict[str, float]:
    """The sample's resource metrics: numeric ``extra`` entries, flattened."""
    return {k: float(v) for k, v in flatten(sample.extra).items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _cpus(cpus: list[int] | None) -> str | None:
    return None if cpus is None else ",".join(str(c) for c in cpus)


#: The tidy table's fixed columns, in order; ``extra.*`` columns follow.
COLUMNS = tuple(c for f in dataclasses.fields(Sample) if f.name != "extra"
                for c in ((f.name, "category", "metric", "better") if f.name == "workload"
                          else (f.name, "is_baseline") if f.name == "variant"
                          else (f.name, "contaminated") if f.name == "status"
                          else (f.name,)))


def sample_records(loaded: LoadedRun) -> Iterator[dict[str, Any]]:
    """One flat dict per sample, in the order they were taken (the tidy table's rows).

    A generator: a run's samples are read as they are needed, never all held at once.
    """
    plan = loaded.run.get("plan", {})
    workloads = {w.get("name"): w for w in plan.get("workloads", [])}
    baseline = loaded.run.get("baseline") or (plan.get("variants") or ["native"])[0]
    names = [f.name for f in dataclasses.fields(Sample) if f.name != "extra"]
    for sample in loaded.samples:
        info = workloads.get(sample.workload, {})
        metric = info.get("metric", {})
        record: dict[str, Any] = {}
        for name in names:
            record[name] = getattr(sample, name)
            if name == "workload":
                record["category"] = info.get("category", sample.workload.split(".")[0])
                record["metric"] = metric.get("name", "value")
                record["better"] = metric.get("better", "higher")
            elif name == "variant":
                record["is_baseline"] = sample.variant == baseline
            elif name == "status":  # left out of the estimates by the guard (bench.guard)
                record["contaminated"] = sample.contaminated
        record["requested_cpus"] = _cpus(sample.requested_cpus)
        record["affinity"] = _cpus(sample.affinity)
        record.update({f"extra.{k}": v for k, v in flatten(sample.extra).items()})
        yield record


def samples_frame(loaded: LoadedRun) -> pd.DataFrame:
    """The tidy samples table; ``attrs`` holds run_id, baseline and the folder."""
    import pandas as pd

    frame = pd.DataFrame.from_records(list(sample_records(loaded)))
    if frame.empty:
        frame = pd.DataFrame(columns=list(COLUMNS))
    plan = loaded.run.get("plan", {})
    frame.attrs.update(run_id=loaded.run.get("run_id", loaded.folder.name),
                       baseline=loaded.run.get("baseline")
                       or (plan.get("variants") or ["native"])[0],
                       folder=str(loaded.folder))
    return frame


def load(run: str | Path) -> pd.DataFrame:
    """A saved run as a pandas DataFrame, one row per sample (see :func:`samples_frame`).

    >>> df = bench.load("results/example")
    >>> used = df[~df.warmup & (df.status == "ok") & ~df.contaminated]
    >>> used.groupby(["workload", "variant"]).value.median()
    """
    return samples_frame(load_run(Path(run)))
