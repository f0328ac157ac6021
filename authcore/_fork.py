"""Locks that a ``fork()`` child gets released.

``fork()`` copies only the thread that calls it.  A lock another thread held at that moment
stays held in the child, where its holder does not exist, and the child's first use of it
waits for ever (a memory store, a certificate cache, a JWKS cache: any object built before
the fork, as with a pre-loading server).  Every lock authcore holds around its own state is
made by :func:`lock`, which registers it; in each child, before any other Python code runs,
every registered lock is re-initialized, released.

A child may still find the state such a lock guarded changed half-way (a memory store is a
per-process copy in the child anyway); what it can no longer do is hang.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Final

__all__ = ["lock"]

# Every lock made by lock() that is still in use (a lock object supports weak references).
_LOCKS: Final[weakref.WeakSet[threading.Lock]] = weakref.WeakSet()


def lock() -> threading.Lock:
    """Return a new ``threading.Lock`` that a ``fork()`` child finds released."""
    new = threading.Lock()
    _LOCKS.add(new)
    return new


def _forked() -> None:  # pragma: no cover - runs in fork() children only
    # The child's only thread.  _at_fork_reinit is what CPython's own threading and logging
    # modules call on their locks in a child; it makes the lock new and released in place.
    for held in list(_LOCKS):
        reinit = getattr(held, "_at_fork_reinit", None)
        if reinit is not None:
            reinit()


if hasattr(os, "register_at_fork"):  # POSIX; there is no fork() elsewhere
    os.register_at_fork(after_in_child=_forked)
