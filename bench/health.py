"""One health check of the host or of an environment (``bench doctor`` prints them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok" | "warn" | "fail"
    message: str
    hint: str = ""
