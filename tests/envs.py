"""One environment built directly from its class, for tests that drive an environment
without a run (the runner gets them from bench.environments.registry)."""

from __future__ import annotations

from typing import Any

from bench.environments.base import Environment
from bench.variants import Variant


def make(variant: Variant, run_id: str, client: Any = None, image: str | None = None,
         recipe: Any = None) -> Environment:
    """The environment of ``variant``: docker needs an engine client and image, oci the
    image recipe (``client``, when given, lends the image's files)."""
    if variant.env == "docker":
        from bench.environments.docker import DockerEnvironment

        return DockerEnvironment(variant, client, image or "", run_id)
    if variant.env == "oci":
        from bench.environments.oci import OciEnvironment

        return OciEnvironment(variant, recipe, run_id, client)
    from bench.environments.native import NativeEnvironment

    assert variant.env == "native", variant
    return NativeEnvironment(variant)
