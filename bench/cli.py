"""The ``bench`` command: parse, call the library, print. Nothing else lives here.

Errors the user can fix (:class:`bench.errors.UserError`) are caught once, in :func:`main`,
and printed as ``error: ...`` with exit code 2 for usage errors and 1 for failures.
"""

from __future__ import annotations

import dataclasses
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench import (
    analysis,
    calibrate,
    compare,
    doctor,
    engine,
    fallback,
    gating,
    guard,
    image,
    planning,
    results,
    runner,
    tune,
)
from bench.cpulist import default_cpus, format_cpus, parse_cpus
from bench.environments import registry
from bench.errors import UsageError, UserError
from bench.metrics import SamplingConfig
from bench.plan import (
    ADAPTIVE_MAX_BLOCKS,
    DEFAULT_ALPHA,
    DEFAULT_BLOCKS,
    DEFAULT_MARGIN,
    DEFAULT_MIN_BLOCKS,
    DEFAULT_WARMUP,
    QUICK_BUDGET_S,
    QUICK_MIN_BLOCKS,
    check_alpha,
    margin_from_percent,
    recorded,
)
from bench.report import answer, export, formats, html, markdown, terminal
from bench.report.fit import Fitted
from bench.variants import DEFAULT_VARIANTS, EXAMPLE_VARIANTS, VARIANT_SETS
from bench.workloads import SUITES, image_packages, load_workloads, select_workloads


def _console(stderr: bool = False) -> Console:
    """Rich console as wide as ``terminal_width()`` (tty, else COLUMNS, else 160)."""
    # Errors stay one line however long (soft wrap), so they can be grepped and parsed.
    return Console(stderr=stderr, highlight=False, soft_wrap=stderr,
                   width=terminal.terminal_width(sys.stderr if stderr else sys.stdout))


console = _console()
err_console = _console(stderr=True)


class CliReporter:
    """Renders the runner's events: stages as lines, detail in a status line, samples
    as a progress bar with workload, variant, block i/n and ETA."""

    def __init__(self, blocks: int, warmup: int) -> None:
        self.blocks = blocks
        self.warmup = warmup
        self.progress: Progress | None = None
        self.task = None
        self.status = None

    def stage(self, message: str) -> None:
        if message.startswith("  "):  # detail from a long step (image build)
            if self.status is None:
                self.status = console.status("")
                self.status.start()
            self.status.update(f"[dim]{escape(message.strip()[:110])}")
            return
        self._stop_status()
        console.print(f"[bold]>[/bold] {escape(message)}")

    def _stop_status(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def begin(self, total: int) -> None:
        self._stop_status()
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
        )
        self.progress.start()
        self.task = self.progress.add_task("starting", total=total)

    def sample(self, step, sample, done: int, total: int) -> None:
        assert self.progress is not None
        block = (f"warmup {step.block + self.warmup + 1}/{self.warmup}" if step.warmup
                 else f"block {step.block + 1}/{self.blocks}")
        where = escape(f"{step.workload.name:<22} {step.variant.id:<18} {block}")
        self.progress.update(self.task, completed=done, total=total, description=where)
        info = sample.extra.get("contaminated") if sample.contaminated else None
        if info:
            what = "re-taking" if info.get("retaken") else "block dropped"
            self.progress.console.print(
                f"[yellow]contaminated[/yellow] {where}: {escape(info['reason'])} "
                f"({info['figure']} {info['value']:.0%} > {info['threshold']:.0%}); {what}")
        if not sample.ok:
            self.progress.console.print(f"[yellow]failed sample[/yellow] {where}: "
                                        f"{escape(sample.error or '')}")

    def stopped(self, workload: str, reason: str, skipped: int) -> None:
        assert self.progress is not None
        self.progress.update(self.task, total=self.progress.tasks[0].total - skipped)
        self.progress.console.print(f"[green]stopped[/green] {escape(workload)}: "
                                    f"{escape(reason)} ({skipped} samples not needed)")

    def close(self) -> None:
        self._stop_status()
        if self.progress is not None:
            self.progress.stop()


