"""Garbage collection around a process's heavy start: a module of its own, with nothing to import, so that
dashboard.py can hold collections before it imports the rest of the project."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collections_held() -> Iterator[None]:
    """No automatic garbage collection in the block: while a start imports its modules and opens the warehouse,
    every burst of new objects set off a collection that walked all the objects made so far again (0.1 s of a
    start's CPU, for a few hundred objects of garbage among a million). Collections resume when the block ends,
    however it ends; where two sessions' blocks overlap, with the first to end."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
