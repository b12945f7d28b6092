"""The benchmark image, built locally: no registry is needed (or reachable on many hosts).

Recipe: the host's own distribution release and architecture, plus the workload packages
at the exact versions installed on the host (fairness rule 1, same bits). Build:
``debootstrap --variant=minbase`` of that release with those packages, exact host
versions pinned with apt inside the root when the release pocket differs from the host's,
then ``docker import`` through the SDK. The tag is a content hash of the recipe,
``bench-image:<hash>``, so the image is rebuilt only when the recipe changes.

The host gets the same packages from the same code (:func:`ensure_host_packages`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.errors import UserError

REPOSITORY = "bench-image"
#: Bump when the build procedure changes in a way that changes the image.
BUILDER_VERSION = 1
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: Held in place while workload packages are installed on the host, when the host has none.
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
POLICY_RC_D_MARK = "# Written by bench while it installs workload packages"
POLICY_RC_D_TEXT = f"#!/bin/sh\n{POLICY_RC_D_MARK}; removed right after.\nexit 101\n"
POLICY_RC_D_LOCK = Path("/run/lock/bench-policy-rc.d.lock")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Recipe:
    """Everything that determines the image's content."""

    distribution: str
    release: str
    architecture: str
    mirror: str
    packages: tuple[tuple[str, str], ...]
    builder_version: int = BUILDER_VERSION

    @property
    def digest(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.digest[:16]}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "digest": self.digest, "tag": self.tag}


def _os_release() -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def host_release() -> tuple[str, str]:
    """(distribution id, codename) of the host, e.g. ("debian", "bookworm")."""
    release = _os_release()
    dist, codename = release.get("ID", ""), release.get("VERSION_CODENAME", "")
    if dist != "debian" or not codename:
        raise UserError(f"the benchmark image is built with debootstrap from the host's own "
                        f"Debian release; this host is '{release.get('PRETTY_NAME', dist)}'")
    return dist, codename


def host_mirror() -> str:
    """The host's Debian mirror (first plain 'debian' URI in its apt sources)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for match in re.finditer(r"(https?://\S+/debian)/?(?=\s|$)", text):
            return match.group(1)
    return DEFAULT_MIRROR


def installed_version(package: str) -> str | None:
    """The version of an installed Debian package on the host, or None."""
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}\t${Version}", package],
        capture_output=True, text=True, check=False,
    )
    status, _, version = result.stdout.partition("\t")
    return version if result.returncode == 0 and status.endswith(" installed") else None


def ensure_host_packages(packages: Iterable[str], progress: Progress = _quiet) -> list[str]:
    """Install missing workload packages on the host (as root); returns what was installed."""
    missing = sorted({p for p in packages if installed_version(p) is None})
    if not missing:
        return []
    if os.geteuid() != 0:
        raise UserError(f"workload packages missing on the host: {', '.join(missing)}; "
                        f"install them with 'sudo apt-get install {' '.join(missing)}'")
    progress(f"installing on the host: {', '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", "DPkg::Lock::Timeout=300"]  # another apt may hold the lock for a while
    with _services_not_started(progress):
        for argv in (["apt-get", *wait, "update", "-q"],
                     ["apt-get", *wait, "install", "-y", "-q", "--no-install-recommends",
                      *missing]):
            _stream(argv, progress, env=env)
    return missing


@contextlib.contextmanager
def _services_not_started(progress: Progress, policy: Path = POLICY_RC_D,
                          lock: Path = POLICY_RC_D_LOCK) -> Iterator[None]:
    """Keep the daemons of packages installed for workloads (redis-server, nginx,
    mariadb-server) from starting on the host now: a daemon left running is noise in every
    later sample and holds the ports. Debian's way is a policy-rc.d that answers 101
    (invoke-rc.d and deb-systemd-invoke honour it). One the host has is kept; ours is known
    by its marker line, so one left by a killed bench is replaced and removed, and a lock
    keeps two benches from sharing it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            hosts_own = POLICY_RC_D_MARK not in policy.read_text(errors="replace")
        except FileNotFoundError:
            hosts_own = False
        if hosts_own:
            yield
            return
        policy.write_text(POLICY_RC_D_TEXT)
        policy.chmod(0o755)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                policy.unlink()
    progress("daemons of the installed packages were not started now (the runs start "
             "their own); with systemd they start at the next boot unless disabled")


def recipe_for(packages: Iterable[str]) -> Recipe:
    """The recipe for these workload packages at the host's installed versions."""
    dist, codename = host_release()
    pinned = []
    for package in sorted(set(packages)):
        version = installed_version(package)
        if version is None:
            raise UserError(f"package '{package}' is not installed on the host; the image "
                            "copies the host's versions (run 'bench image build' as root)")
        pinned.append((package, version))
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    return Recipe(dist, codename, arch, host_mirror(), tuple(pinned))


