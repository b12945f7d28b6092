"""The overhead ladder (bench.ladder) through the fake environment, and how each report
shows it and the fallback banner.

The fake ladder's rungs have known costs: fake and fake[cv=0.01] cost 1.0,
fake[scale=1.1] and fake[scale=1.1,cv=0.01] cost 1.10. So the second step adds +10% and the
other two add nothing; the cumulative overhead is +10% from the third rung on.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from rich.console import Console

from bench import analysis, fallback, ladder, results, runner, stats
from bench.plan import make_plan
from bench.report import answer, export, html, markdown, svg, terminal
from bench.variants import LADDER, VARIANT_SETS, ladder_of, parse_variants
from tests.conftest import fake_workload
from tests.unit.test_report import make_run

RUNGS = ("fake", "fake[cv=0.01]", "fake[scale=1.1]", "fake[scale=1.1,cv=0.01]")
FALLBACK = {"reason": "cannot connect to /var/run/docker.sock <denied>",
            "mapping": {"docker": "oci[userns=on,net=veth,seccomp=default]",
                        "docker[net=host]": "oci[userns=on,seccomp=default]"}}


def no_engine():
    raise AssertionError("fake variants must not connect to an engine")


def ladder_plan(blocks=12, matrix=None, adaptive=False, ladder_ids=RUNGS):
    workloads = [fake_workload("cpu.a"), fake_workload("memory.b", better="lower")]
    return make_plan(workloads, parse_variants([",".join(RUNGS)]), (0,),
                     blocks=blocks, warmup=0, seed=7, matrix=matrix, adaptive=adaptive,
                     min_blocks=5, ladder=tuple(ladder_ids))


@pytest.fixture(scope="module")
def fake_ladder(tmp_path_factory):
    """One ladder run: cpu.a climbs every rung, memory.b skips fake[cv=0.01]."""
    plan = ladder_plan(matrix={"cpu.a": RUNGS, "memory.b": (RUNGS[0], *RUNGS[2:])})
    outcome = runner.run(plan, tmp_path_factory.mktemp("ladder"), connect=no_engine)
    loaded = results.load_run(outcome.folder)
    return loaded, analysis.summarize(loaded)


def climb(summary, workload):
    return next(w for w in summary.ladder.workloads if w.workload == workload)


# ---------------------------------------------------------------------------- analysis


def test_the_injected_step_is_found_and_the_others_are_equivalent(fake_ladder):
    loaded, summary = fake_ladder
    assert loaded.run["plan"]["ladder"] == list(RUNGS)
    assert summary.ladder.rungs == RUNGS
    steps = climb(summary, "cpu.a").steps
    assert [(s.previous, s.rung) for s in steps] == list(itertools.pairwise(RUNGS))
    assert [s.verdict for s in steps] == ["equivalent", "overhead", "equivalent"]
    injected = steps[1].comparison
    assert injected.ci95.contains(0.10) and injected.ci95.lo > 0.05
    assert steps[1].share == pytest.approx(
        math.log1p(injected.overhead) / math.log1p(climb(summary, "cpu.a").total))


def test_steps_use_the_runs_statistics_with_holm_over_the_steps(fake_ladder):
    loaded, summary = fake_ladder
    run_ladder = summary.ladder
    assert run_ladder.family_size == 3 + 2  # cpu.a: 3 steps, memory.b: 2
    # One run, one error budget: the ladder's family shares alpha with the others.
    assert sum(f["alpha"] for f in summary.families.values()) == pytest.approx(0.05)
    assert summary.families["ladder"] == {"size": 5, "alpha": pytest.approx(
        0.05 * 0.2 * 5 / (summary.families["mechanisms"]["size"] + 5))}
    assert (run_ladder.margin, run_ladder.alpha, run_ladder.correction) == (
        0.02, summary.families["ladder"]["alpha"], "holm")
    values = {}
    for s in loaded.samples:
        if s.ok and not s.warmup:
            values.setdefault((s.workload, s.variant), {})[s.block] = s.value
    items = []
    for w in run_ladder.workloads:
        for step in w.steps:
            mine, base = values[(w.workload, step.rung)], values[(w.workload, step.previous)]
            blocks = sorted(set(mine) & set(base))
            items.append(([mine[b] for b in blocks], [base[b] for b in blocks], w.better))
    expected = stats.compare_family(items, margin=0.02, alpha=run_ladder.alpha, seed=7)
    assert [s.comparison for w in run_ladder.workloads for s in w.steps] == expected


def test_cumulative_overhead_adds_up_and_matches_the_main_comparisons(fake_ladder):
    _, summary = fake_ladder
    main = {(r.workload, r.variant): r.comparison for r in summary.rows if r.comparison}
    for w in summary.ladder.workloads:
        assert w.first == "fake"
        running = 0.0
        for step in w.steps:
            running = math.expm1(math.log1p(running) + math.log1p(step.comparison.overhead))
            assert step.cumulative == pytest.approx(running, abs=1e-12)  # every block paired
            assert step.cumulative == pytest.approx(main[(w.workload, step.rung)].overhead)
        assert w.total == w.steps[-1].cumulative
        assert abs(w.total - 0.10) < 0.02


def test_a_workload_missing_a_rung_steps_over_it(fake_ladder):
    _, summary = fake_ladder
    steps = climb(summary, "memory.b").steps
    assert [(s.previous, s.rung) for s in steps] == [("fake", "fake[scale=1.1]"),
                                                     ("fake[scale=1.1]", RUNGS[3])]
    assert steps[0].skipped == ("fake[cv=0.01]",)
    assert "steps over fake[cv=0.01] (not run)" in steps[0].note
    assert steps[0].adds == "+ cv=0.01; + scale=1.1, without cv=0.01"  # both rungs' mechanisms
    assert [s.verdict for s in steps] == ["overhead", "equivalent"]
    assert steps[0].comparison.ci95.contains(0.10)


def test_attribution_names_the_overhead_step_with_its_interval_and_share(fake_ladder):
    _, summary = fake_ladder
    w = climb(summary, "cpu.a")
    c = w.steps[1].comparison
    assert w.attribution == (
        f"cpu.a: {w.total * 100:+.1f}% total; {c.overhead * 100:+.1f}% "
        f"[{c.ci95.lo * 100:.1f}, {c.ci95.hi * 100:.1f}] at '+ scale=1.1, without cv=0.01' "
        f"({w.steps[1].share * 100:.0f}% of the total); other steps: 2 equivalent")


def test_no_ladder_no_ladder_section(tmp_path):
    plan = make_plan([fake_workload("cpu.a")], parse_variants(["fake,fake[cv=0.01]"]),
                     (0,), blocks=4, warmup=0, seed=1)
    loaded = results.load_run(runner.run(plan, tmp_path, connect=no_engine).folder)
    summary = analysis.summarize(loaded)
    assert loaded.run["plan"]["ladder"] == [] and summary.ladder is None
    data = json.loads(export.summary_json(summary, loaded))
    assert "ladder" not in data and "fallback" not in data
    document = html.render(loaded, summary)
    assert 'id="ladder"' not in document and 'href="#ladder"' not in document
    assert "Overhead ladder" not in markdown.render(loaded, summary)
    assert terminal.ladder_table(summary) is None and terminal.ladder_lines(summary) == []


def test_adaptive_ladder_runs_use_group_sequential_steps(tmp_path):
    plan = ladder_plan(blocks=20, adaptive=True)
    loaded = results.load_run(runner.run(plan, tmp_path, connect=no_engine).folder)
    assert loaded.run["stopped"]  # the runner stopped on the main comparisons
    summary = analysis.summarize(loaded)
    assert summary.ladder.correction == "group-sequential"
    for w in summary.ladder.workloads:
        assert [s.verdict == "overhead" for s in w.steps] == [False, True, False]
        assert w.steps[1].comparison.ci95.contains(0.10)
        assert {w.steps[0].verdict, w.steps[2].verdict} <= {"equivalent", "inconclusive"}
        # each step at most at alpha / (steps) per look: Bonferroni over the family
        assert all(s.comparison.alpha <= 0.05 / summary.ladder.family_size for s in w.steps)


# ------------------------------------------------------------------- pure ladder function


def redis_like(total_blocks=12, seed=3, give_back=True):
    """Values of the real ladder's rungs for one workload: +5% at the veth step, given back
    when the ladder leaves the veth again, and +24% at the published port."""
    rng = np.random.default_rng(seed)
    costs = {rung: 1.0 for rung in VARIANT_SETS["ladder"]}
    factor = 1.0
    for rung in VARIANT_SETS["ladder"]:
        factor *= {"oci[userns=on,net=veth]": 1.05,
                   "oci[seccomp=default]": 1 / 1.05 if give_back else 1.0,
                   "docker": 1.24}.get(rung, 1.0)
        costs[rung] = factor
    return {("app.redis-get", rung): {b: 1e5 / (cost * math.exp(rng.normal(0, 0.005)))
                                     for b in range(total_blocks)}
            for rung, cost in costs.items()}


def test_real_ladder_words_in_the_attribution():
    values = redis_like()
    rungs = VARIANT_SETS["ladder"]
    result = ladder.analyse(rungs, [("app.redis-get", "higher")], values, margin=0.02,
                            alpha_for=lambda n: 0.05, seed=1)
    (w,) = result.workloads
    assert [s.adds for s in w.steps] == [d for _, d in LADDER[1:]]
    overhead = [s for s in w.steps if s.verdict == "overhead"]
    assert [s.rung for s in overhead] == ["oci[userns=on,net=veth]", "docker"]
    text = w.attribution
    assert text.startswith(f"app.redis-get: {w.total * 100:+.1f}% total; ")
    port = text.index("at '+ published port on 127.0.0.1 (userland proxy / NAT)'")
    veth = text.index("at '+ network namespace with a veth pair'")
    back = text.index("at '- user namespace, - veth")
    assert port < veth and port < back  # largest first
    assert "(faster)" in text[back:]
    assert text.endswith("; other steps: 6 equivalent")
    # A step gives time back: shares of the total would add up past 100%, so none.
    assert all(s.share is None for s in w.steps)
    again = ladder.analyse(rungs, [("app.redis-get", "higher")], redis_like(give_back=False),
                           margin=0.02, alpha_for=lambda n: 0.05, seed=1).workloads[0]
    shares = [s.share for s in again.steps if s.verdict == "overhead"]
    assert len(shares) == 2 and sum(shares) == pytest.approx(1.0, abs=0.03)


def test_rungs_without_data_are_stepped_over_and_too_few_blocks_say_so():
    values = redis_like(total_blocks=6)
    del values[("app.redis-get", "oci[userns=on]")]  # planned, every sample failed
    values[("app.redis-get", "docker")] = {0: 1e5}  # one block only
    result = ladder.analyse(VARIANT_SETS["ladder"], [("app.redis-get", "higher")],
                            values, margin=0.02, alpha_for=lambda n: 0.05)
    steps = {s.rung: s for s in result.workloads[0].steps}
    assert "oci[userns=on]" not in steps
    assert steps["oci[userns=on,net=veth]"].previous == "oci"
    assert steps["oci[userns=on,net=veth]"].note == "steps over oci[userns=on] (no data)"
    assert steps["docker"].comparison is None
    assert steps["docker"].note.startswith("only 1 complete block(s) paired with")
    assert result.family_size == len(steps) - 1


def test_a_fallback_ladder_describes_what_each_stand_in_really_changes():
    """No engine: the docker rungs ran as oci variants (bench.fallback); their steps say
    which settings changed and which rung they stand in for, not the docker mechanism."""
    variants = parse_variants(["ladder"])
    plan = make_plan([fake_workload("app.redis-get")], variants, (0,),
                     ladder=ladder_of(variants))
    oci_plan, mapping, _ = fallback.to_oci(plan)
    values = {("app.redis-get", rung): {b: 1e5 for b in range(6)} for rung in oci_plan.ladder}
    result = ladder.analyse(oci_plan.ladder, [("app.redis-get", "higher")], values,
                            margin=0.02, alpha_for=lambda n: 0.05,
                            stand_ins={oci: docker for docker, oci in mapping.items()})
    adds = {s.rung: s.adds for s in result.workloads[0].steps}
    assert adds[mapping["docker"]] == "+ label=docker (stands in for docker)"
    # docker[net=host]'s stand-in is the ladder's oci[seccomp=default] plus a label
    assert adds[mapping["docker[port=direct]"]] == (
        "+ net=veth, without label=docker-net-host (stands in for docker[port=direct])")
    assert "published port" not in " ".join(adds.values())
    assert adds["oci[userns=on]"] == "+ user namespace"


def test_describe_uses_the_ladder_words_or_the_settings_that_change():
    assert ladder.describe("oci[userns=on]") == "+ user namespace"
    assert ladder.describe("fake[scale=1.1]", "fake") == "+ scale=1.1"
    assert ladder.describe("fake", "fake[cv=0.1]") == "without cv=0.1"
    assert ladder.describe("other[x=1]", "fake") == "other[x=1]"


# ----------------------------------------------------------------------------- reports


def test_reports_show_the_ladder(fake_ladder):
    loaded, summary = fake_ladder
    document = html.render(loaded, summary)
    section = document[document.index('<section id="ladder">'):]
    section = section[:section.index("</section>")]
    assert 'href="#ladder"' in document
    for w in summary.ladder.workloads:
        assert svg.escape(w.attribution) in section
        for step in w.steps:
            c = step.comparison
            assert (f'data-rung="{svg.escape(step.rung)}" '
                    f'data-previous="{svg.escape(step.previous)}" '
                    f'data-verdict="{c.verdict}" data-cumulative="{step.cumulative!r}" '
                    f'data-overhead="{c.overhead!r}" data-ci-lo="{c.ci95.lo!r}" '
                    f'data-ci-hi="{c.ci95.hi!r}"') in section
    assert section.count('<svg class="cibar"') == summary.ladder.family_size
    assert section.count('<span class="badge overhead">overhead</span>') == 2
    assert f"Holm-Bonferroni over 5 steps at alpha {summary.ladder.alpha:g}" in section
    md = markdown.render(loaded, summary)
    assert "### Overhead ladder" in md
    for w in summary.ladder.workloads:
        assert f"- {markdown.cell(w.attribution)}" in md
    assert md.count("| **overhead** | +") == 2  # the ladder table's overhead steps
    data = json.loads(export.summary_json(summary, loaded))["ladder"]
    assert [r["variant"] for r in data["rungs"]] == list(RUNGS)
    assert data["family_size"] == 5 and data["correction"] == "holm"
    steps = data["workloads"][0]["steps"]
    assert [s["verdict"] for s in steps] == ["equivalent", "overhead", "equivalent"]
    assert steps[1]["ci95"] == [summary.ladder.workloads[0].steps[1].comparison.ci95.lo,
                                summary.ladder.workloads[0].steps[1].comparison.ci95.hi]
    assert set(steps[1]) >= {"rung", "previous", "adds", "skipped", "overhead", "cumulative",
                             "share", "note", "comparison"}


def test_terminal_shows_the_ladder_table_and_attribution_lines(fake_ladder):
    _, summary = fake_ladder
    console = Console(width=200, record=True)
    console.print(terminal.ladder_table(summary))
    text = console.export_text()
    assert "overhead ladder" in text and "Holm over 5 steps" in text
    for rung in RUNGS[1:]:
        assert rung in text
    assert terminal.ladder_lines(summary) == [w.attribution for w in summary.ladder.workloads]


def with_fallback(folder, fallback=FALLBACK):
    run = json.loads((folder / "run.json").read_text())
    run["fallback"] = fallback
    (folder / "run.json").write_text(json.dumps(run))
    return folder


def test_the_fallback_banner_comes_first_in_every_report(tmp_path):
    loaded = results.load_run(with_fallback(make_run(tmp_path)))
    summary = analysis.summarize(loaded)
    banner = terminal.fallback_banner(summary)
    assert banner == fallback.banner(FALLBACK) == (
        "Cannot connect to /var/run/docker.sock <denied>: the Docker variants ran in the "
        "daemonless OCI environment (runc) instead, as the closest oci variants: "
        "docker -> oci[userns=on,net=veth,seccomp=default], "
        "docker[net=host] -> oci[userns=on,seccomp=default]")
    document = html.render(loaded, summary)
    assert f'<p class="fallback" id="fallback" role="note">{svg.escape(banner)}</p>' in document
    assert document.index('id="fallback"') < document.index('id="headline"')
    assert "<denied>" not in document
    md = markdown.render(loaded, summary)
    assert md.index(markdown.cell(banner)) < md.index(markdown.cell(answer.headline(summary)))
    assert json.loads(export.summary_json(summary, loaded))["fallback"] == FALLBACK


def test_no_fallback_no_banner_and_a_damaged_one_is_still_said(tmp_path):
    loaded = results.load_run(make_run(tmp_path))
    summary = analysis.summarize(loaded)
    assert summary.fallback is None and terminal.fallback_banner(summary) is None
    assert 'id="fallback"' not in html.render(loaded, summary)
    assert "No container engine" not in markdown.render(loaded, summary)
    damaged = analysis.summarize(results.load_run(with_fallback(make_run(tmp_path),
                                                                {"mapping": ["x"]})))
    assert terminal.fallback_banner(damaged) == (
        "No container engine answered: the Docker variants ran in the daemonless OCI "
        "environment (runc) instead")


def test_ladder_reports_escape_every_string(tmp_path):
    hostile = "<script>alert(1)</script>"
    variants = ("native", "docker[x=<b>]", "docker[x=<i>|]")
    folder = make_run(tmp_path, workloads=(hostile,), variants=variants,
                      effects={"docker[x=<i>|]": 1.1}, blocks=8)
    run = json.loads((folder / "run.json").read_text())
    run["plan"]["ladder"] = list(variants)
    (folder / "run.json").write_text(json.dumps(run))
    loaded = results.load_run(with_fallback(folder, {"reason": "<img src=x>", "mapping": {}}))
    summary = analysis.summarize(loaded)
    assert [s.rung for s in summary.ladder.workloads[0].steps] == list(variants[1:])
    document = html.render(loaded, summary)
    lowered = document.lower()
    assert "<script" not in lowered and "<img" not in lowered
    assert "<b>" not in document and "<i>" not in document
    assert svg.escape(summary.ladder.workloads[0].attribution) in document
    md = markdown.render(loaded, summary)
    assert "<script>" not in md and "<b>" not in md and "<img" not in md
    assert "x=&lt;i&gt;\\|" in md  # a pipe in a rung cannot split the ladder table
    assert json.loads(export.summary_json(summary, loaded))["ladder"]["workloads"][0][
        "workload"] == hostile
