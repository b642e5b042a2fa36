"""Pausing Python's cyclic garbage collector around work that makes no reference cycles.

A replication, and the conversion of its rows to Parquet, make no reference cycles (every
shipped scenario leaves nothing for ``gc.collect`` afterwards): reference counting frees
everything they drop. The collector would still make passes over what they keep — the
engines' stores (every user, method and pending authentication of the run) and the
buffered rows — about a twentieth of a run's time (its full passes, which rescan all of it
each time it grows by a quarter, a fifth), for nothing to free.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """No collector passes inside; it resumes afterwards, so a cycle made by mistake is
    still freed then. Nested or concurrent uses leave the collector to the outermost one.

    On the way out, what was allocated inside and is still alive goes straight to the oldest
    generation (``freeze`` then ``unfreeze``) rather than through one young pass over all
    of it, as it would the moment the collector resumed."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()
