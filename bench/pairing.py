"""Pairing by block (METHOD §1): a block counts for a comparison only when both sides have
a usable sample in it. One definition for every reader of a run."""

from __future__ import annotations

from collections.abc import Mapping


def paired_blocks(a: Mapping[int, float], b: Mapping[int, float]) -> list[int]:
    """Blocks present on both sides, in block order."""
    return sorted(set(a) & set(b))

