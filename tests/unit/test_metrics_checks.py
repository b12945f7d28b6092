"""Warnings from resource metrics: each fires on what it should and only on that."""

from __future__ import annotations

from bench import analysis, metrics, results
from bench.results import Sample


def sample(seq: int = 0, variant: str = "docker", *, wall_s: float = 3.0,
           **extra: dict) -> Sample:
    return Sample(run_id="r", seq=seq, workload="cpu.x", variant=variant, env="docker",
                  block=seq, position=0, warmup=False, status="ok", value=100.0,
                  unit="ops/s", requested_cpus=[1], affinity=[1], wall_s=wall_s,
                  extra=extra)


QUIET = {"cpu_window_s": 2.0, "noise_fraction": 0.01, "steal_fraction": 0.0,
         "swap_in_pages": 0, "swap_out_pages": 0, "memory_pressure_some_s": 0.0}


def test_quiet_samples_give_no_warning():
    samples = [sample(i, metrics={"nr_throttled": 0, "cpu_total_s": 2.0}, host=QUIET)
               for i in range(3)]
    assert metrics.resource_warnings(samples) == []
    assert metrics.resource_warnings([sample()]) == []  # no metrics at all: nothing to say


def test_throttling():
    samples = [sample(0, metrics={"nr_throttled": 0}),
               sample(1, metrics={"nr_throttled": 18, "throttled_s": 1.2}),
               sample(2, metrics={"nr_throttled": 20, "throttled_s": 0.9})]
    (warning,) = metrics.resource_warnings(samples)
    assert warning.startswith("CPU throttling in 2 sample(s)")
    assert "20 period(s) (1.20 s)" in warning and "CPU-quota variant" in warning


def test_noisy_host_and_steal_ignore_short_windows():
    noisy = [sample(0, host={**QUIET, "noise_fraction": 0.30}),
             sample(1, host={**QUIET, "noise_fraction": 0.02}),
             sample(2, host={**QUIET, "cpu_window_s": 0.3, "noise_fraction": 0.9,
                             "steal_fraction": 0.5})]
    (warning,) = metrics.resource_warnings(noisy)
    assert warning.startswith("noisy host in 1 sample(s)") and "up to 30%" in warning
    stolen = [sample(0, host={**QUIET, "steal_fraction": 0.1})]
    (warning,) = metrics.resource_warnings(stolen)
    assert warning.startswith("hypervisor steal in 1 sample(s)") and "10%" in warning


def test_frequency_change_over_a_row():
    steady = [sample(i, host={"freq_mhz_min": 2990.0, "freq_mhz_max": 3000.0}) for i in range(3)]
    assert metrics.resource_warnings(steady) == []
    varying = [*steady, sample(3, host={"freq_mhz_min": 2200.0, "freq_mhz_max": 3000.0})]
    (warning,) = metrics.resource_warnings(varying)
    assert "between 2200 and 3000 MHz" in warning and "performance" in warning


def test_swap_and_memory_pressure():
    samples = [sample(0, host={**QUIET, "swap_in_pages": 3, "swap_out_pages": 4}),
               sample(1, host={**QUIET, "memory_pressure_some_s": 0.3})]
    swap, pressure = metrics.resource_warnings(samples)
    assert swap.startswith("swap activity in 1 sample(s) (7 pages")
    assert pressure.startswith("memory pressure in 1 sample(s)") and "10.0%" in pressure


def test_unreadable_and_late_metrics_are_said():
    samples = [sample(0, metrics={"error": "container cgroup not readable: gone"}),
               sample(1, metrics={"final_read": "last poll", "final_read_lag_s": 0.4})]
    unread, late = metrics.resource_warnings(samples)
    assert unread.message == ("no resource metrics for 1 sample(s): container cgroup not "
                              "readable: gone")
    assert unread.code == "no-metrics" and "bench doctor" in unread
    assert "up to 0.40 s before the exit" in late


def test_the_catalogue_shows_them_per_row(tmp_path):
    run = {"schema_version": results.SCHEMA_VERSION, "run_id": "r", "status": "complete",
           "baseline": "native",
           "plan": {"variants": ["native", "docker"], "margin": 0.02, "alpha": 0.05,
                    "seed": 1, "workloads": [{"name": "cpu.x", "metric": {"better": "higher"}}]}}
    samples = []
    for block in range(3):
        samples.append(Sample(run_id="r", seq=2 * block, workload="cpu.x", variant="native",
                              env="native", block=block, position=0, warmup=False,
                              status="ok", value=100.0 + block, unit="ops/s",
                              requested_cpus=[1], affinity=[1], wall_s=3.0))
        samples.append(sample(2 * block + 1, metrics={"nr_throttled": 5, "throttled_s": 0.5}))
        samples[-1] = Sample(**{**samples[-1].to_dict(), "block": block})
    loaded = results.LoadedRun(tmp_path, run, samples)
    rows = {row.variant: row for row in analysis.summarize(loaded).rows}
    assert any("CPU throttling" in w for w in rows["docker"].warnings)
    assert not any("CPU throttling" in w for w in rows["native"].warnings)
