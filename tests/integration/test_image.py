"""Building the benchmark image for real: debootstrap of the host's release, cached by recipe."""

from __future__ import annotations

import pytest

from bench import image

pytestmark = pytest.mark.docker


def test_recipe_pins_host_versions_and_hash_is_stable():
    recipe = image.recipe_for(["sysbench"])
    assert recipe.release and recipe.distribution == "debian"
    ((name, version),) = recipe.packages
    assert name == "sysbench" and version == image.installed_version("sysbench")
    assert recipe.tag == image.recipe_for(["sysbench"]).tag
    assert recipe.tag != image.recipe_for(["sysbench", "stress-ng"]).tag


def test_workload_image_is_cached(client, bench_image):
    from bench.workloads import image_packages

    packages = image_packages()
    recipe, built = image.ensure_image(client, packages)
    assert recipe.tag == bench_image
    assert built is False  # the session fixture built or found it: a cache hit now


def test_fresh_build_of_a_minimal_recipe(client):
    """A real debootstrap + import every time (the workload image may be cached)."""
    import shutil

    recipe = image.recipe_for([])
    if image.image_present(client, recipe):
        client.images.remove(recipe.tag, force=True)
    shutil.rmtree(image.rootfs_path(recipe).parent, ignore_errors=True)  # its cached files
    lines: list[str] = []
    tag = image.build(client, recipe, progress=lines.append)
    try:
        assert tag == recipe.tag and image.image_present(client, recipe)
        assert any("debootstrap" in line for line in lines)
        # The files stay for the oci environment, and the next build reuses them.
        assert image.rootfs_present(recipe)
        assert (image.rootfs_path(recipe) / "etc" / "os-release").is_file()
        labels = client.images.get(tag).labels
        assert labels["bench.recipe"] == recipe.digest
        out = client.containers.run(tag, ["cat", "/etc/os-release"], remove=True)
        assert f"VERSION_CODENAME={recipe.release}" in out.decode()
        assert image.ensure_image(client, [])[1] is False
    finally:
        client.images.remove(tag, force=True)
        shutil.rmtree(image.rootfs_path(recipe).parent, ignore_errors=True)
