"""Container-vs-native benchmark suite: does a container really cost nothing?"""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__version__ = "0.1.0"


def load(run: str | PathLike[str]) -> pd.DataFrame:
    """A saved run folder as a pandas DataFrame, one row per sample.

    Imported lazily so that ``import bench`` (and the CLI) does not pay for pandas.
    See :func:`bench.tidy.samples_frame` for the columns.
    """
    from bench.tidy import load as _load

    return _load(run)
