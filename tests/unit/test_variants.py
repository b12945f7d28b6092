"""Variant specs parse into canonical ids; bad ones name what is wrong."""

from __future__ import annotations

import pytest

from bench.errors import UsageError
from bench.variants import parse_variant, parse_variants


def test_variants_parse_and_canonicalise():
    variants = parse_variants(["native,docker[net=host,seccomp=unconfined]", "docker"])
    assert [v.id for v in variants] == ["native", "docker[net=host,seccomp=unconfined]",
                                        "docker"]
    assert parse_variant("docker[net=bridge]") == parse_variant("docker")


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
        parse_variants([spec])