def _stream(argv: list[str], progress: Progress, **kwargs: Any) -> None:
    """Run a command, feeding each output line to ``progress``; UserError on failure."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, **kwargs)
    except OSError as err:
        raise UserError(f"cannot run {argv[0]}: {err.strerror}") from None
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if line:
            tail = [*tail[-9:], line]
            progress("  " + line)
    if proc.wait() != 0:
        raise UserError(f"{' '.join(argv[:2])} failed (exit {proc.returncode}): "
                        + " | ".join(tail[-3:]))


def image_present(client: Any, recipe: Recipe) -> bool:
    import docker.errors

    try:
        client.images.get(recipe.tag)
    except docker.errors.ImageNotFound:
        return False
    return True


#: Root filesystems of the image, one per recipe (``<digest16>/root``): what the daemonless
#: ``oci`` environment runs on, and what is imported into the engines.
ROOTFS_DIR = Path("/var/lib/bench/rootfs")


def rootfs_path(recipe: Recipe) -> Path:
    """Where the image's root filesystem for ``recipe`` lives (complete or not)."""
    return ROOTFS_DIR / recipe.digest[:16] / "root"


def rootfs_present(recipe: Recipe) -> bool:
    return (rootfs_path(recipe).parent / "complete").is_file()


def ensure_rootfs(recipe: Recipe, client: Any = None, progress: Progress = _quiet) -> Path:
    """The image's root filesystem as a directory, made once per recipe: exported from the
    engine's image when it has it (the very same files), else built by debootstrap."""
    root = rootfs_path(recipe)
    if rootfs_present(recipe):
        return root
    if os.geteuid() != 0:
        raise UserError("making the benchmark root filesystem needs root; run "
                        "'sudo bench image build'")
    ROOTFS_DIR.mkdir(parents=True, exist_ok=True)
    # One maker at a time (two runs starting together): the second waits, then finds it.
    with open(ROOTFS_DIR / f".{recipe.digest[:16]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if rootfs_present(recipe):
            return root
        _make_rootfs(recipe, root, client, progress)
    return root


def stale_rootfs(current: Recipe | None) -> list[Path]:
    """Cached root filesystems of other recipes than ``current`` (older image recipes)."""
    if not ROOTFS_DIR.is_dir():
        return []
    keep = current.digest[:16] if current is not None else None
    return sorted(p for p in ROOTFS_DIR.iterdir() if p.is_dir() and p.name != keep)


def _make_rootfs(recipe: Recipe, root: Path, client: Any, progress: Progress) -> None:
    top = root.parent
    shutil.rmtree(top, ignore_errors=True)  # an incomplete attempt
    top.mkdir(parents=True)
    try:
        if client is not None and image_present(client, recipe):
            _export(client, recipe, root, progress)
        else:
            _debootstrap(recipe, root, progress)
        (top / "recipe.json").write_text(json.dumps(recipe.to_dict(), indent=1))
        (top / "complete").write_text("")
    except BaseException:
        shutil.rmtree(top, ignore_errors=True)
        raise


def _export(client: Any, recipe: Recipe, root: Path, progress: Progress) -> None:
    """The files of the engine's image ``recipe.tag``, through a created (never started)
    container's export."""
    progress(f"exporting the root filesystem of {recipe.tag} to {root}")
    root.mkdir()
    container = client.containers.create(recipe.tag, command=["/bin/true"],
                                         labels={"bench.project": "container-overhead-bench"})
    try:
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(root), "-xf", "-"],
                               stdin=subprocess.PIPE)
        assert tar.stdin is not None
        try:
            for chunk in container.export():
                tar.stdin.write(chunk)
        finally:
            tar.stdin.close()
        if tar.wait() != 0:
            raise UserError(f"cannot unpack the export of {recipe.tag} into {root}")
    finally:
        container.remove(force=True)


def _debootstrap(recipe: Recipe, root: Path, progress: Progress) -> None:
    """debootstrap of the recipe's release with its packages at the host's versions."""
    if shutil.which("debootstrap") is None:
        ensure_host_packages(["debootstrap"], progress)
    names = [name for name, _ in recipe.packages]
    argv = ["debootstrap", "--variant=minbase", f"--arch={recipe.architecture}"]
    if names:
        argv.append("--include=" + ",".join(names))
    progress(f"debootstrap {recipe.release} with {', '.join(names) or 'no packages'}")
    _stream([*argv, recipe.release, str(root), recipe.mirror], progress)
    _pin_versions(root, recipe, progress)
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (root / leftover).glob("*"):
            if path.is_file():
                path.unlink()


def pack_rootfs(root: Path, tarball: Path, progress: Progress = _quiet) -> None:
    """A tar of the root filesystem, owners kept numeric, for an engine's import."""
    progress("packing the root filesystem")
    _stream(["tar", "--numeric-owner", "-C", str(root), "-cf", str(tarball), "."], progress)


