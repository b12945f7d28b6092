"""What the container environments (docker, podman through docker's code, oci) share: the
data directory's place inside the container, the workload's argv there, the network a
two-role workload needs, and the table of binary hashes seen in an image."""

from __future__ import annotations

from bench.environments.base import Environment, SampleContext, wrap
from bench.errors import UserError
from bench.workloads import Workload

#: A disk workload's data directory ({data}) in the container, whatever the storage: in
#: every Debian root, so it is in the writable layer (overlay) unless mounted over.
CONTAINER_DATA_DIR = "/var/tmp"


class ContainerEnvironment(Environment):
    """An environment whose samples run in a container of the benchmark image."""

    #: The variant's network setting ("none": no network at all).
    net = ""

    def check_network(self, workloads: list[Workload]) -> None:
        """UserError when two-role workloads would run without a network."""
        two_role = [w.name for w in workloads if w.two_role]
        if two_role and self.net == "none":
            raise UserError(f"--variants: '{self.variant.id}' has no network, but "
                            f"{', '.join(two_role)} need one (server and client)")

    @staticmethod
    def container_argv(workload: Workload, ctx: SampleContext, data: object) -> list[str]:
        """The workload's argv in the container, behind the probe; ``{data}`` is
        :data:`CONTAINER_DATA_DIR` when the sample has a data directory."""
        return wrap(workload.argv(len(ctx.cpus), ctx.quick,
                                  **({"data": CONTAINER_DATA_DIR} if data else {})))

    @staticmethod
    def hash_table(binaries: list[str], found: dict[str, dict[str, str]]
                   ) -> dict[str, dict[str, str]]:
        """``binary_hashes``'s answer: what was found, and each binary that was not."""
        return {b: found.get(b, {"path": "", "sha256": "", "error": "not found in the image"})
                for b in binaries}
