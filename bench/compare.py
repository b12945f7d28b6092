"""Run-to-run comparison: before/after an engine, kernel or configuration change.

For each workload and variant found in both runs: the change in raw performance (the
variant's cost per unit of work, run B vs run A) and, for non-baseline variants, the change
in overhead vs the baseline, each with an interval and a verdict.

Method (METHOD.md §1-§4 carried over to two independent runs). Work in log cost. For raw
performance the per-block values are ``ln cost`` of the variant; for overhead they are the
run's paired ``d_b = ln cost(variant, b) - ln cost(baseline, b)``. Blocks of one run are
independent of the other run's, so the change ``delta = mean(x_B) - mean(x_A)`` gets a
two-sample interval: the percentile bootstrap resampling each run's blocks independently
(Efron & Tibshirani 1993, ch. 8), hulled with the Welch t interval (Welch 1947), exactly as
bench.stats hulls BCa and t for one run. The change is reported as ``exp(delta) - 1``:
+3% means run B costs 3% more per unit of work (or carries 3% more overhead) than run A.
Verdicts at the runs' margin D, Holm across every change of the comparison
(``stats.family_alphas``):

* ``unchanged``: the 1 - 2*alpha interval lies inside (-D, +D) (TOST, Schuirmann 1987);
* ``regressed`` / ``improved``: the 1 - alpha interval lies entirely above / below 0;
* ``inconclusive``: otherwise (absence of a difference is never reported as unchanged).

Comparisons never mix hosts silently: runs whose hostname or CPU model differ are refused
unless the caller allows it, and the result then says so.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from bench import pairing, stats
from bench.errors import UsageError
from bench.plan import DEFAULT_ALPHA, DEFAULT_MARGIN, direction, recorded
from bench.report.text import interval, margin_text, pct_or_dash
from bench.results import LoadedRun, Sample, require_samples
from bench.stats import Interval

CHANGE_VERDICTS = ("unchanged", "improved", "regressed", "inconclusive")
HOST_KEYS = ("hostname", "cpu_model")
#: Host facts that vary from minute to minute: not a difference between set-ups.
VOLATILE = ("host.load_average", "host.frequency_mhz.current", "host.python")


@dataclass(frozen=True)
class Change:
    """Run B vs run A for one quantity in log cost; ``estimate`` = exp(delta) - 1."""

    estimate: float
    ci95: Interval
    ci90: Interval
    alpha: float
    margin: float
    verdict: str
    n_a: int
    n_b: int
    p_difference: float
    p_equivalence: float


@dataclass(frozen=True)
class ChangeRow:
    """One workload in one variant, present in both runs."""

    workload: str
    variant: str
    baseline: str
    metric: str
    unit: str
    better: str
    median_a: float | None
    median_b: float | None
    overhead_a: float | None
    overhead_b: float | None
    performance: Change | None
    overhead: Change | None
    warnings: tuple[str, ...] = ()

    @property
    def is_baseline(self) -> bool:
        return self.variant == self.baseline


@dataclass(frozen=True)
class FactChange:
    """A recorded fact (``host.kernel``, ``engine.engine_version``, ...) that differs."""

    key: str
    a: Any
    b: Any


@dataclass(frozen=True)
class RunComparison:
    """Everything ``bench compare`` reports."""

    run_a: str
    run_b: str
    folder_a: str
    folder_b: str
    margin: float
    alpha: float
    family_size: int
    different_hosts: bool
    rows: tuple[ChangeRow, ...]
    fact_changes: tuple[FactChange, ...]
    warnings: tuple[str, ...] = ()
    #: Rows left out of ``rows`` by :func:`only_changed` (every change ``unchanged``).
    hidden: tuple[ChangeRow, ...] = ()


# ------------------------------------------------------------------------------ statistics


def _welch(xa: np.ndarray, xb: np.ndarray) -> tuple[float, float, float]:
    """(delta, standard error, Welch-Satterthwaite degrees of freedom)."""
    va, vb = float(xa.var(ddof=1)), float(xb.var(ddof=1))
    sa, sb = va / xa.size, vb / xb.size
    se = math.sqrt(sa + sb)
    delta = float(xb.mean() - xa.mean())
    if se == 0:
        return delta, 0.0, float(xa.size + xb.size - 2)
    df = (sa + sb) ** 2 / (sa**2 / (xa.size - 1) + sb**2 / (xb.size - 1))
    return delta, se, df


def welch_pvalues(xa: ArrayLike, xb: ArrayLike, margin: float) -> tuple[float, float]:
    """(two-sided p of "no change", TOST p of "change inside (-margin, +margin)")."""
    a, b = np.asarray(xa, float), np.asarray(xb, float)
    if a.size < 2 or b.size < 2:
        return 1.0, 1.0
    delta, se, df = _welch(a, b)
    lo, hi = math.log1p(-margin), math.log1p(margin)
    if se == 0:
        return (1.0 if delta == 0 else 0.0), (0.0 if lo < delta < hi else 1.0)
    p_diff = float(2 * special.stdtr(df, -abs(delta) / se))
    p_equiv = max(float(special.stdtr(df, -(delta - lo) / se)),
                  float(special.stdtr(df, (delta - hi) / se)))
    return p_diff, p_equiv


def _interval(a: np.ndarray, b: np.ndarray, boot: np.ndarray, tail: float,
              level: float) -> Interval:
    """Hull of the bootstrap percentile and Welch t intervals, ``tail`` outside each end."""
    delta, se, df = _welch(a, b)
    if se == 0 or tail <= 0:
        t_lo, t_hi = (delta, delta) if se == 0 else (-math.inf, math.inf)
    else:
        q = -float(special.stdtrit(df, tail))
        t_lo, t_hi = delta - q * se, delta + q * se
    b_lo, b_hi = (np.quantile(boot, [tail, 1 - tail]) if tail > 0
                  else (boot.min(), boot.max()))
    lo, hi = min(t_lo, float(b_lo)), max(t_hi, float(b_hi))
    return Interval(_expm1(lo), _expm1(hi), level, "percentile+welch")


def _expm1(x: float) -> float:
    """exp(x) - 1 in overhead units; an unbounded end stays unbounded."""
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def change(xa: ArrayLike, xb: ArrayLike, margin: float = DEFAULT_MARGIN,
           alpha: float = DEFAULT_ALPHA, n_resamples: int = stats.MIN_RESAMPLES,
           seed: int = 0) -> Change:
    """The change from run A's values ``xa`` to run B's ``xb`` (log costs or log diffs).

    Intervals: 1 - alpha for the difference, 1 - 2*alpha for equivalence (TOST), each the
    hull of the two-sample bootstrap and the Welch t interval. Needs >= 2 values per run.
    """
    a, b = np.asarray(xa, float), np.asarray(xb, float)
    if a.size < 2 or b.size < 2:
        raise ValueError("a change needs at least 2 blocks in each run")
    if not 0 < margin < 1:
        raise ValueError(f"margin must be in (0, 1), got {margin!r}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    # Independent resamples of each run's blocks (two seeds), in bounded memory.
    boot = (stats.boot_means(b, n_resamples, seed) - stats.boot_means(a, n_resamples, seed + 1))
    ci95 = _interval(a, b, boot, alpha / 2, 1 - alpha)
    ci90 = _interval(a, b, boot, alpha, 1 - 2 * alpha)
    verdict = stats.decide(ci95, ci90, margin, ("unchanged", "regressed", "improved"))
    p_diff, p_equiv = welch_pvalues(a, b, margin)
    return Change(math.expm1(float(b.mean() - a.mean())), ci95, ci90, alpha, margin,
                  verdict, int(a.size), int(b.size), p_diff, p_equiv)


# ------------------------------------------------------------------------------ the runs


@dataclass
class _RunData:
    """One run reduced to per-block values: (workload, variant) -> {block: value}."""

    run_id: str
    folder: str
    baseline: str
    margin: float
    alpha: float
    workloads: dict[str, dict[str, Any]]
    variants: list[str]
    values: dict[tuple[str, str], dict[int, float]]


def _reduce(loaded: LoadedRun) -> _RunData:
    run = loaded.run
    where = f"{loaded.folder / 'run.json'}"
    require_samples(loaded)
    plan = recorded(run, where)
    variants = list(plan.variants)
    values: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    workloads = dict(plan.workloads)
    for s in loaded.samples:  # one pass: a run may hold 100,000 samples
        if s.variant not in variants:
            variants.append(s.variant)
        workloads.setdefault(s.workload, {"name": s.workload, "metric": {"unit": s.unit}})
        if _usable(s):
            values[(s.workload, s.variant)][s.block] = float(s.value)  # type: ignore[arg-type]
    for name in {workload for workload, _ in values}:
        direction(workloads[name], name, where)
    return _RunData(run.get("run_id", loaded.folder.name), str(loaded.folder),
                    run.get("baseline") or (variants or ["native"])[0],
                    plan.margin, plan.alpha, workloads, variants, values)


def _usable(s: Sample) -> bool:
    return s.usable and s.value is not None and s.value > 0


def _log_costs(values: dict[int, float], better: str) -> dict[int, float]:
    sign = -1.0 if better == "higher" else 1.0
    return {b: sign * math.log(v) for b, v in values.items()}


def _median(values: dict[int, float]) -> float | None:
    return float(np.median(list(values.values()))) if values else None


def _flat(data: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flat(value, f"{prefix}.{key}"))
    return out


def fact_changes(a: dict[str, Any], b: dict[str, Any]) -> list[FactChange]:
    """Recorded facts that differ between two run.json documents (volatile ones left out).

    Host, engine, image, binaries and variant facts, the measured CPUs, the sample length
    (``quick``) and each workload's command and metric.
    """
    def facts(run: dict[str, Any]) -> dict[str, Any]:
        plan = run.get("plan", {})
        out: dict[str, Any] = {}
        for section in ("host", "engine", "image", "binaries", "environments"):
            out.update(_flat(run.get(section, {}), section))
        out["plan.cpus"] = plan.get("cpus")
        out["plan.quick"] = plan.get("quick")
        for w in plan.get("workloads", []):
            for key in ("command", "metric", "duration", "quick_duration"):
                out[f"workload.{w.get('name')}.{key}"] = w.get(key)
        return {k: v for k, v in out.items() if k not in VOLATILE and v != {}}

    fa, fb = facts(a), facts(b)
    return [FactChange(k, fa.get(k), fb.get(k)) for k in dict.fromkeys([*fa, *fb])
            if fa.get(k) != fb.get(k)]


def _host(run: dict[str, Any]) -> str:
    host = run.get("host", {})
    return f"'{host.get('hostname', '?')}' ({host.get('cpu_model', '?')})"


def compare_runs(a: LoadedRun, b: LoadedRun, *, allow_different_hosts: bool = False,
                 margin: float | None = None, alpha: float | None = None,
                 n_resamples: int = stats.MIN_RESAMPLES, seed: int = 0) -> RunComparison:
    """Run B (after) vs run A (before), per workload and variant present in both.

    UsageError when the runs come from different hosts (hostname or CPU model) unless
    ``allow_different_hosts``, or when they share no workload and variant.
    """
    ra, rb = _reduce(a), _reduce(b)
    host_a, host_b = a.run.get("host", {}), b.run.get("host", {})
    different = any(host_a.get(k) != host_b.get(k) for k in HOST_KEYS)
    if different and not allow_different_hosts:
        raise UsageError(f"{rb.folder}: recorded on host {_host(b.run)}, but {ra.folder} on "
                         f"{_host(a.run)}; comparisons never mix hosts silently: pass "
                         "--allow-different-hosts to compare them anyway")
    warnings: list[str] = []
    if different:
        warnings.append(f"different hosts: run A on {_host(a.run)}, run B on {_host(b.run)}; "
                        "a change may come from the hardware, not the set-up")
    if margin is None:
        margin = ra.margin
        if not math.isclose(ra.margin, rb.margin):
            warnings.append(f"the runs planned different margins (A {margin_text(ra.margin)}, "
                            f"B {margin_text(rb.margin)}); using A's")
    alpha = ra.alpha if alpha is None else alpha
    if ra.baseline != rb.baseline:
        warnings.append(f"baselines differ (A: {ra.baseline}, B: {rb.baseline}); each run's "
                        "overhead is against its own baseline")
    if a.run.get("plan", {}).get("quick") != b.run.get("plan", {}).get("quick"):
        warnings.append("one run used --quick and the other did not: sample lengths differ")

    keys_a = [(w, v) for w in ra.workloads for v in ra.variants if (w, v) in ra.values]
    keys_b = set(rb.values)
    common = [k for k in keys_a if k in keys_b]
    if not common:
        raise UsageError(f"{ra.folder} and {rb.folder} share no workload in the same variant: "
                         "nothing to compare")
    only_a = [k for k in keys_a if k not in keys_b]
    only_b = [k for k in rb.values if k not in set(keys_a)]
    for label, keys in (("A", only_a), ("B", only_b)):
        if keys:
            names = ", ".join(f"{w} {v}" for w, v in keys)
            warnings.append(f"only in run {label} (not compared): {names}")

    pending: list[tuple[int, str, np.ndarray, np.ndarray]] = []
    rows: list[dict[str, Any]] = []
    for workload, variant in common:
        wa, wb = ra.workloads.get(workload, {}), rb.workloads.get(workload, {})
        ma, mb = wa.get("metric", {}), wb.get("metric", {})
        better = ma.get("better", "higher")
        row_warnings = []
        if (ma.get("unit"), ma.get("better", "higher")) != (mb.get("unit"),
                                                             mb.get("better", "higher")):
            warnings.append(f"{workload}: metric differs between the runs ({ma.get('unit')} "
                            f"vs {mb.get('unit')}): not compared")
            continue
        if wa.get("command") != wb.get("command"):
            row_warnings.append("the workload's command differs between the runs")
        va, vb = ra.values[(workload, variant)], rb.values[(workload, variant)]
        row: dict[str, Any] = {
            "workload": workload, "variant": variant, "baseline": ra.baseline,
            "metric": ma.get("name", "value"), "unit": ma.get("unit", ""), "better": better,
            "median_a": _median(va), "median_b": _median(vb),
            "overhead_a": None, "overhead_b": None, "performance": None, "overhead": None,
            "warnings": row_warnings,
        }
        la, lb = _log_costs(va, better), _log_costs(vb, better)
        if len(la) >= 2 and len(lb) >= 2:
            pending.append((len(rows), "performance", np.array(list(la.values())),
                            np.array(list(lb.values()))))
        else:
            row_warnings.append(f"too few blocks ({len(la)} in A, {len(lb)} in B) for the "
                                "change in performance")
        if variant not in (ra.baseline, rb.baseline):
            da = _paired(la, _log_costs(ra.values.get((workload, ra.baseline), {}), better))
            db = _paired(lb, _log_costs(rb.values.get((workload, rb.baseline), {}), better))
            row["overhead_a"] = math.expm1(float(np.mean(da))) if da.size else None
            row["overhead_b"] = math.expm1(float(np.mean(db))) if db.size else None
            if da.size >= 2 and db.size >= 2:
                pending.append((len(rows), "overhead", da, db))
            else:
                row_warnings.append(f"too few paired blocks ({da.size} in A, {db.size} in B) "
                                    "for the change in overhead")
        rows.append(row)

    if pending:
        tests = [welch_pvalues(xa, xb, margin) for _, _, xa, xb in pending]
        alphas = stats.family_alphas([t[0] for t in tests], [t[1] for t in tests], alpha)
        for (index, field, xa, xb), a_i in zip(pending, alphas, strict=True):
            rows[index][field] = change(xa, xb, margin, float(a_i), n_resamples, seed)
    return RunComparison(
        run_a=ra.run_id, run_b=rb.run_id, folder_a=ra.folder, folder_b=rb.folder,
        margin=margin, alpha=alpha, family_size=len(pending), different_hosts=different,
        rows=tuple(ChangeRow(**{**r, "warnings": tuple(r["warnings"])}) for r in rows),
        fact_changes=tuple(fact_changes(a.run, b.run)), warnings=tuple(warnings),
    )


def _paired(variant: dict[int, float], baseline: dict[int, float]) -> np.ndarray:
    blocks = pairing.paired_blocks(variant, baseline)
    return np.array([variant[b] - baseline[b] for b in blocks], dtype=float)


# ------------------------------------------------------------------------------ text


def change_text(c: Change | None) -> str:
    """``+3.1% [1.2, 5.0] regressed``."""
    return "-" if c is None else f"{pct_or_dash(c.estimate)} {interval(c.ci95)} {c.verdict}"


def _counts(changes: Sequence[tuple[ChangeRow, Change]]) -> str:
    by: dict[str, list[str]] = defaultdict(list)
    for row, c in changes:
        by[c.verdict].append(f"{row.workload} {row.variant} {pct_or_dash(c.estimate)}")
    parts = []
    for verdict in CHANGE_VERDICTS:
        items = by.get(verdict, [])
        if not items:
            continue
        parts.append(f"{len(items)} {verdict} ({', '.join(items)})"
                     if verdict in ("improved", "regressed") else f"{len(items)} {verdict}")
    return ", ".join(parts) or "none decided"


def is_unchanged(row: ChangeRow) -> bool:
    """Every change of the row (performance, overhead) was judged ``unchanged``; a row
    with no change computed (too few blocks) is not."""
    changes = [c for c in (row.performance, row.overhead) if c is not None]
    return bool(changes) and all(c.verdict == "unchanged" for c in changes)


def only_changed(result: RunComparison) -> RunComparison:
    """``--only-changed``: the comparison with its unchanged rows moved to ``hidden`` (the
    headline still counts them)."""
    rows = (*result.rows, *result.hidden)
    return dataclasses.replace(result, rows=tuple(r for r in rows if not is_unchanged(r)),
                               hidden=tuple(r for r in rows if is_unchanged(r)))


def hidden_line(result: RunComparison) -> str | None:
    """What ``--only-changed`` left out, or None when nothing was."""
    n = len(result.hidden)
    if not n:
        return None
    return (f"{n} unchanged workload/variant pair(s) not shown (--only-changed; every change "
            "in them unchanged)")


def headline(result: RunComparison) -> str:
    """One sentence: what changed from run A to run B."""
    rows = (*result.rows, *result.hidden)
    overhead = [(r, r.overhead) for r in rows if r.overhead is not None]
    performance = [(r, r.performance) for r in rows if r.performance is not None]
    text = (f"run {result.run_b} vs {result.run_a} (margin {margin_text(result.margin)}): "
            f"overhead {_counts(overhead) if overhead else 'not comparable'}; "
            f"raw performance {_counts(performance) if performance else 'not comparable'}")
    if result.different_hosts:
        text += " [DIFFERENT HOSTS]"
    return text


def summary_tables(result: RunComparison) -> list:  # list[bench.report.fit.Fitted]
    """The comparison as two rich tables for the terminal: raw performance, then overhead."""
    from rich.table import Table
    from rich.text import Text

    from bench.report.fit import Fitted

    style = {"unchanged": "green", "regressed": "red", "improved": "cyan",
             "inconclusive": "yellow"}

    def verdict(c: Change | None) -> tuple[str, Text]:
        if c is None:
            return "-", Text("")
        return (f"{pct_or_dash(c.estimate)} {interval(c.ci95)}",
                Text(c.verdict, style=style.get(c.verdict, "")))

    performance = Table(title=Text(
        f"raw performance, run B {result.run_b} vs run A {result.run_a}: change in cost per "
        f"unit of work (95% CI; Holm over {result.family_size})"))
    for column in ("workload", "variant", "median A", "median B", "unit", "change [95% CI]",
                   "verdict"):
        performance.add_column(column, justify="right" if "median" in column else "left",
                               no_wrap=True)
    overhead = Table(title=Text("overhead vs the baseline, run B vs run A"))
    for column in ("workload", "variant", "overhead A", "overhead B", "change [95% CI]",
                   "verdict"):
        overhead.add_column(column, justify="right" if "overhead " in column else "left",
                            no_wrap=True)
    for row in result.rows:
        performance.add_row(Text(row.workload), Text(row.variant), _number(row.median_a),
                            _number(row.median_b), Text(row.unit), *verdict(row.performance))
        if not row.is_baseline:
            overhead.add_row(Text(row.workload), Text(row.variant), pct_or_dash(row.overhead_a),
                             pct_or_dash(row.overhead_b), *verdict(row.overhead))
    tables = [table for table in (performance, overhead) if table.row_count]
    return [Fitted(table) for table in tables]


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def warning_lines(result: RunComparison) -> list[str]:
    lines = list(result.warnings)
    for row in result.rows:
        lines.extend(f"{row.workload} {row.variant}: {w}" for w in row.warnings)
    return lines


def warning_groups(result: RunComparison) -> list:  # list[bench.report.answer.WarningGroup]
    """The comparison's warnings grouped by kind, as ``bench run`` prints its own."""
    from bench.report.answer import group_warnings

    return group_warnings(result.warnings, ((f"{row.workload} {row.variant}", w)
                                            for row in result.rows for w in row.warnings))


