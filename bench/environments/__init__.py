"""Environments: where samples run, all behind one interface (see base.py).

The settings each environment accepts are declared with the variants, in
``bench.suite.ENVIRONMENT_AXES``.
"""

from __future__ import annotations

from typing import Any

from bench.environments.base import Environment, SampleContext
from bench.suite import Variant

__all__ = ["Environment", "SampleContext", "create"]


def create(variant: Variant, *, run_id: str, seed: int = 0, client: Any = None,
           image: str | None = None) -> Environment:
    """The environment for one variant. Docker variants need an engine client and image."""
    if variant.env == "native":
        from bench.environments.native import NativeEnvironment

        return NativeEnvironment(variant)
    if variant.env == "fake":
        from bench.environments.fake import FakeEnvironment

        return FakeEnvironment(variant, seed=seed)
    if variant.env == "docker":
        from bench.environments.docker import DockerEnvironment

        if client is None or image is None:
            raise ValueError("docker variants need an engine client and an image")
        return DockerEnvironment(variant, client, image, run_id)
    raise ValueError(f"no environment '{variant.env}'")
