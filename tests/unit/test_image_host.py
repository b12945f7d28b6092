"""Host-side package installation: daemons of workload packages are not started."""

from __future__ import annotations

import subprocess

import pytest

from bench import image


@pytest.fixture
def paths(tmp_path):
    return tmp_path / "policy-rc.d", tmp_path / "lock" / "policy.lock"


def test_policy_rc_d_is_in_place_only_during_the_install(paths):
    policy, lock = paths
    said: list[str] = []
    with image._services_not_started(said.append, policy, lock):
        # invoke-rc.d and deb-systemd-invoke run it; 101 means "action not allowed".
        assert subprocess.run([str(policy), "redis-server", "start"]).returncode == 101
    assert not policy.exists()
    assert said and "not started" in said[0]


def test_a_policy_the_host_already_has_is_kept(paths):
    policy, lock = paths
    policy.write_text("#!/bin/sh\nexit 0\n")
    with image._services_not_started(lambda _: None, policy, lock):
        pass
    assert policy.read_text() == "#!/bin/sh\nexit 0\n"


def test_one_left_by_a_killed_bench_is_replaced_and_removed(paths):
    policy, lock = paths
    policy.write_text(image.POLICY_RC_D_TEXT)  # a bench was killed mid-install
    with image._services_not_started(lambda _: None, policy, lock):
        assert policy.exists()
    assert not policy.exists()


def test_the_policy_is_removed_when_the_install_fails(paths):
    policy, lock = paths
    with pytest.raises(image.UserError), \
            image._services_not_started(lambda _: None, policy, lock):
        raise image.UserError("apt-get failed")
    assert not policy.exists()
