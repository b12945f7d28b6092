"""Host-side package installation: daemons of workload packages are not started."""

from __future__ import annotations

import subprocess

from bench import image


def test_policy_rc_d_is_in_place_only_during_the_install(tmp_path):
    policy = tmp_path / "policy-rc.d"
    said: list[str] = []
    with image._services_not_started(said.append, policy):
        # invoke-rc.d and deb-systemd-invoke run it; 101 means "action not allowed".
        assert subprocess.run([str(policy), "redis-server", "start"]).returncode == 101
    assert not policy.exists()
    assert said and "not started" in said[0]


def test_a_policy_the_host_already_has_is_kept(tmp_path):
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 0\n")
    with image._services_not_started(lambda _: None, policy):
        pass
    assert policy.read_text() == "#!/bin/sh\nexit 0\n"


def test_the_policy_is_removed_when_the_install_fails(tmp_path):
    policy = tmp_path / "policy-rc.d"
    try:
        with image._services_not_started(lambda _: None, policy):
            raise image.UserError("apt-get failed")
    except image.UserError:
        pass
    assert not policy.exists()