def print_summary(summary: analysis.Summary) -> None:
    console.print()
    banner = terminal.fallback_banner(summary)
    if banner is not None:  # said first: what ran is not what was asked for
        console.print(f"[bold yellow]{escape(banner)}[/bold yellow]\n", soft_wrap=True)
    console.print(terminal.summary_table(summary))
    for line in terminal.verdict_lines(summary):
        console.print(f"  {escape(line)}")
    ladder = terminal.ladder_table(summary)
    if ladder is not None:
        console.print()
        console.print(ladder)
        for line in terminal.ladder_lines(summary):
            console.print(f"  {escape(line)}")
    console.print(f"\n[bold]{escape(answer.headline(summary))}[/bold]")
    for note in (answer.basis_note(summary), answer.native_note(summary),
                 answer.retake_note(summary)):
        if note:
            console.print(f"[dim]{escape(note)}[/dim]")
    _print_warnings(answer.warning_groups(summary))


def _print_warnings(groups: list[answer.WarningGroup], title: str = "warnings") -> None:
    """Warnings grouped by kind: the hint once, then each place it was seen."""
    if not groups:
        return
    console.print(f"\n[yellow]{title}:[/yellow]")
    for group in groups:
        console.print(f"  [yellow]![/yellow] {escape(group.heading)}")
        for item in group.items:
            console.print(f"      {escape(item)}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="container-overhead-bench")
def cli() -> None:
    """Does a container really cost nothing? Measure it, workload by workload."""
    # Ctrl-C stops any command even when started in the background of a script, where the
    # shell hands it SIGINT ignored (and Python then never raises KeyboardInterrupt).
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _workload_dirs(dirs: tuple[str, ...]) -> list[Path]:
    return [Path(d) for d in dirs]


def _fail_on(valid: tuple[str, ...], what: str):
    """``--fail-on KINDS``: verdicts (comma list, case-insensitive, repeatable) that make
    the command exit with 1 once its output is written; parsed before any work starts."""
    def parse(ctx, param, values):
        return gating.parse_kinds(values, valid)

    return click.option("--fail-on", "fail_on", multiple=True, metavar="KINDS",
                        callback=parse,
                        help=f"Exit with 1 (after printing) when any {what} has one of these "
                             f"verdicts: a comma list of {', '.join(valid)} (to gate a CI "
                             "job).")


@cli.command("run")
@click.option("--workload", "-w", "patterns", multiple=True, metavar="GLOB",
              help="Workloads to run (glob on the name, repeatable), within --suite when "
                   "given. Default: the standard suite (quick with --quick), plus every "
                   "workload of --workload-dir.")
@click.option("--workload-dir", "workload_dirs", multiple=True, metavar="DIR",
              help="Extra directory of workload TOML files (repeatable).")
@click.option("--suite", "suite_name", type=click.Choice(SUITES, case_sensitive=False),
              help="Workload set: quick (one per category, ~5 min), standard (~30 min), "
                   "full. Default: standard (quick with --quick).")
@click.option("--variants", "variant_specs", multiple=True, metavar="LIST",
              help=f"Variants to compare in every workload, e.g. '{EXAMPLE_VARIANTS}', "
                   "or 'ladder' (one mechanism added per "
                   "rung, each step compared with the one before). Default: each workload's "
                   "own matrix (bench list); with --quick, native and docker only. The "
                   "baseline is native.")
@click.option("--cpus", metavar="LIST",
              help="Measured CPUs, e.g. '1' or '2-3'. Default: all but CPU 0.")
@click.option("--blocks", type=int, help=f"Blocks per workload (default {DEFAULT_BLOCKS}; "
                                          "--quick is adaptive).")
@click.option("--warmup", type=int, default=DEFAULT_WARMUP, show_default=True,
              help="Warmup rounds per workload (kept in the data, not analysed).")
@click.option("--seed", type=int, help="Seed of the random order (default: random, recorded).")
@click.option("--margin", type=float, default=DEFAULT_MARGIN * 100, show_default=True,
              metavar="PCT", help="Equivalence margin in percent (2: +/-2%).")
@click.option("--alpha", type=float, default=DEFAULT_ALPHA, show_default=True,
              help="Family-wise error rate of the whole run (primary and mechanism "
                   "families, Holm within each).")
@click.option("--out", "out_dir", default="results", show_default=True, metavar="DIR",
              help="Directory that receives the run folder (a directory, not a file: "
                   "bench report -o writes files); --resume and --replay look up run "
                   "ids here.")
@click.option("--quick", is_flag=True,
              help="The quick run: short samples, adaptive, a measurement budget of "
                   f"{QUICK_BUDGET_S / 60:g} min (blocks go where comparisons are "
                   "undecided). With --blocks: that many blocks of short samples.")
@click.option("--replay", metavar="RUN", help="Run the plan of a saved run (folder or id) "
                                              "again (workloads, variants, CPUs, seed).")
@click.option("--adaptive", is_flag=True,
              help="Stop each workload once all its comparisons are decided "
                   "(looks spending alpha; false claims stay <= alpha).")
@click.option("--min-blocks", type=int, default=DEFAULT_MIN_BLOCKS,
              help=f"Adaptive: blocks before the first look (default {DEFAULT_MIN_BLOCKS}; "
                   f"{QUICK_MIN_BLOCKS} with --quick).")
@click.option("--max-blocks", type=int, help="Adaptive: at most this many blocks "
                                              f"(default {ADAPTIVE_MAX_BLOCKS}).")
@click.option("--budget", metavar="TIME",
              help="Measurement budget of the whole run, e.g. '90s', '10m' (set-up and image "
                   f"build not counted). Default: none ({QUICK_BUDGET_S / 60:g} min with "
                   "--quick).")
@click.option("--retake-threshold", type=float, metavar="PCT",
              default=guard.DEFAULT_FOREIGN_THRESHOLD * 100, show_default=True,
              help="A sample during which foreign work took more than PCT% of the measured "
                   "CPUs is contaminated: kept, left out, re-taken.")
@click.option("--steal-threshold", type=float, metavar="PCT",
              default=guard.DEFAULT_STEAL_THRESHOLD * 100, show_default=True,
              help="The same for hypervisor steal on the measured CPUs.")
@click.option("--no-retake", is_flag=True, help="Use every sample, contaminated or not.")
@click.option("--metrics-interval", type=float, metavar="SECONDS",
              help="How often resource metrics are polled during a sample (default 0.5; "
                   "also BENCH_METRICS_INTERVAL).")
@click.option("--metrics-series", is_flag=True,
              help="Keep every poll as a time series in samples.jsonl.")
@click.option("--resume", metavar="RUN", help="Continue an interrupted run (folder or id) "
                                              "in its folder (same plan and seed, missing "
                                              "samples only).")
@_fail_on(gating.RUN_KINDS, "comparison with the baseline")
def run_command(patterns, workload_dirs, suite_name, variant_specs, cpus, blocks, warmup, seed,
                margin, alpha, out_dir, quick, replay, adaptive, min_blocks, max_blocks, budget,
                retake_threshold, steal_threshold, no_retake, metrics_interval, metrics_series,
                resume, fail_on) -> None:
    """Measure workloads natively and in containers, interleaved, then summarise."""
    signal.signal(signal.SIGTERM, _terminate)
    if resume and replay:
        raise UsageError("--resume and --replay exclude each other")
    if resume:
        reporter = CliReporter(0, 0)
        loaded = results.load_run(resume, Path(out_dir))
        planned = recorded(loaded.run, f"{loaded.folder / results.RUN_FILE}")
        reporter.blocks, reporter.warmup = planned.blocks, planned.warmup
        try:
            outcome = runner.resume(loaded.folder, reporter=reporter,
                                    command=["bench", *sys.argv[1:]])
        finally:
            reporter.close()
        _finish(outcome, fail_on)
        return
    if replay:
        replay = str(results.resolve_run(replay, Path(out_dir)))
        plan = planning.replay(replay)
        reproduce = (results.load_run(replay).run.get("reproduce")
                     or ["bench", "run", "--replay", replay])
    else:
        options = plan_options(patterns=patterns, workload_dirs=workload_dirs,
                               suite_name=suite_name, variant_specs=variant_specs, cpus=cpus,
                               blocks=blocks, warmup=warmup, seed=seed, margin=margin,
                               alpha=alpha, quick=quick, adaptive=adaptive,
                               min_blocks=min_blocks, max_blocks=max_blocks, budget=budget,
                               no_retake=no_retake, retake_threshold=retake_threshold,
                               steal_threshold=steal_threshold)
        plan = planning.from_options(**options)
        reproduce = planning.reproduce_command(options, plan)
    plan, fallen_back = fallback.resolve(plan, progress=lambda m: console.print(escape(m)))
    if fallen_back:
        console.print(f"[bold yellow]{escape(fallback.banner(fallen_back))}[/bold yellow]",
                      soft_wrap=True)
    blocks_text = (f"{plan.min_blocks}-{plan.blocks} blocks (adaptive)" if plan.adaptive
                   else f"{plan.blocks} blocks")
    budget_text = (f"; budget {plan.budget_s / 60:g} min" if plan.budget_s is not None
                   else "")
    console.print(f"[bold]bench run[/bold]: {len(plan.workloads)} workload(s) x "
                  f"{escape(', '.join(v.id for v in plan.variants))}; CPUs "
                  f"{format_cpus(plan.cpus)}; {blocks_text} + {plan.warmup} "
                  f"warmup{budget_text}; seed {plan.seed}")
    reporter = CliReporter(plan.blocks, plan.warmup)
    try:
        outcome = runner.run(plan, Path(out_dir), reporter=reporter,
                             command=["bench", *sys.argv[1:]], replay_of=replay,
                             reproduce=reproduce,
                             sampling=_sampling(metrics_interval, metrics_series),
                             fallback=fallen_back)
    finally:
        reporter.close()
    _finish(outcome, fail_on)


def plan_options(**params: Any) -> dict[str, Any]:
    """``bench run``'s parsed options (click's parameter names) -> ``planning.from_options``
    keywords: the one place the two vocabularies meet."""
    return {
        "patterns": params["patterns"], "workload_dirs": _workload_dirs(params["workload_dirs"]),
        "suite": params["suite_name"], "variants": params["variant_specs"],
        "cpus": params["cpus"], "blocks": params["blocks"], "warmup": params["warmup"],
        "seed": params["seed"], "margin_percent": params["margin"], "alpha": params["alpha"],
        "quick": params["quick"], "adaptive": params["adaptive"],
        "min_blocks": params["min_blocks"], "max_blocks": params["max_blocks"],
        "budget": params["budget"], "retake": not params["no_retake"],
        "retake_threshold_percent": params["retake_threshold"],
        "steal_threshold_percent": params["steal_threshold"],
    }


def _sampling(interval: float | None, series: bool) -> SamplingConfig | None:
    """The CLI's metrics options over the environment's (None: environment or default)."""
    if interval is None and not series:
        return None
    base = SamplingConfig.from_environ()
    return SamplingConfig(base.interval_s if interval is None else interval,
                          series or base.series)


def _terminate(signum, frame) -> None:
    """SIGTERM stops a run like Ctrl-C: clean up, keep samples, mark it interrupted."""
    raise KeyboardInterrupt


def _finish(outcome: runner.RunOutcome, fail_on: frozenset[str] = frozenset()) -> None:
    """After a run: the summary, where the results are, and the exit status (--fail-on
    last: the run folder and its report exist whatever the gate says)."""
    loaded = results.load_run(outcome.folder)
    summary = analysis.summarize(loaded)
    print_summary(summary)
    console.print(f"\nresults: {outcome.folder}  ({outcome.samples} samples, "
                  f"{outcome.failed} failed)", soft_wrap=True)
    report = _write(html.render(loaded, summary),
                    str(outcome.folder / export.DEFAULT_NAMES["html"]))
    console.print(f"report: {escape(report)}", soft_wrap=True)
    if outcome.samples and outcome.failed == outcome.samples:
        raise UserError("every sample failed; see the warnings above and samples.jsonl")
    gating.check(gating.run_matches(summary, fail_on), fail_on)


@cli.command("calibrate")
@click.option("--workload", "-w", "patterns", multiple=True, metavar="GLOB",
              default=["cpu.sysbench", "memory.sysbench"], show_default=True,
              help="Workloads to calibrate with (glob, repeatable).")
@click.option("--cpus", metavar="LIST", help="Measured CPUs (default: all but CPU 0).")
@click.option("--blocks", type=int, default=10, show_default=True, help="Blocks.")
@click.option("--quota", type=float, default=calibrate.DEFAULT_QUOTA, show_default=True,
              help="Injected CFS quota, as a fraction of the measured CPUs.")
@click.option("--full-length", is_flag=True, help="Full sample durations (default: quick).")
@click.option("--seed", type=int, help="Seed of the random order.")
@click.option("--out", "out_dir", default="results", show_default=True, metavar="DIR",
              help="Directory that receives the run folder.")
def calibrate_command(patterns, cpus, blocks, quota, full_length, seed, out_dir) -> None:
    """Prove the verdicts on this host: A/A must be equivalent, an injected CPU quota
    must be found with its true overhead inside the CI; prints the host's resolution."""
    if not 0 < quota < 1:
        raise UsageError(f"--quota must be between 0 and 1 (got {quota:g})")
    workloads = select_workloads(load_workloads(), list(patterns))
    plan = calibrate.plan(workloads, parse_cpus(cpus) if cpus else default_cpus(),
                          blocks, seed if seed is not None else secrets.randbelow(2**31),
                          quota, quick=not full_length)
    console.print(f"[bold]bench calibrate[/bold]: {len(workloads)} workload(s) x "
                  f"{escape(', '.join(v.id for v in plan.variants))}; {blocks} blocks; "
                  f"expected injected overhead {(1 / quota - 1) * 100:+.1f}%")
    reporter = CliReporter(plan.blocks, plan.warmup)
    try:
        outcome = runner.run(plan, Path(out_dir), reporter=reporter,
                             command=["bench", *sys.argv[1:]])
    finally:
        reporter.close()
    checks, resolution = calibrate.evaluate(results.load_run(outcome.folder), quota)
    console.print()
    for line in calibrate.format_lines(checks, resolution):
        style = "red" if line.startswith("FAIL") else "green" if line.startswith("PASS") else ""
        console.print(f"[{style}]{escape(line)}[/{style}]" if style else escape(line))
    console.print(f"\nresults: {outcome.folder}", soft_wrap=True)
    if not all(c.passed for c in checks):
        raise UserError("calibration failed: see FAIL lines above (noisy host? more blocks?)")


@cli.command("analyze")
@click.argument("run_folder", metavar="RUN")
@click.option("--margin", type=float, metavar="PCT",
              help="Equivalence margin in percent (default: the run's).")
@click.option("--alpha", type=float, help="Family-wise error rate (default: the run's).")
@_fail_on(gating.RUN_KINDS, "comparison with the baseline")
def analyze_command(run_folder, margin, alpha, fail_on) -> None:
    """Re-analyse a saved run without measuring again. RUN: its folder, a file in it, or its
    id under results/ (or latest)."""
    margin = _margin_alpha(margin, alpha)
    loaded = results.load_run(run_folder)
    summary = analysis.summarize(loaded, margin=margin, alpha=alpha)
    print_summary(summary)
    gating.check(gating.run_matches(summary, fail_on), fail_on)


def _margin_alpha(margin: float | None, alpha: float | None) -> float | None:
    """A re-analysis' --margin (percent) as a fraction, both options checked (None: the
    run's own)."""
    fraction = None if margin is None else margin_from_percent(margin)
    if alpha is not None:
        check_alpha(alpha)
    return fraction


def _write(text: str, target: str) -> str:
    """Write a formatter's output to a file ('-': stdout); returns where it went."""
    if target == "-":
        click.echo(text, nl=False)
        return "stdout"
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as err:
        raise UserError(f"{target}: cannot write: {err.strerror}") from None
    return target


@cli.command("report")
@click.argument("run_folder", metavar="RUN")
@click.option("--output", "-o", metavar="FILE",
              help="Where to write ('-': stdout); its extension (.html, .md, .csv, .json) "
                   "gives the format when --format is not given. Default: report.html, "
                   "report.md, samples.csv or summary.json in the run folder.")
@click.option("--format", "fmt", type=click.Choice(formats.FORMATS, case_sensitive=False),
              help="html: self-contained report; md: for pull requests and wikis; csv: one "
                   "row per sample; json: the summary. Default: from the --output "
                   "extension, else html.")
@click.option("--margin", type=float, metavar="PCT",
              help="Equivalence margin in percent (default: the run's).")
@click.option("--alpha", type=float, help="Family-wise error rate (default: the run's).")
def report_command(run_folder, output, fmt, margin, alpha) -> None:
    """Write the comparison report of a saved run (one file, works offline). RUN: its
    folder, a file in it, or its id under results/ (or latest)."""
    margin = _margin_alpha(margin, alpha)
    fmt = formats.choose(fmt, output, formats.FORMATS, "html")
    loaded = results.load_run(run_folder)
    summary = analysis.summarize(loaded, margin=margin, alpha=alpha)
    target = _write(formats.render(fmt, loaded, summary),
                    output or str(loaded.folder / export.DEFAULT_NAMES[fmt]))
    if target != "stdout":
        console.print(f"report: {escape(target)}", soft_wrap=True)


COMPARE_FORMATS = ("text", "md", "json")


@cli.command("compare")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.argument("more", metavar="[RUN_C ...]", nargs=-1)
@click.option("--allow-different-hosts", is_flag=True,
              help="Compare runs recorded on different hosts (the output says so).")
@click.option("--format", "fmt", type=click.Choice(COMPARE_FORMATS, case_sensitive=False),
              help="text: a table here; md or json: for files and tools. Default: from the "
                   "--output extension (.md, .json), else text.")
@click.option("--output", "-o", metavar="FILE",
              help="Write md or json here ('-': stdout). Default: stdout.")
@click.option("--margin", type=float, metavar="PCT",
              help="Equivalence margin in percent (default: run A's).")
@click.option("--alpha", type=float, help="Family-wise error rate (default: run A's).")
@_fail_on(gating.COMPARE_KINDS, "change")
@click.option("--fail-on-regression", is_flag=True, hidden=True,
              help="Deprecated: --fail-on regressed.")
@click.option("--only-changed", is_flag=True,
              help="Show only the workloads and variants with a change that is not "
                   "'unchanged' (says how many were left out).")
def compare_command(run_a, run_b, allow_different_hosts, fmt, output, margin, alpha,
                    fail_on, fail_on_regression, only_changed, more) -> None:
    """Compare two saved runs: before/after an engine, kernel or configuration change.
    RUN_A, RUN_B: a run folder, a file in it, or a run id under results/ (or latest).
    With more runs, each is compared with RUN_A in one table."""
    margin = _margin_alpha(margin, alpha)
    fmt = formats.choose(fmt, output, COMPARE_FORMATS, "text")
    if output and fmt == "text":
        raise UsageError("--output needs --format md or json (or a .md or .json file)")
    if fail_on_regression:  # the old spelling of --fail-on regressed
        fail_on = fail_on | {"regressed"}
    if more:
        _compare_many([run_a, run_b, *more], allow_different_hosts, fmt, output, margin,
                      alpha, fail_on, only_changed)
        return
    result = compare.compare_runs(
        results.load_run(run_a), results.load_run(run_b),
        allow_different_hosts=allow_different_hosts,
        margin=margin, alpha=alpha)
    if only_changed:
        result = compare.only_changed(result)
    if fmt != "text":
        text = markdown.compare(result) if fmt == "md" else export.compare_json(result)
        target = _write(text, output or "-")
        if target != "stdout":
            console.print(f"comparison: {escape(target)}")
        gating.check(gating.compare_matches(result, fail_on), fail_on)
        return
    if result.different_hosts:
        console.print("[bold red]different hosts[/bold red]: compared with "
                      "--allow-different-hosts")
    for table in compare.summary_tables(result):
        console.print(table)
    hidden = compare.hidden_line(result)
    if hidden:
        console.print(escape(hidden))
    console.print(f"\n[bold]{escape(compare.headline(result))}[/bold]")
    _print_warnings(compare.warning_groups(result))
    facts = compare.fact_lines(result)
    if facts:
        console.print("\n[yellow]what differs between the runs:[/yellow]")
        for line in facts:
            console.print(f"  {escape(line)}")
    gating.check(gating.compare_matches(result, fail_on), fail_on)


def _compare_many(runs, allow_different_hosts, fmt, output, margin, alpha, fail_on,
                  only_changed) -> None:
    """``bench compare A B C ...``: each later run against A, one table (text) or one
    document holding every comparison (md, json); the gate looks at all of them."""
    reference, *others = (results.load_run(r) for r in runs)
    found = compare.compare_many(reference, others, allow_different_hosts=allow_different_hosts,
                                 margin=margin, alpha=alpha)
    if only_changed:
        found = [compare.only_changed(c) for c in found]
    if fmt != "text":
        text = ("\n".join(markdown.compare(c) for c in found) if fmt == "md"
                else export.compare_many_json(found))
        target = _write(text, output or "-")
        if target != "stdout":
            console.print(f"comparison: {escape(target)}")
    else:
        console.print(compare.many_table(found))
        for c in found:
            console.print(f"\n[bold]{escape(compare.headline(c))}[/bold]")
            if c.different_hosts:
                console.print("[bold red]different hosts[/bold red]: compared with "
                              "--allow-different-hosts")
            _print_warnings(compare.warning_groups(c), f"warnings, run {c.run_b}")
            facts = compare.fact_lines(c, limit=10)
            if facts:
                console.print(f"[yellow]what differs from run A in run {c.run_b}:[/yellow]")
                for line in facts:
                    console.print(f"  {escape(line)}")
    matches = []
    for c in found:
        matches += [dataclasses.replace(m, variant=f"{m.variant} (run {c.run_b})")
                    for m in gating.compare_matches(c, fail_on)]
    gating.check(matches, fail_on)


@cli.command("list")
@click.option("--workload-dir", "workload_dirs", multiple=True, metavar="DIR",
              help="Extra directory of workload TOML files (repeatable).")
def list_command(workload_dirs) -> None:
    """Show the workloads, their metrics and the variants they can run in."""
    from rich.table import Table

    table = Table(title="workloads")
    for column in ("name", "category", "metric", "roles", "default variants", "suites"):
        table.add_column(column)
    for w in load_workloads(_workload_dirs(workload_dirs)):
        metric = f"{w.metric.name} ({w.metric.unit}, {w.metric.better} is better)"
        roles = "server + client" if w.two_role else "single"
        table.add_row(escape(w.name), w.category, escape(metric), roles,
                      escape(", ".join(w.variants or DEFAULT_VARIANTS.split(","))),
                      ", ".join(w.suites) or "full")
    # Below the table's width, one block per workload: no name or unit is ever cut.
    console.print(Fitted(table, identity=1))
    console.print(f"without --variants, each workload runs in its default variants "
                  f"({DEFAULT_VARIANTS} when it names none); variant settings:")
    for env in registry.names():
        kind = registry.kind_class(env)
        if not kind.listed:
            continue
        axes = kind.options
        detail = "; ".join(f"{k}={'|'.join(v)}" for k, v in axes.items()) or "no settings"
        console.print(f"  {env}: {escape(detail)}")
    console.print("variant sets: ladder = " + escape(" -> ".join(VARIANT_SETS["ladder"])))


@cli.command("doctor")
def doctor_command() -> None:
    """Check this host: engine, image, CPU governor, SMT, noise."""
    checks = doctor.run_checks()
    style = {"ok": "green", "warn": "yellow", "fail": "red"}
    for check in checks:
        console.print(f"[{style[check.status]}]{check.status:>4}[/] {check.name}: "
                      f"{escape(check.message)}")
        if check.hint and check.status != "ok":
            console.print(f"      hint: {escape(check.hint)}")
    if any(c.status == "fail" for c in checks):
        raise UserError("doctor found problems (see above)")


@cli.command("tune")
@click.option("--cpus", metavar="LIST", help="Measured CPUs to clear (default: all but CPU 0).")
@click.option("--reset", is_flag=True, help="Put back what 'bench tune' changed.")
def tune_command(cpus, reset) -> None:
    """Move IRQs and movable tasks off the measured CPUs, governor to performance, turbo
    off, where the host allows it; reversible with --reset (recorded in
    /var/lib/bench/tune.json)."""
    if reset:
        lines = tune.format_changes(tune.reset())
    else:
        lines = tune.format_changes(tune.apply(parse_cpus(cpus) if cpus else default_cpus()))
    for line in lines:
        console.print(escape(line))


@cli.command("clean")
@click.option("--run", "run", metavar="RUN",
              help="Only what this run created (its folder, a file in it, or its id).")
@click.option("--images", is_flag=True, help="Also remove benchmark images (and cached root "
                                            "filesystems) of older recipes.")
def clean_command(run, images) -> None:
    """Remove what the project left behind in every environment: containers, networks,
    volumes, network namespaces, cgroups (where an environment's service answers)."""
    removed, notes = registry.clean(results.run_id_of(run) if run else None, images)
    for line in removed:
        console.print(escape(line))
    for note in notes:
        console.print(escape(note))
    console.print(f"{len(removed)} object(s) removed" if removed else "nothing to remove")


@cli.group("image")
def image_group() -> None:
    """The local benchmark image (no registry needed)."""


@image_group.command("build")
@click.option("--rebuild", is_flag=True, help="Build even when the recipe's image exists.")
@click.option("--workload-dir", "workload_dirs", multiple=True, metavar="DIR",
              help="Extra directory of workload TOML files whose packages to include.")
def image_build_command(rebuild, workload_dirs) -> None:
    """Build the benchmark image from the host's own release and package versions."""
    packages = image_packages(load_workloads(_workload_dirs(workload_dirs)))
    client = engine.connect()
    reporter = CliReporter(0, 0)
    try:
        recipe, built = image.ensure_image(client, packages, progress=reporter.stage,
                                           rebuild=rebuild)
    finally:
        reporter.close()
    state = "built" if built else "already present (recipe unchanged)"
    console.print(f"image {recipe.tag} {state}")
    for name, version in recipe.packages:
        console.print(f"  {name} {version}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turn UserErrors into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="bench", standalone_mode=False)
    except click.exceptions.Abort as abort:  # click turns Ctrl-C into Abort
        stop = abort.__cause__
        if isinstance(stop, runner.Interrupted):
            folder = escape(str(stop.outcome.folder))
            err_console.print(f"error: interrupted; {stop.outcome.samples} completed samples "
                              f"kept in {folder}; continue with 'bench run --resume "
                              f"{folder}'")
        else:
            err_console.print("error: interrupted")
        return 130
    except click.UsageError as err:
        err_console.print(f"error: {escape(err.format_message())}")
        return 2
    except click.exceptions.Exit as err:
        return err.exit_code
    except UserError as err:
        err_console.print(f"error: {escape(str(err))}")
        return err.exit_code
    except KeyboardInterrupt:
        err_console.print("error: interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