def fact_lines(result: RunComparison, limit: int = 40) -> list[str]:
    """What differs between the runs' recorded set-ups: ``key: A -> B``."""
    lines = [f"{f.key}: {_short(f.a)} -> {_short(f.b)}" for f in result.fact_changes]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def _short(value: Any, width: int = 60) -> str:
    text = "(absent)" if value is None else str(value)
    return text if len(text) <= width else text[:width - 3] + "..."


# ------------------------------------------------------------------------ several runs


def compare_many(reference: LoadedRun, others: Sequence[LoadedRun], *,
                 allow_different_hosts: bool = False, margin: float | None = None,
                 alpha: float | None = None, seed: int = 0) -> list[RunComparison]:
    """Each of ``others`` against ``reference`` (pyperf's ``compare_to`` with several
    files). The family-wise error rate ``alpha`` (default: the reference's) holds over all
    of them: each comparison gets ``alpha / len(others)`` (Bonferroni), Holm within it."""
    if alpha is None:
        alpha = recorded(reference.run, f"{reference.folder / 'run.json'}").alpha
    share = alpha / max(1, len(others))
    return [compare_runs(reference, other, allow_different_hosts=allow_different_hosts,
                         margin=margin, alpha=share, seed=seed) for other in others]


def many_table(comparisons: Sequence[RunComparison]):  # bench.report.fit.Fitted
    """One table for several runs against the first: per workload and variant, run A's
    median, then each later run's raw-performance change and verdict, and its overhead
    change for non-baseline variants."""
    from rich.table import Table
    from rich.text import Text

    from bench.report.fit import Fitted

    first = comparisons[0]
    table = Table(title=Text(
        f"change in cost per unit of work vs run A {first.run_a} (95% CI; alpha "
        f"{first.alpha * len(comparisons):g} over {len(comparisons)} runs, Bonferroni, Holm "
        "within each)"))
    for column in ("workload", "variant", "median A"):
        table.add_column(column, justify="right" if column == "median A" else "left")
    for c in comparisons:
        table.add_column(f"run {c.run_b}")
    keys: list[tuple[str, str]] = []
    by_run: list[dict[tuple[str, str], ChangeRow]] = []
    medians: dict[tuple[str, str], float | None] = {}
    for c in comparisons:
        rows = {(r.workload, r.variant): r for r in (*c.rows, *c.hidden)}
        by_run.append(rows)
        for key, row in rows.items():
            if key not in medians:
                keys.append(key)
                medians[key] = row.median_a
    for key in keys:
        cells = []
        for rows in by_run:
            row = rows.get(key)
            if row is None or row.performance is None:
                cells.append(Text("-"))
                continue
            text = Text(f"{pct_or_dash(row.performance.estimate)} "
                        f"{interval(row.performance.ci95)} {row.performance.verdict}")
            if row.overhead is not None:
                text.append(f"; overhead {pct_or_dash(row.overhead.estimate)} "
                            f"{row.overhead.verdict}")
            cells.append(text)
        table.add_row(Text(key[0]), Text(key[1]), _number(medians[key]), *cells)
    return Fitted(table)
