"""The environments a variant can name, found by that name (as asv finds its environment
classes by tool name, with ``existing`` for the host: here ``native``).

Each environment module defines ``KIND``, a subclass of
:class:`bench.environments.base.EnvironmentKind`: its settings, its run-wide set-up, its
leftovers sweep and its health checks. A new runtime is one new module plus one line in
:data:`MODULES` (or a :func:`register` call); the runner, ``bench clean``, ``bench doctor``
and ``bench list`` only iterate what is here. Modules are imported when first named, so
reading or reporting a run never imports an engine's SDK.
"""

from __future__ import annotations

import importlib

from bench.environments.kind import EnvironmentKind
from bench.errors import UsageError, UserError
from bench.health import Check

#: Environment name -> the module that defines its ``KIND``.
MODULES: dict[str, str] = {
    "native": "bench.environments.native",
    "docker": "bench.environments.docker",
    "podman": "bench.environments.podman",
    "oci": "bench.environments.oci",
    "fake": "bench.environments.fake",
}


def register(name: str, module: str) -> None:
    """Make environment ``name`` (defined as ``KIND`` in ``module``) known."""
    MODULES[name] = module


def names() -> tuple[str, ...]:
    return tuple(MODULES)


def kind_class(name: str) -> type[EnvironmentKind]:
    """The kind of environment ``name``; UsageError naming the known ones otherwise."""
    if name not in MODULES:
        raise UsageError(f"--variants: unknown environment '{name}' "
                         f"(known: {', '.join(MODULES)})")
    found = getattr(importlib.import_module(MODULES[name]), "KIND", None)
    if not (isinstance(found, type) and issubclass(found, EnvironmentKind)
            and found.name == name):
        raise UsageError(f"environment '{name}': {MODULES[name]} defines no KIND named "
                         f"'{name}'")
    return found


def kind(name: str) -> EnvironmentKind:
    """A fresh instance of environment ``name``'s kind (its state lives for one run)."""
    return kind_class(name)()


def options(name: str) -> dict[str, tuple[str, ...]]:
    """The settings environment ``name`` accepts, with their allowed values."""
    return kind_class(name).options


def kinds(names_: list[str] | tuple[str, ...] | set[str] | None = None
          ) -> list[EnvironmentKind]:
    """Fresh kinds (every registered one, or those named), in set-up order."""
    chosen = list(MODULES) if names_ is None else sorted(set(names_), key=list(MODULES).index)
    return sorted((kind(n) for n in chosen), key=lambda k: k.order)


def clean(run_id: str | None = None, images: bool = False) -> tuple[list[str], list[str]]:
    """Every environment's leftovers removed: (``removed ...`` lines, one note per
    environment whose service did not answer, so was not looked in)."""
    removed: list[str] = []
    notes: list[str] = []
    for each in kinds():
        try:
            removed += each.clean(run_id, images)
        except UserError as err:
            notes.append(f"{str(err).split(';')[0]}: {each.name} leftovers were not looked for")
    return removed, notes


def doctor() -> list[Check]:
    """Every environment's health checks, in set-up order."""
    return [check for each in kinds() for check in each.doctor()]
