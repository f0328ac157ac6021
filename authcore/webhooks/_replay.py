"""Replay caches: remember accepted deliveries until their timestamp leaves the tolerance.

A delivery that verified is recorded under a key naming it (scheme, message id and
timestamp) until ``timestamp + tolerance``; after that the timestamp check refuses it anyway,
so the entry can go.  Recording happens only after the signature verified, so unsigned
traffic cannot fill the cache or block a genuine message.
"""

from __future__ import annotations

import heapq
import threading
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

if TYPE_CHECKING:
    import datetime as dt

from authcore.clock import ensure_aware
from authcore.errors import ConfigurationError, StoreError

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "MemoryReplayCache",
    "ReplayCache",
    "check_add_arguments",
    "check_replay_cache",
]

DEFAULT_MAX_ENTRIES: Final = 1_000_000
"""Default capacity of :class:`MemoryReplayCache`."""


@runtime_checkable
class ReplayCache(Protocol):
    """Remembers one-time keys until they expire.

    .. versionadded:: 0.1.0
    """

    def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Record ``key`` until ``expires_at``, atomically.

        Args:
            key: The delivery's key (at most a few hundred characters).
            expires_at: When the entry may be forgotten (aware).
            now: The current time (aware); entries expired at ``now`` do not count.

        Returns:
            ``True`` if the key was new and is now recorded; ``False`` if it was already
            recorded and has not expired (a replay).

        Raises:
            StoreError: If the cache cannot record the key.
        """
        ...


def check_replay_cache(cache: object) -> None:
    """Refuse a ``replay_cache`` argument that is not ``None`` or a :class:`ReplayCache`.

    Raises:
        ConfigurationError: If ``cache`` has no ``add`` method.
    """
    if cache is not None and not isinstance(cache, ReplayCache):
        raise ConfigurationError(
            f"replay_cache must be a ReplayCache (with add()), got {type(cache).__name__}"
        )


def check_add_arguments(key: object, expires_at: object, now: object) -> tuple[float, float]:
    """Check :meth:`ReplayCache.add`'s arguments; return the two instants in UNIX seconds.

    Raises:
        ConfigurationError: If ``key`` is not a non-empty str or a time is not aware.
    """
    if not isinstance(key, str) or not key:
        raise ConfigurationError("a replay-cache key must be a non-empty str")
    return (
        ensure_aware(expires_at, name="expires_at").timestamp(),  # type: ignore[arg-type]
        ensure_aware(now, name="now").timestamp(),  # type: ignore[arg-type]
    )


class MemoryReplayCache:
    """A thread-safe, in-process :class:`ReplayCache`.

    Entries live in one dictionary plus a heap ordered by expiry; expired entries are dropped
    as new keys arrive.  Use :class:`~authcore.webhooks.SQLiteReplayCache` when several
    processes receive the same webhooks.

    Args:
        max_entries: The most unexpired keys kept.  When full, :meth:`add` raises
            :class:`~authcore.errors.StoreError` (failing closed) rather than forgetting a
            key that could then be replayed.

    Raises:
        ConfigurationError: If ``max_entries`` is not a positive int.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_entries", "_heap", "_lock", "_max_entries")

    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        given: object = max_entries  # checked at run time: callers may not be type-checked
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ConfigurationError("max_entries must be a positive int")
        self._max_entries = max_entries
        self._entries: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Return the number of keys held (expired ones may not have been dropped yet)."""
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryReplayCache(entries={len(self)}, max_entries={self._max_entries})"

    def _purge(self, now: float) -> None:
        # Invariant: each key in _entries has exactly one heap item (a key is only added when
        # absent, and removed together with its item), so popping an item removes its key.
        heap, entries = self._heap, self._entries
        while heap and heap[0][0] <= now:
            del entries[heapq.heappop(heap)[1]]

    def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` if it is already recorded.

        Raises:
            StoreError: If the cache is full of unexpired keys.
        """
        expiry, current = check_add_arguments(key, expires_at, now)
        with self._lock:
            self._purge(current)
            if key in self._entries:  # unexpired: _purge() dropped every expired key
                return False
            if len(self._entries) >= self._max_entries:
                raise StoreError("replay cache is full")
            self._entries[key] = expiry
            heapq.heappush(self._heap, (expiry, key))
            return True