#: What every import of the root filesystem adds (docker and podman alike).
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
)


def build(client: Any, recipe: Recipe, progress: Progress = _quiet) -> str:
    """Build (or reuse) the root filesystem for ``recipe`` and import it; returns the tag."""
    if os.geteuid() != 0:
        raise UserError("building the benchmark image needs root (debootstrap); run "
                        "'sudo bench image build'")
    root = ensure_rootfs(recipe, None, progress)
    workdir = Path(tempfile.mkdtemp(prefix="bench-image-", dir="/var/tmp"))
    try:
        tarball = workdir / "rootfs.tar"
        pack_rootfs(root, tarball, progress)
        progress(f"importing as {recipe.tag}")
        repository, tag = recipe.tag.split(":")
        changes = [f"LABEL bench.project=container-overhead-bench bench.recipe={recipe.digest}",
                   *IMPORT_CHANGES]
        client.api.import_image_from_file(str(tarball), repository=repository, tag=tag,
                                          changes=changes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not image_present(client, recipe):
        raise UserError(f"the engine did not keep the imported image {recipe.tag}")
    return recipe.tag


def _chroot_versions(root: Path, names: list[str]) -> dict[str, str]:
    result = subprocess.run(["chroot", str(root), "dpkg-query", "-W", "-f=${Package}\t${Version}\n",
                             *names], capture_output=True, text=True, check=False)
    return dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)


def _pin_versions(root: Path, recipe: Recipe, progress: Progress) -> None:
    """Install the host's exact versions where debootstrap's release pocket differs."""
    names = [name for name, _ in recipe.packages]
    have = _chroot_versions(root, names)
    wrong = [(n, v) for n, v in recipe.packages if have.get(n) != v]
    if not wrong:
        return
    progress("pinning host versions: " + ", ".join(f"{n}={v}" for n, v in wrong))
    # The host's Debian sources (release, updates, security), not third-party ones.
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        if path.is_file() and "/debian" in path.read_text(errors="replace"):
            target = "etc/apt/sources.list" if path.name == "sources.list" else (
                f"etc/apt/sources.list.d/{path.name}")
            shutil.copy(path, root / target)
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    _stream(["chroot", str(root), "apt-get", "update", "-q"], progress, env=env)
    _stream(["chroot", str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends",
             "--allow-downgrades", *[f"{n}={v}" for n, v in wrong]], progress, env=env)
    still = [(n, v) for n, v in recipe.packages if _chroot_versions(root, names).get(n) != v]
    if still:
        raise UserError("could not install the host's versions in the image: "
                        + ", ".join(f"{n}={v}" for n, v in still))


USER_REPOSITORY = "bench-user"


def build_user_image(client: Any, dockerfile: Path, base: str,
                     progress: Progress = _quiet) -> str:
    """A user workload's own image from its Dockerfile, built on the local engine without a
    registry: the build argument ``BENCH_IMAGE`` names the benchmark image to start
    ``FROM`` (``ARG BENCH_IMAGE`` then ``FROM ${BENCH_IMAGE}``), so the user's program sits
    on the same bits as the host. Tagged by a hash of the build context (the Dockerfile's
    directory) and of the base, so it is rebuilt only when either changes."""
    import docker.errors

    context = dockerfile.parent
    digest = hashlib.sha256(f"{base}\0{dockerfile.name}\0".encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(context)}\0".encode())
        digest.update(path.read_bytes())
    tag = f"{USER_REPOSITORY}:{digest.hexdigest()[:16]}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    progress(f"building {dockerfile} FROM {base} as {tag}")
    try:
        for chunk in client.api.build(path=str(context), dockerfile=dockerfile.name, tag=tag,
                                      buildargs={"BENCH_IMAGE": base}, rm=True, forcerm=True,
                                      pull=False, decode=True):
            if "error" in chunk:
                raise UserError(f"{dockerfile}: docker build failed: "
                                f"{str(chunk['error']).strip()}")
            line = str(chunk.get("stream", "")).strip()
            if line:
                progress(line)
    except docker.errors.APIError as err:
        raise UserError(f"{dockerfile}: docker build failed: {err.explanation or err}") from None
    return tag


def ensure_image(client: Any, packages: Iterable[str], progress: Progress = _quiet,
                 rebuild: bool = False) -> tuple[Recipe, bool]:
    """Host packages installed, image present for the recipe; returns (recipe, built)."""
    packages = sorted(set(packages))
    ensure_host_packages(packages, progress)
    recipe = recipe_for(packages)
    if image_present(client, recipe) and not rebuild:
        return recipe, False
    if rebuild:
        shutil.rmtree(rootfs_path(recipe).parent, ignore_errors=True)
    build(client, recipe, progress)
    return recipe, True
