"""Workload files: valid input loads, bad input names the file and the key."""

from __future__ import annotations

import pytest

from bench.errors import UsageError
from bench.workloads import Workload, load_workload, load_workloads, select_workloads
from tests.conftest import VALID_TOML


def write(tmp_path, text, name="cpu.demo.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_workload_loads(workload_dir):
    workload = load_workload(workload_dir / "cpu.demo.toml")
    assert workload.name == "cpu.demo"
    assert workload.metric.better == "higher"
    assert workload.argv(threads=2) == ["demo", "--threads=2", "--time=3"]
    assert workload.argv(threads=1, quick=True) == ["demo", "--threads=1", "--time=1"]


def test_builtin_workloads_load_and_cover_cpu_and_memory():
    workloads = load_workloads()
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
        load_workload(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_non_utf8_workload_file(tmp_path):
    path = tmp_path / "cpu.bad.toml"
    path.write_bytes(b"name = \"\xff\xfe\"\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_workload(path)


def test_duplicate_workload_name_across_dirs(workload_dir, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "again.toml").write_text(VALID_TOML)
    with pytest.raises(UsageError, match="already declared"):
        load_workloads([workload_dir, other])


def test_user_dir_adds_workloads(workload_dir):
    names = [w.name for w in load_workloads([workload_dir])]
    assert "cpu.demo" in names and "cpu.sysbench" in names


def test_select_workloads_by_glob_and_unknown_glob():
    workloads = load_workloads()
    chosen = select_workloads(workloads, ["cpu.*"])
    assert chosen and all(w.category == "cpu" for w in chosen)
    with pytest.raises(UsageError, match="matches no workload"):
        select_workloads(workloads, ["gpu.*"])


def test_dockerfile_is_found_next_to_its_workload_file_and_survives_run_json(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "Dockerfile").write_text("ARG BENCH_IMAGE\nFROM ${BENCH_IMAGE}\n")
    path = write(tmp_path, VALID_TOML.replace('category = "cpu"',
                                              'category = "cpu"\ndockerfile = "img/Dockerfile"'))
    workload = load_workload(path)
    assert workload.dockerfile == str(tmp_path / "img" / "Dockerfile")
    again = Workload.from_dict(workload.to_dict())
    assert again.dockerfile == workload.dockerfile and again.image == ""
