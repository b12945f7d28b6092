"""What an environment module declares about its kind of environment, as a variant names
it: its settings, its run-wide set-up, its leftovers and its health checks.

Kept apart from :mod:`bench.environments.base` (the per-variant interface) so that the
registry, which the variant parser asks for each kind's settings, imports no environment.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from bench.health import Check


class EnvironmentKind(ABC):
    """One kind of environment, as a variant names it (``docker`` in ``docker[net=host]``):
    its settings, the set-up its variants share in a run, what it leaves behind and its
    health checks. Each environment module defines one as ``KIND``, found by name in
    :mod:`bench.environments.registry`; the runner and the CLI know no other."""

    name: ClassVar[str]
    #: Settings (axes) and their allowed values, the first one the default; an empty
    #: tuple takes any value.
    options: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Set-up order within a run: kinds that make the benchmark image before those that
    #: only use it.
    order: ClassVar[int] = 50
    #: Shown by ``bench list`` (the tests' scripted environment is not).
    listed: ClassVar[bool] = True
    #: How to bring back its service when it stops answering mid-run.
    restart_hint: ClassVar[str] = ""

    def check(self, plan: Any) -> None:  # noqa: B027 - optional hook
        """UsageError, before anything is set up, when the plan cannot run here."""

    def open(self, setup: Any) -> None:  # noqa: B027 - optional hook
        """Run-wide set-up for the plan's variants of this kind (connect, image, a
        resumed run's leftovers), its facts recorded in ``setup.doc`` (``setup``: the
        run's :class:`bench.environments.base.RunSetup`)."""

    @abstractmethod
    def create(self, variant: Any, setup: Any) -> Any:
        """The environment (a :class:`bench.environments.base.Environment`) of one variant
        (a :class:`bench.variants.Variant`), after :meth:`open`."""

    def lost(self) -> str | None:
        """After a failed sample: what stopped answering (then the run stops, to be
        resumed), or None."""
        return None

    def clean(self, run_id: str | None = None, images: bool = False) -> list[str]:
        """Remove what the project left behind (of one run, or of all); with ``images``
        also stale benchmark images. Returns one ``removed ...`` line per object;
        UserError when its service does not answer."""
        return []

    def doctor(self) -> list[Check]:
        """Health checks of this kind on this host (``bench doctor``)."""
        return []
