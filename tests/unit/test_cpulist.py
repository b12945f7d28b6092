"""CPU lists: the kernel's and --cpus, parsed and formatted in one place."""

from __future__ import annotations

import pytest

from bench.cpulist import default_cpus, format_cpus, online_cpus, parse, parse_cpus
from bench.errors import UsageError


def test_cpu_lists():
    online = online_cpus()
    assert parse_cpus(str(online[0])) == (online[0],)
    assert format_cpus([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    with pytest.raises(UsageError, match="not online"):
        parse_cpus("4096")
    with pytest.raises(UsageError, match="cannot parse"):
        parse_cpus("one")
    with pytest.raises(UsageError, match="bad range"):
        parse_cpus("3-1")


def test_default_cpus_leave_cpu_zero_to_the_harness():
    cpus = default_cpus()
    if len(online_cpus()) > 1:
        assert online_cpus()[0] not in cpus
    assert cpus


def test_kernel_lists():
    assert parse("0-2,5\n") == [0, 1, 2, 5]
    assert parse("") == []
    with pytest.raises(ValueError):
        parse("0-x")
