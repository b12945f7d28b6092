"""Ctrl-C and SIGTERM held where an interruption would leave things half done.

``shielded``: ignored while cleaning up, so cleanup always finishes. ``deferred``: held
over statements that must happen together (a sample written and counted; a container
created and its handle kept, so that it is always removed), then delivered.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM while cleaning up, so cleanup always finishes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT,
                                                                    signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM over statements that must happen together (a sample
    written and counted); one that arrives meanwhile is delivered right after, not lost.
    A signal already pending when the handlers are swapped (signal.signal runs it) may
    raise while they are: every handler swapped so far is put back all the same."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous: dict[int, Any] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda number, _frame: caught.append(number))
        yield
    finally:
        raised: BaseException | None = None
        for sig, handler in previous.items():
            try:
                signal.signal(sig, handler)
            except BaseException as err:  # delivered to a handler already put back
                raised = raised or err
        if raised is not None:
            raise raised
        if caught:
            signal.raise_signal(caught[0])
