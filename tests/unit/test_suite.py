"""Workload files, variants, CPU lists and plans: valid input loads, bad input names itself."""

from __future__ import annotations

import pytest

from bench import suite
from bench.errors import UsageError
from tests.conftest import VALID_TOML, fake_workload


def write(tmp_path, text, name="cpu.demo.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_workload_loads(workload_dir):
    workload = suite.load_workload(workload_dir / "cpu.demo.toml")
    assert workload.name == "cpu.demo"
    assert workload.metric.better == "higher"
    assert workload.argv(threads=2) == ["demo", "--threads=2", "--time=3"]
    assert workload.argv(threads=1, quick=True) == ["demo", "--threads=1", "--time=1"]


def test_builtin_workloads_load_and_cover_cpu_and_memory():
    workloads = suite.load_workloads()
    names = {w.name for w in workloads}
    assert {"cpu.sysbench", "memory.sysbench", "cpu.stress-ng-matrix"} <= names
    assert all(w.binaries and w.packages for w in workloads)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('category = "cpu"', 'category = "cpu"\ncolour = "red"'),
     "unknown key 'colour'"),
    (lambda t: t.replace('timeout = 30', 'timeout = "long"'), "key 'timeout' must be"),
    (lambda t: t.replace('name = "cpu.demo"\n', ''), "missing key 'name'"),
    (lambda t: t.replace('unit = "ops/s"\n', ''), "missing key 'metric.unit'"),
    (lambda t: t.replace('better = "higher"', 'better = "faster"'), "'metric.better'"),
    (lambda t: t.replace('parser = "regex"', 'parser = "magic"'), "unknown parser 'magic'"),
    (lambda t: t.replace('{duration}', '{seconds}'), "unknown placeholder '{seconds}'"),
    (lambda t: t.replace('name = "cpu.demo"', 'name = "mem.demo"'), "must start with"),
    (lambda t: t.replace('command = [', 'command = [1, '), "must be a list of"),
    (lambda t: t.replace('duration = 3', 'duration = -3'), "'duration' must be positive"),
    (lambda t: t.replace('[metric]', '[metric]\nspeed = 1'), "unknown key 'metric.speed'"),
    (lambda t: t + "\n[[[", "not valid TOML"),
    (lambda t: t.replace('rate: ([0-9.]+)', 'rate'), "needs a capture group"),
    (lambda t: t.replace('rate: ([0-9.]+)', '(rate'), "not a valid regex"),
    (lambda t: t.replace('parser = "regex"', 'parser = "json"'), "needs options.path"),
    (lambda t: t.replace('category = "cpu"', 'category = "cpu"\ndockerfile = "nope/Dockerfile"'),
     "key 'dockerfile': no such file"),
    (lambda t: t.replace('category = "cpu"', 'category = "cpu"\ndockerfile = "cpu.demo.toml"'
                         '\nimage = "mine:1"'), "keys 'image' and 'dockerfile' exclude"),
])
def test_bad_workload_file_names_file_and_key(tmp_path, edit, message):
    path = write(tmp_path, edit(VALID_TOML))
    with pytest.raises(UsageError) as err:
        suite.load_workload(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_non_utf8_workload_file(tmp_path):
    path = tmp_path / "cpu.bad.toml"
    path.write_bytes(b"name = \"\xff\xfe\"\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        suite.load_workload(path)


def test_duplicate_workload_name_across_dirs(workload_dir, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "again.toml").write_text(VALID_TOML)
    with pytest.raises(UsageError, match="already declared"):
        suite.load_workloads([workload_dir, other])


def test_user_dir_adds_workloads(workload_dir):
    names = [w.name for w in suite.load_workloads([workload_dir])]
    assert "cpu.demo" in names and "cpu.sysbench" in names


def test_select_workloads_by_glob_and_unknown_glob():
    workloads = suite.load_workloads()
    chosen = suite.select_workloads(workloads, ["cpu.*"])
    assert chosen and all(w.category == "cpu" for w in chosen)
    with pytest.raises(UsageError, match="matches no workload"):
        suite.select_workloads(workloads, ["gpu.*"])


def test_variants_parse_and_canonicalise():
    variants = suite.parse_variants(["native,docker[net=host,seccomp=unconfined]", "docker"])
    assert [v.id for v in variants] == ["native", "docker[net=host,seccomp=unconfined]",
                                        "docker"]
    assert suite.parse_variant("docker[net=bridge]") == suite.parse_variant("docker")


@pytest.mark.parametrize("spec, message", [
    ("podmen", "unknown environment 'podmen'"),
    ("docker[speed=fast]", "unknown axis 'speed'"),
    ("docker[net=wifi]", "unknown value 'wifi'"),
    ("docker[net]", "expected key=value"),
    ("docker[net=host,net=none]", "given twice"),
    ("native,native", "given twice"),
    ("Docker!", "cannot parse"),
])
def test_bad_variants(spec, message):
    with pytest.raises(UsageError, match=message):
        suite.parse_variants([spec])


def test_cpu_lists():
    online = suite.online_cpus()
    assert suite.parse_cpus(str(online[0])) == (online[0],)
    assert suite.format_cpus([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    with pytest.raises(UsageError, match="not online"):
        suite.parse_cpus("4096")
    with pytest.raises(UsageError, match="cannot parse"):
        suite.parse_cpus("one")
    with pytest.raises(UsageError, match="bad range"):
        suite.parse_cpus("3-1")


def test_default_cpus_leave_cpu_zero_to_the_harness():
    cpus = suite.default_cpus()
    if len(suite.online_cpus()) > 1:
        assert suite.online_cpus()[0] not in cpus
    assert cpus


@pytest.mark.parametrize("kwargs, message", [
    ({"blocks": 1}, "--blocks"),
    ({"warmup": -1}, "--warmup"),
    ({"margin": 0.0}, "--margin"),
    ({"alpha": 0.7}, "--alpha"),
])
def test_plan_validation(kwargs, message):
    variants = suite.parse_variants(["native,docker"])
    with pytest.raises(UsageError, match=message):
        suite.make_plan([fake_workload()], variants, (0,), **kwargs)


def test_plan_round_trips_through_dict():
    plan = suite.make_plan(suite.load_workloads()[:2], suite.parse_variants(["native,docker"]),
                           (0,), blocks=4, warmup=2, seed=7, quick=True)
    again = suite.Plan.from_dict(plan.to_dict())
    assert again.to_dict() == plan.to_dict()
    assert again.baseline.id == "native"


def test_baseline_is_first_variant_without_native():
    plan = suite.make_plan([fake_workload()], suite.parse_variants(["fake[scale=2],fake"]),
                           (0,))
    assert plan.baseline.id == "fake[scale=2]"


def test_dockerfile_is_found_next_to_its_workload_file_and_survives_run_json(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "Dockerfile").write_text("ARG BENCH_IMAGE\nFROM ${BENCH_IMAGE}\n")
    path = write(tmp_path, VALID_TOML.replace('category = "cpu"',
                                              'category = "cpu"\ndockerfile = "img/Dockerfile"'))
    workload = suite.load_workload(path)
    assert workload.dockerfile == str(tmp_path / "img" / "Dockerfile")
    again = suite.Workload.from_dict(workload.to_dict())
    assert again.dockerfile == workload.dockerfile and again.image == ""
