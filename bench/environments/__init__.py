"""Environments: where samples run.

Each kind of environment (native, docker, podman, oci, and the tests' fake) is a module
here that defines its ``KIND`` (:mod:`bench.environments.kind`): the settings it accepts,
its run-wide set-up, its clean-up and its health checks; its ``Environment`` runs one
variant's samples (:mod:`bench.environments.base`). :mod:`bench.environments.registry`
finds them by name. Nothing is imported here, so that naming a setting imports no engine.
"""
