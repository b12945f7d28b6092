"""Environments: where samples run, all behind one interface (see base.py).

The settings each environment accepts are declared with the variants, in
``bench.variants.ENVIRONMENT_AXES``.
"""

from __future__ import annotations

from typing import Any

from bench.environments.base import Environment, SampleContext
from bench.variants import Variant

__all__ = ["Environment", "SampleContext", "create"]


def create(variant: Variant, *, run_id: str, seed: int = 0, client: Any = None,
           image: str | None = None, recipe: Any = None, podman_client: Any = None,
           podman_image: str | None = None) -> Environment:
    """The environment for one variant. Docker variants need an engine client and image,
    podman variants podman's, oci variants the image recipe (``bench.image.Recipe``;
    ``client``, when given, only lends the image's files)."""
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
    if variant.env == "oci":
        from bench.environments.oci import OciEnvironment

        if recipe is None:
            raise ValueError("oci variants need the image recipe")
        return OciEnvironment(variant, recipe, run_id, client)
    if variant.env == "podman":
        from bench.environments.podman import PodmanEnvironment

        if podman_client is None or podman_image is None:
            raise ValueError("podman variants need podman's client and an image")
        return PodmanEnvironment(variant, podman_client, podman_image, run_id)
    raise ValueError(f"no environment '{variant.env}'")
