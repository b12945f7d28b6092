"""Warnings carry catalogue codes and print grouped by kind: each hint once, every
comparison it concerns listed (issue 17)."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

from bench import analysis, results
from bench.diagnostics import CATALOGUE, Diagnostic, code_of
from bench.metrics.checks import ResourceChecks
from bench.report import answer, export
from bench.results import Sample

EXAMPLE = Path(__file__).resolve().parents[2] / "results" / "example"


def test_a_diagnostic_is_its_text_and_keeps_its_code():
    d = Diagnostic("high-spread", "high spread: CV 9% > 5%")
    assert d == f"high spread: CV 9% > 5%; {CATALOGUE['high-spread']}"
    assert isinstance(d, str) and json.dumps([d]) == json.dumps([str(d)])
    for same in (copy.deepcopy(d), pickle.loads(pickle.dumps(d))):
        assert code_of(same) == "high-spread" and same.message == d.message
    assert code_of("a plain note") is None
    assert Diagnostic("first-slow", "slow", hint="") == "slow"


def test_warnings_of_one_kind_share_one_heading_with_the_hint_once():
    spread = [("cpu.sysbench docker", Diagnostic("high-spread", "high spread: CV 9% > 5%")),
              ("memory.sysbench native", Diagnostic("high-spread", "high spread: CV 7% > 5%"))]
    lone = ("disk.fio docker", Diagnostic("first-slow", "first measured block slow"))
    plain = ("disk.fio native", "an uncatalogued note")
    groups = answer.group_warnings(["run status is 'interrupted'"],
                                   [spread[0], lone, plain, spread[1]])
    assert [g.heading for g in groups] == [
        "run status is 'interrupted'",
        f"high-spread (2): {CATALOGUE['high-spread']}",
        f"disk.fio docker: first measured block slow; {CATALOGUE['first-slow']}",
        "disk.fio native: an uncatalogued note",
    ]
    assert groups[1].items == ("cpu.sysbench docker: high spread: CV 9% > 5%",
                               "memory.sysbench native: high spread: CV 7% > 5%")
    assert all(not g.items for g in groups if g is not groups[1])


def test_every_warning_of_a_real_run_has_a_code_and_each_hint_prints_once():
    summary = analysis.summarize(results.load_run(EXAMPLE))
    placed = [w for row in summary.rows for w in row.warnings]
    assert len(placed) > 20
    assert all(code_of(w) in CATALOGUE for w in placed), [w for w in placed
                                                           if code_of(w) is None]
    groups = answer.warning_groups(summary)
    text = "\n".join([g.heading for g in groups] + [i for g in groups for i in g.items])
    repeated = {code for code in {code_of(w) for w in placed}
                if CATALOGUE[code] and text.count(CATALOGUE[code]) != 1}
    assert not repeated
    # Nothing is dropped: every warning's message is still shown.
    assert all(w.message in text for w in placed)
    assert len(groups) < len(placed) / 2


def test_the_json_export_carries_the_codes():
    loaded = results.load_run(EXAMPLE)
    data = export.summary_dict(analysis.summarize(loaded), loaded)
    rows = [r for r in data["rows"] if r["warnings"]]
    assert rows
    for row in rows:
        assert [d["code"] for d in row["diagnostics"]] and all(
            d["code"] in CATALOGUE for d in row["diagnostics"])
        assert [f"{d['message']}; {d['hint']}" if d["hint"] else d["message"]
                for d in row["diagnostics"]] == row["warnings"]


def test_resource_warnings_have_codes():
    checks = ResourceChecks()
    checks.add(Sample(run_id="r", seq=0, workload="w", variant="docker", env="docker",
                      block=0, position=0, warmup=False, status="ok", value=1.0, unit="x",
                      wall_s=2.0,
                      extra={"metrics": {"nr_throttled": 4, "throttled_s": 0.5,
                                         "error": "cgroup gone"},
                             "host": {"cpu_window_s": 2.0, "noise_fraction": 0.4,
                                      "steal_fraction": 0.3, "swap_in_pages": 10}}))
    codes = {code_of(w) for w in checks.warnings()}
    assert codes >= {"throttled", "noisy-host", "steal", "swap", "no-metrics"}
