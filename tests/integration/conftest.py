"""Integration tests run against the real Docker engine (brought up by `make test`).

They are never skipped: without an engine they fail, saying how to get one.
"""

from __future__ import annotations

import pytest

from bench import engine, image
from bench.cpulist import online_cpus
from bench.workloads import image_packages


@pytest.fixture(scope="session")
def client():
    return engine.connect()


@pytest.fixture(scope="session")
def bench_image(client) -> str:
    """The benchmark image for the built-in workloads (built here when missing)."""
    packages = image_packages()
    recipe, _ = image.ensure_image(client, packages)
    return recipe.tag


@pytest.fixture
def measured_cpu() -> int:
    return online_cpus()[-1]


def leftovers(client, run_id: str) -> dict[str, list[str]]:
    return engine.leftovers(client, run_id)
